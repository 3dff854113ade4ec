#!/usr/bin/env bash
# device-tacq.sh — on a GPU server with PyTorch (no JDK), from a checkout carrying
# dist/lowbit-bundle.tgz: TaCQ at Llama-3-8B scale with the model in host memory.
#   STAGE=check (default): build the bridge, the test suite on CUDA, GPTQ per block with and without
#                the tensor-core Hessian, and TaCQ on 2 blocks (model in host memory, streamed).
#   STAGE=full:  TaCQ end to end on the whole random:llama3-8b (32 blocks); GRAD_DTYPE=f32|bf16,
#                CHUNK (sequences per gradient chunk, 24), TESTS=1 runs the CUDA test suite first.
# A machine still warm from an earlier call keeps the unpacked bundle and its bridge.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/device-bundle.sh"
t0=$(date +%s)
if [ ! -f "$B/native/liblowbit_bridge.so" ]; then
  unpack_bundle
  "$B/lowbit" build-bridge >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
t1=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/machine.txt"
echo "bridge ready in $((t1 - t0)) s"
# qb SECONDS NAME ARGS…: QuantBlocks on CUDA, stdout to $out/NAME.log, stderr to $out/NAME.err
qb() {
  local limit="$1" name="$2"; shift 2
  timeout "$limit" env LOWBIT_DEVICE=cuda "$B/lowbit" run io.lowbit.bench.QuantBlocks "$@" >"$out/$name.log" 2>"$out/$name.err"
}
case "${STAGE:-check}" in
  check)
    cuda_tests "${TEST_LIMIT:-200}"
    qb 150 gptq --blocks 2 --no-tesseraq; echo "GPTQ rc $?"
    LOWBIT_HESSIAN_MIXED=0 qb 150 gptq-f32 --blocks 2 --no-tesseraq; echo "GPTQ f32 Hessian rc $?"
    qb 200 tacq2 --blocks "${TACQ_BLOCKS:-2}" --no-gptq --no-tesseraq --tacq --host; echo "TaCQ ${TACQ_BLOCKS:-2} blocks rc $?"
    grep "phases" "$out/tacq2.err"
    qb 100 tacq2-bf16 --blocks 2 --no-gptq --no-tesseraq --tacq --host --grad-dtype bf16; echo "TaCQ bf16 rc $?"
    grep "phases" "$out/tacq2-bf16.err"
    echo; echo "GPTQ, tensor-core Hessian:"; grep "^| GPTQ" "$out/gptq.log" || tail -5 "$out/gptq.err"
    echo "GPTQ, float32 Hessian:"; grep "^| GPTQ" "$out/gptq-f32.log" || tail -5 "$out/gptq-f32.err"
    grep "^| TaCQ" "$out/tacq2.log" "$out/tacq2-bf16.log" | cut -d: -f2- || tail -15 "$out/tacq2.err"
    ;;
  full)
    [ "${TESTS:-0}" = 1 ] && cuda_tests "${TEST_LIMIT:-200}"
    free -g | head -2
    qb "${FULL_LIMIT:-560}" tacq-full --blocks 32 --no-gptq --no-tesseraq --tacq --host --grad-dtype "${GRAD_DTYPE:-f32}" --chunk "${CHUNK:-24}"
    echo "TaCQ 32 blocks rc $?"
    grep -v "^$" "$out/tacq-full.err" | tail -10
    grep "^| TaCQ" "$out/tacq-full.log"
    ;;
esac
echo "total $(( $(date +%s) - t0 )) s"
