#!/usr/bin/env bash
# test-kernel.sh — the kernel with real Jupyter clients: the standard kernel test suite, protocol
# tests (jupyter_client), every notebook in notebooks/ (nbclient), and classic Notebook in headless
# Chromium. Uses a kernelspec in a temporary JUPYTER_PATH, never the user's Jupyter setup.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LOWBIT_ROOT"
find_jdk
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash install/kernelspec.sh "$tmp" >/dev/null 2>&1 || bash install/kernelspec.sh "$tmp"   # quiet unless it fails
export JUPYTER_PATH="$tmp" JUPYTER_RUNTIME_DIR="$tmp/runtime" JUPYTER_CONFIG_DIR="$tmp/config" JUPYTER_DATA_DIR="$tmp/data"
say "kernel tests with real Jupyter clients"
/usr/bin/python3 -m pytest -q --color=no -p no:cacheprovider -o addopts="" kernel/src/test/python "$@"
