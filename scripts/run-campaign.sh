#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds simfs, and runs a fuzz campaign of the default
# scenario. Extra arguments go to 'simfs fuzz' (e.g. --runs 100000, --time 10m, --bug NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Only the simfs binary and the libraries it links: the tests, benchmarks and their libraries
# are for scripts/run-tests.sh, which builds them later in the same build/ (nothing twice).
scripts/build.sh --target simfs
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--runs 1000)
# The default campaign, runs taken in turn from: the swarm (each seed draws its own cluster
# shape, devices, tuning and operation mix, then runs the faulty cluster); five mounts sharing
# the filesystem under crashes, partitions and disk faults; the filesystem on one node under
# crashes and disk faults; three mounts with cross-mount lock traffic and no faults.
exec ./build/simfs fuzz swarm multi_mount single_mount cluster_smoke --jobs "$(nproc)" --junit artifacts/junit.xml --results artifacts/results.jsonl "${args[@]}"
