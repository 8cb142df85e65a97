#!/usr/bin/env bash
# Runs every scenario for N seeds with --check-determinism (two separate processes each) and
# fails on any digest mismatch; also checks that different seeds give different digests.
# Usage: determinism_seeds.sh SIMFS N
set -uo pipefail
simfs="$1"; n="$2"
scenarios=$("$simfs" list | grep -E '^[a-z]' | cut -d' ' -f1)
bad=0; runs=0
for s in $scenarios; do
  declare -A seen=()
  for seed in $(seq 1 "$n"); do
    out=$("$simfs" run "$s" --seed "$seed" --check-determinism --json)
    rc=$?
    runs=$((runs + 1))
    if [[ $rc -ne 0 && $rc -ne 1 ]]; then
      echo "FAIL: $s seed $seed: exit $rc"; "$simfs" run "$s" --seed "$seed" --check-determinism; bad=$((bad + 1)); continue
    fi
    d=$(echo "$out" | grep -oE '"digests":\["0x[0-9a-f]+' | grep -oE '0x[0-9a-f]+')
    if [[ -n "${seen[$d]:-}" ]]; then echo "FAIL: $s seeds ${seen[$d]} and $seed share digest $d"; bad=$((bad + 1)); fi
    seen[$d]=$seed
  done
  unset seen
done
echo "$((runs - bad)) passed, $bad failed"
[[ $bad -eq 0 ]]
