#!/usr/bin/env bash
# Push -> live for a plain static site through the platform's git remote: the time from the
# start of `git push` until the edge serves the pushed commit, for a first push and for a
# one-line change. Needs root (builds run in the bubblewrap sandbox as a build user). Prints a
# table and writes bench/results/builds-<date>.md. A report, not a test.
#   REPLIDEPLOY_BIN=path/to/replideploy bench/builds/run.sh     (default: build/release)
#   RUNS=5 (pushes of a change to time)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
bench_init builds
ensure_binary
ensure_packages jq git bubblewrap
[[ $(id -u) -eq 0 ]] || die "builds run as a separate build user: run as root"

RUNS=${RUNS:-5}
port=$(free_port)
start_replideploy "$port" "$BENCH_TMP/rd-data" "$BENCH_TMP/rd.log"
rd_account
rd_create_site pushbench

repo=$BENCH_TMP/repo
mkdir -p "$repo"
cd "$repo"
git init -q -b main
printf '[build]\n  command = "mkdir -p out && cp -r *.html assets out/"\n  publish = "out"\n' >netlify.toml
mkdir -p assets
for i in $(seq 1 20); do printf 'body{--v:%s}\n' "$i" >"assets/s$i.css"; done
remote="http://x:$RD_TOKEN@127.0.0.1:$port/git/pushbench.git"

# push_and_wait VERSION: pushes index.html saying VERSION, prints ms until the edge serves it.
push_and_wait() {
  printf '<h1>%s</h1>\n' "$1" >index.html
  git add -A
  git -c user.email=b@e -c user.name=bench commit -qm "$1"
  local start
  start=$(now_ms)
  git push -q "$remote" main
  for _ in $(seq 1 600); do
    if curl -fsS -H 'Host: pushbench.localhost' "$RD_URL/" 2>/dev/null | grep -q "$1"; then
      echo $(($(now_ms) - start))
      return
    fi
    sleep 0.02
  done
  die "commit $1 never went live"
}

first=$(push_and_wait v0)
log "first push -> live: ${first} ms"
times=()
for r in $(seq 1 "$RUNS"); do
  times+=("$(push_and_wait "v$r")")
  log "change $r -> live: ${times[-1]} ms"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
worst=$(echo "$sorted" | tail -1)

# A Vite site (vite from the npm registry): a cold build (empty cache), then a warm one.
rd_create_site vitebench
vite=$BENCH_TMP/vite
mkdir -p "$vite"
cd "$vite"
git init -q -b main
printf '{"name":"v","private":true,"scripts":{"build":"vite build"},"devDependencies":{"vite":"7.3.0"}}\n' >package.json
printf '<!doctype html><div id=app></div><script type=module src=/main.js></script>\n' >index.html
vite_remote="http://x:$RD_TOKEN@127.0.0.1:$port/git/vitebench.git"
vite_push() {
  printf 'document.getElementById("app").textContent = "%s";\n' "$1" >main.js
  git add -A
  git -c user.email=b@e -c user.name=bench commit -qm "$1"
  local start
  start=$(now_ms)
  git push -q "$vite_remote" main
  for _ in $(seq 1 1500); do
    if curl -fsS -H 'Host: vitebench.localhost' "$RD_URL/" 2>/dev/null | grep -q 'assets/index-'; then
      local js
      js=$(curl -fsS -H 'Host: vitebench.localhost' "$RD_URL/" | grep -o '/assets/index-[^"]*\.js')
      if curl -fsS -H 'Host: vitebench.localhost' "$RD_URL$js" | grep -q "$1"; then
        echo $(($(now_ms) - start))
        return
      fi
    fi
    sleep 0.1
  done
  die "vite commit $1 never went live"
}
vite_cold=$(vite_push cold-build)
log "vite, cold cache: ${vite_cold} ms"
vite_warm=$(vite_push warm-build)
log "vite, warm cache: ${vite_warm} ms"

out_dir="$BENCH_ROOT/bench/results"
mkdir -p "$out_dir"
report="$out_dir/builds-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# Push -> live, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- replideploy $(git -C "$BENCH_ROOT" rev-parse --short HEAD), $RD_BIN; SQLite, local blobs, 127.0.0.1"
  echo "- site: index.html + 20 small CSS files, built by \`cp\` in the bubblewrap sandbox"
  echo "- time from the start of \`git push\` until \`curl\` of the site shows the pushed commit"
  echo
  echo "| push | ms |"
  echo "|---|---:|"
  echo "| first push (creates the repository) | $first |"
  echo "| one-line change, median of $RUNS | $median |"
  echo "| one-line change, worst of $RUNS | $worst |"
  echo "| Vite site (npm install + vite build), cold cache | $vite_cold |"
  echo "| Vite site, warm cache (node_modules restored) | $vite_warm |"
} | tee "$report"
log "written to $report"
