#!/usr/bin/env bash
# device-quant.sh — on a GPU server with PyTorch (no JDK), from a checkout carrying
# dist/lowbit-bundle.tgz: unpacks the bundle, builds the bridge against the server's torch, runs
# the test suite on CUDA (the CPU acceptance runs excluded), then QuantBlocks (GPTQ and TesseraQ
# per block on Llama-3-8B shapes) and the plain-PyTorch GPTQ baseline. Logs go to $OUT; a table last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/device-bundle.sh"
unpack_bundle
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/machine.txt"
t0=$(date +%s)
"$B/lowbit" build-bridge >"$out/build.log" 2>&1; build_rc=$?
t1=$(date +%s)
timeout "${TEST_LIMIT:-200}" env LOWBIT_DEVICE=cuda "$B/lowbit" test --exclude-classname '.*AcceptanceTest' >"$out/test-cuda.log" 2>&1
test_rc=$?
t2=$(date +%s)
grep -E "✘|tests (successful|failed|aborted|skipped)" "$out/test-cuda.log" | head -30
[ "${SKIP_GPTQ:-0}" = 1 ] || timeout "${GPTQ_LIMIT:-150}" env LOWBIT_DEVICE=cuda "$B/lowbit" run io.lowbit.bench.QuantBlocks --blocks 2 --no-tesseraq \
  >"$out/gptq.log" 2>"$out/gptq.err"
gptq_rc=$?
timeout "${TQ_LIMIT:-200}" env LOWBIT_DEVICE=cuda "$B/lowbit" run io.lowbit.bench.QuantBlocks --blocks 1 --no-gptq \
  --iterations "${TQ_ITERATIONS:-20}" >"$out/tesseraq.log" 2>"$out/tesseraq.err"
tq_rc=$?
timeout "${TQ_LIMIT:-200}" env LOWBIT_DEVICE=cuda "$B/lowbit" run io.lowbit.bench.QuantBlocks --blocks 1 --no-gptq --unfused \
  --iterations "${TQ_ITERATIONS:-20}" >"$out/tesseraq-aten.log" 2>"$out/tesseraq-aten.err"
t3=$(date +%s)
[ "${SKIP_TORCH:-0}" = 1 ] || timeout "${TORCH_LIMIT:-150}" python3 "$here/bench/torch_gptq.py" --blocks 2 >"$out/torch-gptq.log" 2>&1
torch_rc=$?
t4=$(date +%s)
tail -4 "$out/tesseraq.err"
echo
echo "| step | seconds | result |"
echo "|---|---|---|"
echo "| bridge build | $((t1 - t0)) | rc $build_rc |"
echo "| tests on cuda | $((t2 - t1)) | rc $test_rc: $(grep -E 'tests (successful|failed)' "$out/test-cuda.log" | tr -s ' []' ' ' | paste -sd, -) |"
echo "| QuantBlocks | $((t3 - t2)) | GPTQ rc $gptq_rc, TesseraQ rc $tq_rc |"
echo "| PyTorch GPTQ | $((t4 - t3)) | rc $torch_rc |"
echo
grep "^|" "$out/gptq.log"
grep "^| TesseraQ" "$out/tesseraq.log" "$out/tesseraq-aten.log" | cut -d: -f2-
grep "^|" "$out/torch-gptq.log" || tail -5 "$out/torch-gptq.log"
