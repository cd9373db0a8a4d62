#!/usr/bin/env bash
# moet.sh: set up, build and run moet.
#
#   ./moet.sh demo        the main job on the bundled data
#   ./moet.sh test        every test (ctest)
#   ./moet.sh build       build only
#   ./moet.sh <command>   any `moet` subcommand, e.g. ./moet.sh params --set model.N=256
#
# Installs the Debian packages it needs when they are missing (as root), builds Release into
# build/, then runs the subcommand. Run as a non-root user without the packages, it prints the
# one apt-get line to run instead.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

BUILD_PKGS=(g++ cmake ninja-build pkg-config ccache libdnnl-dev libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libzstd-dev libsqlite3-dev libgtest-dev)
# The test oracle (PyTorch) and the peer benchmark's BLAS; only `test` and `bench-peer` need them.
TEST_PKGS=(python3-torch python3-numpy libopenblas0-openmp)

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || printf '%s ' "$p"
  done
}

ensure_packages() {
  local missing
  missing=$(missing_packages "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "moet.sh: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "moet.sh: installing $missing" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() {
  ensure_packages "${BUILD_PKGS[@]}"
  if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build build --parallel "$(nproc)"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  ""|-h|--help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  build)
    build
    ;;
  test)
    ensure_packages "${TEST_PKGS[@]}"
    build
    ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
    ;;
  demo)
    build
    exec build/moet demo "$@"
    ;;
  *)
    build
    exec build/moet "$cmd" "$@"
    ;;
esac
