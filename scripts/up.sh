#!/usr/bin/env bash
# Sets up and runs RepliDeploy: installs what is missing, builds the server (release) and the
# dashboard (nothing is rebuilt when nothing changed), then runs `replideploy serve` with data
# in ./data. Extra arguments go
# to `replideploy serve` (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[[ -f build/release/build.ninja ]] || cmake --preset release >/dev/null
cmake --build --preset release -- -j"$(nproc)" | grep -v '^ninja: no work to do' || true
test -x build/release/replideploy || { echo "error: build failed" >&2; exit 1; }
scripts/build-dashboard.sh

exec build/release/replideploy serve --data-dir ./data --dashboard-dir dashboard/out "$@"
