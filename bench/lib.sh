# shellcheck shell=bash
# Shared helpers for bench/*/run.sh. Source it; it defines functions and a few variables and
# starts nothing by itself. Everything it starts is recorded in BENCH_PIDS and stopped by
# bench_cleanup (installed as the EXIT trap by bench_init).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RD_BIN=${REPLIDEPLOY_BIN:-$BENCH_ROOT/build/release/replideploy}
BENCH_PIDS=()
BENCH_TMP=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_cleanup() {
  local rc=$?
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    # give each a few seconds, then insist
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$BENCH_TMP" && -d "$BENCH_TMP" ]]; then
    if [[ "${KEEP_TMP:-0}" == 1 || $rc -ne 0 ]]; then
      log "temp dir kept: $BENCH_TMP"
    else
      rm -rf "$BENCH_TMP"
    fi
  fi
  exit "$rc"
}

# forget_pid PID: a process we waited for already; cleanup must not signal its (reusable) pid.
forget_pid() {
  local keep=() p
  for p in "${BENCH_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  BENCH_PIDS=("${keep[@]}")
}

# bench_init NAME: temp dir (world-readable, so servers that drop privileges can read it), trap.
bench_init() {
  BENCH_TMP=$(mktemp -d "/tmp/replideploy-bench-$1.XXXXXX")
  chmod 755 "$BENCH_TMP"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# ensure_packages PKG...: apt-get install those not installed yet (checked with dpkg-query).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  # Debian starts services on install; we only want the binaries. policy-rc.d exit 101 says no.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { $sudo apt-get update >&2 &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
    rc=$?
  ((made_policy)) && $sudo rm -f /usr/sbin/policy-rc.d
  return $rc
}

# free_port: a loopback TCP port that no socket uses right now (any state), below the ephemeral
# range so that no outgoing connection takes it between this check and the server's bind.
free_port() {
  local port used low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  ((low > 11000)) || low=32768
  used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://')
  for _ in $(seq 1 200); do
    port=$((10000 + RANDOM % (low - 10000)))
    if ! grep -qx "$port" <<<"$used"; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# wait_for_port PORT [SECONDS]
wait_for_port() {
  local port=$1 secs=${2:-20}
  for _ in $(seq 1 $((secs * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$port after ${secs}s"
}

ensure_binary() {
  [[ -x "$RD_BIN" ]] || die "$RD_BIN not found: build it with 'cmake --preset release && cmake --build --preset release -j2' (or set REPLIDEPLOY_BIN)"
}

# start_replideploy PORT DATA_DIR LOG [PREFIX...]: sets RD_PID, RD_URL. PREFIX is a command to run
# the server under (valgrind and its options, say); RD_START_SECS (20) bounds the wait for it.
start_replideploy() {
  local port=$1 data=$2 logf=$3
  shift 3
  mkdir -p "$data"
  local extra=()
  [[ -n "${RD_SERVE_ARGS:-}" ]] && read -r -a extra <<<"$RD_SERVE_ARGS"
  "$@" "$RD_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" --log-level "${RD_LOG_LEVEL:-warn}" \
    "${extra[@]}" >"$logf" 2>&1 &
  RD_PID=$!
  BENCH_PIDS+=("$RD_PID")
  RD_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 $((${RD_START_SECS:-20} * 10))); do
    grep -qs "listening on" "$logf" && break
    kill -0 "$RD_PID" 2>/dev/null || { cat "$logf" >&2; die "replideploy exited at start"; }
    sleep 0.1
  done
  grep -qs "listening on" "$logf" || { cat "$logf" >&2; die "replideploy did not say 'listening on'"; }
}

# rd_account: registers a user, logs in, makes an API token. Sets RD_TOKEN.
rd_account() {
  local email="bench-$RANDOM@example.com" pass="bench-password-123" jwt
  curl -fsS "$RD_URL/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$pass\"}" >/dev/null
  jwt=$(curl -fsS "$RD_URL/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$pass\"}" | jq -r .token)
  [[ -n "$jwt" && "$jwt" != null ]] || die "login gave no token"
  RD_TOKEN=$(curl -fsS "$RD_URL/api/v1/tokens" -H "Authorization: Bearer $jwt" \
    -H 'Content-Type: application/json' -d '{"name":"bench"}' | jq -r .token)
  [[ -n "$RD_TOKEN" && "$RD_TOKEN" != null ]] || die "no API token"
}

rd_api() { # METHOD PATH [BODY]
  local args=(-fsS -X "$1" "$RD_URL$2" -H "Authorization: Bearer $RD_TOKEN")
  [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}

rd_create_site() { rd_api POST /api/v1/sites "{\"name\":\"$1\"}" >/dev/null; }

# rd_deploy DIR SITE OUTFILE: the CLI deploy (--prod), its combined output kept in OUTFILE, each
# line prefixed with the milliseconds since the command started ("1234 Uploading ...").
# The CLI's deploy cache (docs/cli.md, "Redeploys") lives in the bench's temp dir, so a run
# starts without one and its redeploys use it as a user's would.
rd_deploy() {
  local start rc=0
  start=$(now_ms)
  XDG_CACHE_HOME="$BENCH_TMP/cli-cache" "$RD_BIN" deploy "$1" --site "$2" --prod --api-url "$RD_URL" --auth-token "$RD_TOKEN" 2>&1 |
    while IFS= read -r line; do printf '%s %s\n' "$(($(now_ms) - start))" "$line"; done >"$3" || rc=$?
  ((rc == 0)) || { cat "$3" >&2; die "replideploy deploy $1 failed"; }
}

# deploy_phase_ms OUTFILE REGEX: the timestamp of the first line matching REGEX (empty if none).
deploy_phase_ms() { grep -E -m1 "^[0-9]+ .*($2)" "$1" | cut -d' ' -f1 || true; }

# cpu_ticks PID...: utime+stime (clock ticks) summed over the given processes (all threads).
cpu_ticks() {
  local total=0 pid rest
  local -a f
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    rest=$(<"/proc/$pid/stat")
    rest=${rest##*) } # drop "pid (comm) "; comm may hold spaces
    # fields after comm: state(3) ppid(4) ... utime(14) stime(15) -> index 11, 12 here
    read -r -a f <<<"$rest"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# process_tree PID: PID and all its descendants.
process_tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    process_tree "$child"
  done
}

now_ms() { date +%s%3N; }
