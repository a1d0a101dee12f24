#!/usr/bin/env bash
# The edge's memory with many sites, alone (bench/edge/run.sh's RSS_SITES part without nginx, h2o
# and wrk): one `replideploy serve`, then SITES sites of 100 files each (~2 KB pages; one page
# differs per site, so each deploy uploads one new file) published with the CLI one after the
# other, two files of each served once; VmRSS after every STEP sites. A report, not a test.
# With EDGE=1 a separate `replideploy edge` over the same data dir serves the same two files of
# each site too (the edge role alone: its VmRSS in a second column). With DETAIL=1, at the end,
# each process's /proc smaps_rollup (anonymous vs file-backed), its threads, and glibc's
# malloc_stats() per arena (through gdb, when installed).
#
#   SITES=1000 bench/edge/rss_sites.sh
#   SITES=1000 STEP=250 EDGE=1 DETAIL=1 bench/edge/rss_sites.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
SITES=${SITES:-1000}
STEP=${STEP:-100}
ensure_binary
bench_init rss
T=$BENCH_TMP
page() {
  local out="<!doctype html><html><head><title>$1</title></head><body>"
  while ((${#out} < 2000)); do out+="<p>$1 lorem ipsum dolor sit amet consectetur adipiscing elit</p>"; done
  printf '%s</body></html>\n' "$out"
}
EDGE=${EDGE:-0}
DETAIL=${DETAIL:-0}
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/${1:-$RD_PID}/status"; }
mb() { awk -v k="$(rss_kb "$@")" 'BEGIN{printf "%.1f", k/1024}'; }
PORT=$(free_port)
start_replideploy "$PORT" "$T/data" "$T/serve.log"
rd_account
EDGE_COL="" EDGE_SEP=""
if [[ $EDGE == 1 ]]; then
  EDGE_PORT=$(free_port)
  "$RD_BIN" edge --listen "127.0.0.1:$EDGE_PORT" --data-dir "$T/data" \
    --log-level "${RD_LOG_LEVEL:-warn}" >"$T/edge.log" 2>&1 &
  EDGE_PID=$!
  BENCH_PIDS+=("$EDGE_PID")
  wait_for_port "$EDGE_PORT"
  EDGE_COL=" edge VmRSS MB |" EDGE_SEP="---:|"
fi
edge_cell() { [[ $EDGE == 1 ]] && printf ' %s |' "$(mb "$EDGE_PID")"; return 0; }
mkdir -p "$T/small"
for n in $(seq 1 99); do page "Small $n" >"$T/small/p$n.html"; done
echo "| sites published | VmRSS MB |$EDGE_COL seconds since start |"
echo "|---:|---:|$EDGE_SEP---:|"
start=$(date +%s)
echo "| 0 | $(mb) |$(edge_cell) 0 |"
for i in $(seq 1 "$SITES"); do
  page "Site $i" >"$T/small/index.html"
  rd_create_site "mem-$i"
  rd_deploy "$T/small" "mem-$i" "$T/deploy.log"
  for p in / /p1.html; do
    curl -fsS -o /dev/null -H "Host: mem-$i.localhost" "$RD_URL$p" || die "mem-$i.localhost$p does not answer"
    if [[ $EDGE == 1 ]]; then
      curl -fsS -o /dev/null -H "Host: mem-$i.localhost" "http://127.0.0.1:$EDGE_PORT$p" ||
        die "the edge: mem-$i.localhost$p does not answer"
    fi
  done
  if ((i % STEP == 0 || i == SITES)); then
    echo "| $i | $(mb) |$(edge_cell) $(($(date +%s) - start)) |"
  fi
done
detail() {  # detail NAME PID LOG
  echo
  echo "$1 (pid $2): $(awk '/^Threads/{print $2}' "/proc/$2/status") threads"
  grep -E '^(Rss|Pss_Anon|Pss_File|Anonymous|Private_Dirty)' "/proc/$2/smaps_rollup" | sed 's/^/    /'
  if command -v gdb >/dev/null; then
    local before
    before=$(wc -l <"$3")
    gdb -p "$2" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
    # One line per arena: "Arena N: system bytes = S in use bytes = U", then the totals.
    tail -n +"$((before + 1))" "$3" | grep -E 'Arena|bytes' | paste -d' ' - - - | sed 's/^/    /'
  fi
}
if [[ $DETAIL == 1 ]]; then
  detail serve "$RD_PID" "$T/serve.log"
  [[ $EDGE == 1 ]] && detail edge "$EDGE_PID" "$T/edge.log"
fi
