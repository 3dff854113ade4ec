#!/usr/bin/env bash
# test.sh — the whole test suite: installs what is missing, then runs every module's tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"
# the kernel's tests need Jupyter's test suite, pytest, classic Notebook and Chromium too
LOWBIT_TEST_PACKAGES=1 bash install/install.sh
find_jdk
say "running the test suite"
say "checking the code style (Spotless, palantir-java-format; mvn spotless:apply fixes it)"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
style_rc=0
mvn -B -q spotless:check -Dstyle.color=never >"$reports/style.log" 2>&1 || { style_rc=$?; grep -E 'ERROR|violations|\.java' "$reports/style.log" | head -40; }
rm -rf dsl/target/surefire-reports bench/target/surefire-reports kernel/target/surefire-reports
set +e
# -fae: a failing module does not stop the others' tests (a module that depends on one that
# failed to build is still skipped, and the summary says Maven failed)
mvn -B -fae test -Dstyle.color=never 2>&1 | grep -v '^WARNING: \(A terminally\|sun.misc\|Please consider\)'
java_rc=${PIPESTATUS[0]}
set -e
kernel_rc=0
bash install/test-kernel.sh --junitxml="$reports/kernel-python.xml" || kernel_rc=$?
say "summary of every module's tests (Java: Maven Surefire; kernel: pytest)"
/usr/bin/python3 install/test_summary.py dsl/target/surefire-reports bench/target/surefire-reports \
  kernel/target/surefire-reports "$reports/kernel-python.xml"
[ "$style_rc" = 0 ] || say "error: the code style check failed (run: mvn spotless:apply)"
[ "$java_rc" = 0 ] || say "error: Maven exited with status $java_rc (a build or test failure above)"
[ "$kernel_rc" = 0 ] || say "error: the kernel's pytest run exited with status $kernel_rc"
[ "$style_rc" = 0 ] && [ "$java_rc" = 0 ] && [ "$kernel_rc" = 0 ]
