#!/usr/bin/env bash
# moet.sh: set up, build and run moet.
#
#   ./moet.sh demo        the main job on the bundled data
#   ./moet.sh test        every test (ctest)
#   ./moet.sh sanitize    every test built with ASan and UBSan (a second tree, build-sanitize/)
#   ./moet.sh build       build only
#   ./moet.sh bench-peer  moet vs PyTorch eager on the bench models (bench/peer_torch.py)
#   ./moet.sh <command>   any `moet` subcommand, e.g. ./moet.sh params --set model.N=256
#
# Installs the Debian packages it needs when they are missing (as root), builds into build/
# (sanitize: build-sanitize/), then runs the subcommand. Run as a non-root user without the
# packages, it prints the one apt-get line to run instead.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

BUILD_PKGS=(g++ cmake ninja-build pkg-config ccache libdnnl-dev libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libzstd-dev libsqlite3-dev libgtest-dev libopenmpi-dev)
# The test oracle (PyTorch), the Python package's tests (pytest), the format check (clang-format
# 14: tests/repo/format_test.cpp) and the peer benchmark's BLAS;
# only `test` and `bench-peer` need them.
# The tests also hand the report to a real browser, sweeps to a real mpirun and the emitted job
# array to a real one-node Slurm that they start and stop themselves (tests/sweep/slurm_test.cpp,
# on their own ports, munge socket and key). The packages' services stay off: this image's
# policy-rc.d forbids starting them, and without it slurmd and slurmctld do not start for want of
# /etc/slurm/slurm.conf; a system munged would start but not meet the test's.
TEST_PKGS=(python3-torch python3-numpy python3-pytest clang-format-14 libopenblas0-openmp chromium openmpi-bin
  munge slurmctld slurmd slurm-client)

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

# PyTorch finds its BLAS through the libblas.so.3 alternative; the peer benchmark must not run on
# Debian's reference BLAS (~8x slower), which would flatter moet.
ensure_openblas() {
  local arch target link
  arch=$(gcc -print-multiarch)
  target=/usr/lib/$arch/openblas-openmp/libblas.so.3
  link=$(readlink -f "/usr/lib/$arch/libblas.so.3" || true)
  [ "$link" = "$target" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "moet.sh: libblas.so.3 is $link, not OpenBLAS (openmp); select it with:" >&2
    echo "  sudo update-alternatives --set libblas.so.3-$arch $target" >&2
    exit 1
  fi
  update-alternatives --quiet --set "libblas.so.3-$arch" "$target"
}

# build [TARGET]: everything by default; commands that only run the binary build just `moet`
# (the tests are half the compile time of a fresh clone).
build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
build() {
  ensure_packages "${BUILD_PKGS[@]}"
  # The build targets this CPU (-march=native): a tree compiled on another kind of CPU is
  # reconfigured, which recompiles it for this one (CMakeLists.txt puts the ISA on every line).
  local isa
  isa=$(c++ -march=native -dM -E -x c++ /dev/null | md5sum | cut -d' ' -f1)
  if [ ! -f "$build_dir/build.ninja" ] || [ "$(cat "$build_dir/.host-isa" 2>/dev/null)" != "$isa" ]; then
    cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}" >/dev/null
    echo "$isa" > "$build_dir/.host-isa"
  fi
  cmake --build "$build_dir" --parallel "$(nproc)" ${1:+--target "$1"}
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  ""|-h|--help)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  build)
    build
    ;;
  test|sanitize)
    if [ "$cmd" = sanitize ]; then
      build_dir=build-sanitize
      cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOET_SANITIZE=ON)
    fi
    ensure_packages "${TEST_PKGS[@]}"
    build
    ctest --test-dir "$build_dir" --output-on-failure --parallel "$(nproc)" "$@"
    ;;
  bench-peer)
    ensure_packages "${TEST_PKGS[@]}"
    ensure_openblas
    build moet
    exec /usr/bin/python3 bench/peer_torch.py --moet build/moet "$@"
    ;;
  demo)
    build moet
    exec build/moet demo "$@"
    ;;
  *)
    build moet
    exec build/moet "$cmd" "$@"
    ;;
esac
