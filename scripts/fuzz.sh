#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang 14 with ASan: the `fuzz` preset) and runs
# each for SECONDS (default 30) from its seed corpus in tests/fuzz/<target>/. New inputs go to
# a scratch copy: the committed corpus only changes by hand. A crash, a leak or a failed check
# stops with the input saved under build/fuzz/crashes/ and exit status 1.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
scripts/install-deps.sh --fuzz
[[ -f build/fuzz/build.ninja ]] || cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -- -j"$(nproc)"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for dir in tests/fuzz/*/; do targets+=("$(basename "$dir")"); done
fi
crashes=build/fuzz/crashes
mkdir -p "$crashes"
scratch=$(mktemp -d /tmp/replideploy-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

printf '%-20s %12s %8s %s\n' target executions corpus result
failed=0
for target in "${targets[@]}"; do
  binary=build/fuzz/fuzz/$target
  [[ -x $binary ]] || { echo "no fuzz target $target" >&2; exit 2; }
  mkdir -p "$scratch/$target"
  log=$scratch/$target.log
  status=ok
  # -rss_limit_mb: ASan's shadow memory counts; -timeout: one input may take 10 s at most.
  if ! "$binary" "$scratch/$target" "tests/fuzz/$target" -max_total_time="$seconds" \
      -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix="$crashes/$target-" >"$log" 2>&1; then
    status="FAILED (see below)"
    failed=1
  fi
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  corpus=$(find "$scratch/$target" -type f | wc -l)
  printf '%-20s %12s %8s %s\n' "$target" "${executions:-0}" "$corpus" "$status"
  if [[ $status != ok ]]; then
    grep -E 'ERROR|SUMMARY|Test unit written|runtime error|==[0-9]+==' "$log" | head -20 >&2 || tail -30 "$log" >&2
  fi
done
exit "$failed"
