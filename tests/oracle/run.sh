#!/usr/bin/env bash
# Differential test of our redirect matcher against Netlify's engine (netlify-redirector).
#   tests/oracle/run.sh path/to/rd_rules_oracle [compare.mjs options: --seed N --sets N ...]
# Installs the pinned engine from package-lock.json on first use (npm ci), then runs
# compare.mjs; exits non-zero on any mismatch, and when node or npm is missing (scripts/test.sh
# installs both).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 RD_RULES_ORACLE_BINARY [compare.mjs options]" >&2
  exit 2
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "edge_rules_oracle: $tool not found: the differential rule test needs Node.js and npm" \
      "(apt-get install nodejs npm, or run scripts/test.sh, which installs them)" >&2
    exit 1
  fi
done
binary="$(realpath "$1")"
shift
cd "$(dirname "$0")"
if [ ! -f node_modules/netlify-redirector/lib/redirects.wasm ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node compare.mjs "$binary" "$@"
