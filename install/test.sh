#!/usr/bin/env bash
# test.sh — the whole test suite: installs what is missing, then runs every module's tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"
# the kernel's tests need Jupyter's test suite, pytest, classic Notebook and Chromium too
LOWBIT_TEST_PACKAGES=1 bash install/install.sh
find_jdk
say "running the test suite"
set +e
mvn -B test -Dstyle.color=never 2>&1 | grep -v '^WARNING: \(A terminally\|sun.misc\|Please consider\)'
java_rc=${PIPESTATUS[0]}
set -e
kernel_rc=0
bash install/test-kernel.sh || kernel_rc=$?
say "Java tests: $([ "$java_rc" = 0 ] && echo passed || echo "FAILED ($java_rc)"); kernel tests: $([ "$kernel_rc" = 0 ] && echo passed || echo "FAILED ($kernel_rc)")"
[ "$java_rc" = 0 ] && [ "$kernel_rc" = 0 ]
