#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds simfs, and runs a fuzz campaign of the default
# scenario. Extra arguments go to 'simfs fuzz' (e.g. --runs 100000, --time 10m, --bug NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--runs 1000)
# The default scenario: the filesystem on one node under crashes and disk faults.
exec ./build/simfs fuzz single_mount --jobs "$(nproc)" --junit artifacts/junit.xml --results artifacts/results.jsonl "${args[@]}"
