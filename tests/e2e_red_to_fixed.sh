#!/usr/bin/env bash
# The user's path from a red campaign to a fixed bug, end to end, with the real binary:
# a campaign on a build with a deliberately broken invariant (a planted bug) fails; the failure
# is deduplicated, shrunk and saved as an artifact; it replays with a verified digest; it opens
# in the viewer; it exports to Perfetto; `why` says when it became inevitable; and the same
# campaign without the bug passes. (The browser side of the viewer is tools/viewer/test.)
# Usage: e2e_red_to_fixed.sh SIMFS_BINARY
set -euo pipefail
simfs=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "e2e: $*" >&2; exit 1; }

# 1. Red: a campaign of the default scenario with a planted bug exits 1 with one failure.
set +e
"$simfs" fuzz single_mount --bug rmdir_not_empty --runs 6 --jobs 2 --artifacts arts \
  --junit junit.xml --results results.jsonl > fuzz.out 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || { cat fuzz.out; fail "campaign exit $rc, want 1"; }
grep -q "1 unique failure" fuzz.out || { cat fuzz.out; fail "want exactly one unique failure"; }
grep -q "fs.op_result" fuzz.out || fail "the failure should be fs.op_result"
grep -q "<failure" junit.xml || fail "JUnit XML lacks the failure"
dir=$(ls -d arts/single_mount-* | head -1)
for f in trace.jsonl tape.json result.json replay.sh shrunk-tape.json fsck.txt images/meta.img images/data.img; do
  [[ -s "$dir/$f" ]] || fail "artifact $dir/$f missing"
done
grep -q "shrunk: decisions" fuzz.out || fail "no shrink report"

# 2. Replay: the trace and the shrunk tape both still fail (exit 1), the digest verified.
set +e
"$simfs" replay "$dir" > replay.out 2>&1; rc=$?
"$simfs" run --tape "$dir/shrunk-tape.json" > shrunk.out 2>&1; rc2=$?
set -e
[[ $rc -eq 1 ]] || { cat replay.out; fail "replay exit $rc, want 1"; }
grep -qi "digest" replay.out || { cat replay.out; fail "replay did not report the digest check"; }
[[ $rc2 -eq 1 ]] || { cat shrunk.out; fail "the shrunk tape no longer fails (exit $rc2)"; }
grep -q "fs.op_result" shrunk.out || fail "the shrunk tape fails a different invariant"

# 3. Viewer page and Perfetto export.
"$simfs" view "$dir/trace.jsonl" -o view.html 2> view.err || { cat view.err; fail "view failed"; }
grep -q 'id="simfs-trace"' view.html || fail "no embedded trace in the page"
"$simfs" export --format perfetto "$dir/trace.jsonl" -o perfetto.json || fail "export failed"
grep -q '"traceEvents"' perfetto.json || fail "the export is not Chrome/Perfetto JSON"

# 4. Why: a small analysis runs and reports a checkpoint table.
"$simfs" why "$dir" --checkpoints 4 --samples 3 --json > why.json || fail "why failed"
grep -q '"checkpoints"' why.json || fail "why --json lacks checkpoints"
"$simfs" view "$dir/trace.jsonl" --why why.json -o why.html 2>/dev/null || fail "view --why failed"

# 5. Fixed: the same campaign without the bug is green, and its images pass fsck.
"$simfs" fuzz single_mount --runs 6 --jobs 2 --artifacts arts-fixed > fixed.out 2>&1 || { cat fixed.out; fail "the campaign without the bug failed"; }
"$simfs" run single_mount --seed 3 --save-images img > /dev/null || fail "run --save-images failed"
"$simfs" fsck img > fsck.out || { cat fsck.out; fail "fsck found problems in a passing run's images"; }
echo "e2e: red -> artifact -> shrunk -> replayed -> viewed -> exported -> why -> green: ok"
