#!/usr/bin/env bash
# Enforces the direction of dependencies (docs/architecture.md "Layers"): every #include "..."
# of a project header must point at the same folder or at a folder the table below allows, so a
# lower layer can never reach a higher one — tests included (a folder's tests/ may include the
# folder itself, what it may include, the test worlds in fs/testing/ and sim's test helpers).
# It also keeps fs/ on its narrow per-node environment: only fs/base/env.cc may include
# sim/simulation.h or call .sim() (the test worlds, which build simulations, excepted).
#
# Usage: lint_layers.sh ROOT        check the tree at ROOT
#        lint_layers.sh --selftest  show that each rule fires on a planted violation
set -uo pipefail

# folder -> the folders its sources may include (besides itself). Kept transitive on purpose:
# each line says everything a folder may see.
declare -A allow=(
  [sim]=""
  [fs/base]="sim"
  [fs/format]="sim fs/base"
  [fs/block]="sim fs/base fs/format"
  [fs/btree]="sim fs/base fs/format fs/block"
  [fs/alloc]="sim fs/base fs/format fs/block fs/btree"
  [fs/forest]="sim fs/base fs/format fs/block fs/btree"
  [fs/lock]="sim fs/base fs/format"
  [fs/quorum]="sim fs/base fs/format"
  [fs/proto]="sim fs/base fs/format fs/lock"
  [fs/net]="sim fs/base fs/format fs/lock fs/proto"
  [fs/server]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net"
  [fs/client]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net"
  [fs/vfs]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net fs/client"
  [fs/cluster]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net fs/server fs/client fs/vfs"
  [fs/fsck]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock"
  [fs/testing]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net fs/server fs/client fs/vfs fs/cluster"
  [fs]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net fs/server fs/client fs/vfs fs/cluster fs/fsck fs/testing"
  [oracle]="sim fs"
  [scenarios]="sim fs oracle"
  [tools]="sim fs oracle scenarios"
  [bench]="sim fs oracle scenarios"
  [tests]="sim fs oracle scenarios tools"
)
# Tests that need more than their folder's sources may see (they build whole filesystems).
declare -A allow_tests=(
  [fs/cluster]="sim fs/base fs/format fs/block fs/btree fs/alloc fs/forest fs/lock fs/quorum fs/proto fs/net fs/server fs/client fs/vfs"
  [fs/fsck]="fs/client fs/vfs"
)

# The folder an include path or a source file belongs to: the longest key of `allow` that
# prefixes it ("fs/vfs/vfs.h" -> fs/vfs, "fs/tests/x.cc" -> fs, "oracle/fs_checker.h" -> oracle).
owner() {
  local p=$1 best="" k
  for k in "${!allow[@]}"; do
    if [[ "$p" == "$k/"* && ${#k} -gt ${#best} ]]; then best=$k; fi
  done
  echo "$best"
}

permitted() {  # permitted FROM_FOLDER TARGET_FOLDER IS_TEST
  local from=$1 to=$2 is_test=$3 a
  [[ "$from" == "$to" ]] && return 0
  [[ "$to" == fs/* && " ${allow[$from]} " == *" fs "* ]] && return 0
  for a in ${allow[$from]}; do [[ "$a" == "$to" ]] && return 0; done
  if [[ $is_test == 1 ]]; then
    [[ "$to" == fs/testing ]] && return 0
    for a in ${allow_tests[$from]:-}; do [[ "$a" == "$to" ]] && return 0; done
  fi
  return 1
}

check_tree() {  # check_tree ROOT -> prints violations, returns 1 if any
  local root=$1 found=0 file rel from inc to is_test line
  while IFS= read -r file; do
    rel=${file#"$root"/}
    from=$(owner "$rel")
    [[ -z "$from" ]] && continue
    is_test=0
    [[ "$rel" == */tests/* ]] && is_test=1
    while IFS= read -r line; do
      inc=$(sed -E 's/^[^"]*"([^"]+)".*/\1/' <<<"$line")
      [[ "$inc" == sim/tests/* && $is_test == 1 ]] && continue
      to=$(owner "$inc")
      [[ -z "$to" ]] && continue  # generated or local headers
      if ! permitted "$from" "$to" "$is_test"; then
        echo "  $rel: includes \"$inc\" ($from may not depend on $to)"
        found=1
      fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$file" || true)
    # The narrow environment: fs/ reaches the simulation only through fs/base/env.cc.
    if [[ "$rel" == fs/* && "$rel" != fs/base/env.cc && "$rel" != fs/testing/* && $is_test == 0 ]]; then
      line=$(grep -nE '#include "sim/simulation\.h"|\.sim\(\)|->sim\(\)' "$file" | grep -vE '^[0-9]+:[[:space:]]*//' || true)
      if [[ -n "$line" ]]; then
        echo "  $rel: reaches the simulation directly (use NodeEnv, fs/base/env.h):"
        sed 's/^/    /' <<<"$line"
        found=1
      fi
    fi
  done < <(find "$root/sim" "$root/fs" "$root/oracle" "$root/scenarios" "$root/tools" "$root/bench" "$root/tests" \
             -type f \( -name '*.h' -o -name '*.cc' \) 2>/dev/null | sort)
  return $found
}

if [[ "${1:-}" == "--selftest" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  plant() {  # plant FILE LINE: a tree with one file, which must be reported
    rm -rf "$tmp/t" && mkdir -p "$tmp/t/$(dirname "$1")"
    printf '%s\n' "$2" > "$tmp/t/$1"
    if check_tree "$tmp/t" >/dev/null; then echo "rule missed: $1: $2"; return 1; fi
  }
  fails=0
  plant sim/x.cc '#include "fs/format/key.h"' || fails=1
  plant fs/format/x.cc '#include "fs/btree/btree.h"' || fails=1
  plant fs/btree/tests/x_test.cc '#include "fs/vfs/vfs.h"' || fails=1
  plant fs/lock/x.h '#include "fs/client/mount.h"' || fails=1
  plant fs/quorum/x.cc '#include "fs/net/connection.h"' || fails=1  # the election core stays pure
  plant oracle/x.cc '#include "scenarios/scenario.h"' || fails=1
  plant fs/client/x.cc '#include "sim/simulation.h"' || fails=1
  plant fs/vfs/x.cc 'auto& s = node.sim();' || fails=1
  # And allowed includes pass.
  rm -rf "$tmp/t" && mkdir -p "$tmp/t/fs/vfs/tests" "$tmp/t/fs/btree"
  printf '%s\n' '#include "fs/client/mount.h"' '#include "sim/task.h"' > "$tmp/t/fs/vfs/x.cc"
  printf '%s\n' '#include "fs/testing/fs_world.h"' '#include "sim/tests/test_util.h"' > "$tmp/t/fs/vfs/tests/x_test.cc"
  printf '%s\n' '#include "fs/btree/btree_internal.h"' > "$tmp/t/fs/btree/x.cc"
  if ! check_tree "$tmp/t"; then echo "an allowed include was reported"; fails=1; fi
  [[ $fails -eq 0 ]] && echo "selftest: every layer rule fires"
  exit $fails
fi

root="${1:?usage: lint_layers.sh ROOT | --selftest}"
if check_tree "$root"; then
  echo "layer lint: clean"
else
  echo "layer lint: includes against the direction of dependencies (table in tests/lint_layers.sh)"
  exit 1
fi
