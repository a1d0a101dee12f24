#!/usr/bin/env bash
# End-to-end test: the netlify-cli commands a user runs day to day (issue 14, point 4), each
# against a real RepliDeploy server, each checked by its effect on the server (our API), on
# the edge, or by the CLI's own output: status, sites:list, sites:create, link, unlink,
# env:set/get/list/import/unset, deploy --json/--message/--alias/--prod/--prod-if-unlocked/
# --skip-functions-cache, api listSiteDeploys/restoreSiteDeploy/lockDeploy/unlockDeploy.
#
#   tests/netlify-cli/everyday.sh path/to/replideploy
#
# Same setup and knobs as run.sh (lib.sh). Linked commands run with netlifysdk-shim.cjs
# preloaded (RD_SHIM=1), which sends netlify-cli's extension lookup to our server instead of
# Netlify's fixed host (README.md says why, and what real users see without it).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

export RD_SHIM=1 RD_SHIM_LOG="$WORK/shim.log"

# out_json EXPR: EXPR evaluated on the JSON the last netlify command printed on stdout.
out_json() { json "$LAST_OUT.stdout" "$1"; }

# expect_eq ACTUAL WANTED WHAT
expect_eq() {
  [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
  ok "$3"
}

api_ok GET /api/v1/accounts "" 200
SLUG="$(json "$WORK/resp.json" 'j[0].slug')" || fail "GET /api/v1/accounts: no slug"
api_ok GET "/api/v1/sites/$SITE" "" 200
SITE_ID="$(json "$WORK/resp.json" 'j.id')" || fail "GET /api/v1/sites/$SITE: no id"

# --- sites:create, sites:list --------------------------------------------------------------------
netlify sites:create --name cli-made --account-slug "$SLUG" --disable-linking --json
expect_eq "$(out_json 'j.name')" cli-made "netlify sites:create --json prints the new site"
api_ok GET /api/v1/sites/cli-made "" 200
expect_eq "$(json "$WORK/resp.json" 'j.id')" "$(out_json 'j.id')" "sites:create made the site on the server"

netlify sites:list --json
expect_eq "$(out_json 'j.map(s => s.name).sort().join(",")')" "cli-made,$SITE" \
  "netlify sites:list --json lists both sites"

# --- link, status -------------------------------------------------------------------------------
P="$(new_project linked "linked-v1-$NONCE")"
CWD="$P" netlify link --name "$SITE"
expect_eq "$(json "$P/.netlify/state.json" 'j.siteId')" "$SITE_ID" \
  "netlify link --name writes the site id to .netlify/state.json"

CWD="$P" netlify status --json
expect_eq "$(out_json 'j.siteData["site-name"]')" "$SITE" "netlify status --json: site name"
expect_eq "$(out_json 'j.siteData["site-id"]')" "$SITE_ID" "netlify status --json: site id"
expect_eq "$(out_json 'j.siteData["site-url"]')" "http://$SITE.localhost:$PORT" \
  "netlify status --json: site URL"
expect_eq "$(out_json 'j.siteData["admin-url"]')" "http://localhost:$PORT/sites/$SITE" \
  "netlify status --json: admin URL"
# (/site/{id}/integrations/safe, or /team/{account}/... once the CLI knows the account.)
grep -qE "^https://api\.netlifysdk\.com/[^ ]*/$SITE_ID[/ ]" "$RD_SHIM_LOG" || fail "the extension lookup did not go through the shim: $(cat "$RD_SHIM_LOG")"
ok "extension lookup sent to our server by the test shim"

# --- env ----------------------------------------------------------------------------------------
# site_env KEY CONTEXT: the value the server holds (our own site env API), or "<none>".
site_env() {
  api_ok GET "/api/v1/sites/$SITE/env" "" 200
  json "$WORK/resp.json" "(j.find(v => v.key === '$1')?.values.find(x => x.context === '$2')?.value) ?? '<none>'"
}

CWD="$P" netlify env:set GREETING hello
expect_eq "$(site_env GREETING all)" hello "netlify env:set stores the value (all contexts)"
CWD="$P" netlify env:set GREETING bonjour --context production --force
expect_eq "$(site_env GREETING production)" bonjour "netlify env:set --context production"
expect_eq "$(site_env GREETING all)" hello "env:set --context leaves the other values"
CWD="$P" netlify env:get GREETING
expect_eq "$(tail -n1 "$LAST_OUT.stdout")" hello "netlify env:get prints the value"
CWD="$P" netlify env:get GREETING --context production --json
expect_eq "$(out_json 'j.GREETING')" bonjour "netlify env:get --context production --json"

# Without --context, env:set replaces the whole variable (every context), as on Netlify.
CWD="$P" netlify env:set GREETING hi --force
expect_eq "$(site_env GREETING all)" hi "netlify env:set --force replaces an existing variable"
expect_eq "$(site_env GREETING production)" "<none>" "... with all of its values"

cat >"$P/.env" <<'EOF'
IMPORTED_A=alpha
IMPORTED_B="two words"
EOF
CWD="$P" netlify env:import .env
expect_eq "$(site_env IMPORTED_A all)" alpha "netlify env:import stores IMPORTED_A"
expect_eq "$(site_env IMPORTED_B all)" "two words" "netlify env:import stores IMPORTED_B"

CWD="$P" netlify env:list --json
expect_eq "$(out_json '[j.GREETING, j.IMPORTED_A, j.IMPORTED_B].join("|")')" "hi|alpha|two words" \
  "netlify env:list --json lists every variable"

CWD="$P" netlify env:unset IMPORTED_A --force
expect_eq "$(site_env IMPORTED_A all)" "<none>" "netlify env:unset removes the variable"
expect_eq "$(site_env IMPORTED_B all)" "two words" "env:unset leaves the others"

# --- unlink -------------------------------------------------------------------------------------
CWD="$P" netlify unlink
grep -qF "Unlinked from $SITE" "$LAST_OUT" || fail "netlify unlink did not name the site"
expect_eq "$(json "$P/.netlify/state.json" 'j.siteId ?? "<none>"')" "<none>" \
  "netlify unlink removes the site id from .netlify/state.json"

# --- deploy --json --message --prod ---------------------------------------------------------------
P="$(new_project prod1 "prod-v1-$NONCE")"
deploy "$P" --prod --json --message "first release $NONCE"
PROD1_ID="$DEPLOY_ID"
expect_eq "$(out_json 'j.deploy_id')" "$PROD1_ID" "netlify deploy --prod --json prints the deploy id"
expect_eq "$(out_json 'j.site_name')" "$SITE" "netlify deploy --json prints the site name"
api_ok GET "/api/v1/deploys/$PROD1_ID" "" 200
expect_eq "$(json "$WORK/resp.json" 'j.title')" "first release $NONCE" \
  "netlify deploy --message sets the deploy's title"
expect_eq "$(json "$WORK/resp.json" 'j.context')" production "deploy --prod is a production deploy"
expect_edge "$SITE.localhost" / 200 "prod-v1-$NONCE" "deploy --prod is live"

# --- deploy --alias -------------------------------------------------------------------------------
ALIAS_NAME=feature-y
P="$(new_project alias "alias-v1-$NONCE")"
deploy "$P" --alias "$ALIAS_NAME" --json
expect_eq "$(out_json 'j.deploy_url')" "http://$ALIAS_NAME--$SITE.localhost:$PORT" \
  "netlify deploy --alias --json prints the alias URL"
expect_edge "$ALIAS_NAME--$SITE.localhost" / 200 "alias-v1-$NONCE" "the alias URL serves the deploy"
expect_edge "$SITE.localhost" / 200 "prod-v1-$NONCE" "deploy --alias leaves production alone"
ALIAS_NAME=""

# --- deploy --skip-functions-cache ----------------------------------------------------------------
P="$(new_project functions "functions-v1-$NONCE")"
mkdir -p "$P/netlify/functions"
echo 'exports.handler = async () => ({ statusCode: 200, body: "fn" });' >"$P/netlify/functions/hello.js"
deploy "$P" --prod --skip-functions-cache
FN_ID="$DEPLOY_ID"
grep -q "\"PUT /api/v1/deploys/$FN_ID/functions/hello[?\"].* 200 " "$WORK/server.err" ||
  fail "deploy --skip-functions-cache did not upload the function zip for $FN_ID"
ok "netlify deploy --skip-functions-cache bundles and uploads the function"
expect_edge "$SITE.localhost" / 200 "functions-v1-$NONCE" "the --skip-functions-cache deploy is live"

# --- api lockDeploy, deploy --prod / --prod-if-unlocked on a locked site ------------------------
api_ok GET "/api/v1/deploys/$FN_ID" "" 200
PUBLISHED_AT="$(json "$WORK/resp.json" 'j.published_at')"
netlify api lockDeploy --data "{\"deploy_id\":\"$FN_ID\"}"
expect_eq "$(out_json 'j.locked')" true "netlify api lockDeploy answers the locked deploy"
api_ok GET "/api/v1/sites/$SITE" "" 200
expect_eq "$(json "$WORK/resp.json" 'j.published_deploy.locked')" true \
  "after lockDeploy the site's published deploy is locked"
api_ok GET "/api/v1/deploys/$FN_ID" "" 200
expect_eq "$(json "$WORK/resp.json" 'j.published_at')" "$PUBLISHED_AT" "locking keeps published_at"

api_ok GET "/api/v1/sites/$SITE/deploys" "" 200
COUNT_BEFORE="$(json "$WORK/resp.json" 'j.length')"
P="$(new_project locked "locked-v1-$NONCE")"
CWD="$P" netlify_fails deploy --dir public --site "$SITE" --prod --timeout 60
grep -q 'Deployments are "locked"' "$LAST_OUT" || fail "deploy --prod on a locked site: no lock message"
api_ok GET "/api/v1/sites/$SITE/deploys" "" 200
expect_eq "$(json "$WORK/resp.json" 'j.length')" "$COUNT_BEFORE" \
  "netlify deploy --prod on a locked site refuses before creating a deploy"

deploy "$P" --prod-if-unlocked
UNLOCKED_TRY_ID="$DEPLOY_ID"
api_ok GET "/api/v1/deploys/$UNLOCKED_TRY_ID" "" 200
expect_eq "$(json "$WORK/resp.json" 'j.published')" false \
  "netlify deploy --prod-if-unlocked on a locked site makes a deploy that is not published"
expect_edge "$SITE.localhost" / 200 "functions-v1-$NONCE" "the locked deploy stays live"

netlify api unlockDeploy --data "{\"deploy_id\":\"$FN_ID\"}"
api_ok GET "/api/v1/sites/$SITE" "" 200
expect_eq "$(json "$WORK/resp.json" 'j.published_deploy.locked')" false "netlify api unlockDeploy"
P="$(new_project unlocked "unlocked-v1-$NONCE")"
deploy "$P" --prod-if-unlocked
expect_edge "$SITE.localhost" / 200 "unlocked-v1-$NONCE" \
  "netlify deploy --prod-if-unlocked on an unlocked site publishes"

# --- api listSiteDeploys, restoreSiteDeploy -------------------------------------------------------
netlify api listSiteDeploys --data "{\"site_id\":\"$SITE_ID\"}"
api_ok GET "/api/v1/sites/$SITE/deploys" "" 200
expect_eq "$(out_json 'j.map(d => d.id).join(",")')" "$(json "$WORK/resp.json" 'j.map(d => d.id).join(",")')" \
  "netlify api listSiteDeploys lists the site's deploys"
[[ "$(out_json "j.some(d => d.id === '$PROD1_ID' && d.title === 'first release $NONCE')")" == true ]] ||
  fail "listSiteDeploys lacks $PROD1_ID with its title"

netlify api restoreSiteDeploy --data "{\"site_id\":\"$SITE_ID\",\"deploy_id\":\"$PROD1_ID\"}"
expect_eq "$(out_json 'j.id')" "$PROD1_ID" "netlify api restoreSiteDeploy answers the restored deploy"
expect_edge "$SITE.localhost" / 200 "prod-v1-$NONCE" \
  "after restoreSiteDeploy the old deploy is live on the next request"

echo "$PASSED passed, 0 failed"
