#!/usr/bin/env bash
# Edge benchmark: the same static site served by nginx, h2o and replideploy on this machine, in
# the same run, measured with wrk. A report, not a test: it never fails on a number.
#
#   bench/edge/run.sh                    # DURATION=10 s per run, 3 rounds, shared + pinned
#   DURATION=5 ROUNDS=1 bench/edge/run.sh  # quicker, noisier
#
# Environment: DURATION (s, default 10), ROUNDS (3), MODES ("shared pinned"), THREADS (wrk -t in
# shared mode, 2), CONNECTIONS (wrk -c, 64), RULES (rule counts measured against none,
# "1000 10000"), RULE_PAIRS (back-to-back runs without and with the rules per count and class, 4),
# RSS_SITES (extra sites of 100 files published for the memory figure, 0 = skip),
# PROFILE=1 (perf record ours on the small file at the end; needs linux-perf), REPLIDEPLOY_BIN,
# KEEP_TMP=1 (keep the temp dir), RD_SERVE_ARGS (extra flags for `replideploy serve`),
# RESULTS_DIR (default bench/results).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=site.sh
source "$HERE/site.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-shared pinned}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
RULES=${RULES:-1000 10000}
RULE_PAIRS=${RULE_PAIRS:-4}
RSS_SITES=${RSS_SITES:-0}
PROFILE=${PROFILE:-0}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=bench
HOST_HEADER="$SITE_NAME.localhost"
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# tools
nginx_pkg=$(edge_nginx_pkg)
ensure_packages "$nginx_pkg" h2o wrk curl jq iproute2 procps util-linux
((PROFILE)) && ensure_packages linux-perf
if [[ " $MODES " == *" pinned "* ]] && (($(nproc) < 2)); then
  log "one CPU only: pinned mode left out"
  MODES=${MODES//pinned/}
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
H2O=$(command -v h2o || echo /usr/bin/h2o)
WRK=$(command -v wrk)
ensure_binary

bench_init edge
T=$BENCH_TMP
SITE=$T/site
mkdir -p "$SITE" "$T/nginx" "$T/h2o" "$T/out"

# ---------------------------------------------------------------------------------------------
# the site
log "generating the site in $SITE"
edge_write_site "$SITE"

# ---------------------------------------------------------------------------------------------
# servers
SERVERS=(nginx h2o ours)
declare -A PORT PIDROOT

PORT[nginx]=$(free_port)
edge_write_nginx_conf "$T/nginx" "${PORT[nginx]}" "$SITE"
edge_start nginx "$T/nginx"
PIDROOT[nginx]=$EDGE_PID

PORT[h2o]=$(free_port)
while [[ ${PORT[h2o]} == "${PORT[nginx]}" ]]; do PORT[h2o]=$(free_port); done
edge_write_h2o_conf "$T/h2o" "${PORT[h2o]}" "$SITE"
edge_start h2o "$T/h2o"
PIDROOT[h2o]=$EDGE_PID

PORT[ours]=$(free_port)
while [[ ${PORT[ours]} == "${PORT[nginx]}" || ${PORT[ours]} == "${PORT[h2o]}" ]]; do PORT[ours]=$(free_port); done
start_replideploy "${PORT[ours]}" "$T/rd-data" "$T/replideploy.log"
PIDROOT[ours]=$RD_PID

wait_for_port "${PORT[nginx]}" || { cat "$T/nginx/error.log" "$T/nginx/stdout.log" >&2; exit 1; }
wait_for_port "${PORT[h2o]}" || { cat "$T/h2o/error.log" "$T/h2o/stdout.log" >&2; exit 1; }

log "deploying the site to replideploy on ${PORT[ours]}"
rd_account
rd_create_site "$SITE_NAME"
rd_deploy "$SITE" "$SITE_NAME" "$T/out/deploy-1.log"
grep -E "Uploading|live" "$T/out/deploy-1.log" >&2 || true

# every server must answer 200 with the file's exact bytes for every class
verify() { # server path expected_file [host]
  local server=$1 path=$2 file=$3 host=${4:-$HOST_HEADER} code
  code=$(curl -sS -o "$T/out/verify.body" -w '%{http_code}' -H "Host: $host" \
    "http://127.0.0.1:${PORT[$server]}$path")
  [[ $code == 200 ]] || die "$server $path (Host: $host) answered $code, not 200"
  cmp -s "$T/out/verify.body" "$SITE/$file" || die "$server $path: body differs from $file"
}
for s in "${SERVERS[@]}"; do
  for c in "${CLASSES[@]}"; do verify "$s" "${CLASS_PATH[$c]}" "${CLASS_FILE[$c]}"; done
done
log "all servers answer 200 with the right bytes"
{
  echo "--- response headers for / (Host: $HOST_HEADER)"
  for s in "${SERVERS[@]}"; do
    echo "## $s"
    curl -sS -D - -o /dev/null -H "Host: $HOST_HEADER" "http://127.0.0.1:${PORT[$s]}/" | tr -d '\r'
  done
} >"$T/out/headers.txt"

# ours' resident memory (kB) right now
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${PIDROOT[ours]}/status"; }
# warm ours' caches with every class once, then its memory with this one site
for c in "${CLASSES[@]}"; do verify ours "${CLASS_PATH[$c]}" "${CLASS_FILE[$c]}"; done
RSS_ONE_SITE=$(rss_kb)

# ---------------------------------------------------------------------------------------------
# the same files plus N redirect rules each, as sites of their own (rules-N.localhost), so
# that no-rules and rules runs interleave in every round; none of the rules matches the
# benchmarked URLs
# the rules are live (one of each kind answers as written)
check_rule() { # host path expected_code [expected_location]
  local got
  got=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $1" \
    "http://127.0.0.1:${PORT[ours]}$2")
  [[ ${got%% *} == "$3" ]] || die "rule check $1$2: got '$got', expected $3 ${4:-}"
  [[ -z ${4:-} || ${got#* } == *"$4" ]] || die "rule check $1$2: got '$got', expected location $4"
}
declare -A VARIANT_HOST=([norules]=$HOST_HEADER)
RULE_VARIANTS=(norules)
for n in $RULES; do
  # A short name, as short as the no-rules site's in the heap's eyes: a host label over 15
  # bytes costs the edge an allocation per request, which is not the rules' cost.
  site_n="rules-$n"
  dir="$T/site-rules-$n"
  cp -a "$SITE" "$dir"
  write_rules "$n" "$dir/_redirects"
  rd_create_site "$site_n"
  rd_deploy "$dir" "$site_n" "$T/out/deploy-rules-$n.log"
  grep -E "Uploading|live" "$T/out/deploy-rules-$n.log" >&2 || true
  host="$site_n.localhost"
  VARIANT_HOST[rules$n]=$host
  RULE_VARIANTS+=("rules$n")
  last=$((n - 1))
  check_rule "$host" "/old/path-0" 301 "/new/path-0"
  check_rule "$host" "/blog-1/a/b" 301 "/posts-1/a/b"
  check_rule "$host" "/news-$((last - (last - 2) % 5))/2024/05/hello" 302 \
    "/articles-$((last - (last - 2) % 5))/2024/05/hello"
  check_rule "$host" "/shop-4/shoes/red" 301 "https://shop.example.com/shoes/red"
  for c in "${CLASSES[@]}"; do verify ours "${CLASS_PATH[$c]}" "${CLASS_FILE[$c]}" "$host"; done
  log "$n rules are live on $host; benchmarked URLs still answer 200"
done

# ---------------------------------------------------------------------------------------------
# measurement
cat >"$T/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.max),
    e.status, e.connect, e.read, e.write, e.timeout))
end
EOF

# per run, keyed "mode|server|class|round"
declare -A R_RPS R_P50 R_P99 R_CPU R_NON2XX R_SOCKERR R_OTHER

# system-wide busy and total ticks from /proc/stat. Busy leaves out irq and softirq time: loopback
# networking runs there and is charged to no process, so counting it would pass the servers' and
# wrk's own network work off as "other load".
sys_ticks() {
  local _cpu user nice system idle iowait irq softirq steal rest
  read -r _cpu user nice system idle iowait irq softirq steal rest </proc/stat
  echo "$((user + nice + system + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}
# CPU ticks of this shell's finished children (bash `times`, second line), as clock ticks
children_ticks() {
  local line u s
  line=$(times | tail -1)
  u=${line%% *}
  s=${line##* }
  awk -v u="$u" -v s="$s" -v hz="$CLK_TCK" 'function sec(x,  m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    BEGIN { printf "%d\n", (sec(u) + sec(s)) * hz + 0.5 }'
}

field() { # NAME LINE: the number after " NAME=" in LINE
  local v=${2#* "$1"=}
  echo "${v%% *}"
}

ALL_CPUS="0-$(($(nproc) - 1))"
# pin SERVER CPUS: every thread of the server's processes onto CPUS
pin() {
  local pid
  for pid in $(process_tree "${PIDROOT[$1]}"); do
    taskset -a -p -c "$2" "$pid" >/dev/null 2>&1 || true
  done
}

# bench_one KEY MODE SERVER PATH [HOST]: one wrk run, results into R_*[KEY]. Pinned: the server
# on CPU 0, wrk (one thread) on CPU 1; shared: both anywhere.
bench_one() {
  local key=$1 mode=$2 server=$3 path=$4 host=${5:-$HOST_HEADER}
  local pids before after sys0 sys1 ch0 ch1 out line wrk_cmd
  if [[ $mode == pinned ]]; then
    pin "$server" 0
    wrk_cmd=(taskset -c 1 "$WRK" -t1)
  else
    pin "$server" "$ALL_CPUS"
    wrk_cmd=("$WRK" -t"$THREADS")
  fi
  mapfile -t pids < <(process_tree "${PIDROOT[$server]}")
  out="$T/out/wrk-${key//|/-}.txt"
  ch0=$(children_ticks)
  read -r -a sys0 <<<"$(sys_ticks)"
  before=$(cpu_ticks "${pids[@]}")
  "${wrk_cmd[@]}" -c"$CONNECTIONS" -d"${DURATION}s" -s "$T/report.lua" \
    -H "Host: $host" "http://127.0.0.1:${PORT[$server]}$path" >"$out" 2>&1 || true
  after=$(cpu_ticks "${pids[@]}")
  read -r -a sys1 <<<"$(sys_ticks)"
  ch1=$(children_ticks)
  kill -0 "${PIDROOT[$server]}" 2>/dev/null || { cat "$out" >&2; die "$server died during $key"; }
  line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "wrk printed no result for $key"; }
  local requests duration_us p50 p99 status connect read write timeout
  requests=$(field requests "$line")
  duration_us=$(field duration_us "$line")
  p50=$(field p50_us "$line")
  p99=$(field p99_us "$line")
  status=$(field status_errors "$line")
  connect=$(field connect "$line")
  read=$(field read "$line")
  write=$(field write "$line")
  timeout=$(field timeout "$line")
  R_RPS[$key]=$(awk -v r="$requests" -v d="$duration_us" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  R_P50[$key]=$(awk -v v="$p50" 'BEGIN { printf "%.2f", v / 1000 }')
  R_P99[$key]=$(awk -v v="$p99" 'BEGIN { printf "%.2f", v / 1000 }')
  # server CPU per request, microseconds
  R_CPU[$key]=$(awk -v t="$((after - before))" -v r="$requests" -v hz="$CLK_TCK" \
    'BEGIN { if (r == 0) print "n/a"; else printf "%.1f", t / hz * 1e6 / r }')
  R_NON2XX[$key]=$status
  R_SOCKERR[$key]=$((connect + read + write + timeout))
  # cores used by everything else on the machine (other agents' compilers...) during the run
  R_OTHER[$key]=$(awk -v busy="$((sys1[0] - sys0[0]))" -v total="$((sys1[1] - sys0[1]))" \
    -v srv="$((after - before))" -v wrk="$((ch1 - ch0))" -v ncpu="$(nproc)" \
    'BEGIN { o = busy - srv - wrk; if (o < 0) o = 0; if (total == 0) print "n/a"; else printf "%.2f", o / total * ncpu }')
  if [[ $status != 0 || ${R_SOCKERR[$key]} != 0 ]]; then
    log "WARNING $key: $status non-2xx/3xx responses, socket errors connect=$connect read=$read write=$write timeout=$timeout"
    grep -E "Non-2xx|Socket errors" "$out" >&2 || true
  fi
  log "$(printf '%-30s %8s req/s  p50 %7s ms  p99 %7s ms  cpu %7s us/req  other load %s cores' \
    "$key" "${R_RPS[$key]}" "${R_P50[$key]}" "${R_P99[$key]}" "${R_CPU[$key]}" "${R_OTHER[$key]}")"
}

# median ARRAY_NAME KEY_PREFIX: the median over rounds of ARRAY[KEY_PREFIX|r]
median() {
  local -n arr=$1
  local r vals=()
  for ((r = 1; r <= ROUNDS; r++)); do vals+=("${arr[$2|$r]:-n/a}"); done
  printf '%s\n' "${vals[@]}" | awk '$1 != "n/a" { v[n++] = $1 } END {
    if (n == 0) { print "n/a"; exit }
    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
    if (m == int(m) && m > 100) printf "%d\n", m; else print m }'
}

# pairs_median ARRAY_NAME KEY_PREFIX: the median over the rules' pairs of ARRAY[KEY_PREFIX|p]
pairs_median() {
  local ROUNDS=$RULE_PAIRS
  median "$@"
}
# pair_change ARRAY_NAME KEY_A KEY_B: the median over the pairs of B/A - 1, as "+1.2% [-0.5%, +3.0%]"
pair_change() {
  local -n arr=$1
  local p vals=()
  for ((p = 1; p <= RULE_PAIRS; p++)); do vals+=("${arr[$2|$p]:-n/a} ${arr[$3|$p]:-n/a}"); done
  printf '%s\n' "${vals[@]}" | awk '$1 != "n/a" && $2 != "n/a" && $1 > 0 { v[n++] = $2 / $1 - 1 } END {
    if (n == 0) { print "n/a"; exit }
    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
    printf "%+.1f%% [%+.1f%%, %+.1f%%]\n", m * 100, v[0] * 100, v[n - 1] * 100 }'
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "$ROUNDS interleaved rounds; modes: $MODES; ${#CLASSES[@]} classes x ${#SERVERS[@]} servers, then ours with ${RULE_VARIANTS[*]} (pinned when measured, else shared); wrk -c$CONNECTIONS -d${DURATION}s"
RULES_MODE=shared
[[ " $MODES " == *" pinned "* ]] && RULES_MODE=pinned
for ((round = 1; round <= ROUNDS; round++)); do
  log "round $round of $ROUNDS"
  for mode in $MODES; do
    for c in "${CLASSES[@]}"; do
      for s in "${SERVERS[@]}"; do
        bench_one "$mode|$s|$c|$round" "$mode" "$s" "${CLASS_PATH[$c]}"
      done
    done
  done
done
# The rules' cost: for each rule count and class, RULE_PAIRS back-to-back pairs of runs of the
# no-rules site and the site with the rules, in ABBA order (the first of each pair alternates),
# so that a drift of the machine's speed between runs is shared by both sides; the report gives
# the median of the pairs' ratios and their spread.
for v in "${RULE_VARIANTS[@]}"; do
  [[ $v == norules ]] && continue
  for c in small pretty; do
    for ((pair = 1; pair <= RULE_PAIRS; pair++)); do
      order=(norules "$v")
      ((pair % 2 == 0)) && order=("$v" norules)
      for side in "${order[@]}"; do
        which=with
        [[ $side == norules ]] && which=without
        bench_one "$RULES_MODE|$v-$which|$c|$pair" "$RULES_MODE" ours "${CLASS_PATH[$c]}" "${VARIANT_HOST[$side]}"
      done
    done
  done
done
for s in "${SERVERS[@]}"; do pin "$s" "$ALL_CPUS"; done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
RSS_END=$(rss_kb)

# ---------------------------------------------------------------------------------------------
# memory with many sites: RSS_SITES more sites of 100 files each (~2 KB pages; one page differs
# per site, so each deploy uploads one new file), each visited once
RSS_MANY=""
if ((RSS_SITES > 0)); then
  log "publishing $RSS_SITES sites of 100 files each for the memory figure"
  small="$T/site-small"
  mkdir -p "$small"
  for n in $(seq 1 99); do page_html "Small $n" >"$small/p$n.html"; done
  for i in $(seq 1 "$RSS_SITES"); do
    page_html "Site $i" >"$small/index.html"
    rd_create_site "mem-$i"
    rd_deploy "$small" "mem-$i" "$T/out/deploy-mem.log"
    curl -fsS -o /dev/null -H "Host: mem-$i.localhost" "http://127.0.0.1:${PORT[ours]}/" ||
      die "mem-$i.localhost does not answer"
    curl -fsS -o /dev/null -H "Host: mem-$i.localhost" "http://127.0.0.1:${PORT[ours]}/p1.html" ||
      die "mem-$i.localhost/p1.html does not answer"
  done
  RSS_MANY=$(rss_kb)
fi

# a profile of ours on the small file (pinned like the runs above when they were)
PERF_TOP=""
if ((PROFILE)); then
  log "profiling ours on / with perf record -g"
  pin ours 0
  perf record -g -F 999 -p "${PIDROOT[ours]}" -o "$T/out/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
  perf_pid=$!
  taskset -c 1 "$WRK" -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Host: $HOST_HEADER" \
    "http://127.0.0.1:${PORT[ours]}/" >/dev/null 2>&1 || true
  wait "$perf_pid" || true
  pin ours "$ALL_CPUS"
  PERF_TOP=$(perf report -i "$T/out/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]-]+$//' | head -25 || true)
fi

# crashes, errors in our log
RD_ALIVE=yes
kill -0 "${PIDROOT[ours]}" 2>/dev/null || RD_ALIVE=no
RD_LOG_ERRORS=$(grep -ciE '\b(error|fatal|panic)\b' "$T/replideploy.log" || true)

# ---------------------------------------------------------------------------------------------
# report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "n/a" || b == "n/a") print "n/a"; else printf "%.2f", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "n/a" || b == "n/a") print "n/a"; else printf "%+.1f%%", (a / b - 1) * 100 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
ver_nginx=$({ "$NGINX" -v 2>&1 || true; } | sed 's/.*nginx\///')
ver_h2o=$({ "$H2O" --version 2>&1 || true; } | head -1 | sed 's/^h2o version //')
ver_wrk=$({ "$WRK" -v 2>&1 || true; } | head -1 | awk '{print $2}')
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$BENCH_ROOT" --no-optional-locks diff-index --quiet HEAD -- 2>/dev/null || dirty=" (+ uncommitted changes)"

report() {
  echo "# Edge benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $commit$dirty, release build of $(date -u -r "$RD_BIN" "+%Y-%m-%d %H:%M UTC"); nginx $ver_nginx (2 workers); h2o $ver_h2o (2 threads); ours with its defaults (2 I/O threads); wrk $ver_wrk"
  echo "- $(nproc) cores (load average at start $LOAD_START, at end $LOAD_END)"
  echo "- modes: **shared** = server and wrk -t$THREADS anywhere on the machine; **pinned** = every thread of the server on CPU 0 (\`taskset -a -p -c 0\`), wrk -t1 on CPU 1 (\`taskset -c 1\`)"
  echo "- $ROUNDS interleaved rounds (each round runs every mode, class and server once), medians of the rounds; wrk -c$CONNECTIONS -d${DURATION}s, keep-alive, HTTP/1.1, no Accept-Encoding (identity bodies everywhere), Host: $HOST_HEADER"
  echo "- CPU/req: utime+stime of all the server's processes and threads (/proc/PID/stat) over the run, divided by requests completed"
  echo "- other load: cores busy (user+system, /proc/stat) with neither the server nor wrk during the run, i.e. the noise from other work on the machine"
  local c s k mode v
  for mode in $MODES; do
    echo
    echo "## $mode mode: medians of $ROUNDS rounds"
    echo
    echo "| request | server | req/s | p50 ms | p99 ms | CPU us/req | other load (cores) |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for c in "${CLASSES[@]}"; do
      for s in "${SERVERS[@]}"; do
        k="$mode|$s|$c"
        echo "| ${CLASS_LABEL[$c]} | $s | $(median R_RPS "$k") | $(median R_P50 "$k") | $(median R_P99 "$k") | $(median R_CPU "$k") | $(median R_OTHER "$k") |"
      done
    done
    echo
    echo "Ratios ours/other of the medians. req/s: above 1 means we serve more. CPU/req and p99: below 1 means we spend less / answer sooner."
    echo
    echo "| request | req/s ours/nginx | req/s ours/h2o | CPU/req ours/nginx | CPU/req ours/h2o | p99 ours/nginx | p99 ours/h2o |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for c in "${CLASSES[@]}"; do
      local o="$mode|ours|$c" n="$mode|nginx|$c" h="$mode|h2o|$c"
      echo "| ${CLASS_LABEL[$c]} | $(ratio "$(median R_RPS "$o")" "$(median R_RPS "$n")") | $(ratio "$(median R_RPS "$o")" "$(median R_RPS "$h")") | $(ratio "$(median R_CPU "$o")" "$(median R_CPU "$n")") | $(ratio "$(median R_CPU "$o")" "$(median R_CPU "$h")") | $(ratio "$(median R_P99 "$o")" "$(median R_P99 "$n")") | $(ratio "$(median R_P99 "$o")" "$(median R_P99 "$h")") |"
    done
  done
  echo
  echo "## Redirect rules ($RULES_MODE mode, replideploy only, $RULE_PAIRS pairs per row)"
  echo
  echo "The same files as sites of their own, plus a \`_redirects\` with that many rules (exact paths,"
  echo "splats, placeholders, rewrites, forced external redirects; none matches the requested URLs)."
  echo "Each pair is a run of the no-rules site and one of the site with the rules, back to back, the"
  echo "first of the pair alternating (ABBA); a change is the median of the pairs' ratios, with the"
  echo "smallest and largest ratio in brackets."
  echo
  echo "| request | rules | req/s without / with (medians) | req/s change | CPU us/req without / with | CPU/req change |"
  echo "|---|---:|---:|---:|---:|---:|"
  for v in "${RULE_VARIANTS[@]}"; do
    [[ $v == norules ]] && continue
    for c in small pretty; do
      local a="$RULES_MODE|$v-without|$c" b="$RULES_MODE|$v-with|$c"
      echo "| ${CLASS_LABEL[$c]} | ${v#rules} | $(pairs_median R_RPS "$a") / $(pairs_median R_RPS "$b") | $(pair_change R_RPS "$a" "$b") | $(pairs_median R_CPU "$a") / $(pairs_median R_CPU "$b") | $(pair_change R_CPU "$a" "$b") |"
    done
  done
  echo
  echo "## Memory (ours, VmRSS)"
  echo
  echo "- 1 site published, every class served once: $(mb "$RSS_ONE_SITE")"
  echo "- after all runs ($((${#RULE_VARIANTS[@]})) sites, the largest with $(echo "$RULES" | awk '{print $NF}') rules): $(mb "$RSS_END")"
  if [[ -n $RSS_MANY ]]; then
    echo "- after publishing $RSS_SITES more sites of 100 files each and serving two files of each: $(mb "$RSS_MANY")"
  else
    echo "- many sites: not measured (RSS_SITES=0)"
  fi
  if [[ -n $PERF_TOP ]]; then
    echo
    echo "## Profile of ours on / (perf record -g, pinned, self time by symbol, top 25)"
    echo
    echo '```'
    echo "$PERF_TOP"
    echo '```'
  fi
  echo
  echo "## Every run"
  echo
  echo "| run (mode, server, class, round) | req/s | p50 ms | p99 ms | CPU us/req | non-2xx/3xx | socket errors | other load |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for k in $(printf '%s\n' "${!R_RPS[@]}" | sort); do
    echo "| $k | ${R_RPS[$k]} | ${R_P50[$k]} | ${R_P99[$k]} | ${R_CPU[$k]} | ${R_NON2XX[$k]} | ${R_SOCKERR[$k]} | ${R_OTHER[$k]} |"
  done
  echo
  echo "## Health"
  echo
  echo "- replideploy still running at the end: $RD_ALIVE; lines with error/fatal/panic in its log (level ${RD_LOG_LEVEL:-warn}): $RD_LOG_ERRORS"
  local total_non2xx=0 total_sock=0
  for k in "${!R_NON2XX[@]}"; do
    total_non2xx=$((total_non2xx + ${R_NON2XX[$k]}))
    total_sock=$((total_sock + ${R_SOCKERR[$k]}))
  done
  echo "- non-2xx/3xx responses over all runs: $total_non2xx; socket errors: $total_sock"
}

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/edge-$(date -u +%Y-%m-%d-%H%M).md"
report | tee "$RESULT_FILE"
log "written to $RESULT_FILE"
if [[ $RD_LOG_ERRORS != 0 ]]; then
  log "replideploy log excerpts:"
  grep -iE '\b(error|fatal|panic)\b' "$T/replideploy.log" | head -20 >&2
fi
