#!/usr/bin/env bash
# User-space instructions per request: the edge bench's site (edge/site.sh) served by nginx, h2o
# and replideploy, each under valgrind's callgrind, loaded with wrk; callgrind counts the
# instructions (Ir) every process of the server executes, which does not move with the load of
# the machine the way req/s and CPU time do. A report, not a test: it never fails on a number.
#
#   bench/edge/instructions.sh                 # DURATION=10 s per class and server
#   REPLIDEPLOY_BIN=/path/to/replideploy bench/edge/instructions.sh
#
# Per server and class: start the server under `valgrind --tool=callgrind --trace-children=yes`
# (one dump file per process), warm up with wrk for WARMUP s, zero the counters of every process
# of the server (callgrind_control -z PID), run wrk for DURATION s, dump every process
# (callgrind_control -d PID), sum the `totals:` of those dumps and divide by the requests wrk
# completed. Counts user space only (the kernel's share of a request is not in them), and
# valgrind runs the servers 20-50x slower, so read them per request, not as speed.
#
# Environment: DURATION (s, default 10), WARMUP (s, 3), CONNECTIONS (wrk -c, 16), RULES (rules in
# an extra site of ours measured on the same URLs, 1000; 0 = skip), REPLIDEPLOY_BIN, KEEP_TMP=1
# (keep the temp dir, with every callgrind dump), RD_SERVE_ARGS, RESULTS_DIR (bench/results).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=site.sh
source "$HERE/site.sh"

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-16}
RULES=${RULES:-1000}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=bench
HOST_HEADER="$SITE_NAME.localhost"
IR_CLASSES=(small pretty)

ensure_packages "$(edge_nginx_pkg)" h2o wrk valgrind curl jq iproute2 procps sqlite3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
H2O=$(command -v h2o || echo /usr/bin/h2o)
WRK=$(command -v wrk)
command -v callgrind_control >/dev/null || die "callgrind_control not found (package valgrind)"
ensure_binary

bench_init instructions
T=$BENCH_TMP
SITE=$T/site
mkdir -p "$T/out" "$T/cg"
log "generating the site in $SITE"
edge_write_site "$SITE"

# ---------------------------------------------------------------------------------------------
# Our sites are published by a normal (not valgrind) server on the data dir that the measured
# server then opens: publishing 1000 files at valgrind's speed would take minutes. That server
# also finishes the deploys' background compression before it stops, so that the measured one
# has none to do.
log "publishing the site (and the rules site) with a normal replideploy"
start_replideploy "$(free_port)" "$T/rd-data" "$T/out/replideploy-publish.log"
rd_account
rd_create_site "$SITE_NAME"
rd_deploy "$SITE" "$SITE_NAME" "$T/out/deploy.log"
declare -A OURS_HOST=([ours]=$HOST_HEADER)
OURS_VARIANTS=(ours)
if ((RULES > 0)); then
  cp -a "$SITE" "$T/site-rules"
  write_rules "$RULES" "$T/site-rules/_redirects"
  # short, like the no-rules site's (see run.sh)
  rd_create_site "rules-$RULES"
  rd_deploy "$T/site-rules" "rules-$RULES" "$T/out/deploy-rules.log"
  OURS_HOST[ours-rules]="rules-$RULES.localhost"
  OURS_VARIANTS+=(ours-rules)
fi
db="$T/rd-data/replideploy.db"
if [[ -f $db ]]; then
  for _ in $(seq 1 600); do
    pending=$(sqlite3 -readonly "$db" "SELECT count(*) FROM deploys WHERE variants_pending = 1" 2>/dev/null || echo "?")
    [[ $pending == 0 ]] && break
    sleep 1
  done
  [[ $pending == 0 ]] || log "WARNING: deploys still waiting for compression ($pending): their work may be counted"
else
  log "WARNING: no $db; not waiting for the background compression"
fi
kill -TERM "$RD_PID"
wait "$RD_PID" || true
forget_pid "$RD_PID"

# ---------------------------------------------------------------------------------------------
# measurement

# verify PORT PATH FILE HOST: 200 and the file's exact bytes
verify() {
  local code
  code=$(curl -sS -o "$T/out/verify.body" -w '%{http_code}' -H "Host: $4" "http://127.0.0.1:$1$2")
  [[ $code == 200 ]] || die "127.0.0.1:$1$2 (Host: $4) answered $code, not 200"
  cmp -s "$T/out/verify.body" "$SITE/$3" || die "127.0.0.1:$1$2 (Host: $4): body differs from $3"
}

# callgrind_all CMD ROOT: callgrind_control CMD for every process of the server
callgrind_all() {
  local pid
  for pid in $(process_tree "$2"); do
    callgrind_control "$1" "$pid" >"$T/out/callgrind_control.log" 2>&1 ||
      log "WARNING: callgrind_control $1 $pid failed: $(tail -1 "$T/out/callgrind_control.log")"
  done
}

# per measurement, keyed "variant|class"
declare -A R_REQ R_IR R_SUMMARY R_PROCS R_PER_PROC R_ERR

# measure KEY ROOT PORT PATH HOST: warm up, zero, wrk, dump; the dumps taken are moved to
# $T/cg/KEY so that the next measurement of the same processes finds only its own
measure() {
  local key=$1 root=$2 url="http://127.0.0.1:$3$4" host=$5 out dir f ir sum total=0 summary=0 n=0 per=""
  dir="$T/cg/${key//|/-}"
  mkdir -p "$dir"
  "$WRK" -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -H "Host: $host" "$url" >/dev/null 2>&1 || true
  sleep 1 # let the server finish the warm-up's last requests before the counters are zeroed
  callgrind_all -z "$root"
  out=$("$WRK" -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Host: $host" "$url" 2>&1) || true
  sleep 1 # and this run's, which wrk sent but did not count: at most CONNECTIONS requests
  callgrind_all -d "$root"
  kill -0 "$root" 2>/dev/null || { echo "$out" >&2; die "$key: the server died"; }
  for f in "$T"/cg/*.out.[0-9]*; do
    [[ -e $f ]] || continue
    ir=$(awk '/^totals:/ { print $2; exit }' "$f")
    sum=$(awk '/^summary:/ { print $2; exit }' "$f")
    total=$((total + ${ir:-0}))
    summary=$((summary + ${sum:-0}))
    n=$((n + 1))
    per+="${per:+, }$(basename "$f" | sed 's/\.out\./ dump /') ${ir:-?}"
    mv "$f" "$dir/"
  done
  R_REQ[$key]=$(awk '/requests in/ { print $1 }' <<<"$out")
  R_REQ[$key]=${R_REQ[$key]:-0}
  R_IR[$key]=$total
  R_SUMMARY[$key]=$summary
  R_PROCS[$key]=$n
  R_PER_PROC[$key]=$per
  R_ERR[$key]=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' <<<"$out")
  log "$(printf '%-24s %7s requests  %15s Ir  %9s Ir/req  %s dumps (%s)' "$key" "${R_REQ[$key]}" \
    "$total" "$(per_req "$total" "${R_REQ[$key]}")" "$n" "$per")"
  [[ ${R_ERR[$key]} == 0 ]] || log "WARNING $key: ${R_ERR[$key]} non-2xx/3xx responses or socket errors"
}

per_req() { awk -v i="$1" -v r="$2" 'BEGIN { if (r == 0) print "n/a"; else printf "%.0f", i / r }'; }
# ir_per_req KEY: Ir per request of a measurement ("n/a" if it has none)
ir_per_req() { per_req "${R_IR[$1]:-0}" "${R_REQ[$1]:-0}"; }

# stop ROOT: the server and its processes, and forget it
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

VG=(valgrind --tool=callgrind --trace-children=yes "--callgrind-out-file=$T/cg/%p.out")
SERVERS=(nginx h2o ours)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for s in nginx h2o; do
  port=$(free_port)
  if [[ $s == nginx ]]; then
    edge_write_nginx_conf "$T/$s" "$port" "$SITE"
  else
    edge_write_h2o_conf "$T/$s" "$port" "$SITE"
  fi
  log "$s under callgrind on $port"
  edge_start "$s" "$T/$s" "${VG[@]}"
  wait_for_port "$port" 120 || { cat "$T/$s/error.log" "$T/$s/stdout.log" >&2; exit 1; }
  for c in "${IR_CLASSES[@]}"; do
    verify "$port" "${CLASS_PATH[$c]}" "${CLASS_FILE[$c]}" "$HOST_HEADER"
    measure "$s|$c" "$EDGE_PID" "$port" "${CLASS_PATH[$c]}" "$HOST_HEADER"
  done
  stop "$EDGE_PID"
done

port=$(free_port)
log "ours under callgrind on $port"
RD_START_SECS=300 start_replideploy "$port" "$T/rd-data" "$T/out/replideploy.log" "${VG[@]}"
for v in "${OURS_VARIANTS[@]}"; do
  for c in "${IR_CLASSES[@]}"; do
    verify "$port" "${CLASS_PATH[$c]}" "${CLASS_FILE[$c]}" "${OURS_HOST[$v]}"
    measure "$v|$c" "$RD_PID" "$port" "${CLASS_PATH[$c]}" "${OURS_HOST[$v]}"
  done
done
RD_LOG_ERRORS=$(grep -ciE '\b(error|fatal|panic)\b' "$T/out/replideploy.log" || true)
stop "$RD_PID"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "n/a" || b == "n/a") print "n/a"; else printf "%.2f", a / b }'; }
thousands() { awk -v n="$1" 'BEGIN { if (n == "n/a") { print n; exit } s = sprintf("%.0f", n); o = ""
  while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }
ver_nginx=$({ "$NGINX" -v 2>&1 || true; } | sed 's/.*nginx\///')
ver_h2o=$({ "$H2O" --version 2>&1 || true; } | head -1 | sed 's/^h2o version //')
ver_wrk=$({ "$WRK" -v 2>&1 || true; } | head -1 | awk '{print $2}')
ver_valgrind=$(valgrind --version 2>&1 | sed 's/^valgrind-//')
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$BENCH_ROOT" --no-optional-locks diff-index --quiet HEAD -- 2>/dev/null || dirty=" (+ uncommitted changes)"

report() {
  local c s k
  echo "# Edge instructions per request, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $commit$dirty, release build of $(date -u -r "$RD_BIN" "+%Y-%m-%d %H:%M UTC") ($RD_BIN); nginx $ver_nginx (2 workers); h2o $ver_h2o (2 threads); ours with its defaults; valgrind $ver_valgrind; wrk $ver_wrk"
  echo "- $(nproc) cores (load average at start $LOAD_START, at end $LOAD_END)"
  echo "- each server under \`valgrind --tool=callgrind --trace-children=yes\` (a dump file per process); per class: wrk -t1 -c$CONNECTIONS -d${WARMUP}s to warm up, \`callgrind_control -z\` on every process of the server, wrk -t1 -c$CONNECTIONS -d${DURATION}s (keep-alive, HTTP/1.1, no Accept-Encoding, Host: $HOST_HEADER), \`callgrind_control -d\` on every process; Ir = the sum of those dumps' \`totals:\`, divided by the requests wrk completed"
  echo "- user-space instructions only: the kernel's part of a request (loopback TCP, sendfile, system calls) is not counted; valgrind runs the servers 20-50x slower (and one thread of a process at a time), so requests completed say nothing about speed"
  echo "- a dump has two grand totals: \`totals:\` (the sum of its cost lines, used here as in the prototype) and \`summary:\` (callgrind's own count of the part), which differ slightly; both are given"
  echo "- the servers also answer up to $CONNECTIONS requests that wrk sent but did not count at the end of a run (after a 1 s pause, inside the counted window): at most $CONNECTIONS/requests too many per request"
  echo
  echo "| request | server | requests | Ir (user space) | Ir/request | Ir/request by \`summary:\` | processes dumped |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for c in "${IR_CLASSES[@]}"; do
    for s in "${SERVERS[@]}" "${OURS_VARIANTS[@]:1}"; do
      k="$s|$c"
      [[ -n ${R_IR[$k]:-} ]] || continue
      local label=$s
      [[ $s == ours-rules ]] && label="ours, site with $RULES rules"
      echo "| ${CLASS_LABEL[$c]} | $label | ${R_REQ[$k]} | $(thousands "${R_IR[$k]}") | $(thousands "$(ir_per_req "$k")") | $(thousands "$(per_req "${R_SUMMARY[$k]}" "${R_REQ[$k]}")") | ${R_PROCS[$k]} |"
    done
  done
  echo
  echo "Ratios of Ir/request (below 1: ours executes fewer instructions)."
  echo
  local hdr="| request | ours/nginx | ours/h2o |" sep="|---|---:|---:|"
  ((RULES > 0)) && { hdr+=" ours with $RULES rules / ours |"; sep+="---:|"; }
  echo "$hdr"
  echo "$sep"
  for c in "${IR_CLASSES[@]}"; do
    local o n h line
    o=$(ir_per_req "ours|$c")
    n=$(ir_per_req "nginx|$c")
    h=$(ir_per_req "h2o|$c")
    line="| ${CLASS_LABEL[$c]} | $(ratio "$o" "$n") | $(ratio "$o" "$h") |"
    ((RULES > 0)) && line+=" $(ratio "$(ir_per_req "ours-rules|$c")" "$o") |"
    echo "$line"
  done
  echo
  echo "## Per process"
  echo
  echo "Each dump's \`totals:\` (file named after the process id; for nginx the master and its two workers)."
  echo
  for k in $(printf '%s\n' "${!R_IR[@]}" | sort); do
    echo "- $k: ${R_PER_PROC[$k]:-no dump}"
  done
  echo
  echo "## Health"
  echo
  local errs=0
  for k in "${!R_ERR[@]}"; do errs=$((errs + ${R_ERR[$k]})); done
  echo "- non-2xx/3xx responses and socket errors over all runs: $errs"
  echo "- lines with error/fatal/panic in our log under callgrind (level ${RD_LOG_LEVEL:-warn}): $RD_LOG_ERRORS"
}

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/instructions-$(date -u +%Y-%m-%d-%H%M).md"
report | tee "$RESULT_FILE"
log "written to $RESULT_FILE"
