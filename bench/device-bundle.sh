# device-bundle.sh — sourced by the device-*.sh scripts: where the logs go ($out), the checkout
# ($here), the bundle's folder once unpacked ($B), and the steps they share.
out="${OUT:-/tmp/lowbit-out}"; mkdir -p "$out"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B=/tmp/lowbit-run/lowbit-bundle

# A fresh copy of the carried dist/lowbit-bundle.tgz (its bridge still to build).
unpack_bundle() {
  rm -rf /tmp/lowbit-run && mkdir -p /tmp/lowbit-run && tar xzf "$here/dist/lowbit-bundle.tgz" -C /tmp/lowbit-run
}

# cuda_tests SECONDS: the test suite on CUDA, the CPU acceptance runs left out, logged to
# $out/test-cuda.log; prints the counts and any failures, returns the suite's status.
cuda_tests() {
  timeout "$1" env LOWBIT_DEVICE=cuda "$B/lowbit" test --exclude-classname '.*AcceptanceTest' >"$out/test-cuda.log" 2>&1
  local rc=$?
  echo "tests on cuda: rc $rc $(grep -E 'tests (successful|failed)' "$out/test-cuda.log" | tr -s ' []' ' ' | paste -sd, -)"
  grep -E "✘" "$out/test-cuda.log" | head -20
  return $rc
}
