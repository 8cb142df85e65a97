#!/usr/bin/env bash
# Headless-browser test of the trace viewer (`simfs view`, tools/viewer/): Debian's Chromium
# driven by playwright-core from npm (exact version pinned in tools/viewer/test/package-lock.json;
# it downloads no browser, and `npx playwright install` must never be run). The test makes its
# own pages with build/simfs view: fixtures, a real failing run and a generated 1,000,000-event
# trace. Screenshot: artifacts/viewer.png.
# Usage: scripts/run-browser-tests.sh   (UPDATE_DOCS_IMAGE=1 also refreshes docs/images/viewer.png)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
if (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
  echo "run-browser-tests: playwright-core needs node >= 20, found $(node --version)" >&2
  exit 1
fi
npm ci --prefix tools/viewer/test --no-audit --no-fund --loglevel=error >/dev/null
# Build simfs if needed (a no-op after scripts/run-tests.sh).
if [[ -f build/CMakeCache.txt ]]; then cmake --build build -j "$(nproc)" --target simfs >/dev/null
else scripts/build.sh; fi
export SIMFS_BINARY="$PWD/build/simfs" ARTIFACTS_DIR="$PWD/artifacts"
node --test tools/viewer/test/view.test.mjs
