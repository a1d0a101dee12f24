#!/usr/bin/env bash
# Functions benchmark: one v2 function (`new Response("hello")`) called through replideploy (edge
# -> pool -> sandboxed Node.js over the Lambda Runtime API) beside the floor, the same module
# served by a bare Node.js HTTP server (bench/functions/node_peer.mjs), in the same run, measured
# with wrk; plus cold starts (the first call of a function no process runs yet) and first calls of
# functions pre-warmed at publish (--functions-prewarm). A report, not a
# test: it never fails on a number. Needs root (functions run in the sandbox only as root).
#
#   bench/functions/run.sh                      # DURATION=10 s per run, 3 rounds, after a 3 s warm-up
#   DURATION=5 ROUNDS=1 bench/functions/run.sh  # quicker, noisier
#
# Environment: DURATION (s, 10), ROUNDS (3), CONNECTIONS ("1 16": wrk -c, one run each; -t is
# min(c, 2)), COLD (cold starts measured, 5), PREWARMED (first calls of pre-warmed functions
# measured, 3), REPLIDEPLOY_BIN, KEEP_TMP=1, RESULTS_DIR.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-1 16}
COLD=${COLD:-5}
PREWARMED=${PREWARMED:-3}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=fnbench
HOST_HEADER="$SITE_NAME.localhost"

[[ $(id -u) -eq 0 ]] || die "run as root: functions run in the sandbox only as root"
ensure_packages wrk curl jq nodejs bubblewrap procps
WRK=$(command -v wrk)
ensure_binary

bench_init functions
T=$BENCH_TMP
mkdir -p "$T/site/fns" "$T/out"

# ---------------------------------------------------------------------------------------------
# the site: a page and the function; cold-N are the same function under other names
mkdir -p "$T/site/dist"
echo "<!doctype html><title>fn bench</title>" >"$T/site/dist/index.html"
cat >"$T/site/fns/hello.mjs" <<'EOF'
export default async () => new Response("hello", { headers: { "content-type": "text/plain" } });
EOF
for i in $(seq 1 "$COLD"); do cp "$T/site/fns/hello.mjs" "$T/site/fns/cold-$i.mjs"; done
# a-prewarmed-N sort first by name: the server pre-warms exactly these at publish
for i in $(seq 1 "$PREWARMED"); do cp "$T/site/fns/hello.mjs" "$T/site/fns/a-prewarmed-$i.mjs"; done

declare -A PORT PID
PORT[ours]=$(free_port)
RD_SERVE_ARGS="${RD_SERVE_ARGS:-} --functions-prewarm $PREWARMED" \
  start_replideploy "${PORT[ours]}" "$T/rd-data" "$T/replideploy.log"
PID[ours]=$RD_PID
PORT[node]=$(free_port)
while [[ ${PORT[node]} == "${PORT[ours]}" ]]; do PORT[node]=$(free_port); done
node "$HERE/node_peer.mjs" "$T/site/fns/hello.mjs" "${PORT[node]}" >"$T/node.log" 2>&1 &
PID[node]=$!
BENCH_PIDS+=("${PID[node]}")
wait_for_port "${PORT[node]}"

log "deploying the function to replideploy on ${PORT[ours]}"
rd_account
rd_create_site "$SITE_NAME"
start=$(now_ms)
"$RD_BIN" deploy "$T/site/dist" --functions "$T/site/fns" --site "$SITE_NAME" --prod \
  --api-url "$RD_URL" --auth-token "$RD_TOKEN" >"$T/out/deploy.log" 2>&1 ||
  { cat "$T/out/deploy.log" >&2; die "deploy failed"; }
DEPLOY_MS=$(($(now_ms) - start))

# both answer the same body
check() { # server path
  local body
  body=$(curl -sS -H "Host: $HOST_HEADER" "http://127.0.0.1:${PORT[$1]}$2")
  [[ $body == hello ]] || die "$1 $2 answered '$body', not 'hello'"
}

# ---------------------------------------------------------------------------------------------
# the pre-warmed processes (one per a-prewarmed-N) start in the background after the publish
node_processes() { # node processes under the server
  local n=0 pid
  for pid in $(process_tree "${PID[ours]}"); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == node ]] && n=$((n + 1))
  done
  echo "$n"
}
for _ in $(seq 1 100); do
  (($(node_processes) >= PREWARMED)) && break
  sleep 0.1
done
PREWARM_SEEN=$(node_processes)
[[ $PREWARM_SEEN -ge $PREWARMED ]] || log "only $PREWARM_SEEN of $PREWARMED pre-warmed processes after 10 s"
sleep 0.5 # the processes load Node.js and the module before they ask for their first call

# first calls: each cold-N (no process of it runs yet) and each a-prewarmed-N, then a second
# (warm) call of each
first_call() { # function name -> ms of the first call; the second call's ms in SECOND_MS
  local url="http://127.0.0.1:${PORT[ours]}/.netlify/functions/$1" t
  t=$(curl -sS -o "$T/out/first.body" -w '%{time_total}' -H "Host: $HOST_HEADER" "$url")
  [[ $(<"$T/out/first.body") == hello ]] || die "$1 answered '$(<"$T/out/first.body")'"
  FIRST_MS=$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')
  t=$(curl -sS -o /dev/null -w '%{time_total}' -H "Host: $HOST_HEADER" "$url")
  SECOND_MS=$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')
}
cold_ms=()
warm_ms=()
for i in $(seq 1 "$COLD"); do
  first_call "cold-$i"
  cold_ms+=("$FIRST_MS")
  warm_ms+=("$SECOND_MS")
done
prewarmed_ms=()
for i in $(seq 1 "$PREWARMED"); do
  first_call "a-prewarmed-$i"
  prewarmed_ms+=("$FIRST_MS")
done
check ours /.netlify/functions/hello
check node /.netlify/functions/hello
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------------------------
# warm load: wrk per (server, connections), servers interleaved in every round
cpu_of() { # server -> clock ticks of its whole process tree (ours: server + sandboxes)
  # shellcheck disable=SC2046
  cpu_ticks $(process_tree "${PID[$1]}")
}
CLK_TCK=$(getconf CLK_TCK)
# warm-up at the highest concurrency, so that the pool's processes (up to 4 per function) are
# started before anything is measured
max_c=$(printf '%s\n' $CONNECTIONS | sort -n | tail -1)
for s in ours node; do
  "$WRK" -t "$((max_c < 2 ? max_c : 2))" -c "$max_c" -d 3s -H "Host: $HOST_HEADER" \
    "http://127.0.0.1:${PORT[$s]}/.netlify/functions/hello" >/dev/null
done
# memory of the warm processes: RSS of each Node.js process under the server (the functions'
# processes, warm now), and of the bare node peer
node_rss_kb() { # pid... -> RSS in kB of the node processes among them, one per line
  local pid
  for pid in "$@"; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == node ]] && awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"
  done
}
# shellcheck disable=SC2046
mapfile -t WARM_RSS < <(node_rss_kb $(process_tree "${PID[ours]}"))
PEER_RSS=$(node_rss_kb "${PID[node]}")
declare -A RPS P50 P99 CPU
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONNECTIONS; do
    for s in ours node; do
      threads=$((c < 2 ? c : 2))
      before=$(cpu_of "$s")
      "$WRK" -t "$threads" -c "$c" -d "${DURATION}s" --latency -H "Host: $HOST_HEADER" \
        "http://127.0.0.1:${PORT[$s]}/.netlify/functions/hello" >"$T/out/wrk-$s-$c-$round.txt"
      after=$(cpu_of "$s")
      out="$T/out/wrk-$s-$c-$round.txt"
      rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
      reqs=$(awk '/requests in/ { print $1 }' "$out")
      errors=$(awk '/Non-2xx|Socket errors/ { print }' "$out")
      [[ -z $errors ]] || log "$s c=$c round $round: $errors"
      RPS[$s,$c]+="$rps "
      P50[$s,$c]+="$(awk '$1 == "50%" { print $2 }' "$out") "
      P99[$s,$c]+="$(awk '$1 == "99%" { print $2 }' "$out") "
      CPU[$s,$c]+="$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$reqs" \
        'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }') "
      log "round $round c=$c $s: $rps req/s"
    done
  done
done

# wrk prints latencies with units (us, ms, s): in ms
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f\n", v }'; }
med_ms() { median $(printf '%s\n' $1 | to_ms); }

# ---------------------------------------------------------------------------------------------
# report
mkdir -p "$RESULTS_DIR"
REPORT="$RESULTS_DIR/functions-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# Functions benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Commit $(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "\`bench/functions/run.sh\` with DURATION=$DURATION ROUNDS=$ROUNDS CONNECTIONS=\"$CONNECTIONS\"; medians of the rounds."
  echo "The function: \`export default async () => new Response(\"hello\")\`. *ours*: \`replideploy serve\` (edge, pool of"
  echo "sandboxed Node.js processes over the Lambda Runtime API). *node*: the same module in a bare"
  echo "\`node:http\` server (bench/functions/node_peer.mjs): the floor, no sandbox and no hop."
  echo "CPU/req counts every process of each side (ours: the server and its sandboxes)."
  echo
  echo "| connections | ours req/s | node req/s | ours/node | ours p50 ms | node p50 ms | ours p99 ms | node p99 ms | ours CPU us/req | node CPU us/req |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in $CONNECTIONS; do
    o=$(median ${RPS[ours,$c]}) n=$(median ${RPS[node,$c]})
    echo "| $c | $o | $n | $(awk -v a="$o" -v b="$n" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }') | $(med_ms "${P50[ours,$c]}") | $(med_ms "${P50[node,$c]}") | $(med_ms "${P99[ours,$c]}") | $(med_ms "${P99[node,$c]}") | $(median ${CPU[ours,$c]}) | $(median ${CPU[node,$c]}) |"
  done
  echo
  echo "Cold starts (curl time_total of the first call of a function no process runs yet, then the"
  echo "second call), $COLD functions: first calls ${cold_ms[*]} ms (median $(median "${cold_ms[@]}")),"
  echo "second calls ${warm_ms[*]} ms (median $(median "${warm_ms[@]}"))."
  echo "First calls of $PREWARMED functions pre-warmed at publish (\`--functions-prewarm $PREWARMED\`; $PREWARM_SEEN"
  echo "Node.js processes were up before the calls): ${prewarmed_ms[*]} ms (median $(median "${prewarmed_ms[@]}"))."
  echo
  echo "Memory: ${#WARM_RSS[@]} warm function processes (Node.js in the sandbox) after the warm-up, RSS"
  echo "median $(median "${WARM_RSS[@]}") kB (each: $(printf '%s ' "${WARM_RSS[@]}")kB); the bare node peer ${PEER_RSS} kB."
  echo
  echo "Deploy of the page and $((COLD + PREWARMED + 1)) functions with \`replideploy deploy --functions\` (esbuild bundling included): ${DEPLOY_MS} ms."
  echo
  echo "Raw rounds (req/s): $(for k in "${!RPS[@]}"; do printf '%s: %s; ' "$k" "${RPS[$k]}"; done)"
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT"
