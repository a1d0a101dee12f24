#!/usr/bin/env bash
# ACME bench: how long replideploy's in-process client takes to get a certificate from Debian's
# Pebble, beside Debian's lego on the same Pebble, the same Knot and the same names, in the same
# run: HTTP-01 (one name) and DNS-01 by RFC 2136 (a wildcard and its apex). Medians of ROUNDS
# interleaved rounds, as ratios. A report, not a test: it never fails on a number.
#
#   bench/acme/run.sh              # 5 rounds: ~2 min
#   ROUNDS=3 bench/acme/run.sh
#
# Environment: ROUNDS (5), REPLIDEPLOY_BIN, KEEP_TMP=1, RESULTS_DIR (default bench/results).
# Everything is on 127.0.0.1. Pebble runs with PEBBLE_VA_NOSLEEP=1 (no random 0-5 s sleep before
# it validates) and PEBBLE_AUTHZREUSE=0 (every order validates afresh), for both clients.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

ROUNDS=${ROUNDS:-5}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/bench/results}
ZONE=acme.test
TSIG_NAME=acme-key

ensure_packages pebble knot knot-dnsutils lego openssl curl jq
ensure_binary
bench_init acme
T=$BENCH_TMP
mkdir -p "$T/pebble" "$T/knot/zones" "$T/knot/run" "$T/knot/db" "$T/lego" "$T/out"

# ---------------------------------------------------------------------------------------------
# Knot: the zone acme.test (every name -> 127.0.0.1), RFC 2136 updates signed with a TSIG key.
# Pebble resolves through it; both clients add their DNS-01 records to it.
KNOT_PORT=$(free_port)
TSIG_SECRET=$(openssl rand -base64 32)
cat >"$T/knot/zones/$ZONE.zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 60
@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 127.0.0.1
@ A 127.0.0.1
* A 127.0.0.1
EOF
cat >"$T/knot/knot.conf" <<EOF
server:
  rundir: "$T/knot/run"
  listen: 127.0.0.1@$KNOT_PORT
database:
  storage: "$T/knot/db"
log:
  - target: stderr
    any: warning
key:
  - id: $TSIG_NAME
    algorithm: hmac-sha256
    secret: $TSIG_SECRET
acl:
  - id: update
    key: $TSIG_NAME
    action: update
template:
  - id: default
    storage: "$T/knot/zones"
    file: "%s.zone"
    zonefile-sync: -1
zone:
  - domain: $ZONE
    acl: update
EOF
/usr/sbin/knotd -c "$T/knot/knot.conf" >"$T/knot/knot.log" 2>&1 &
BENCH_PIDS+=("$!")
for _ in $(seq 1 100); do
  [[ -n $(kdig @127.0.0.1 -p "$KNOT_PORT" +short +timeout=1 SOA "$ZONE" 2>/dev/null) ]] && break
  sleep 0.1
done
[[ -n $(kdig @127.0.0.1 -p "$KNOT_PORT" +short +timeout=1 SOA "$ZONE") ]] ||
  { cat "$T/knot/knot.log" >&2; die "knotd does not answer"; }

# ---------------------------------------------------------------------------------------------
# Pebble: its API over HTTPS with a certificate made here; HTTP-01 validations go to
# <name>:HTTP_PORT, where lego's own responder or replideploy's edge listens (one at a time).
PEBBLE_PORT=$(free_port)
PEBBLE_MGMT=$(free_port)
PEBBLE_TLS=$(free_port)
HTTP_PORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -days 2 \
  -keyout "$T/pebble/tls.key" -out "$T/pebble/tls.pem" 2>/dev/null
cat >"$T/pebble/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT",
  "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT",
  "certificate": "$T/pebble/tls.pem", "privateKey": "$T/pebble/tls.key",
  "httpPort": $HTTP_PORT, "tlsPort": $PEBBLE_TLS, "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble \
  -config "$T/pebble/pebble.json" -dnsserver "127.0.0.1:$KNOT_PORT" >"$T/pebble/pebble.log" 2>&1 &
BENCH_PIDS+=("$!")
wait_for_port "$PEBBLE_PORT" || { cat "$T/pebble/pebble.log" >&2; exit 1; }
DIRECTORY="https://127.0.0.1:$PEBBLE_PORT/dir"
CA_BUNDLE="$T/pebble/tls.pem"
curl -fsS --cacert "$CA_BUNDLE" "$DIRECTORY" >/dev/null || die "Pebble's directory does not answer"

# ---------------------------------------------------------------------------------------------
# the runs; each prints "total_ms" or "total_ms span_ms wait_ms" and fails on a failed issuance

# lego_run NAME ARGS...: one `lego run` with a fresh account (new --path), wall time in ms.
lego_run() {
  local name=$1 start end rc=0
  shift
  start=$(now_ms)
  LEGO_CA_CERTIFICATES=$CA_BUNDLE timeout 300 lego --server "$DIRECTORY" --accept-tos \
    --email bench@$ZONE --key-type ec256 --path "$T/lego/$name" "$@" run \
    >"$T/out/lego-$name.log" 2>&1 || rc=$?
  end=$(now_ms)
  if ((rc != 0)) || ! compgen -G "$T/lego/$name/certificates/*.crt" >/dev/null; then
    cat "$T/out/lego-$name.log" >&2
    die "lego $name failed"
  fi
  echo $((end - start))
}

lego_http() { # ROUND
  lego_run "lh$1" --domains "lh$1.$ZONE" --http --http.port "127.0.0.1:$HTTP_PORT"
}

lego_dns() { # ROUND
  # --dns.resolvers: lego finds the zone and checks the record at Knot (its recursive
  # resolvers would not know acme.test); --dns.disable-cp: no second check at the zone's NS
  # records' port 53 (Knot is the only server, and the one just asked). lego solves DNS-01
  # challenges of rfc2136 one after the other, RFC2136_SEQUENCE_INTERVAL apart (default 60 s):
  # 1 s here.
  RFC2136_NAMESERVER=127.0.0.1:$KNOT_PORT RFC2136_TSIG_KEY=$TSIG_NAME \
    RFC2136_TSIG_SECRET=$TSIG_SECRET RFC2136_TSIG_ALGORITHM=hmac-sha256. \
    RFC2136_SEQUENCE_INTERVAL=${LEGO_SEQUENCE_INTERVAL:-1} RFC2136_POLLING_INTERVAL=1 \
    lego_run "ld$1" --domains "*.ld$1.$ZONE" --domains "ld$1.$ZONE" --dns rfc2136 \
    --dns.resolvers "127.0.0.1:$KNOT_PORT" --dns.disable-cp
}

iso_ms() { date -u -d "$1" +%s%3N; }

# log_ms LOG REGEX: the timestamp (ms) of the first log line matching REGEX, empty if none.
log_ms() {
  local ts
  ts=$(grep -E -m1 "$2" "$1" | cut -d' ' -f1 || true)
  [[ -n "$ts" ]] && iso_ms "$ts"
}

ours_start() { # NAME EXTRA-ARGS...: a fresh replideploy serve on HTTP_PORT, logging at info
  local name=$1
  shift
  RD_LOG_LEVEL=info RD_SERVE_ARGS="--acme-directory $DIRECTORY --acme-ca-bundle $CA_BUNDLE --acme-email bench@$ZONE --dns-resolver 127.0.0.1:$KNOT_PORT --edge-ipv4 127.0.0.1 $*" \
    start_replideploy "$HTTP_PORT" "$T/rd-$name" "$T/out/rd-$name.log"
}

ours_stop() {
  kill -TERM "$RD_PID" 2>/dev/null || true
  wait "$RD_PID" 2>/dev/null || true
  forget_pid "$RD_PID"
}

# ours_span LOG: ms from "acme: issuing" to "acme: issued" in our log.
ours_span() {
  local a b
  a=$(log_ms "$1" 'acme: issuing ')
  b=$(log_ms "$1" 'acme: issued ')
  [[ -n "$a" && -n "$b" ]] || { cat "$1" >&2; die "no 'acme: issuing' / 'acme: issued' in $1"; }
  echo $((b - a))
}

ours_http() { # ROUND: a custom domain added through the API until the API says active
  local name="oh$1.$ZONE" logf="$T/out/rd-oh$1.log" t0 t1 state=""
  ours_start "oh$1"
  rd_account
  rd_create_site "bench$1"
  t0=$(now_ms)
  rd_api POST "/api/v1/sites/bench$1/domains" "{\"name\":\"$name\"}" >/dev/null
  rd_api POST "/api/v1/sites/bench$1/domains/$name/check" >/dev/null || true
  for _ in $(seq 1 6000); do
    state=$(rd_api GET "/api/v1/sites/bench$1/domains/$name" | jq -r .state)
    [[ $state == active || $state == failed ]] && break
    sleep 0.02
  done
  t1=$(now_ms)
  [[ $state == active ]] || { cat "$logf" >&2; die "our HTTP-01 issuance for $name: $state"; }
  ours_stop
  local span issuing
  span=$(ours_span "$logf")
  issuing=$(log_ms "$logf" 'acme: issuing ')
  echo "$((t1 - t0)) $span $((issuing - t0))"
}

ours_dns() { # ROUND: the base domain's wildcard (--acme-base-wildcard), from process start
  local base="od$1.$ZONE" logf="$T/out/rd-od$1.log" t0 t1
  t0=$(now_ms)
  ours_start "od$1" --base-domain "$base" --acme-base-wildcard 1 \
    --dns-update-server "127.0.0.1:$KNOT_PORT" --dns-update-zone "$ZONE" \
    --dns-update-tsig "$TSIG_NAME:hmac-sha256:$TSIG_SECRET"
  for _ in $(seq 1 3000); do
    grep -qE 'acme: issued |acme: issuing .* failed' "$logf" && break
    kill -0 "$RD_PID" 2>/dev/null || break
    sleep 0.02
  done
  grep -q 'acme: issued ' "$logf" || { cat "$logf" >&2; die "our DNS-01 issuance for *.$base failed"; }
  t1=$(log_ms "$logf" 'acme: issued ')
  ours_stop
  local span issuing
  span=$(ours_span "$logf")
  issuing=$(log_ms "$logf" 'acme: issuing ')
  echo "$((t1 - t0)) $span $((issuing - t0))"
}

# ---------------------------------------------------------------------------------------------
declare -A RES # "kind|round" -> "total [span wait]"
KINDS=(lego_http ours_http lego_dns ours_dns)
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  order=("${KINDS[@]}")
  # interleave: every other round runs ours first
  ((r % 2 == 0)) && order=(ours_http lego_http ours_dns lego_dns)
  for k in "${order[@]}"; do
    RES["$k|$r"]=$("$k" "$r")
    log "round $r $k: ${RES["$k|$r"]}"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# median KIND FIELD(1-based): median over the rounds, in ms
median() {
  local r
  for r in $(seq 1 "$ROUNDS"); do
    read -r -a f <<<"${RES["$1|$r"]}"
    echo "${f[$(($2 - 1))]}"
  done | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sec() { awk -v m="$1" 'BEGIN { printf "%.2f s", m / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
all() { # KIND FIELD: every round's value, in s
  local r out=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r -a f <<<"${RES["$1|$r"]}"
    out+=("$(awk -v m="${f[$(($2 - 1))]}" 'BEGIN { printf "%.2f", m / 1000 }')")
  done
  echo "${out[*]}"
}

LH=$(median lego_http 1) OH=$(median ours_http 1) OHS=$(median ours_http 2) OHW=$(median ours_http 3)
LD=$(median lego_dns 1) OD=$(median ours_dns 1) ODS=$(median ours_dns 2) ODW=$(median ours_dns 3)
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$RESULTS_DIR"
REPORT="$RESULTS_DIR/acme-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# ACME issuance bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) CPUs, $(uname -r); load average $LOAD_BEFORE before, $LOAD_AFTER after."
  echo "replideploy $commit ($RD_BIN, built $(date -u -r "$RD_BIN" '+%Y-%m-%d %H:%M UTC'));"
  echo "lego $(dpkg-query -W -f='${Version}' lego); Pebble $(dpkg-query -W -f='${Version}' pebble);"
  echo "Knot $(dpkg-query -W -f='${Version}' knot). Pebble: PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0."
  echo "$ROUNDS interleaved rounds; medians. Every run registers a new ACME account (lego: a new"
  echo "--path; ours: a new data dir) and makes a new ECDSA P-256 certificate key; each name is new."
  echo
  echo "| challenge | lego | replideploy | replideploy / lego |"
  echo "|---|---:|---:|---:|"
  echo "| HTTP-01, 1 name: lego's run / our issuance | $(sec "$LH") | $(sec "$OHS") | $(ratio "$OHS" "$LH") |"
  echo "| HTTP-01, 1 name: lego's run / our domain added until API says active | $(sec "$LH") | $(sec "$OH") | $(ratio "$OH" "$LH") |"
  echo "| DNS-01 (RFC 2136), wildcard + apex: lego's run / our issuance | $(sec "$LD") | $(sec "$ODS") | $(ratio "$ODS" "$LD") |"
  echo "| DNS-01 (RFC 2136), wildcard + apex: lego's run / our process start until issued | $(sec "$LD") | $(sec "$OD") | $(ratio "$OD" "$LD") |"
  echo
  echo "What each figure covers:"
  echo
  echo "- **lego's run**: wall time of one \`lego run\` process: start-up, account registration,"
  echo "  order, challenges (HTTP-01: its own responder on Pebble's httpPort; DNS-01: RFC 2136"
  echo "  update to Knot, one TXT query to Knot (\`--dns.resolvers\`, \`--dns.disable-cp\`), the"
  echo "  wildcard's and the apex's challenges one after the other with"
  echo "  \`RFC2136_SEQUENCE_INTERVAL=${LEGO_SEQUENCE_INTERVAL:-1}\` s between them), finalize, download, files written."
  echo "- **our issuance**: from our log's \`acme: issuing\` to \`acme: issued\` (replideploy serve,"
  echo "  \`--log-level info\`): account registration (first use), order, challenges (HTTP-01: the"
  echo "  edge answers Pebble from the database; DNS-01: RFC 2136 update to Knot, then polling Knot"
  echo "  every 200 ms until it answers), CSR, finalize, order polling (1 s unless Retry-After),"
  echo "  download. Not the database write of the certificate after it."
  echo "- **domain added until active** (HTTP-01): from the \`POST /api/v1/sites/S/domains\` call"
  echo "  (followed by \`POST .../check\`) until \`GET\` of the domain, polled every 20 ms, says"
  echo "  \`active\`; includes the DNS check and the certs loop's wait (it looks for \`dns_ok\`"
  echo "  domains every 5 s): median $(sec "$OHW") from the call until the issuance started."
  echo "- **process start until issued** (DNS-01): from starting \`replideploy serve"
  echo "  --acme-base-wildcard 1\` on a fresh data dir until \`acme: issued\`; median $(sec "$ODW")"
  echo "  of start-up (database, migrations, roles) before the issuance started."
  echo
  echo "Every round (s):"
  echo
  echo "| run | rounds |"
  echo "|---|---|"
  echo "| lego HTTP-01 | $(all lego_http 1) |"
  echo "| ours HTTP-01 issuance | $(all ours_http 2) |"
  echo "| ours HTTP-01 added until active | $(all ours_http 1) |"
  echo "| lego DNS-01 | $(all lego_dns 1) |"
  echo "| ours DNS-01 issuance | $(all ours_dns 2) |"
  echo "| ours DNS-01 start until issued | $(all ours_dns 1) |"
  echo
  echo "No thresholds: a report. Clients, Pebble and Knot share the machine."
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT"
