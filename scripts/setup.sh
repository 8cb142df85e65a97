#!/usr/bin/env bash
# Installs the Debian packages simfs needs. Idempotent: installs only what is missing.
# Usage: scripts/setup.sh [--browser]   (--browser adds chromium + playwright-core for viewer tests)
set -euo pipefail
pkgs=(g++ cmake make libboost-context-dev librapidcheck-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev libbenchmark-dev)
if [[ "${1:-}" == "--browser" ]]; then
  pkgs+=(chromium)
  # node and npm may come from elsewhere (a NodeSource nodejs bundles npm and conflicts with
  # Debian's npm package): ask for the Debian packages only when the commands are missing.
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup: all packages present" >&2
fi
