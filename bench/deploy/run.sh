#!/usr/bin/env bash
# Deploy benchmark: how long the CLI takes to publish a 10,000-file site, to redeploy it after a
# one-file change (and how soon the change is served), and how soon a rollback is served.
# A report, not a test: it never fails on a number.
#
#   bench/deploy/run.sh
#
# Environment: FILES (default 10000), REDEPLOYS (one-file redeploys, default 5), REPLIDEPLOY_BIN, KEEP_TMP=1, RD_SERVE_ARGS,
# RESULTS_DIR (default bench/results).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

FILES=${FILES:-10000}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=deploybench
HOST_HEADER="$SITE_NAME.localhost"
CLK_TCK=$(getconf CLK_TCK)

ensure_packages curl jq iproute2 procps
ensure_binary
bench_init deploy
T=$BENCH_TMP
SITE=$T/site
mkdir -p "$SITE" "$T/out"

# ---------------------------------------------------------------------------------------------
# FILES small files of varied kinds and sizes (60 B .. ~8 KB), each with unique content,
# spread over 3 levels of folders (100 x 10 x ~10)
log "generating $FILES files in $SITE"
mkdir -p "$SITE"/{a,b,c,d,e,f,g,h,i,j}{0,1,2,3,4,5,6,7,8,9}/s{0,1,2,3,4,5,6,7,8,9}
awk -v n="$FILES" -v root="$SITE" 'BEGIN {
  srand(42);
  split("html css js json txt svg", ext, " ");
  letters = "abcdefghij";
  word[0] = "alpha"; word[1] = "beta"; word[2] = "gamma"; word[3] = "delta"; word[4] = "epsilon";
  word[5] = "zeta"; word[6] = "eta"; word[7] = "theta"; word[8] = "iota"; word[9] = "kappa";
  for (i = 0; i < n; i++) {
    top = i % 100; sub_ = int(i / 100) % 10;
    dir = sprintf("%s/%s%d/s%d", root, substr(letters, int(top / 10) + 1, 1), top % 10, sub_);
    e = ext[(i % 6) + 1];
    path = sprintf("%s/file-%05d.%s", dir, i, e);
    size = 60 + int(rand() * rand() * 8000);
    body = sprintf("file %d of the deploy benchmark, version 1\n", i);
    while (length(body) < size) body = body word[int(rand() * 10)] " " i " ";
    if (e == "html") printf "<!doctype html><title>%d</title><p>%s</p>\n", i, body > path;
    else if (e == "css") printf ".c%d { content: \"%s\"; }\n", i, body > path;
    else if (e == "js") printf "export const v%d = \"%s\";\n", i, body > path;
    else if (e == "json") printf "{\"id\": %d, \"text\": \"%s\"}\n", i, body > path;
    else if (e == "svg") printf "<svg xmlns=\"http://www.w3.org/2000/svg\"><desc>%s</desc></svg>\n", body > path;
    else printf "%s\n", body > path;
    close(path);
  }
}'
printf '<!doctype html><title>deploy bench</title><p>home</p>\n' >"$SITE/index.html"
count=$(find "$SITE" -type f | wc -l)
bytes=$(du -sb "$SITE" | cut -f1)
log "$count files, $bytes bytes"

CHANGED_REL=a0/s0/file-00000.html
CHANGED_URL=/$CHANGED_REL
grep -q "version 1$" "$SITE/$CHANGED_REL" || die "$CHANGED_REL lacks its marker"

# ---------------------------------------------------------------------------------------------
PORT=$(free_port)
start_replideploy "$PORT" "$T/rd-data" "$T/replideploy.log"
rd_account
rd_create_site "$SITE_NAME"

served() { # URL-path -> body on stdout (empty on error)
  curl -s --max-time 5 -H "Host: $HOST_HEADER" "http://127.0.0.1:$PORT$1" || true
}
uploads_of() { # deploy log -> "N of M"
  sed -n 's/.*Uploading \([0-9]*\) of \([0-9]*\) files.*/\1 of \2/p' "$1" | head -1
}
# ms_until_served VERSION T0 LIMIT_MS PAUSE: ms from T0 until the changed file is served at
# VERSION (empty past LIMIT_MS), polling every PAUSE seconds.
ms_until_served() {
  while :; do
    if served "$CHANGED_URL" | grep -q "version $1$"; then
      echo $(($(now_ms) - $2))
      return
    fi
    (($(now_ms) - $2 > $3)) && return
    sleep "$4"
  done
}
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

# 1. first deploy
log "first deploy"
cpu0=$(cpu_ticks "$RD_PID")
t0=$(now_ms)
FIRST_T0=$t0
rd_deploy "$SITE" "$SITE_NAME" "$T/out/deploy-1.log"
t1=$(now_ms)
cpu1=$(cpu_ticks "$RD_PID")
FIRST_MS=$((t1 - t0))
FIRST_UPLOADS=$(uploads_of "$T/out/deploy-1.log")
# phases from the CLI's timestamped lines: hashing + file list, uploads, processing until live
P_UPLOADING=$(deploy_phase_ms "$T/out/deploy-1.log" "Uploading [0-9]+ of")
P_UPLOADED=$(deploy_phase_ms "$T/out/deploy-1.log" "\\] [0-9]+/[0-9]+ files")
P_LIVE=$(deploy_phase_ms "$T/out/deploy-1.log" "Deploy is live")
FIRST_CPU=$(awk -v t="$((cpu1 - cpu0))" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
cat "$T/out/deploy-1.log" >&2
served "$CHANGED_URL" | grep -q "version 1$" || die "first deploy: $CHANGED_URL not served"
FIRST_ID=$(rd_api GET "/api/v1/sites/$SITE_NAME/deploys" | jq -r '.[0].id')
[[ -n $FIRST_ID && $FIRST_ID != null ]] || die "no deploy id in the deploy list"
# spot-check a few other files
for rel in $(cd "$SITE" && find . -type f -name 'file-*' | sort | sed -n '2p;5000p;$p' | sed 's|^\./||'); do
  served "/$rel" | cmp -s - "$SITE/$rel" || die "first deploy: /$rel differs from the file"
done

# 2. redeploys after changing one file (REDEPLOYS of them, each a new version of the same
# file); poll the changed URL while the CLI runs. The first one runs while the first deploy's
# background precompression may still go on; the median is over all of them.
redeploy_once() { # VERSION: sets REDEPLOY_MS, VISIBLE_MS, REDEPLOY_CPU, REDEPLOY_UPLOADS
  local version=$1 cli cli_rc=0 t0 t1 cpu0 cpu1
  sed -i "s/version [0-9]*\$/version $version/; s/version [0-9]* /version $version /" "$SITE/$CHANGED_REL"
  grep -q "version $version$" "$SITE/$CHANGED_REL" || die "$CHANGED_REL: marker not changed"
  log "redeploy $((version - 1)) after changing $CHANGED_REL"
  cpu0=$(cpu_ticks "$RD_PID")
  t0=$(now_ms)
  rd_deploy "$SITE" "$SITE_NAME" "$T/out/redeploy-$version.log" &
  cli=$!
  BENCH_PIDS+=("$cli")
  VISIBLE_MS=$(ms_until_served "$version" "$t0" 300000 0.01)
  wait "$cli" || cli_rc=$?
  forget_pid "$cli" # reaped: never signal that pid again
  ((cli_rc == 0)) || { cat "$T/out/redeploy-$version.log" >&2; die "redeploy failed"; }
  t1=$(now_ms)
  cpu1=$(cpu_ticks "$RD_PID")
  [[ -n $VISIBLE_MS ]] || die "the changed file was not served within 300 s"
  REDEPLOY_MS=$((t1 - t0))
  REDEPLOY_UPLOADS=$(uploads_of "$T/out/redeploy-$version.log")
  REDEPLOY_CPU=$(awk -v t="$((cpu1 - cpu0))" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
}
median_of() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
REDEPLOYS=${REDEPLOYS:-5}
((REDEPLOYS >= 1)) || die "REDEPLOYS must be at least 1"
declare -a ALL_REDEPLOY_MS=() ALL_VISIBLE_MS=()
for ((k = 2; k <= REDEPLOYS + 1; k++)); do
  redeploy_once "$k"
  if ((k == 2)); then
    FIRST_REDEPLOY=("$REDEPLOY_MS" "$VISIBLE_MS" "$REDEPLOY_UPLOADS" "$REDEPLOY_CPU")
    cat "$T/out/redeploy-$k.log" >&2
  fi
  ALL_REDEPLOY_MS+=("$REDEPLOY_MS")
  ALL_VISIBLE_MS+=("$VISIBLE_MS")
done
LAST_VERSION=$((REDEPLOYS + 1))
REDEPLOY_MEDIAN=$(median_of "${ALL_REDEPLOY_MS[@]}")
VISIBLE_MEDIAN=$(median_of "${ALL_VISIBLE_MS[@]}")

# 3. redeploy with nothing changed
log "redeploy with no change"
t0=$(now_ms)
rd_deploy "$SITE" "$SITE_NAME" "$T/out/deploy-3.log"
NOCHANGE_MS=$(($(now_ms) - t0))
NOCHANGE_UPLOADS=$(uploads_of "$T/out/deploy-3.log")

# 4. rollback to the first deploy; poll until the old content is served
log "rollback to $FIRST_ID"
served "$CHANGED_URL" | grep -q "version $LAST_VERSION$" || die "before rollback: new content not served"
t0=$(now_ms)
code=$(curl -sS -o "$T/out/restore.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $RD_TOKEN" "$RD_URL/api/v1/sites/$SITE_NAME/deploys/$FIRST_ID/restore")
RESTORE_API_MS=$(($(now_ms) - t0))
[[ $code == 200 ]] || { cat "$T/out/restore.json" >&2; die "restore answered $code"; }
ROLLBACK_MS=$(ms_until_served 1 "$t0" 60000 0.005)
[[ -n $ROLLBACK_MS ]] || die "old content not served within 60 s of the restore call"

# 5. the first deploy (live again) goes live with identity bodies; its brotli variants are made
# in the background. Poll an unchanged, compressible file until it is served as br.
BR_REL=$(cd "$SITE" && find . -type f -name 'file-*.html' -size +2k | sort | tail -1 | sed 's|^\./||')
VARIANTS_MS=""
while [[ -n $BR_REL ]]; do
  enc=$(curl -s --max-time 5 -o /dev/null -D - -H "Host: $HOST_HEADER" -H 'Accept-Encoding: br' \
    "http://127.0.0.1:$PORT/$BR_REL" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ee]ncoding: //p')
  if [[ $enc == br ]]; then
    VARIANTS_MS=$(($(now_ms) - FIRST_T0))
    break
  fi
  (($(now_ms) - FIRST_T0 > 600000)) && break
  sleep 0.2
done

RD_ALIVE=yes
kill -0 "$RD_PID" 2>/dev/null || RD_ALIVE=no
RD_LOG_ERRORS=$(grep -ciE '\b(error|fatal|panic)\b' "$T/replideploy.log" || true)
# Disk usage, not apparent size: the running server's build volumes are sparse images.
DATA_BYTES=$(du -s -B1 "$T/rd-data" | cut -f1)

# ---------------------------------------------------------------------------------------------
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$BENCH_ROOT" --no-optional-locks diff-index --quiet HEAD -- 2>/dev/null || dirty=" (+ uncommitted changes)"
report() {
  echo "# Deploy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $commit$dirty, release build of $(date -u -r "$RD_BIN" "+%Y-%m-%d %H:%M UTC"), SQLite, local blob store, all on 127.0.0.1"
  echo "- site: $count files in 3 levels of folders, $bytes bytes (60 B .. 8 KB each, unique content)"
  echo "- $(nproc) cores shared with whatever else runs (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "- times are wall clock from the start of the command or API call"
  echo
  echo "| step | time | uploads (CLI: Uploading N of M) | server CPU |"
  echo "|---|---:|---:|---:|"
  echo "| first \`deploy --prod\` (until the CLI says live) | $(secs "$FIRST_MS") s | $FIRST_UPLOADS | $FIRST_CPU s |"
  if [[ -n $P_UPLOADING && -n $P_UPLOADED && -n $P_LIVE ]]; then
    echo "| ... of which hashing, creating the deploy, sending the file list | $(secs "$P_UPLOADING") s | | |"
    echo "| ... of which uploading $FIRST_UPLOADS files (8 in flight, kept-alive connections) | $(secs "$((P_UPLOADED - P_UPLOADING))") s | | |"
    echo "| ... of which processing until the CLI sees it ready (polls every 10 ms, backing off to 50 ms) | $(secs "$((P_LIVE - P_UPLOADED))") s | | |"
  fi
  echo "| first redeploy after a one-file change (CLI until live) | $(secs "${FIRST_REDEPLOY[0]}") s | ${FIRST_REDEPLOY[2]} | ${FIRST_REDEPLOY[3]} s |"
  echo "| ... until \`curl\` of the changed file shows the new content | $(secs "${FIRST_REDEPLOY[1]}") s | | |"
  echo "| one-file redeploy, median of $REDEPLOYS (CLI until live) | $(secs "$REDEPLOY_MEDIAN") s | | |"
  echo "| ... until \`curl\` shows the new content, median of $REDEPLOYS | $(secs "$VISIBLE_MEDIAN") s | | |"
  echo "| redeploy with no change (CLI until live) | $(secs "$NOCHANGE_MS") s | $NOCHANGE_UPLOADS | |"
  echo "| rollback: the restore API call | $(secs "$RESTORE_API_MS") s | | |"
  echo "| rollback: until \`curl\` shows the old content | $(secs "$ROLLBACK_MS") s | | |"
  if [[ -n $VARIANTS_MS ]]; then variants="$(secs "$VARIANTS_MS") s"; else variants="not within 600 s"; fi
  echo "| first deploy's brotli variant served (background precompression), from its start | $variants | | |"
  echo
  echo "- replideploy still running at the end: $RD_ALIVE; lines with error/fatal/panic in its log: $RD_LOG_ERRORS"
  echo "- one-file redeploys in ms, CLI until live: ${ALL_REDEPLOY_MS[*]}; until \`curl\` serves the change: ${ALL_VISIBLE_MS[*]}"
  echo "- data dir after $((REDEPLOYS + 2)) deploys: $DATA_BYTES bytes"
}
mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/deploy-$(date -u +%Y-%m-%d-%H%M).md"
report | tee "$RESULT_FILE"
log "written to $RESULT_FILE"
if [[ $RD_LOG_ERRORS != 0 ]]; then
  log "replideploy log excerpts:"
  grep -iE '\b(error|fatal|panic)\b' "$T/replideploy.log" | head -20 >&2
fi
