#!/usr/bin/env bash
# Configures and builds simfs in build/ (Release with debug info, warnings are errors).
# Usage: scripts/build.sh [--target NAME]... [extra cmake args...]
#   --target NAME   build only NAME and what it needs (repeatable; default: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
while [[ $# -gt 0 && "$1" == "--target" ]]; do
  targets+=(--target "$2")
  shift 2
done
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMFS_WERROR=ON "$@" >/dev/null
cmake --build build -j "$(nproc)" "${targets[@]}"
