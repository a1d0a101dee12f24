#!/usr/bin/env bash
# The edge's memory with many sites, alone (bench/edge/run.sh's RSS_SITES part without nginx, h2o
# and wrk): one `replideploy serve`, then SITES sites of 100 files each (~2 KB pages; one page
# differs per site, so each deploy uploads one new file) published with the CLI one after the
# other, two files of each served once; VmRSS after every STEP sites. A report, not a test.
#
#   SITES=1000 bench/edge/rss_sites.sh
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
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$RD_PID/status"; }
PORT=$(free_port)
start_replideploy "$PORT" "$T/data" "$T/serve.log"
rd_account
mkdir -p "$T/small"
for n in $(seq 1 99); do page "Small $n" >"$T/small/p$n.html"; done
echo "| sites published | VmRSS MB | seconds since start |"
echo "|---:|---:|---:|"
start=$(date +%s)
echo "| 0 | $(awk -v k="$(rss_kb)" 'BEGIN{printf "%.1f", k/1024}') | 0 |"
for i in $(seq 1 "$SITES"); do
  page "Site $i" >"$T/small/index.html"
  rd_create_site "mem-$i"
  rd_deploy "$T/small" "mem-$i" "$T/deploy.log"
  for p in / /p1.html; do
    curl -fsS -o /dev/null -H "Host: mem-$i.localhost" "$RD_URL$p" || die "mem-$i.localhost$p does not answer"
  done
  if ((i % STEP == 0 || i == SITES)); then
    echo "| $i | $(awk -v k="$(rss_kb)" 'BEGIN{printf "%.1f", k/1024}') | $(($(date +%s) - start)) |"
  fi
done
