#!/usr/bin/env bash
# The edge's cost of skew protection (docs/edge.md) on a 2 KB page and a 2 KB asset: one
# `replideploy serve`, a site without it and one with it (two deploys, so that a cookie pins the
# earlier one), wrk -t2 -c64 per case, ROUNDS rounds. A report, not a test.
#
#   bench/edge/skew_cost.sh            # DURATION=8 s per case, ROUNDS=2
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-2}
ensure_binary
bench_init skewcost
trap bench_cleanup EXIT
T=$BENCH_TMP
PORT=$(free_port)
start_replideploy "$PORT" "$T/data" "$T/serve.log"
rd_account
page() { # TITLE -> about 2 KB of HTML
  local out="<!doctype html><html><head><title>$1</title><script src=/app.js></script></head><body>"
  while ((${#out} < 2000)); do out+="<p>$1 lorem ipsum dolor sit amet consectetur adipiscing elit</p>"; done
  printf '%s</body></html>\n' "$out"
}
asset() { local out="// $1"; while ((${#out} < 2000)); do out+=$'\n'"console.log('$1 lorem ipsum dolor sit amet');"; done; printf '%s\n' "$out"; }
mk() { mkdir -p "$T/$1"; page "$1" >"$T/$1/index.html"; asset "$1" >"$T/$1/app.js"; }
for s in off on; do
  rd_create_site "$s"
  mk "$s-1"; rd_deploy "$T/$s-1" "$s" "$T/d-$s-1.log"
done
rd_api PATCH /api/v1/sites/on '{"skew_protection_max_age":3600}' >/dev/null
OLD=$(curl -fsS -D - -o /dev/null -H 'Host: on.localhost' "http://127.0.0.1:$PORT/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-replideploy-deploy"{print $2}')
mk on-2; rd_deploy "$T/on-2" on "$T/d-on-2.log"
NEW=$(curl -fsS -D - -o /dev/null -H 'Host: on.localhost' "http://127.0.0.1:$PORT/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-replideploy-deploy"{print $2}')
[[ "$OLD" != "$NEW" && -n "$OLD" ]] || die "no second deploy"
pinned=$(curl -fsS -D - -o /dev/null -H 'Host: on.localhost' -H "Cookie: __rd_dpl=$OLD" "http://127.0.0.1:$PORT/app.js" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-replideploy-deploy"{print $2}')
[[ "$pinned" == "$OLD" ]] || die "the cookie did not pin ($pinned)"
cases=("off /|off.localhost|/|" "on / (sets the cookie)|on.localhost|/|" "off /app.js|off.localhost|/app.js|" "on /app.js, no cookie|on.localhost|/app.js|" "on /app.js, cookie of the live deploy|on.localhost|/app.js|__rd_dpl=$NEW" "on /app.js, pinned to the earlier deploy|on.localhost|/app.js|__rd_dpl=$OLD")
declare -A results
for r in $(seq 1 "$ROUNDS"); do
  for c in "${cases[@]}"; do
    IFS='|' read -r label host path cookie <<<"$c"
    args=(-t2 -c64 "-d${DURATION}s" -H "Host: $host" -H "Accept-Encoding: identity")
    [[ -n "$cookie" ]] && args+=(-H "Cookie: theme=dark; $cookie")
    rps=$(wrk "${args[@]}" "http://127.0.0.1:$PORT$path" | awk '/Requests\/sec/{print int($2)}')
    results[$label]+="$rps "
    log "$label: $rps req/s"
  done
done
echo "| case | req/s per round |"
echo "|---|---|"
for c in "${cases[@]}"; do IFS='|' read -r label _ <<<"$c"; echo "| $label | ${results[$label]}|"; done
