#!/usr/bin/env bash
# test.sh — the whole test suite: installs what is missing, then runs every module's tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"
bash install/install.sh
find_jdk
say "running the test suite"
mvn -B test -Dstyle.color=never 2>&1 | grep -v '^WARNING: \(A terminally\|sun.misc\|Please consider\)'
exit "${PIPESTATUS[0]}"
