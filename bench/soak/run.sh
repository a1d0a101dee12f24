#!/usr/bin/env bash
# Soak under change: full-rate page loads on two `replideploy edge` processes while deploys and
# rollbacks land through an `api` process, all over one PostgreSQL database (edges learn of
# changes by LISTEN/NOTIFY only: they cache sites for an hour) and one data dir (local blobs).
# Reports req/s, errors, page loads that mix two deploys, and how soon each edge serves each
# change. A report, not a test: it never fails on a number.
#
#   bench/soak/run.sh                          # 60 s, 100 changes
#   DURATION=10 DEPLOYS=20 bench/soak/run.sh   # a quick look
#   SKEW_PROTECTION=3600 bench/soak/run.sh     # the site with skew protection (docs/edge.md)
#   BLOB_STORE=s3 bench/soak/run.sh            # blobs in s3rver (tests/s3, npm) instead of disk
#
# Environment: DURATION (s of load, 60), DEPLOYS (changes during the load, 100),
# ROLLBACK_PERCENT (share of the changes that are rollbacks, 30), CONNECTIONS (keep-alive
# connections per edge, 16), EDGE_IO_THREADS (--io-threads of each edge, 2), SKEW_PROTECTION
# (the site's skew_protection_max_age in seconds, 0: off), BLOB_STORE (local, or s3: s3rver
# from tests/s3, installed by tests/s3/install.sh), REPLIDEPLOY_BIN,
# KEEP_TMP=1, RESULTS_DIR (default bench/results), RD_LOG_LEVEL (warn).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

DURATION=${DURATION:-60}
DEPLOYS=${DEPLOYS:-100}
ROLLBACK_PERCENT=${ROLLBACK_PERCENT:-30}
CONNECTIONS=${CONNECTIONS:-16}
EDGE_IO_THREADS=${EDGE_IO_THREADS:-2}
SKEW_PROTECTION=${SKEW_PROTECTION:-0}
BLOB_STORE=${BLOB_STORE:-local}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=soak

ensure_packages curl jq iproute2 procps postgresql-15 postgresql-client-15 nodejs
ensure_binary
bench_init soak
T=$BENCH_TMP
mkdir -p "$T/out"

# PostgreSQL: stopped (and its dir removed) by our own EXIT trap, which then runs lib.sh's
PG_DIR=$T/pg
PG_STARTED=0
soak_cleanup() {
  local rc=$?
  if ((PG_STARTED)); then
    # the servers first, so that PostgreSQL is not stopped under them
    local pid
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BENCH_PIDS[@]}"; do
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    "$BENCH_ROOT/tests/postgres.sh" stop "$PG_DIR" >/dev/null 2>&1 || log "could not stop PostgreSQL in $PG_DIR"
  fi
  (exit "$rc")
  bench_cleanup
}
trap soak_cleanup EXIT

log "starting PostgreSQL"
PG_STARTED=1
PG_ADMIN=$("$BENCH_ROOT/tests/postgres.sh" start "$PG_DIR")
psql -q -X "$PG_ADMIN" -c 'CREATE DATABASE replideploy' >/dev/null
DB_URL=${PG_ADMIN%/*}/replideploy
DATA=$T/data
mkdir -p "$DATA"
# S3: s3rver on a free port, with the bucket; it exits when its standard input (a fifo held
# open by us) closes
STORE_ARGS=()
STORE_DESC="local blob store in one data dir"
if [[ "$BLOB_STORE" == s3 ]]; then
  "$BENCH_ROOT/tests/s3/install.sh" >"$T/s3-install.log" 2>&1 || { cat "$T/s3-install.log" >&2; die "s3rver install failed"; }
  mkdir -p "$T/s3"
  mkfifo "$T/s3.stdin"
  node "$BENCH_ROOT/tests/s3/server.js" "$T/s3" soak <"$T/s3.stdin" >"$T/s3.out" 2>"$T/s3.log" &
  BENCH_PIDS+=("$!")
  exec {S3_STDIN}>"$T/s3.stdin"
  for _ in $(seq 1 100); do grep -qs port "$T/s3.out" && break; sleep 0.1; done
  S3_PORT=$(jq -r .port "$T/s3.out" 2>/dev/null) || die "s3rver did not start: $(cat "$T/s3.log")"
  STORE_ARGS=(--blob-store s3://soak/blobs --s3-endpoint "http://127.0.0.1:$S3_PORT" --s3-path-style 1
    --s3-access-key-id S3RVER --s3-secret-access-key S3RVER)
  STORE_DESC="blobs in s3rver $(jq -r .version "$BENCH_ROOT/tests/s3/node_modules/s3rver/package.json" 2>/dev/null) (tests/s3, signatures checked) on 127.0.0.1"
fi
"$RD_BIN" migrate --data-dir "$DATA" --database "$DB_URL" >"$T/migrate.log" 2>&1 ||
  { cat "$T/migrate.log" >&2; die "migrate failed"; }

# start_role NAME ROLE PORT ARGS...: sets ROLE_PID; waits for "listening on" in its output
start_role() {
  local name=$1 role=$2 port=$3
  shift 3
  "$RD_BIN" "$role" --listen "127.0.0.1:$port" --data-dir "$DATA" --database "$DB_URL" \
    --log-level "${RD_LOG_LEVEL:-warn}" "${STORE_ARGS[@]}" "$@" >"$T/$name.log" 2>&1 &
  ROLE_PID=$!
  BENCH_PIDS+=("$ROLE_PID")
  for _ in $(seq 1 300); do
    grep -qs "listening on" "$T/$name.log" && return 0
    kill -0 "$ROLE_PID" 2>/dev/null || { cat "$T/$name.log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  cat "$T/$name.log" >&2
  die "$name did not say 'listening on'"
}

API_PORT=$(free_port)
start_role api api "$API_PORT" # first: it makes the data dir's secret key
API_PID=$ROLE_PID
EDGE_PORTS=()
EDGE_PIDS=()
for i in 1 2; do
  port=$(free_port)
  while [[ " ${EDGE_PORTS[*]} $API_PORT " == *" $port "* ]]; do port=$(free_port); done
  # an hour: an edge that serves a change sooner heard of it
  start_role "edge$i" edge "$port" --site-cache-ttl-seconds 3600 --io-threads "$EDGE_IO_THREADS"
  EDGE_PORTS+=("$port")
  EDGE_PIDS+=("$ROLE_PID")
done
log "api on $API_PORT, edges on ${EDGE_PORTS[*]}"

RD_URL="http://127.0.0.1:$API_PORT"
rd_account
rd_create_site "$SITE_NAME"
if ((SKEW_PROTECTION > 0)); then
  rd_api PATCH "/api/v1/sites/$SITE_NAME" "{\"skew_protection_max_age\":$SKEW_PROTECTION}" >/dev/null
fi

PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "soak: ${DURATION}s of load on both edges, $DEPLOYS changes ($ROLLBACK_PERCENT% rollbacks)"
node_rc=0
EDGE_PORTS="$(
  IFS=,
  echo "${EDGE_PORTS[*]}"
)" API_URL="$RD_URL" TOKEN="$RD_TOKEN" SITE="$SITE_NAME" DURATION="$DURATION" \
  DEPLOYS="$DEPLOYS" ROLLBACK_PERCENT="$ROLLBACK_PERCENT" CONNECTIONS="$CONNECTIONS" \
  SKEW_PROTECTION="$SKEW_PROTECTION" OUT="$T/out/figures.md" CLK_TCK="$(getconf CLK_TCK)" \
  PIDS="edge 1:${EDGE_PIDS[0]},edge 2:${EDGE_PIDS[1]},api:$API_PID,PostgreSQL:$PG_PID" \
  node "$HERE/soak.mjs" >"$T/out/soak.log" 2>&1 || node_rc=$?
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
((node_rc == 0)) || { cat "$T/out/soak.log" >&2; die "the load generator failed"; }

# crashes, errors in the servers' logs
ALIVE=""
for name in api edge1 edge2; do
  case $name in
    api) pid=$API_PID ;;
    edge1) pid=${EDGE_PIDS[0]} ;;
    edge2) pid=${EDGE_PIDS[1]} ;;
  esac
  kill -0 "$pid" 2>/dev/null && state=running || state=EXITED
  errors=$(grep -ciE '\b(error|fatal|panic)\b' "$T/$name.log" || true)
  ALIVE+="$name $state ($errors lines with error/fatal/panic); "
done

commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$BENCH_ROOT" --no-optional-locks diff-index --quiet HEAD -- 2>/dev/null || dirty=" (+ uncommitted changes)"
build="$(date -u -r "$RD_BIN" "+%Y-%m-%d %H:%M UTC")"
report() {
  echo "# Soak under change, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $commit$dirty, binary $RD_BIN built $build; PostgreSQL $(psql -X -At "$PG_ADMIN" -c 'SHOW server_version' 2>/dev/null), fsync off (tests/postgres.sh); $STORE_DESC"
  echo "- processes: 1 \`replideploy api\`, 2 \`replideploy edge\` (--site-cache-ttl-seconds 3600, --io-threads $EDGE_IO_THREADS), all on 127.0.0.1; load generator: bench/soak/soak.mjs (Node $(node --version), one worker thread per edge)"
  echo "- $(nproc) cores; load average $LOAD_START before the run, $LOAD_END after it"
  echo "- command: \`BLOB_STORE=$BLOB_STORE DURATION=$DURATION DEPLOYS=$DEPLOYS ROLLBACK_PERCENT=$ROLLBACK_PERCENT CONNECTIONS=$CONNECTIONS SKEW_PROTECTION=$SKEW_PROTECTION bench/soak/run.sh\`"
  echo
  cat "$T/out/figures.md"
  echo
  echo "Definitions: a *page load* is GET /, then /app.js and /style.css on the same keep-alive connection; it is *mixed* when the three bodies are not of one deploy. Without skew protection, a page load that straddles a change with stable asset names legitimately mixes: each response comes from one deploy, but nothing ties the three requests together. With it (SKEW_PROTECTION > 0), the page's answer sets the \`__rd_dpl\` cookie and the visitor's asset requests carry it, so they come from the page's deploy: mixed must then be 0. *Incomplete bodies*: a 200 whose body is not exactly one deploy's file (must be 0). *Not across a change*: a mixed page load that overlaps no change's window on its edge (from the moment the change could be seen until the edge first served it), or carries versions other than those of the changes it overlaps and the one live before them (must be 0). *Went back*: a response that started after the edge had served a change's version and carried a version other than that change's or a later one's (must be 0; with skew protection an asset of its own page's version is not counted). Errors: non-200 answers and connection errors (goal 0)."
  echo
  echo "- health at the end: $ALIVE"
}
mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/soak-$(date -u +%Y-%m-%d-%H%M).md"
report | tee "$RESULT_FILE"
# the raw figures: every change (kind, version, times) and per edge the delay of each change
cp "$T/out/figures.md.json" "${RESULT_FILE%.md}.json"
log "written to $RESULT_FILE"
