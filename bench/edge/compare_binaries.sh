#!/usr/bin/env bash
# The edge before/after skew protection on a site without it: the same 2 KB page and 2 KB asset
# served by two `replideploy serve` (BEFORE and AFTER binaries), wrk -t2 -c64 -d${DURATION}s,
# ROUNDS rounds alternating the binaries. A report, not a test.
#
#   bench/edge/compare_binaries.sh OLD/replideploy build/release/replideploy
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BEFORE=${1:?before binary}; AFTER=${2:?after binary}
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
bench_init skewba
trap bench_cleanup EXIT
T=$BENCH_TMP
page() { local out="<!doctype html><html><head><title>$1</title><script src=/app.js></script></head><body>"
  while ((${#out} < 2000)); do out+="<p>$1 lorem ipsum dolor sit amet consectetur adipiscing elit</p>"; done
  printf '%s</body></html>\n' "$out"; }
asset() { local out="// $1"; while ((${#out} < 2000)); do out+=$'\n'"console.log('$1 lorem ipsum dolor sit amet');"; done; printf '%s\n' "$out"; }
mkdir -p "$T/site"; page site >"$T/site/index.html"; asset site >"$T/site/app.js"
declare -A PORTS
for which in before after; do
  if [[ $which == before ]]; then RD_BIN=$BEFORE; else RD_BIN=$AFTER; fi
  PORT=$(free_port)
  start_replideploy "$PORT" "$T/data-$which" "$T/serve-$which.log"
  rd_account
  rd_create_site bench
  rd_deploy "$T/site" bench "$T/deploy-$which.log"
  PORTS[$which]=$PORT
done
declare -A results
for r in $(seq 1 "$ROUNDS"); do
  for path in / /app.js; do
    for which in before after; do
      rps=$(wrk -t2 -c64 "-d${DURATION}s" -H "Host: bench.localhost" -H "Accept-Encoding: identity" "http://127.0.0.1:${PORTS[$which]}$path" | awk '/Requests\/sec/{print int($2)}')
      results["$which $path"]+="$rps "
      log "$which $path: $rps req/s"
    done
  done
done
echo "| binary | / (2 KB page) req/s per round | /app.js (2 KB) req/s per round |"
echo "|---|---|---|"
for which in before after; do echo "| $which | ${results[$which /]}| ${results[$which /app.js]}|"; done
