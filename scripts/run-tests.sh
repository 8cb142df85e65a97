#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds simfs, and runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
# RapidCheck properties run with a pinned seed; on failure they print RC_PARAMS="reproduce=...".
export RC_PARAMS="${RC_PARAMS:-seed=20261122 max_success=100}"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 600
