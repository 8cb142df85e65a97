#!/usr/bin/env bash
# Runs every scenario for N seeds with --check-determinism (two separate processes each) and
# fails on any digest mismatch; also checks that different seeds give different digests.
# Usage: determinism_seeds.sh SIMFS N
# A scenario whose full run is long (nightly: 431 simulated seconds, ~20 s of wall time) runs
# its short example instead (scenarios/examples/NAME_short.json); it and the other elected-
# server scenarios (1-3 s a run) take at most 10 seeds, or this test alone would take over 12
# minutes. Their campaigns re-check determinism on 5% of their runs besides.
set -uo pipefail
simfs="$1"; n="$2"
examples="$(cd "$(dirname "$0")/../scenarios/examples" && pwd)"
scenarios=$("$simfs" list | grep -E '^[a-z]' | cut -d' ' -f1)
bad=0; runs=0
for s in $scenarios; do
  declare -A seen=()
  target="$s"; seeds="$n"
  if [[ -f "$examples/${s}_short.json" ]]; then target="$examples/${s}_short.json"; fi
  case "$s" in failover|mount_unmount_race|fence_and_reclaim|nightly) seeds=$((n < 10 ? n : 10)) ;; esac
  for seed in $(seq 1 "$seeds"); do
    out=$("$simfs" run "$target" --seed "$seed" --check-determinism --json)
    rc=$?
    runs=$((runs + 1))
    if [[ $rc -ne 0 && $rc -ne 1 ]]; then
      echo "FAIL: $s seed $seed: exit $rc"; "$simfs" run "$target" --seed "$seed" --check-determinism; bad=$((bad + 1)); continue
    fi
    d=$(echo "$out" | grep -oE '"digests":\["0x[0-9a-f]+' | grep -oE '0x[0-9a-f]+')
    if [[ -n "${seen[$d]:-}" ]]; then echo "FAIL: $s seeds ${seen[$d]} and $seed share digest $d"; bad=$((bad + 1)); fi
    seen[$d]=$seed
  done
  unset seen
done
echo "$((runs - bad)) passed, $bad failed"
[[ $bad -eq 0 ]]
