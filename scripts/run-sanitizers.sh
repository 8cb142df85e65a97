#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and runs
# it. Fiber switches are annotated for ASan (sim/fiber_sanitizer.h), so fiber code is covered.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSIMFS_SANITIZE=ON -DSIMFS_WERROR=ON \
  -DSIMFS_DETERMINISM_SEEDS=5 >/dev/null
cmake --build build-asan -j "$(nproc)"
export RC_PARAMS="${RC_PARAMS:-seed=20261122 max_success=100}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900
