#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and runs
# it. Fiber switches are annotated for ASan (sim/fiber_sanitizer.h), so fiber code is covered.
#
# Usage: scripts/run-sanitizers.sh          the libraries and the in-process tests of sim/ fs/
#                                           oracle/ scenarios/ (what CI runs: the Debug
#                                           sanitizer build is the slowest part of CI, so it
#                                           leaves out the simfs binary, the tools tests, the
#                                           whole-project checks and the benchmarks)
#        scripts/run-sanitizers.sh --all    everything, the simfs binary and tools tests too
# Tests that sweep many runs take a sample of them in this build (SIMFS_SANITIZE_BUILD).
set -euo pipefail
cd "$(dirname "$0")/.."
extra=(-DSIMFS_TOOLS=OFF)
[[ "${1:-}" == "--all" ]] && extra=(-DSIMFS_TOOLS=ON -DSIMFS_DETERMINISM_SEEDS=3)
scripts/setup.sh
# -g1: line tables are enough for the sanitizers' stack traces, and compile faster than -g.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DSIMFS_SANITIZE=ON \
  -DSIMFS_WERROR=ON "${extra[@]}" >/dev/null
cmake --build build-asan -j "$(nproc)"
export RC_PARAMS="${RC_PARAMS:-seed=20261122 max_success=100}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900
