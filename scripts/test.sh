#!/usr/bin/env bash
# Sets up and runs every test: installs what is missing, builds the debug preset (ASan + UBSan,
# -Werror), starts a throwaway PostgreSQL 15 on loopback, runs ctest on SQLite and PostgreSQL,
# and stops PostgreSQL again (also on failure or Ctrl-C). Extra arguments go to ctest
# (e.g. -R Sites).
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
