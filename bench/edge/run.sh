#!/usr/bin/env bash
# Edge benchmark: the same static site served by nginx, h2o and replideploy on this machine, in
# the same run, measured with wrk. A report, not a test: it never fails on a number.
#
#   bench/edge/run.sh                    # DURATION=10 s per run
#   DURATION=5 bench/edge/run.sh         # quicker, noisier
#
# Environment: DURATION (s, default 10), THREADS (wrk -t, 2), CONNECTIONS (wrk -c, 64),
# RULES (redirect rules in the second pass, 1000), REPLIDEPLOY_BIN, KEEP_TMP=1 (keep the temp dir),
# RD_SERVE_ARGS (extra flags for `replideploy serve`), RESULTS_DIR (default bench/results).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
RULES=${RULES:-1000}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=bench
HOST_HEADER="$SITE_NAME.localhost"
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# tools
nginx_pkg=nginx
for p in nginx nginx-light nginx-core nginx-full nginx-extras; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && [[ -x /usr/sbin/nginx ]]; then
    nginx_pkg=$p
    break
  fi
done
ensure_packages "$nginx_pkg" h2o wrk curl jq iproute2 procps
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
lorem="Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
para="<p>$lorem</p>"
# about 2 KB of HTML for a given title
page_html() {
  local title=$1 body="" i
  for i in 1 2 3 4 5 6 7; do body+="    $para"$'\n'; done
  printf '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n  <title>%s</title>\n  <link rel="stylesheet" href="/assets/site.css">\n  <script src="/assets/app.js" defer></script>\n</head>\n<body>\n  <h1>%s</h1>\n  <main>\n%s  </main>\n</body>\n</html>\n' \
    "$title" "$title" "$body"
}
page_html "Bench home" >"$SITE/index.html"
for n in $(seq 1 1000); do
  mkdir -p "$SITE/page-$n"
  page_html "Page $n" >"$SITE/page-$n/index.html"
done
mkdir -p "$SITE/assets" "$SITE/files"
# ~150 KB of JavaScript-looking text
awk 'BEGIN {
  print "\"use strict\";";
  i = 0; size = 0;
  while (size < 153600) {
    line = sprintf("export function handler%d(event, ctx) {\n  const key = `item-${event.id}-%d`;\n  if (ctx.cache.has(key)) { return ctx.cache.get(key); }\n  const out = [event.a, event.b, %d].map((v) => (v * 31 + %d) %% 997).join(\",\");\n  ctx.cache.set(key, out);\n  return out;\n}\n", i, i, i, i * 7);
    printf "%s", line; size += length(line); i++;
  }
}' >"$SITE/assets/app.js"
printf 'body { font-family: sans-serif; max-width: 40em; margin: auto; }\n' >"$SITE/assets/site.css"
head -c 1048576 /dev/urandom >"$SITE/files/big.bin"
chmod -R a+rX "$SITE"

# name, path, expected size
CLASSES=(small pretty asset big)
declare -A CLASS_PATH=([small]=/ [pretty]=/page-500/ [asset]=/assets/app.js [big]=/files/big.bin)
declare -A CLASS_FILE=([small]=index.html [pretty]=page-500/index.html [asset]=assets/app.js [big]=files/big.bin)
declare -A CLASS_LABEL=([small]="small (/, 2 KB)" [pretty]="pretty URL (/page-500/, 2 KB)" [asset]="asset (/assets/app.js, 150 KB)" [big]="big (/files/big.bin, 1 MB)")

# ---------------------------------------------------------------------------------------------
# servers
SERVERS=(nginx h2o ours)
declare -A PORT PIDROOT

run_user=$(id -un)
run_group=$(id -gn)

PORT[nginx]=$(free_port)
cat >"$T/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
$([[ $(id -u) -eq 0 ]] && echo "user $run_user $run_group;")
events { worker_connections 4096; }
http {
  types { text/html html; text/css css; application/javascript js; application/octet-stream bin; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  gzip off;
  gzip_static off;
  etag on;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:${PORT[nginx]};
    server_name _;
    root $SITE;
    location / {
      try_files \$uri \$uri.html \$uri/index.html =404;
    }
  }
}
EOF
"$NGINX" -e "$T/nginx/error.log" -p "$T/nginx/" -c "$T/nginx/nginx.conf" >"$T/nginx/stdout.log" 2>&1 &
PIDROOT[nginx]=$!
BENCH_PIDS+=("${PIDROOT[nginx]}")

PORT[h2o]=$(free_port)
while [[ ${PORT[h2o]} == "${PORT[nginx]}" ]]; do PORT[h2o]=$(free_port); done
cat >"$T/h2o/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: ${PORT[h2o]}
num-threads: 2
$([[ $(id -u) -eq 0 ]] && echo "user: $run_user")
pid-file: $T/h2o/h2o.pid
error-log: $T/h2o/error.log
hosts:
  "default":
    paths:
      /:
        file.dir: $SITE
EOF
"$H2O" -c "$T/h2o/h2o.conf" >"$T/h2o/stdout.log" 2>&1 &
PIDROOT[h2o]=$!
BENCH_PIDS+=("${PIDROOT[h2o]}")

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
verify() { # server path expected_file [label]
  local server=$1 path=$2 file=$3 code
  code=$(curl -sS -o "$T/out/verify.body" -w '%{http_code}' -H "Host: $HOST_HEADER" \
    "http://127.0.0.1:${PORT[$server]}$path")
  [[ $code == 200 ]] || die "$server $path answered $code, not 200"
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

# bench_one KEY SERVER PATH: one wrk run, results into R_*[KEY]
bench_one() {
  local key=$1 server=$2 path=$3 pids before after sys0 sys1 ch0 ch1 out line
  mapfile -t pids < <(process_tree "${PIDROOT[$server]}")
  out="$T/out/wrk-$key.txt"
  ch0=$(children_ticks)
  read -r -a sys0 <<<"$(sys_ticks)"
  before=$(cpu_ticks "${pids[@]}")
  "$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$T/report.lua" \
    -H "Host: $HOST_HEADER" "http://127.0.0.1:${PORT[$server]}$path" >"$out" 2>&1 || true
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
  log "$(printf '%-22s %8s req/s  p50 %7s ms  p99 %7s ms  cpu %7s us/req  other load %s cores' \
    "$key" "${R_RPS[$key]}" "${R_P50[$key]}" "${R_P99[$key]}" "${R_CPU[$key]}" "${R_OTHER[$key]}")"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "pass 1: ${#CLASSES[@]} classes x ${#SERVERS[@]} servers, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
for c in "${CLASSES[@]}"; do
  for s in "${SERVERS[@]}"; do
    bench_one "$s:$c" "$s" "${CLASS_PATH[$c]}"
  done
done

# ---------------------------------------------------------------------------------------------
# pass 2: the same site plus RULES redirect rules, none of which match the benchmarked URLs
log "pass 2: ours again without rules, then with $RULES rules in _redirects"
for c in small pretty; do bench_one "ours-norules:$c" ours "${CLASS_PATH[$c]}"; done

SITE2=$T/site-rules
cp -a "$SITE" "$SITE2"
{
  echo "# $RULES generated rules of mixed kinds; none matches /, /page-N/, /assets/, /files/"
  for ((i = 0; i < RULES; i++)); do
    case $((i % 5)) in
      0) echo "/old/path-$i  /new/path-$i  301" ;;
      1) echo "/blog-$i/*  /posts-$i/:splat  301" ;;
      2) echo "/news-$i/:year/:month/:slug  /articles-$i/:year/:month/:slug  302" ;;
      3) echo "/docs-$i/v1/*  /docs-$i/v2/:splat  200" ;;
      4) echo "/shop-$i/:category/*  https://shop.example.com/:category/:splat  301!" ;;
    esac
  done
} >"$SITE2/_redirects"
rd_deploy "$SITE2" "$SITE_NAME" "$T/out/deploy-rules.log"
grep -E "Uploading|live" "$T/out/deploy-rules.log" >&2 || true
# the rules are live (one of each kind answers as written) and the benchmarked URLs still 200
check_rule() { # path expected_code [expected_location]
  local got
  got=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $HOST_HEADER" \
    "http://127.0.0.1:${PORT[ours]}$1")
  [[ ${got%% *} == "$2" ]] || die "rule check $1: got '$got', expected $2 ${3:-}"
  [[ -z ${3:-} || ${got#* } == *"$3" ]] || die "rule check $1: got '$got', expected location $3"
}
check_rule "/old/path-500" 301 "/new/path-500"
check_rule "/blog-501/a/b" 301 "/posts-501/a/b"
check_rule "/news-997/2024/05/hello" 302 "/articles-997/2024/05/hello"
check_rule "/shop-4/shoes/red" 301 "https://shop.example.com/shoes/red"
for c in "${CLASSES[@]}"; do verify ours "${CLASS_PATH[$c]}" "${CLASS_FILE[$c]}"; done
log "rules are live; benchmarked URLs still answer 200"
for c in small pretty; do bench_one "ours-rules:$c" ours "${CLASS_PATH[$c]}"; done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# crashes, errors in our log
RD_ALIVE=yes
kill -0 "${PIDROOT[ours]}" 2>/dev/null || RD_ALIVE=no
RD_LOG_ERRORS=$(grep -ciE '\b(error|fatal|panic)\b' "$T/replideploy.log" || true)

# ---------------------------------------------------------------------------------------------
# report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "n/a" || b == "n/a") print "n/a"; else printf "%.2f", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%+.1f%%", (a / b - 1) * 100 }'; }
ver_nginx=$({ "$NGINX" -v 2>&1 || true; } | sed 's/.*nginx\///')
ver_h2o=$({ "$H2O" --version 2>&1 || true; } | head -1 | sed 's/^h2o version //')
ver_wrk=$({ "$WRK" -v 2>&1 || true; } | head -1 | awk '{print $2}')
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$BENCH_ROOT" --no-optional-locks diff-index --quiet HEAD -- 2>/dev/null || dirty=" (+ uncommitted changes)"

report() {
  echo "# Edge benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $commit$dirty, release build of $(date -u -r "$RD_BIN" "+%Y-%m-%d %H:%M UTC"); nginx $ver_nginx (2 workers); h2o $ver_h2o (2 threads); wrk $ver_wrk"
  echo "- $(nproc) cores shared by wrk, the server under test and whatever else runs (load average at start $LOAD_START, at end $LOAD_END)"
  echo "- wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, keep-alive, HTTP/1.1, no Accept-Encoding (identity bodies everywhere), Host: $HOST_HEADER"
  echo "- CPU/req: utime+stime of all the server's processes and threads (/proc/PID/stat) over the run, divided by requests completed"
  echo "- other load: cores busy (user+system, /proc/stat) with neither the server nor wrk during the run, i.e. the noise from other work on the machine"
  echo
  echo "## Absolute numbers"
  echo
  echo "| request | server | req/s | p50 ms | p99 ms | CPU us/req | non-2xx/3xx | socket errors | other load (cores) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  local c s k
  for c in "${CLASSES[@]}"; do
    for s in "${SERVERS[@]}"; do
      k="$s:$c"
      echo "| ${CLASS_LABEL[$c]} | $s | ${R_RPS[$k]} | ${R_P50[$k]} | ${R_P99[$k]} | ${R_CPU[$k]} | ${R_NON2XX[$k]} | ${R_SOCKERR[$k]} | ${R_OTHER[$k]} |"
    done
  done
  echo
  echo "## Ratios (ours / other)"
  echo
  echo "req/s: above 1 means we serve more. CPU/req: below 1 means we spend less CPU per request."
  echo
  echo "| request | req/s ours/nginx | req/s ours/h2o | CPU/req ours/nginx | CPU/req ours/h2o |"
  echo "|---|---:|---:|---:|---:|"
  for c in "${CLASSES[@]}"; do
    echo "| ${CLASS_LABEL[$c]} | $(ratio "${R_RPS[ours:$c]}" "${R_RPS[nginx:$c]}") | $(ratio "${R_RPS[ours:$c]}" "${R_RPS[h2o:$c]}") | $(ratio "${R_CPU[ours:$c]}" "${R_CPU[nginx:$c]}") | $(ratio "${R_CPU[ours:$c]}" "${R_CPU[h2o:$c]}") |"
  done
  echo
  echo "## $RULES redirect rules (replideploy only)"
  echo
  echo "A second deploy of the same files plus a \`_redirects\` with $RULES rules (exact paths, splats,"
  echo "placeholders, rewrites, forced external redirects; none matches the requested URLs), measured"
  echo "right after a fresh no-rules run of the same URLs."
  echo
  echo "| request | req/s no rules | req/s $RULES rules | req/s change | CPU us/req no rules | CPU us/req $RULES rules | CPU/req change | non-2xx/3xx |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for c in small pretty; do
    local a="ours-norules:$c" b="ours-rules:$c"
    echo "| ${CLASS_LABEL[$c]} | ${R_RPS[$a]} | ${R_RPS[$b]} | $(pct "${R_RPS[$b]}" "${R_RPS[$a]}") | ${R_CPU[$a]} | ${R_CPU[$b]} | $(pct "${R_CPU[$b]}" "${R_CPU[$a]}") | $((${R_NON2XX[$a]} + ${R_NON2XX[$b]})) |"
  done
  echo
  echo "Small file, $RULES rules against none: req/s $(pct "${R_RPS[ours-rules:small]}" "${R_RPS[ours-norules:small]}") (negative = slower), CPU/req $(pct "${R_CPU[ours-rules:small]}" "${R_CPU[ours-norules:small]}") (positive = costlier). On this machine our CPU/req moves by 20-40% and req/s by ~10% between runs of the same build: smaller differences are noise."
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
