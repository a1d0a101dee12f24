#!/usr/bin/env bash
# Installs the Debian 12 packages RepliDeploy needs, and only those that are missing.
# Idempotent: a second run does nothing but check.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also what the test suite needs (PostgreSQL 15, clang 14 and
#                                    libFuzzer for the fuzz targets)
#   scripts/install-deps.sh --fuzz   build and run, and the fuzz targets' compiler
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libpqxx-dev libpq-dev libsqlite3-dev libsodium-dev libssl-dev libcurl4-openssl-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev libbrotli-dev zlib1g-dev libarchive-dev
  # The build sandbox: bubblewrap, its network (slirp4netns, nftables, iproute2) and its
  # disk quota (an ext4 volume: e2fsprogs, util-linux's losetup/mount), tar for the build cache.
  bubblewrap slirp4netns nftables iproute2 e2fsprogs util-linux mount tar
  # Custom domains: DNS checks and RFC 2136 updates (ldns), HTTP/2 on the TLS listener (nghttp2).
  libldns-dev libnghttp2-dev
)
# Node.js and npm for the dashboard's build: Debian's, unless some are already there
# (scripts/build-dashboard.sh brings a newer Node from the npm registry when it needs one).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev libgmock-dev postgresql-15 postgresql-client-15 iproute2 curl chromium)
  # ACME and TLS tests: Pebble (test CA), Knot (authoritative DNS, RFC 2136 target), kdig and
  # knsupdate, openssl s_client, h2load.
  packages+=(pebble knot knot-dnsutils openssl nghttp2-client)
fi
# The libFuzzer targets (scripts/fuzz.sh, also run by scripts/test.sh).
if [[ "${1:-}" == "--test" || "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "Installing missing packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale or absent on a fresh machine.
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# esbuild, which bundles functions (in builds, and for `replideploy deploy --functions`): not in
# Debian; the npm registry's package, pinned by tools/esbuild/package-lock.json (its native
# linux-x64 binary comes as the optional dependency @esbuild/linux-x64). Installed here, never
# at run time; again only when the lockfile changed.
esbuild_dir="$(cd "$(dirname "$0")/.." && pwd)/tools/esbuild"
if [[ ! -x $esbuild_dir/node_modules/@esbuild/linux-x64/bin/esbuild ||
      $esbuild_dir/package-lock.json -nt $esbuild_dir/node_modules/.package-lock.json ]]; then
  echo "Installing esbuild (npm ci in tools/esbuild)"
  (cd "$esbuild_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
