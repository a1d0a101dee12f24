#!/usr/bin/env bash
# Installs s3rver as pinned in package-lock.json (npm ci), only when the lockfile changed since
# the last install. Run by ctest before the S3 blob store's tests (fixture s3rver).
set -euo pipefail
[[ "${REPLIDEPLOY_S3_TESTS:-}" == off ]] && { echo "s3 tests: off"; exit 0; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v npm >/dev/null || { echo "s3 tests: npm is missing (scripts/install-deps.sh)" >&2; exit 1; }
stamp="$HERE/node_modules/.replideploy-lock-stamp"
if [[ ! -f "$stamp" ]] || ! cmp -s "$stamp" "$HERE/package-lock.json"; then
  echo "s3 tests: npm ci (pinned s3rver)"
  (cd "$HERE" && NO_UPDATE_NOTIFIER=1 timeout 600 npm ci --no-audit --no-fund --ignore-scripts \
    --loglevel=error) || { echo "s3 tests: npm ci failed" >&2; exit 1; }
  cp "$HERE/package-lock.json" "$stamp"
fi
