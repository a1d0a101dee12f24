#!/usr/bin/env bash
# End-to-end test of the dashboard: Debian's Chromium (driven by playwright-core, pinned in
# package-lock.json; no browser is downloaded) against a real `replideploy serve`.
#
#   tests/dashboard/run.sh path/to/replideploy path/to/dashboard/out
#
# Starts the fake GitHub (tests/fake_github/fake_github next to the binary, port 0, state file in
# the temp dir) and the server on a free 127.0.0.1 port with a temp --data-dir, --dashboard-dir
# OUT and --github-* flags pointing at the fake, then runs e2e.mjs (register, log in, folder
# deploy, redeploy, rollback, build settings, API tokens, environment variables, a `git push`
# whose build log is followed live, GitHub: connect, a site from a repository with its webhook,
# disconnect; an expired session, 404, phone-sized screens). Every step runs; none is skipped.
# One screenshot per step goes to a temp dir whose path is printed. Output: one `ok N - step`
# line per step and a closing `N passed, N failed`.
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

FAKE_GITHUB="$(dirname "$BINARY")/tests/fake_github/fake_github"
[[ -x "$FAKE_GITHUB" ]] ||
  die "no fake GitHub at $FAKE_GITHUB (build it: ninja -C $(dirname "$BINARY") fake_github)"

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
FAKE_GITHUB_PID=""

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
  stop "$FAKE_GITHUB_PID"
  if [[ $rc -ne 0 ]]; then
    echo "----- server log (last 40 lines) -----" >&2
    tail -n 40 "$WORK/server.err" 2>/dev/null >&2 || true
    if [[ -s "$WORK/fake_github.err" ]]; then
      echo "----- fake GitHub log (last 20 lines) -----" >&2
      tail -n 20 "$WORK/fake_github.err" >&2 || true
    fi
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

"$BINARY" serve --help 2>&1 | grep -- '--dashboard-dir' >/dev/null ||
  die "'$BINARY serve' has no --dashboard-dir option (a binary older than the dashboard)"

# The fake GitHub: plays both github.com and api.github.com; hooks go to its state file.
GITHUB_STATE="$WORK/fake_github_state.json"
"$FAKE_GITHUB" --port 0 --state-file "$GITHUB_STATE" \
  --client-id e2e-client-id --client-secret e2e-client-secret \
  >"$WORK/fake_github.out" 2>"$WORK/fake_github.err" &
FAKE_GITHUB_PID=$!
GITHUB_PORT="$(wait_for_port "$WORK/fake_github.out" "$FAKE_GITHUB_PID" "fake GitHub")" || exit 1
GITHUB_URL="http://127.0.0.1:$GITHUB_PORT"
echo "dashboard e2e: fake GitHub pid $FAKE_GITHUB_PID at $GITHUB_URL"

# GitHub sends the browser back to the server's --public-url, whose answer is a relative redirect
# into the dashboard: that origin must be the one the browser logged in on (the session lives in
# its localStorage). So the port is known before the server starts: a free one, asked from the
# kernel; when another process takes it in between, the server cannot listen and we try again.
# --git-allow-private-urls: the fake's repositories are on loopback, which builds otherwise refuse.
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
PORT=""
for attempt in 1 2 3 4 5; do
  WANT="$(free_port)" || die "could not find a free port"
  : >"$WORK/server.out"
  "$BINARY" serve --listen "127.0.0.1:$WANT" --public-url "http://127.0.0.1:$WANT" \
    --data-dir "$WORK/data" --log-level debug --dashboard-dir "$OUT_DIR" \
    --github-client-id e2e-client-id --github-client-secret e2e-client-secret \
    --github-web-url "$GITHUB_URL" --github-api-url "$GITHUB_URL" --git-allow-private-urls 1 \
    --analytics-flush-seconds 1 \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  if PORT="$(wait_for_port "$WORK/server.out" "$SERVER_PID" server)"; then break; fi
  PORT=""
  stop "$SERVER_PID"
  SERVER_PID=""
  grep -qi "in use" "$WORK/server.err" || exit 1 # not a lost race for the port
  echo "dashboard e2e: port $WANT was taken (attempt $attempt), trying another"
done
[[ -n "$PORT" ]] || die "the server could not listen on a free port"

BASE="http://127.0.0.1:$PORT"
curl -sf --max-time 5 "$BASE/healthz" >/dev/null || die "GET $BASE/healthz failed"
curl -sf --max-time 5 "$BASE/" | grep "RepliDeploy" >/dev/null || die "GET $BASE/ does not serve the dashboard"
echo "dashboard e2e: server pid $SERVER_PID, dashboard at $BASE, work dir $WORK"

mkdir -p "$WORK/folders"
DASHBOARD_URL="$BASE" SHOTS_DIR="$SHOTS" WORK_DIR="$WORK/folders" SERVER_LOG="$WORK/server.err" \
  BUILDS_DIR="$WORK/data/builds" GITHUB_URL="$GITHUB_URL" GITHUB_STATE="$GITHUB_STATE" \
  node "$HERE/e2e.mjs"
