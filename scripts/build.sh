#!/usr/bin/env bash
# Configures and builds simfs in build/ (Release with debug info, warnings are errors).
# Usage: scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMFS_WERROR=ON "$@" >/dev/null
cmake --build build -j "$(nproc)"
