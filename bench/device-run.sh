#!/usr/bin/env bash
# device-run.sh — run on a GPU server with PyTorch (no JDK needed), from a checkout that carries
# dist/lowbit-bundle.tgz: unpacks the bundle, builds the bridge against the server's torch, runs
# the test suite on CUDA and on that torch's CPU path, then the bench (engine and random:llama3-8b)
# beside the same measurements in PyTorch.
# Logs go to $OUT (or /tmp/lowbit-out); a short table is printed last. --tests-only skips the benches.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/device-bundle.sh"
unpack_bundle
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  nvcc --version | tail -1
} 2>&1 | tee "$out/machine.txt"

t0=$(date +%s)
"$B/lowbit" build-bridge >"$out/build.log" 2>&1; build_rc=$?
t1=$(date +%s)
grep -E "Lowbit bridge:|error" "$out/build.log" | head -20

LOWBIT_DEVICE=cuda "$B/lowbit" test >"$out/test-cuda.log" 2>&1; cuda_rc=$?
LOWBIT_DEVICE=cpu "$B/lowbit" test >"$out/test-cpu.log" 2>&1; cpu_rc=$?
grep -E "✘|tests (successful|failed|aborted)" "$out/test-cuda.log" | head -30
"$B/lowbit" demo 2>&1 | grep -v "perplexity windows\|GPTQ blocks\|RTN linears" | tee "$out/demo.log"
if [ "${1:-}" != --tests-only ]; then
  LOWBIT_DEVICE=cuda "$B/lowbit" bench 2>&1 | tee "$out/bench.log"
  python3 "$B/bench/torch_engine.py" 2>&1 | tee "$out/torch.log"
  PYTHONUNBUFFERED=1 python3 "$B/bench/torch_model.py" 2>&1 | grep -v Warning | tee -a "$out/torch.log"
fi

echo
echo "| step | result |"
echo "|---|---|"
echo "| bridge build (s) | $((t1 - t0)) (rc $build_rc) |"
echo "| tests on cuda | rc $cuda_rc: $(grep -E 'tests (successful|failed)' "$out/test-cuda.log" | tr -s ' []' ' ' | paste -sd, -) |"
echo "| tests on cpu (pip torch) | rc $cpu_rc: $(grep -E 'tests (successful|failed)' "$out/test-cpu.log" | tr -s ' []' ' ' | paste -sd, -) |"
