#!/usr/bin/env bash
# TLS benchmark: replideploy's HTTPS listener beside nginx and h2o (Debian's), same
# certificate, same 2 KB page, same run. Full TLS handshakes per second (openssl s_time -new,
# TLS 1.3 and TLS 1.2) and HTTPS requests per second with h2load over HTTP/1.1 and HTTP/2
# (ALPN), reported as ratios; medians of ROUNDS interleaved rounds. A report, not a test: it
# never fails on a number.
#
#   bench/tls/run.sh                   # DURATION=10 s per handshake run, 3 rounds: ~5 min
#   DURATION=5 ROUNDS=1 bench/tls/run.sh
#   PROFILE=1 bench/tls/run.sh         # also perf record -g of ours during one more run of each
#
# Environment: DURATION (s of openssl s_time, default 10), REQUESTS (per h2load run, 50000),
# CLIENTS (h2load -c, 16), STREAMS (h2load -m for h2, 10), ROUNDS (3), PROFILE (0),
# REPLIDEPLOY_BIN, KEEP_TMP=1, RESULTS_DIR (default bench/results). (h2load -D hangs with --h1
# in Debian's 1.52: -n it is.)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

DURATION=${DURATION:-10}
REQUESTS=${REQUESTS:-50000}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-10}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-0}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
SITE_NAME=bench
HOST="$SITE_NAME.localhost"

nginx_pkg=nginx
for p in nginx nginx-light nginx-core nginx-full nginx-extras; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && [[ -x /usr/sbin/nginx ]]; then
    nginx_pkg=$p
    break
  fi
done
ensure_packages "$nginx_pkg" h2o nghttp2-client openssl curl jq
((PROFILE)) && ensure_packages linux-perf
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
H2O=$(command -v h2o || echo /usr/bin/h2o)
ensure_binary

bench_init tls
T=$BENCH_TMP
mkdir -p "$T/site" "$T/pki" "$T/nginx" "$T/h2o" "$T/out"

# ---------------------------------------------------------------------------------------------
# the certificate (ECDSA P-256, what an ACME CA hands out by default) and the page
log "making a CA and a certificate for $HOST"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pki/ca.key" \
  -out "$T/pki/ca.pem" -days 2 -subj "/CN=Bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pki/site.key" \
  -out "$T/pki/site.csr" -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" 2>/dev/null
openssl x509 -req -in "$T/pki/site.csr" -CA "$T/pki/ca.pem" -CAkey "$T/pki/ca.key" \
  -set_serial 0x42 -days 2 -copy_extensions copy -out "$T/pki/site.crt" 2>/dev/null
chmod -R a+rX "$T/pki"

lorem="Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."
{
  printf '<!doctype html>\n<html><head><meta charset="utf-8"><title>Bench</title></head><body>\n'
  for _ in $(seq 1 14); do printf '<p>%s</p>\n' "$lorem"; done
  printf '</body></html>\n'
} >"$T/site/index.html"
chmod -R a+rX "$T/site"

# ---------------------------------------------------------------------------------------------
# servers
run_user=$(id -un)
run_group=$(id -gn)
NGINX_PORT=$(free_port)
cat >"$T/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
$([[ $(id -u) -eq 0 ]] && echo "user $run_user $run_group;")
events { worker_connections 4096; }
http {
  types { text/html html; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  keepalive_requests 100000000;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl http2;
    server_name $HOST;
    ssl_certificate $T/pki/site.crt;
    ssl_certificate_key $T/pki/site.key;
    root $T/site;
  }
}
EOF
"$NGINX" -e "$T/nginx/error.log" -p "$T/nginx/" -c "$T/nginx/nginx.conf" >"$T/nginx/stdout.log" 2>&1 &
BENCH_PIDS+=("$!")

# h2o as bench/edge/run.sh runs it (2 threads, file.dir, no access log), with TLS 1.2 and 1.3;
# it offers HTTP/2 by ALPN by default.
H2O_PORT=$(free_port)
while [[ $H2O_PORT == "$NGINX_PORT" ]]; do H2O_PORT=$(free_port); done
cat >"$T/h2o/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $H2O_PORT
  ssl:
    certificate-file: $T/pki/site.crt
    key-file: $T/pki/site.key
    minimum-version: TLSv1.2
num-threads: 2
$([[ $(id -u) -eq 0 ]] && echo "user: $run_user")
pid-file: $T/h2o/h2o.pid
error-log: $T/h2o/error.log
hosts:
  "default":
    paths:
      /:
        file.dir: $T/site
EOF
"$H2O" -c "$T/h2o/h2o.conf" >"$T/h2o/stdout.log" 2>&1 &
BENCH_PIDS+=("$!")

RD_PORT=$(free_port)
RD_TLS_PORT=$(free_port)
while [[ $RD_TLS_PORT == "$RD_PORT" || $RD_TLS_PORT == "$NGINX_PORT" || $RD_TLS_PORT == "$H2O_PORT" ]]; do
  RD_TLS_PORT=$(free_port)
done
RD_SERVE_ARGS="--listen-tls 127.0.0.1:$RD_TLS_PORT --tls-cert $T/pki/site.crt --tls-key $T/pki/site.key --tls-default-name $HOST ${RD_SERVE_ARGS:-}"
start_replideploy "$RD_PORT" "$T/rd-data" "$T/replideploy.log"
wait_for_port "$NGINX_PORT" || { cat "$T/nginx/error.log" >&2; exit 1; }
wait_for_port "$H2O_PORT" || { cat "$T/h2o/error.log" "$T/h2o/stdout.log" >&2; exit 1; }
wait_for_port "$RD_TLS_PORT" || { cat "$T/replideploy.log" >&2; exit 1; }

log "deploying the page"
rd_account
rd_create_site "$SITE_NAME"
rd_deploy "$T/site" "$SITE_NAME" "$T/out/deploy.log"

SERVERS=(nginx h2o ours)
declare -A PORT=([nginx]=$NGINX_PORT [h2o]=$H2O_PORT [ours]=$RD_TLS_PORT)
for s in "${SERVERS[@]}"; do
  for proto in --http1.1 --http2; do
    body=$(curl -fsS "$proto" --cacert "$T/pki/ca.pem" --resolve "$HOST:${PORT[$s]}:127.0.0.1" \
      "https://$HOST:${PORT[$s]}/")
    [[ "$body" == "$(cat "$T/site/index.html")" ]] || die "$s $proto: wrong body"
  done
done
log "every server answers the page over HTTP/1.1 and HTTP/2"

# ---------------------------------------------------------------------------------------------
# measurement
declare -A HS3 HS2 H1 H2

handshakes() { # port tls-flag -> full handshakes per second (one client, no resumption)
  local out n secs
  out=$(openssl s_time -connect "127.0.0.1:$1" -new "$2" -time "$DURATION" 2>/dev/null || true)
  n=$(grep -m1 -oE '^[0-9]+ connections in [0-9]+ real seconds' <<<"$out" | cut -d' ' -f1)
  secs=$(grep -m1 -oE '^[0-9]+ connections in [0-9]+ real seconds' <<<"$out" | cut -d' ' -f4)
  [[ -n "$n" && -n "$secs" && "$secs" != 0 ]] && awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }' || echo 0
}

h2load_rps() { # port extra-args... -> req/s (0 when there were errors)
  local port=$1 out
  shift
  # SNI and :authority name the site; the connection goes to loopback.
  out=$(timeout 300 h2load -n "$REQUESTS" -c "$CLIENTS" "$@" --connect-to "127.0.0.1:$port" \
    "https://$HOST:$port/" 2>&1 || true)
  echo "$out" >>"$T/out/h2load.log"
  if ! grep -qE "$REQUESTS succeeded, 0 failed, 0 errored" <<<"$out"; then
    log "h2load on $port $*: errors"
    grep -E 'requests:|status codes' <<<"$out" >&2 || true
    echo 0
    return
  fi
  grep -m1 -oE 'finished in [0-9.]+[a-z]+, [0-9.]+ req/s' <<<"$out" | awk '{ printf "%.0f", $4 }' || echo 0
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  # interleaved: each round starts with another server
  order=("${SERVERS[@]:$(((r - 1) % 3))}" "${SERVERS[@]:0:$(((r - 1) % 3))}")
  for s in "${order[@]}"; do
    HS3["$s|$r"]=$(handshakes "${PORT[$s]}" -tls1_3)
    HS2["$s|$r"]=$(handshakes "${PORT[$s]}" -tls1_2)
    H1["$s|$r"]=$(h2load_rps "${PORT[$s]}" --h1)
    H2["$s|$r"]=$(h2load_rps "${PORT[$s]}" -m "$STREAMS")
    log "round $r $s: handshakes/s TLS 1.3 ${HS3["$s|$r"]}, TLS 1.2 ${HS2["$s|$r"]}; req/s h1 ${H1["$s|$r"]}, h2 ${H2["$s|$r"]}"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# profile: perf record -g on ours during one more TLS 1.3 handshake run, HTTP/1.1 and HTTP/2 run
perf_top() { # DATA -> the top 25 symbols by self time
  { perf report -i "$1" --no-children --fields overhead,sym --stdio -g none 2>/dev/null || true; } |
    grep -vE '^(#|$)' | sed 's/ *$//' | awk 'NR <= 25'
}
if ((PROFILE)); then
  for what in handshakes h1 h2; do
    perf record -g -o "$T/out/perf-$what.data" -p "$RD_PID" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
    if [[ $what == handshakes ]]; then
      handshakes "$RD_TLS_PORT" -tls1_3 >/dev/null
    elif [[ $what == h1 ]]; then
      h2load_rps "$RD_TLS_PORT" --h1 >/dev/null
    else
      h2load_rps "$RD_TLS_PORT" -m "$STREAMS" >/dev/null
    fi
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
  done
fi

# median MAP-NAME SERVER: the median of the rounds
median() {
  local -n m=$1
  local r
  for r in $(seq 1 "$ROUNDS"); do echo "${m["$2|$r"]}"; done | sort -n |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
every() { # MAP-NAME SERVER: each round's value
  local -n m=$1
  local r out=()
  for r in $(seq 1 "$ROUNDS"); do out+=("${m["$2|$r"]}"); done
  echo "${out[*]}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { # LABEL MAP-NAME
  local n h o
  n=$(median "$2" nginx)
  h=$(median "$2" h2o)
  o=$(median "$2" ours)
  echo "| $1 | $n | $h | $o | $(ratio "$o" "$n") | $(ratio "$o" "$h") |"
}

commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$RESULTS_DIR"
REPORT="$RESULTS_DIR/tls-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# TLS bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) CPUs, $(uname -r); load average $LOAD_BEFORE before, $LOAD_AFTER after."
  echo "$(openssl version). nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (2 workers);"
  echo "h2o $({ "$H2O" --version 2>&1 || true; } | head -1 | sed 's/^h2o version //') (2 threads);"
  echo "replideploy $commit: $("$RD_BIN" version 2>/dev/null | head -1) ($RD_BIN, built $(date -u -r "$RD_BIN" '+%Y-%m-%d %H:%M UTC')) with its defaults (2 I/O threads)."
  [[ "$RD_BIN" == */debug/* ]] &&
    echo "**Debug build (ASan + UBSan): replideploy's numbers are not representative; use a release build.**"
  echo "Same ECDSA P-256 certificate (leaf only), TLS 1.2 and 1.3, HTTP/1.1 and h2 by ALPN; a 2 KB page."
  echo "Handshakes: openssl s_time -new for ${DURATION} s (one client, full handshakes, no resumption)."
  echo "Requests: h2load -n $REQUESTS -c $CLIENTS (HTTP/2: -m $STREAMS), one full handshake per client."
  echo "$ROUNDS interleaved rounds; medians."
  echo
  echo "| measure | nginx | h2o | replideploy | ours / nginx | ours / h2o |"
  echo "|---|---:|---:|---:|---:|---:|"
  row "TLS 1.3 handshakes/s" HS3
  row "TLS 1.2 handshakes/s" HS2
  row "HTTPS req/s, HTTP/1.1" H1
  row "HTTPS req/s, HTTP/2" H2
  echo
  echo "Every round:"
  echo
  echo "| measure | nginx | h2o | replideploy |"
  echo "|---|---|---|---|"
  for m in HS3 HS2 H1 H2; do
    echo "| $m | $(every "$m" nginx) | $(every "$m" h2o) | $(every "$m" ours) |"
  done
  echo
  echo "(HS3, HS2: TLS 1.3 and 1.2 handshakes/s; H1, H2: req/s over HTTP/1.1 and HTTP/2.)"
  if ((PROFILE)); then
    for what in handshakes h1 h2; do
      echo
      echo "Profile of replideploy during one more run ($what), self time by symbol:"
      echo
      echo '```'
      perf_top "$T/out/perf-$what.data"
      echo '```'
    done
  fi
  echo
  echo "No thresholds: a report. Clients and servers share the machine."
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT"
