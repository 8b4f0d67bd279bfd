#!/usr/bin/env bash
# One-shot GPU check for a machine with an NVIDIA GPU, CuPy and nvcc:
#   bench/gpu_check.sh OUTDIR
# builds kernelkit with CUDA ON, runs `pytest -m gpu`, the GPU tests again under
# compute-sanitizer memcheck (racecheck for the SpGEMM kernels), and the GPU benchmarks
# (Bessel throughput, vMF, SpGEMM vs cuSPARSE, kernel sums vs KeOps, Kronecker vs CuPy);
# everything lands in OUTDIR
# (summary.md first). The step limits add up to 10 minutes (one device call); a normal run
# takes well under 8.
set -uo pipefail
out=${1:?usage: bench/gpu_check.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
summary="$out/summary.md"
echo "# kernelkit GPU check ($(date -u +%Y-%m-%dT%H:%MZ))" > "$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$summary" 2>&1

step() {  # step NAME TIMEOUT_S COMMAND...: run, log to OUTDIR/NAME.txt, record the status
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "- $name: exit $rc in $((SECONDS - t0)) s" >> "$summary"
  return $rc
}

if ! step build 180 env KERNELKIT_ENABLE_CUDA=ON pip install --no-build-isolation --no-deps -v .; then
  tail -40 "$out/build.txt"
  cat "$summary"
  exit 1
fi
step selfcheck 20 python -m kernelkit
step pytest_gpu 150 python -m pytest -m gpu tests -q -p no:cacheprovider
step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 3 \
  python -m pytest -m gpu tests -q -p no:cacheprovider \
  -k "gpu_broadcast or (gpu_matches_cpu and float64) or gpu_semirings_masks or gpu_empty or gpu_batches or gpu_solve"
step racecheck 30 compute-sanitizer --tool racecheck --error-exitcode 3 \
  python -m pytest -m gpu tests/test_sparse_gpu.py -q -p no:cacheprovider \
  -k "gpu_semirings_masks and (plus_times or min_plus) and (None or plain)"
step gpu_bench 40 python bench/gpu_bench.py
step gpu_bench_vmf 20 python bench/gpu_bench_vmf.py
step gpu_bench_sparse 50 python bench/gpu_bench_sparse.py
step gpu_bench_kernels 30 python bench/gpu_bench_kernels.py
step gpu_bench_kron 20 python bench/gpu_bench_kron.py
{
  echo
  tail -3 "$out/pytest_gpu.txt"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/memcheck.txt" "$out/racecheck.txt"
  for b in gpu_bench gpu_bench_vmf gpu_bench_sparse gpu_bench_kernels gpu_bench_kron; do
    echo
    cat "$out/$b.txt"
  done
} >> "$summary"
cat "$summary"
