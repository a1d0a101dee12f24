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

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

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
# A scheduled function (zip-it-and-ship-it reads config.schedule; the CLI sends it as the
# deploy's function_schedules) and a background one (-background: 202 at once).
cat >"$P/netlify/functions/tick.mjs" <<EOF
export default async (req) => { console.log("tick " + (await req.json()).next_run); };
export const config = { schedule: "@hourly" };
EOF
cat >"$P/netlify/functions/work-background.mjs" <<EOF
export default async (req) => { console.log("background work $NONCE " + (await req.text())); };
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
expect_edge "$SITE.localhost" /.netlify/functions/tick 404 scheduled_function \
  "a scheduled function is not callable over HTTP"
api_ok GET "/api/v1/deploys/$FN_ID/functions" "" 200
grep -qF '"name":"tick"' "$WORK/resp.json" && grep -qF '"schedule":"@hourly","next_run":"' "$WORK/resp.json" ||
  fail "the CLI's function_schedules were not kept: $(cat "$WORK/resp.json")"
ok "GET /api/v1/deploys/$FN_ID/functions lists tick with its schedule and next run"
status="$(curl -sS --max-time 10 -o "$WORK/edge.body" -w '%{http_code}' -X POST --data-binary job-1 \
  -H "Host: $SITE.localhost" "$API/.netlify/functions/work-background")" || fail "POST work-background failed"
[[ "$status" == 202 && ! -s "$WORK/edge.body" ]] ||
  fail "a background function should answer 202 with no body, got $status: $(cat "$WORK/edge.body")"
ok "a background function answers 202 at once"
for _ in $(seq 1 300); do
  grep -qF "background work $NONCE job-1" "$WORK/server.err" && break
  sleep 0.1
done
grep -qF "background work $NONCE job-1" "$WORK/server.err" ||
  fail "the background function's output never reached the server log"
ok "the background function ran (its output is in the server log)"

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
