#!/usr/bin/env bash
# bundle.sh — a self-contained Lowbit for a GPU server that has PyTorch but no JDK and no network:
# a jlink runtime of JDK 25 with only the modules needed, our jars and their runtime dependencies,
# the kernels-gpu sources (built against the server's torch on first run), the launcher, and
# (unless --no-tests) the test suite with JUnit's console launcher.
#   bash install/bundle.sh [--no-tests]   ->  dist/lowbit-bundle/ and dist/lowbit-bundle.tgz
# On the server: tar xzf lowbit-bundle.tgz && lowbit-bundle/lowbit demo   (or: test, bench, run CLASS)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"

with_tests=1
[ "${1:-}" = --no-tests ] && with_tests=0

bash install/install.sh
find_jdk
junit_console=1.11.4
out=dist/lowbit-bundle
rm -rf "$out" dist/lowbit-bundle.tgz
mkdir -p "$out"/{lib,native,install,bench} "$out/kernels-gpu"

cp dist/lib/*.jar "$out/lib/"
jars=("$out"/lib/*.jar)
if [ $with_tests = 1 ]; then
  mkdir -p "$out/test/tests"
  if [ ! -f dsl/target/lowbit-dsl-*-tests.jar ] 2>/dev/null || [ -n "$(find dsl/src/test -newer dsl/target/lowbit-dsl-*-tests.jar -print -quit)" ]; then
    mvn -q -B -Dstyle.color=never -DskipTests package >/dev/null
  fi
  cp dsl/target/lowbit-dsl-*-tests.jar "$out/test/tests/"
  # the tests' independent Python readers, where the tests look for them (relative to the root)
  mkdir -p "$out/dsl/src/test/python" && cp dsl/src/test/python/*.py "$out/dsl/src/test/python/"
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_console" \
      -DoutputDirectory="$out/test" >/dev/null
  mv "$out/test/junit-platform-console-standalone-$junit_console.jar" "$out/test/junit-platform-console-standalone.jar"
  jars+=("$out/test/junit-platform-console-standalone.jar")
fi

# only the JDK modules our jars use (and JUnit's launcher, when tests travel); jar by jar, because
# one dependency's module-info names an optional module that is not there, which stops jdeps
modules=java.base,jdk.zipfs,jdk.unsupported
for j in "${jars[@]}"; do
  m=$("$JAVA_HOME/bin/jdeps" --ignore-missing-deps --multi-release 25 --print-module-deps "$j" 2>/dev/null | tail -1 || true)
  case "$m" in java.*|jdk.*) modules="$modules,$m" ;; esac
done
# java.compiler and java.management are named only by parts of DJL's api that tokenization never
# reaches (MBeans, annotation processing); java.desktop stays, charts draw with AWT. The bundled
# test suite, which tokenizes and draws, checks this on every bundle.
modules=$(echo "$modules" | tr ',' '\n' | grep -vxE 'java\.compiler|java\.management' | sort -u | paste -sd, -)
# the tokenizers and sqlite-jdbc jars carry their native libraries for every platform (sqlite-jdbc's
# are 21 MB): keep linux-x86_64's
for j in "$out"/lib/tokenizers-*.jar "$out"/lib/sqlite-jdbc-*.jar; do
  /usr/bin/python3 - "$j" <<'PY'
import os, sys, zipfile
src = sys.argv[1]; tmp = src + ".tmp"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        parts = item.filename.split("/")
        # tokenizers: native/lib/<platform>/...; sqlite-jdbc: org/sqlite/native/<OS>/<arch>/...
        if len(parts) > 3 and parts[:2] == ["native", "lib"] and parts[2] != "linux-x86_64":
            continue
        if len(parts) > 5 and parts[:3] == ["org", "sqlite", "native"] and parts[3:5] != ["Linux", "x86_64"]:
            continue
        zout.writestr(item, zin.read(item.filename))
os.replace(tmp, src)
PY
done
say "jlink runtime with modules: $modules"
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --output "$out/runtime" \
  --strip-debug --no-man-pages --no-header-files --compress=zip-9

cp -r kernels-gpu/CMakeLists.txt kernels-gpu/include kernels-gpu/src kernels-gpu/cuda "$out/kernels-gpu/"
cp install/common.sh install/build-bridge.sh "$out/install/"
cp bench/torch_engine.py bench/torch_model.py "$out/bench/"
mkdir -p "$out/data" && cp -r data/README.md data/models data/text "$out/data/"
cp lowbit "$out/"

tar czf dist/lowbit-bundle.tgz -C dist lowbit-bundle
size=$(du -m dist/lowbit-bundle.tgz | cut -f1)
say "bundle: dist/lowbit-bundle.tgz, ${size} MB ($(du -sm "$out" | cut -f1) MB unpacked)"
[ "$size" -lt 60 ] || say "warning: the bundle is over 60 MB"
