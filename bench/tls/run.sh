#!/usr/bin/env bash
# TLS benchmark: replideploy's HTTPS listener beside nginx (Debian's), same certificate, same
# 2 KB page, same run. Full TLS handshakes per second (openssl s_time -new) and HTTPS requests
# per second with h2load over HTTP/1.1 and HTTP/2, reported as ratios. A report, not a test: it
# never fails on a number.
#
#   bench/tls/run.sh                   # DURATION=10 s per run
#   DURATION=5 bench/tls/run.sh
#
# Environment: DURATION (s of openssl s_time, default 10), REQUESTS (per h2load run, 50000),
# CLIENTS (h2load -c, 16), STREAMS (h2load -m for h2, 10), REPLIDEPLOY_BIN, KEEP_TMP=1,
# RESULTS_DIR (default bench/results). (h2load -D hangs with --h1 in Debian's 1.52: -n it is.)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

DURATION=${DURATION:-10}
REQUESTS=${REQUESTS:-50000}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-10}
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
ensure_packages "$nginx_pkg" nghttp2-client openssl curl jq
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ensure_binary

bench_init tls
T=$BENCH_TMP
mkdir -p "$T/site" "$T/pki" "$T/nginx" "$T/out"

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

RD_PORT=$(free_port)
RD_TLS_PORT=$(free_port)
while [[ $RD_TLS_PORT == "$RD_PORT" || $RD_TLS_PORT == "$NGINX_PORT" ]]; do RD_TLS_PORT=$(free_port); done
RD_SERVE_ARGS="--listen-tls 127.0.0.1:$RD_TLS_PORT --tls-cert $T/pki/site.crt --tls-key $T/pki/site.key --tls-default-name $HOST ${RD_SERVE_ARGS:-}"
start_replideploy "$RD_PORT" "$T/rd-data" "$T/replideploy.log"
wait_for_port "$NGINX_PORT" || { cat "$T/nginx/error.log" >&2; exit 1; }
wait_for_port "$RD_TLS_PORT" || { cat "$T/replideploy.log" >&2; exit 1; }

log "deploying the page"
rd_account
rd_create_site "$SITE_NAME"
rd_deploy "$T/site" "$SITE_NAME" "$T/out/deploy.log"

declare -A PORT=([nginx]=$NGINX_PORT [ours]=$RD_TLS_PORT)
for s in nginx ours; do
  for proto in --http1.1 --http2; do
    body=$(curl -fsS "$proto" --cacert "$T/pki/ca.pem" --resolve "$HOST:${PORT[$s]}:127.0.0.1" \
      "https://$HOST:${PORT[$s]}/")
    [[ "$body" == "$(cat "$T/site/index.html")" ]] || die "$s $proto: wrong body"
  done
done
log "both servers answer the page over HTTP/1.1 and HTTP/2"

# ---------------------------------------------------------------------------------------------
# measurement
declare -A HS H1 H2

handshakes() { # port -> full handshakes per second (TLS 1.3, no resumption)
  local out n secs
  out=$(openssl s_time -connect "127.0.0.1:$1" -new -time "$DURATION" 2>/dev/null || true)
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
    log "h2load on $port $*: errors"; grep -E 'requests:|status codes' <<<"$out" >&2 || true
    echo "errors"
    return
  fi
  grep -m1 -oE 'finished in [0-9.]+[a-z]+, [0-9.]+ req/s' <<<"$out" | awk '{print $4}' || echo 0
}

for s in nginx ours; do
  log "$s: handshakes"
  HS[$s]=$(handshakes "${PORT[$s]}")
  log "$s: HTTP/1.1"
  H1[$s]=$(h2load_rps "${PORT[$s]}" --h1)
  log "$s: HTTP/2"
  H2[$s]=$(h2load_rps "${PORT[$s]}" -m "$STREAMS")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

mkdir -p "$RESULTS_DIR"
REPORT="$RESULTS_DIR/tls-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# TLS bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) CPUs, $(uname -r). $(openssl version). nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///')."
  echo "replideploy: $("$RD_BIN" version 2>/dev/null | head -1) ($RD_BIN)."
  [[ "$RD_BIN" == */debug/* ]] &&
    echo "**Debug build (ASan + UBSan): replideploy's numbers are not representative; use a release build.**"
  echo "Same ECDSA P-256 certificate; a 2 KB page; h2load -n $REQUESTS -c $CLIENTS (HTTP/2: -m $STREAMS)."
  echo "Handshakes: openssl s_time -new for ${DURATION} s (one client, full handshakes, no resumption)."
  echo
  echo "| measure | nginx | replideploy | replideploy / nginx |"
  echo "|---|---:|---:|---:|"
  echo "| TLS handshakes/s | ${HS[nginx]} | ${HS[ours]} | $(ratio "${HS[ours]}" "${HS[nginx]}") |"
  echo "| HTTPS req/s, HTTP/1.1 | ${H1[nginx]} | ${H1[ours]} | $(ratio "${H1[ours]}" "${H1[nginx]}") |"
  echo "| HTTPS req/s, HTTP/2 | ${H2[nginx]} | ${H2[ours]} | $(ratio "${H2[ours]}" "${H2[nginx]}") |"
  echo
  echo "No thresholds: a report. nginx runs 2 worker processes; replideploy its defaults"
  echo "(2 I/O threads). Client and servers share the machine."
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT"
