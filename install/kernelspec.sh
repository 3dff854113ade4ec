#!/usr/bin/env bash
# kernelspec.sh — registers the Lowbit kernel with Jupyter: writes kernels/lowbit/kernel.json with
# this checkout's absolute JDK path, native access enabled, and $LOWBIT_JVM_OPTS for extra JVM
# options (heap, GC, flags), read each time the kernel starts.
#   bash install/kernelspec.sh            -> ~/.local/share/jupyter/kernels/lowbit (the user's)
#   bash install/kernelspec.sh DIR        -> DIR/kernels/lowbit (e.g. a test's JUPYTER_PATH)
#   bash install/kernelspec.sh --check    -> also starts the kernel and runs one cell
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"
find_jdk

check=0; dir=""
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    *) dir="$a" ;;
  esac
done
[ -n "$dir" ] || dir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
[ -d dist/kernel ] && [ -d dist/lib ] || die "the kernel is not built yet: run bash install/install.sh"
spec="$dir/kernels/lowbit"
mkdir -p "$spec"
native="$LOWBIT_ROOT/kernels-gpu/build/liblowbit_bridge.so"
torchlib=$(torch_lib_dir)
/usr/bin/python3 - "$spec/kernel.json" "$JAVA_HOME/bin/java" "$LOWBIT_ROOT" "$native" "$torchlib" <<'PY'
import json, sys
out, java, root, native, torchlib = sys.argv[1:]
argv = [
    # sh -c so that $LOWBIT_JVM_OPTS is read at each start; exec, so Jupyter's child is the JVM itself
    "/bin/sh", "-c", 'exec "$0" $LOWBIT_JVM_OPTS "$@"',
    java,
    "--enable-native-access=ALL-UNNAMED",
    "-Djava.awt.headless=true",
    "-Xss4m",
    f"-Dlowbit.root={root}",
    f"-Dlowbit.native.lib={native}",
    "-cp", f"{root}/dist/kernel/*:{root}/dist/lib/*",
    "io.lowbit.kernel.Main", "{connection_file}",
]
spec = {
    "argv": argv,
    "display_name": "Lowbit (Java 25)",
    "language": "java",
    "interrupt_mode": "message",
    "env": {"LD_LIBRARY_PATH": torchlib} if torchlib else {},
    "metadata": {"debugger": False},
}
with open(out, "w") as f:
    json.dump(spec, f, indent=1)
PY
say "kernelspec: $spec/kernel.json"
if [ $check = 1 ]; then
  say "checking: starting the kernel and running one cell"
  "$LOWBIT_ROOT/lowbit" kernel --check
fi
