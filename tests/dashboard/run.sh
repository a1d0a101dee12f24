#!/usr/bin/env bash
# End-to-end test of the dashboard: Debian's Chromium (driven by playwright-core, pinned in
# package-lock.json; no browser is downloaded) against a real `replideploy serve`.
#
#   tests/dashboard/run.sh path/to/replideploy path/to/dashboard/out
#
# Starts the server on 127.0.0.1:0 with a temp --data-dir and --dashboard-dir OUT, then runs
# e2e.mjs (register, log in, folder deploy, redeploy, rollback, build settings, API tokens, an
# expired session, 404, phone-sized screens; with the git API also environment variables and a
# `git push` whose build log is followed live). One screenshot per step goes to a temp dir whose
# path is printed. Output: one `ok N - step` (or `skip - step`) line per step and a closing
# `N passed, N failed[, N skipped]`.
# Environment knobs:
#   RD_E2E_TIMEOUT=SECONDS  hard limit for the whole run (default 300)
#   RD_E2E_KEEP=1           keep the temp dir (server log, data dir) after the run
#   CHROMIUM=PATH           browser binary (default /usr/bin/chromium)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

die() { echo "dashboard e2e: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $0 path/to/replideploy path/to/dashboard/out"
BINARY="$(realpath "$1")" || die "no such binary: $1"
[[ -x "$BINARY" ]] || die "not an executable: $BINARY"
OUT_DIR="$(realpath "$2")" || die "no such directory: $2"
[[ -f "$OUT_DIR/index.html" && -f "$OUT_DIR/sites/_/index.html" ]] ||
  die "$OUT_DIR is not a dashboard export (run: cd dashboard && npm ci && npm run build)"

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

# Stage 1: installs, then re-runs itself under a hard time limit.
if [[ -z "${RD_E2E_STAGE2:-}" ]]; then
  for tool in node npm timeout curl realpath; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
  done
  if [[ ! -x "$CHROMIUM" ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      echo "dashboard e2e: installing Debian's chromium"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
        die "apt-get install chromium failed"
    fi
    [[ -x "$CHROMIUM" ]] || die "no browser at $CHROMIUM (apt-get install chromium)"
  fi
  # npm ci only when the lockfile changed since the last install.
  stamp="$HERE/node_modules/.replideploy-lock-stamp"
  if [[ ! -f "$stamp" ]] || ! cmp -s "$stamp" "$HERE/package-lock.json"; then
    echo "dashboard e2e: npm ci (pinned playwright-core)"
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NO_UPDATE_NOTIFIER=1 timeout 300 \
      npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || die "npm ci failed"
    cp "$HERE/package-lock.json" "$stamp"
  fi
  export RD_E2E_STAGE2=1
  exec timeout -k 10 "${RD_E2E_TIMEOUT:-300}" bash "$SELF" "$BINARY" "$OUT_DIR"
fi

# Stage 2.
WORK="$(mktemp -d /tmp/replideploy-dashboard-e2e.XXXXXX)"
SHOTS="$(mktemp -d /tmp/replideploy-dashboard-shots.XXXXXX)"
SERVER_PID=""

stop() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$SERVER_PID"
  if [[ $rc -ne 0 ]]; then
    echo "----- server log (last 40 lines) -----" >&2
    tail -n 40 "$WORK/server.err" 2>/dev/null >&2 || true
  fi
  if [[ "${RD_E2E_KEEP:-}" == 1 ]]; then
    echo "dashboard e2e: kept $WORK"
  else
    rm -rf "$WORK"
  fi
  echo "dashboard e2e: screenshots in $SHOTS"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or over the ${RD_E2E_TIMEOUT:-300} s limit (RD_E2E_TIMEOUT)" >&2
      echo "0 passed, 1 failed" >&2; exit 130' INT TERM

# wait_for_port FILE PID WHAT: the port of the first "listening on 127.0.0.1:PORT" line in FILE.
wait_for_port() {
  local file="$1" pid="$2" what="$3" port=""
  for _ in $(seq 300); do
    port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$file" | head -n1)" || true
    [[ -n "$port" ]] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "dashboard e2e: $what exited before listening" >&2; return 1; }
    sleep 0.1
  done
  echo "dashboard e2e: $what did not print 'listening on 127.0.0.1:PORT' within 30 s" >&2
  return 1
}

"$BINARY" serve --help 2>&1 | grep -q -- '--dashboard-dir' ||
  die "'$BINARY serve' has no --dashboard-dir option (a binary older than the dashboard)"

"$BINARY" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level debug --dashboard-dir "$OUT_DIR" \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
PORT="$(wait_for_port "$WORK/server.out" "$SERVER_PID" server)" || exit 1

BASE="http://127.0.0.1:$PORT"
curl -sf --max-time 5 "$BASE/healthz" >/dev/null || die "GET $BASE/healthz failed"
curl -sf --max-time 5 "$BASE/" | grep -q "RepliDeploy" || die "GET $BASE/ does not serve the dashboard"
echo "dashboard e2e: server pid $SERVER_PID, dashboard at $BASE, work dir $WORK"

mkdir -p "$WORK/folders"
DASHBOARD_URL="$BASE" SHOTS_DIR="$SHOTS" WORK_DIR="$WORK/folders" SERVER_LOG="$WORK/server.err" \
  node "$HERE/e2e.mjs"
