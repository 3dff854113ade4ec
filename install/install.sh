#!/usr/bin/env bash
# install.sh — makes this checkout runnable on a Debian machine: system packages (when root),
# a JDK 25, the native bridge built against the machine's torch, and the Java modules in dist/lib.
# Idempotent: a second run with nothing changed takes seconds.
set -euo pipefail
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
for p in python3-jupyter-client python3-nbclient python3-nbformat; do have_pkg "$p" || need+=("$p"); done
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
  rm -rf dist/lib && mkdir -p dist/lib
  if ! mvn -B -DskipTests package dependency:copy-dependencies -DincludeScope=runtime \
      -DexcludeGroupIds=io.lowbit -DoutputDirectory="$LOWBIT_ROOT/dist/lib" >dist/maven.log 2>&1; then
    grep -E 'ERROR|BUILD' dist/maven.log >&2 || cat dist/maven.log >&2
    die "the Maven build failed (full log: dist/maven.log)"
  fi
  cp dsl/target/lowbit-dsl-*[0-9T].jar bench/target/lowbit-bench-*[0-9T].jar dist/lib/
  touch "$stamp"
else
  say "Java modules up to date"
fi
say "ready: ./lowbit demo   (or ./lowbit help)"
