#!/usr/bin/env bash
# Two replideploy binaries (BEFORE and AFTER) serving the same 2 KB page `/` and pretty URL
# `/page-500/`, in bench/edge/run.sh's pinned mode: every thread of the server on CPU 0, the load
# generator (wrk -t1, or h2load --h1 -t1 when wrk is not installed) on CPU 1, -c64, keep-alive.
# ROUNDS rounds alternating the binaries; per run req/s and the server's CPU per request
# (utime+stime over the run / requests). A report, not a test.
#
#   bench/edge/compare_pinned.sh OLD/replideploy build/release/replideploy
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BEFORE=${1:?before binary}; AFTER=${2:?after binary}
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
CLK_TCK=$(getconf CLK_TCK)
bench_init pinab
T=$BENCH_TMP
page() {
  local out="<!doctype html><html><head><title>$1</title></head><body>"
  while ((${#out} < 2000)); do out+="<p>$1 lorem ipsum dolor sit amet consectetur adipiscing elit</p>"; done
  printf '%s</body></html>\n' "$out"
}
mkdir -p "$T/site/page-500"; page home >"$T/site/index.html"; page p500 >"$T/site/page-500/index.html"

# load PORT PATH: prints "<requests> <seconds>" of one run on CPU 1.
load() {
  local url="http://127.0.0.1:$1$2" out
  if command -v wrk >/dev/null; then
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Host: bench.localhost" "$url")
    awk '/requests in/{r=$1; s=$4; sub(/s,?$/,"",s); print r, s}' <<<"$out"
  else
    out=$(taskset -c 1 h2load --h1 -t1 -c"$CONNECTIONS" -D "$DURATION" \
      -H ":authority: bench.localhost" "$url")  # h2load ignores -H Host
    awk '/^finished in/{s=$3; sub(/s,?$/,"",s)} /^requests:/{r=$8} END{print r, s}' <<<"$out"
  fi
}

declare -A PORTS PIDS
for which in before after; do
  if [[ $which == before ]]; then RD_BIN=$BEFORE; else RD_BIN=$AFTER; fi
  PORT=$(free_port)
  start_replideploy "$PORT" "$T/data-$which" "$T/serve-$which.log"
  rd_account
  rd_create_site bench
  rd_deploy "$T/site" bench "$T/deploy-$which.log"
  for p in / /page-500/; do
    curl -fsS -H "Host: bench.localhost" "http://127.0.0.1:$PORT$p" | cmp -s - "$T/site${p}index.html" ||
      die "$which: $p is not the file"
  done
  taskset -a -p -c 0 "$RD_PID" >/dev/null
  PORTS[$which]=$PORT; PIDS[$which]=$RD_PID
done
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A rps cpu
for r in $(seq 1 "$ROUNDS"); do
  for path in / /page-500/; do
    for which in before after; do
      t0=$(cpu_ticks "${PIDS[$which]}")
      read -r n secs < <(load "${PORTS[$which]}" "$path")
      t1=$(cpu_ticks "${PIDS[$which]}")
      rate=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%d", n / s}')
      us=$(awk -v t="$((t1 - t0))" -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')
      rps["$which $path"]+="$rate "; cpu["$which $path"]+="$us "
      log "round $r $which $path: $rate req/s, $us us/req"
    done
  done
done
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| binary | / req/s per round | / CPU us/req | /page-500/ req/s per round | /page-500/ CPU us/req |"
echo "|---|---|---|---|---|"
for which in before after; do
  echo "| $which | ${rps[$which /]}| ${cpu[$which /]}| ${rps[$which /page-500/]}| ${cpu[$which /page-500/]}|"
done
