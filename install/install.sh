#!/usr/bin/env bash
# install.sh — makes this checkout runnable on a Debian machine: system packages (when root),
# a JDK 25, the native bridge built against the machine's torch, the Java modules in dist/lib (and
# the kernel's in dist/kernel), and the Jupyter kernelspec "Lowbit (Java 25)" for this user.
# Idempotent: a second run with nothing changed takes seconds.
#   bash install/install.sh               install
#   bash install/install.sh --quickstart  install, then run notebooks/quickstart.ipynb headless
set -euo pipefail
quickstart=0
[ "${1:-}" = --quickstart ] && quickstart=1
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"

# 1. system packages ---------------------------------------------------------------------------
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v mvn >/dev/null || need+=(maven)
if [ -z "$(torch_prefix)" ]; then
  have_pkg libtorch-dev || need+=(libtorch-dev)
  # Debian's libtorch calls whichever libblas.so.3 is chosen; the reference BLAS is ~50x slower
  have_pkg libopenblas0-pthread || need+=(libopenblas0-pthread)
fi
# the Jupyter side: the kernel's protocol tests and headless notebook runs use Debian's clients
for p in python3-jupyter-client python3-nbclient python3-nbformat jupyter-notebook fontconfig fonts-dejavu-core; do
  have_pkg "$p" || need+=("$p")
done
# charts draw text with AWT, which needs fontconfig and a font; the kernel's own tests need more
# (python3-numpy: the independent GPTQ-format reader in dsl/src/test/python)
if [ "${LOWBIT_TEST_PACKAGES:-0}" = 1 ]; then
  for p in python3-jupyter-kernel-test python3-pytest python3-numpy chromium; do have_pkg "$p" || need+=("$p"); done
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    die "missing packages: ${need[*]}. Install them (as root: apt-get install ${need[*]}) and run again."
  fi
fi

# 2. JDK ---------------------------------------------------------------------------------------
find_jdk
say "JDK: $JAVA_HOME"

# 3. the native bridge (cmake rebuilds only what changed) ----------------------------------------
bash install/build-bridge.sh "$LOWBIT_ROOT/kernels-gpu" "$LOWBIT_ROOT/kernels-gpu/build"

# 4. the Java modules, when a source or pom is newer than the last build -------------------------
stamp=dist/.built
if [ ! -f "$stamp" ] || [ -n "$(find pom.xml */pom.xml */src -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  say "building the Java modules"
  rm -rf dist/lib dist/kernel && mkdir -p dist/lib dist/kernel
  # dist/lib: the DSL, the bench and their libraries (what the GPU bundle carries);
  # dist/kernel: what only the Jupyter kernel needs on top
  if ! mvn -B -DskipTests package dependency:copy-dependencies -DincludeScope=runtime -DexcludeGroupIds=io.lowbit \
      >dist/maven.log 2>&1; then   # each module's libraries land in its target/dependency
    grep -E 'ERROR|BUILD' dist/maven.log >&2 || cat dist/maven.log >&2
    die "the Maven build failed (full log: dist/maven.log)"
  fi
  for m in dsl bench; do
    if [ -d $m/target/dependency ]; then cp $m/target/dependency/*.jar dist/lib/; fi
  done
  for j in kernel/target/dependency/*.jar; do
    if [ ! -f "dist/lib/$(basename "$j")" ]; then cp "$j" dist/kernel/; fi
  done
  cp dsl/target/lowbit-dsl-*[0-9T].jar bench/target/lowbit-bench-*[0-9T].jar dist/lib/
  cp kernel/target/lowbit-kernel-*[0-9T].jar dist/kernel/
  touch "$stamp"
else
  say "Java modules up to date"
fi
# 5. the Jupyter kernelspec (for this user; JUPYTER_DATA_DIR moves it) ----------------------------
bash install/kernelspec.sh >/dev/null
say "kernel: \"Lowbit (Java 25)\" registered with Jupyter (check it: bash install/kernelspec.sh --check)"

if [ $quickstart = 1 ]; then
  say "running notebooks/quickstart.ipynb"
  mkdir -p dist/notebooks
  /usr/bin/python3 install/run_notebook.py notebooks/quickstart.ipynb dist/notebooks/quickstart.ipynb
  say "open it: jupyter notebook dist/notebooks/quickstart.ipynb (or notebooks/quickstart.ipynb to run it yourself)"
fi
say "ready: ./lowbit demo   (or ./lowbit help)"
