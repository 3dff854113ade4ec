#!/usr/bin/env bash
# build-bridge.sh SRC BUILD — builds kernels-gpu (the native bridge) against the machine's torch:
# a pip-installed PyTorch when python3 has one (CPU or CUDA), else Debian's libtorch-dev.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

src="${1:-$LOWBIT_ROOT/kernels-gpu}"
build="${2:-$src/build}"
prefix=$(torch_prefix)
command -v cmake >/dev/null || die "cmake is missing: apt-get install cmake (or run install/install.sh as root)"
args=(-S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -Wno-dev)
if [ -n "$prefix" ]; then
  args+=("-DCMAKE_PREFIX_PATH=$prefix")
  say "building the bridge against the PyTorch at $prefix"
else
  [ -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ] || [ -n "$(ls /usr/lib/*/cmake/Torch/TorchConfig.cmake 2>/dev/null)" ] \
    || die "no libtorch found: install a PyTorch for python3, or Debian's libtorch-dev (apt-get install libtorch-dev)"
  say "building the bridge against Debian's libtorch"
fi
log="$build/configure.log"
mkdir -p "$build"
if ! cmake "${args[@]}" >"$log" 2>&1; then cat "$log" >&2; die "cmake could not configure kernels-gpu (log above)"; fi
grep 'Lowbit bridge:' "$log" | sed 's/^-- /lowbit: /' >&2 || true
cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1 || { cat "$build/build.log" >&2; die "kernels-gpu did not compile (log above)"; }
say "bridge: $build/liblowbit_bridge.so"
