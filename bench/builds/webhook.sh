#!/usr/bin/env bash
# Webhook -> build start: GitHub's push delivery (a real payload from the fixtures, signed with
# the site's hook secret) POSTed to /api/hooks/deploy, timed to the 202 answer and to the first
# line the worker writes for the build ("Build of ... started"). GitHub itself is the fake from
# tests/fake_github (OAuth, hook creation); it does not take part in the timed path. A report,
# not a test.
#   REPLIDEPLOY_BIN=path/to/replideploy FAKE_GITHUB=path/to/fake_github bench/builds/webhook.sh
#   RUNS=10
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
bench_init webhook
ensure_binary
ensure_packages jq git bubblewrap openssl
[[ $(id -u) -eq 0 ]] || die "builds run as a separate build user: run as root"
FAKE_GITHUB=${FAKE_GITHUB:-$BENCH_ROOT/build/debug/tests/fake_github/fake_github}
[[ -x "$FAKE_GITHUB" ]] || die "$FAKE_GITHUB not found: cmake --preset debug && ninja -C build/debug fake_github"
FIXTURE=$BENCH_ROOT/src/git/testdata/github-webhooks/push-with-new-branch.payload.json
RUNS=${RUNS:-10}

"$FAKE_GITHUB" --port 0 --state-file "$BENCH_TMP/github.json" >"$BENCH_TMP/github.out" 2>"$BENCH_TMP/github.err" &
BENCH_PIDS+=("$!")
for _ in $(seq 1 100); do grep -qs listening "$BENCH_TMP/github.out" && break; sleep 0.1; done
GH="http://$(grep -o '127.0.0.1:[0-9]*' "$BENCH_TMP/github.out" | head -1)"
[[ "$GH" != "http://" ]] || die "the fake GitHub did not start"

port=$(free_port)
RD_SERVE_ARGS="--github-client-id fake-client-id --github-client-secret fake-client-secret --github-web-url $GH --github-api-url $GH" \
  start_replideploy "$port" "$BENCH_TMP/rd-data" "$BENCH_TMP/rd.log"
rd_account

# Connect GitHub the way a browser does: our connect URL, GitHub's redirect, our callback.
authorize=$(curl -fsS "$RD_URL/api/v1/github/connect" -H "Authorization: Bearer $RD_TOKEN" \
  -H 'Accept: application/json' | jq -r .authorize_url)
callback=$(curl -sS -o /dev/null -A bench -w '%{redirect_url}' "$authorize")
curl -sS -o /dev/null "$callback"
[[ $(rd_api GET /api/v1/github/account | jq -r .connected) == true ]] || die "GitHub not connected"
site_id=$(rd_api POST /api/v1/sites \
  '{"name":"hookbench","repo":{"provider":"github","repo_path":"octocat/hello-world","repo_branch":"main","cmd":"true","dir":"."}}' |
  jq -r .id)
secret=$(jq -r '.hooks[0].secret' "$BENCH_TMP/github.json")
[[ -n "$secret" && "$secret" != null ]] || die "no hook was created"

answer_ms=()
start_ms=()
for r in $(seq 1 "$RUNS"); do
  sha=$(openssl rand -hex 20)
  body=$(jq -c --arg sha "$sha" '.repository.full_name = "octocat/hello-world" | .repository.name = "hello-world"
    | .ref = "refs/heads/main" | .after = $sha | .head_commit.id = $sha' "$FIXTURE")
  sig="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
  t0=$(now_ms)
  reply=$(curl -sS "$RD_URL/api/hooks/deploy?site_id=$site_id" -H 'Content-Type: application/json' \
    -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: bench-$r-$sha" -H "X-Hub-Signature-256: $sig" \
    -w '\n%{http_code} %{time_total}' --data-binary "$body")
  code=$(tail -1 <<<"$reply" | cut -d' ' -f1)
  [[ "$code" == 202 ]] || die "delivery $r answered $code: $reply"
  answer_ms+=("$(tail -1 <<<"$reply" | awk '{printf "%.1f", $2 * 1000}')")
  deploy=$(head -1 <<<"$reply" | jq -r .deploy_id)
  first=""
  for _ in $(seq 1 500); do
    first=$(rd_api GET "/api/v1/deploys/$deploy/log" | jq -r '.lines[0].ts // empty')
    [[ -n "$first" ]] && break
    sleep 0.01
  done
  [[ -n "$first" ]] || die "build $r never started"
  start_ms+=("$(($(date -d "$first" +%s%3N) - t0))")
  log "delivery $r: 202 in ${answer_ms[-1]} ms, build started after ${start_ms[-1]} ms"
  # Let this build end (its commit is not in the fake's repository) before the next delivery.
  for _ in $(seq 1 300); do
    state=$(rd_api GET "/api/v1/deploys/$deploy" | jq -r .state)
    [[ "$state" == error || "$state" == ready ]] && break
    sleep 0.05
  done
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
worst() { printf '%s\n' "$@" | sort -n | tail -1; }

out_dir="$BENCH_ROOT/bench/results"
mkdir -p "$out_dir"
report="$out_dir/webhook-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# Webhook -> build start, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $(git -C "$BENCH_ROOT" rev-parse --short HEAD), $RD_BIN; SQLite, one build worker, 127.0.0.1"
  echo "- a signed GitHub push delivery (fixture payload, fresh sha each run) to /api/hooks/deploy"
  echo "- answer: curl's time to the 202; build start: the worker's first log line minus the POST's start"
  echo
  echo "| | median ms | worst ms | runs |"
  echo "|---|---:|---:|---:|"
  echo "| delivery answered (202, deploy queued) | $(median "${answer_ms[@]}") | $(worst "${answer_ms[@]}") | $RUNS |"
  echo "| build started by the worker | $(median "${start_ms[@]}") | $(worst "${start_ms[@]}") | $RUNS |"
} | tee "$report"
log "written to $report"
