#!/usr/bin/env bash
# device-tacq.sh — on a GPU server with PyTorch (no JDK), from a checkout carrying
# dist/lowbit-bundle.tgz: TaCQ at Llama-3-8B scale with the model in host memory.
#   STAGE=check (default): build the bridge, the test suite on CUDA, GPTQ per block with and without
#                the tensor-core Hessian, and TaCQ on 2 blocks (model in host memory, streamed).
#   STAGE=full:  TaCQ end to end on the whole random:llama3-8b (32 blocks); GRAD_DTYPE=f32|bf16,
#                CHUNK (sequences per gradient chunk, 24), TESTS=1 runs the CUDA test suite first.
# A machine still warm from an earlier call keeps the unpacked bundle and its bridge.
set -uo pipefail
out="${OUT:-/tmp/lowbit-out}"; mkdir -p "$out"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=/tmp/lowbit-run
B="$work/lowbit-bundle"
t0=$(date +%s)
if [ ! -f "$B/native/liblowbit_bridge.so" ]; then
  rm -rf "$work"; mkdir -p "$work"
  tar xzf "$here/dist/lowbit-bundle.tgz" -C "$work"
  "$B/lowbit" build-bridge >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
t1=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/machine.txt"
echo "bridge ready in $((t1 - t0)) s"
run() { LOWBIT_DEVICE=cuda "$B/lowbit" run io.lowbit.bench.QuantBlocks "$@"; }
case "${STAGE:-check}" in
  check)
    timeout "${TEST_LIMIT:-200}" env LOWBIT_DEVICE=cuda "$B/lowbit" test --exclude-classname '.*AcceptanceTest' >"$out/test-cuda.log" 2>&1
    echo "tests on cuda: rc $? $(grep -E 'tests (successful|failed)' "$out/test-cuda.log" | tr -s ' []' ' ' | paste -sd, -)"
    grep -E "✘" "$out/test-cuda.log" | head -20
    timeout 150 bash -c "$(declare -f run); B=$B run --blocks 2 --no-tesseraq" >"$out/gptq.log" 2>"$out/gptq.err"; echo "GPTQ rc $?"
    timeout 150 env LOWBIT_HESSIAN_MIXED=0 bash -c "$(declare -f run); B=$B run --blocks 2 --no-tesseraq" >"$out/gptq-f32.log" 2>"$out/gptq-f32.err"; echo "GPTQ f32 Hessian rc $?"
    timeout 200 bash -c "$(declare -f run); B=$B run --blocks ${TACQ_BLOCKS:-2} --no-gptq --no-tesseraq --tacq --host" >"$out/tacq2.log" 2>"$out/tacq2.err"; echo "TaCQ ${TACQ_BLOCKS:-2} blocks rc $?"
    grep "phases" "$out/tacq2.err"
    timeout 100 bash -c "$(declare -f run); B=$B run --blocks 2 --no-gptq --no-tesseraq --tacq --host --grad-dtype bf16" >"$out/tacq2-bf16.log" 2>"$out/tacq2-bf16.err"; echo "TaCQ bf16 rc $?"
    grep "phases" "$out/tacq2-bf16.err"
    echo; echo "GPTQ, tensor-core Hessian:"; grep "^| GPTQ" "$out/gptq.log" || tail -5 "$out/gptq.err"
    echo "GPTQ, float32 Hessian:"; grep "^| GPTQ" "$out/gptq-f32.log" || tail -5 "$out/gptq-f32.err"
    grep "^| TaCQ" "$out/tacq2.log" "$out/tacq2-bf16.log" | cut -d: -f2- || tail -15 "$out/tacq2.err"
    ;;
  full)
    if [ "${TESTS:-0}" = 1 ]; then
      timeout "${TEST_LIMIT:-200}" env LOWBIT_DEVICE=cuda "$B/lowbit" test --exclude-classname '.*AcceptanceTest' >"$out/test-cuda.log" 2>&1
      echo "tests on cuda: rc $? $(grep -E 'tests (successful|failed)' "$out/test-cuda.log" | tr -s ' []' ' ' | paste -sd, -)"
      grep -E "✘" "$out/test-cuda.log" | head -20
    fi
    free -g | head -2
    timeout "${FULL_LIMIT:-560}" bash -c "$(declare -f run); B=$B run --blocks 32 --no-gptq --no-tesseraq --tacq --host --grad-dtype ${GRAD_DTYPE:-f32} --chunk ${CHUNK:-24}" \
      >"$out/tacq-full.log" 2>"$out/tacq-full.err"; echo "TaCQ 32 blocks rc $?"
    grep -v "^$" "$out/tacq-full.err" | tail -10
    grep "^| TaCQ" "$out/tacq-full.log"
    ;;
esac
echo "total $(( $(date +%s) - t0 )) s"
