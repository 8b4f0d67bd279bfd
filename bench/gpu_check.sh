#!/usr/bin/env bash
# One-shot GPU check for a machine with an NVIDIA GPU, CuPy and nvcc:
#   bench/gpu_check.sh OUTDIR
# builds kernelkit with CUDA ON; runs the `gpu` tests of each test file, and GPU tests under
# compute-sanitizer memcheck and racecheck (SpGEMM, kernel density, Kronecker), all side by
# side; then the GPU benchmarks one after another (Bessel throughput, vMF, SpGEMM vs cuSPARSE,
# kernel sums vs KeOps, Kronecker vs CuPy) and a per-kernel profile. OUTDIR gets summary.md
# (failures and benchmark tables) and logs.tgz (every step's full log). The step limits add
# up to under 10 minutes (the build's is generous: nvcc compiles each .cu file on one core);
# a normal run takes about 5.
# Wheels in .whl/ (pykeops, keopscore: pure Python) are installed first when present, so the
# kernel-sum benchmark can run its peer on a machine without a package index; make them with
# `pip download --no-deps --no-binary=:all: pykeops==2.3 keopscore==2.3` and `pip wheel
# --no-deps -w .whl` on the two archives (.whl/ is kept out of git).
set -uo pipefail
out=${1:?usage: bench/gpu_check.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
summary="$out/summary.md"
echo "# kernelkit GPU check ($(date -u +%Y-%m-%dT%H:%MZ))" > "$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$summary" 2>&1
echo "kernel $(uname -r)" >> "$summary"
trap 'tar -C "$logs" -czf "$out/logs.tgz" . 2>/dev/null' EXIT
py=$(command -v python || command -v python3)
export PYTHONUNBUFFERED=1 COLUMNS=160 CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-16}

step() {  # step NAME TIMEOUT_S COMMAND...: run, log to NAME.txt, record the status
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$logs/$name.txt" 2>&1
  local rc=$?
  echo "- $name: exit $rc in $((SECONDS - t0)) s" >> "$summary"
  return $rc
}

if ls .whl/*.whl > /dev/null 2>&1; then  # the peers' wheels
  "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/kk_peers .whl/*.whl \
    > "$logs/peers.txt" 2>&1 && export PYTHONPATH=/tmp/kk_peers${PYTHONPATH:+:$PYTHONPATH}
fi
# A wheel made ahead by bench/gpu_wheel.sh from these very sources saves the build here.
if [ -f .whl/kk/SOURCE ] && [ "$(cat .whl/kk/SOURCE)" = "$(bash bench/source_hash.sh)" ]; then
  build=("$py" -m pip install --no-index --no-deps --force-reinstall .whl/kk/kernelkit-*.whl)
else
  build=(env KERNELKIT_ENABLE_CUDA=ON "$py" -m pip install --no-build-isolation --no-deps -v .)
fi
if ! step build 240 "${build[@]}"; then
  tail -40 "$logs/build.txt"
  cat "$summary"
  exit 1
fi
step selfcheck 15 "$py" -m kernelkit

# Tests side by side (one process per file, so a hang or a broken context stays local);
# --timeout (pytest-timeout) names a hanging test instead of losing the whole file.
pytest_gpu=("$py" -m pytest -m gpu -q -p no:cacheprovider -rfE --tb=short --timeout=90)
for f in special stats sparse kernels kron; do
  step "pytest_$f" 110 "${pytest_gpu[@]}" "tests/test_${f}_gpu.py" &
done
step memcheck 110 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$py" -m pytest -m gpu tests -q -p no:cacheprovider \
  -k "gpu_broadcast or (gpu_matches_cpu and float64) or gpu_semirings_masks or gpu_empty or gpu_batches or gpu_solve or (gpu_dimensions and float64) or gpu_malformed or gpu_unsorted or gpu_cancellation" &
race=(compute-sanitizer --tool racecheck --error-exitcode 3 "$py" -m pytest -m gpu -v -p no:cacheprovider)
step racecheck_sparse 110 "${race[@]}" tests/test_sparse_gpu.py -k "gpu_semirings_masks and plus_times and plain" &
step racecheck_kernels 110 "${race[@]}" tests/test_kernels_gpu.py -k "gpu_kernel_density" &
step racecheck_kron 110 "${race[@]}" tests/test_kron_gpu.py \
  -k "gpu_matches_cpu_on_a_stream and (mixed or narrow or small_square)" &
wait

benches=(gpu_bench gpu_bench_vmf gpu_bench_sparse gpu_bench_kernels gpu_bench_kron gpu_profile)
limits=(30 20 45 60 20 40)
for i in "${!benches[@]}"; do
  step "${benches[$i]}" "${limits[$i]}" "$py" "bench/${benches[$i]}.py"
done
{
  for f in special stats sparse kernels kron; do
    echo; echo "## pytest $f"
    sed -n '/short test summary/,$p' "$logs/pytest_$f.txt" | cut -c1-300 | head -40
    tail -1 "$logs/pytest_$f.txt"
  done
  echo; echo "## sanitizers"
  grep -h -E "ERROR SUMMARY|RACECHECK SUMMARY|Device not supported|passed|failed" \
    "$logs"/memcheck.txt "$logs"/racecheck_*.txt | tail -12
  for b in "${benches[@]}"; do
    echo; echo "## $b"
    cut -c1-300 "$logs/$b.txt" | tail -30
  done
} >> "$summary"
cat "$summary"
