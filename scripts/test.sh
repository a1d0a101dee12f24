#!/usr/bin/env bash
# Sets up and runs every test: installs what is missing, builds the debug preset (ASan + UBSan,
# -Werror), starts a throwaway PostgreSQL 15 on loopback, runs ctest on SQLite and PostgreSQL,
# stops PostgreSQL again (also on failure or Ctrl-C), then runs each libFuzzer target for
# REPLIDEPLOY_FUZZ_SECONDS (30; 0 skips them; scripts/fuzz.sh). Extra arguments go to ctest
# (e.g. -R Sites), and then the fuzz targets are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
scripts/check-deps.sh
[[ -f build/debug/build.ninja ]] || cmake --preset debug
cmake --build --preset debug -- -j"$(nproc)"
scripts/build-dashboard.sh

pg_dir=$(mktemp -d /tmp/replideploy-pg.XXXXXX)
trap 'tests/postgres.sh stop "$pg_dir" || true' EXIT INT TERM
REPLIDEPLOY_TEST_POSTGRES_URL=$(tests/postgres.sh start "$pg_dir")
export REPLIDEPLOY_TEST_POSTGRES_URL
export REPLIDEPLOY_REQUIRE_POSTGRES=1
echo "PostgreSQL for tests: $REPLIDEPLOY_TEST_POSTGRES_URL"

ctest --preset debug -j"$(nproc)" "$@"

fuzz_seconds=${REPLIDEPLOY_FUZZ_SECONDS:-30}
if [[ $# -eq 0 && $fuzz_seconds -gt 0 ]]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
