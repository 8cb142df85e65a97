#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds simfs, and runs a fuzz campaign of the default
# scenario. Extra arguments go to 'simfs fuzz' (e.g. --runs 100000, --time 10m, --bug NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--runs 2000)
exec ./build/simfs fuzz register --jobs "$(nproc)" --junit artifacts/junit.xml --results artifacts/results.jsonl "${args[@]}"
