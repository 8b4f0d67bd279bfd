"""GPU SpGEMM: kernelkit.sparse on cupyx.scipy.sparse matrices against CuPy's own product
(cuSPARSE), same GPU, same run, on the CPU issue's suite (bench/sparse_suite.py).

python bench/gpu_bench_sparse.py [case ...]   -> a Markdown table and the geometric mean.
Times: CUDA events on the current stream, median of 3 after a warm-up; "call returns": host
milliseconds until spgemm returns, the GPU idle before (the round trips wait for the GPU; the
numeric phase runs on after the call returns, except plus_times' zero count). Peak memory:
the bytes CuPy's pool had to hold for the call (pool emptied before it) plus kernelkit's
stream-ordered scratch, inputs excluded.
"""
import sys
import time

import cupy as cp
import cupyx.scipy.sparse as csp
import numpy as np

import sparse_suite
from timing import gpu_median_ms
from kernelkit import _gpu
from kernelkit.sparse import spgemm


def peak_mib(f, scratch=False):
    pool = cp.get_default_memory_pool()
    cp.cuda.Device().synchronize()
    pool.free_all_blocks()
    base = pool.used_bytes()
    if scratch:
        _gpu.module().spgemm_scratch_peak(reset=True)
    out = f()
    cp.cuda.Device().synchronize()
    extra = _gpu.module().spgemm_scratch_peak(reset=True) if scratch else 0
    del out
    return (pool.total_bytes() - base + extra) / 2**20


def host_ms(f, repeats=3):
    """Median milliseconds until f returns, the GPU idle before each call: the host's share
    (launches, Python, waits at host round trips); the GPU may still be busy after."""
    times = []
    for _ in range(repeats):
        cp.cuda.Device().synchronize()
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    cp.cuda.Device().synchronize()
    return float(np.median(times))


def main(cases):
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    print(f"{dev}; CuPy {cp.__version__} (cuSPARSE via A @ B, its own output order); "
          "kernelkit with sorted rows; float64\n")
    print("| case | products | nnz(C) | kernelkit ms | kk call returns ms | cuSPARSE ms "
          "| vs cuSPARSE | peak MiB kk / cuSPARSE | max abs diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    ratios = []
    for case in cases:
        try:
            a = sparse_suite.make(case)
            for label, b in (("A A", a), ("A A^T", a.T.tocsr())):
                prods = sparse_suite.products(a, b)
                ga, gb = csp.csr_matrix(a), csp.csr_matrix(b)
                ours, theirs = spgemm(ga, gb), ga @ gb
                theirs.sum_duplicates()
                delta = (ours - theirs).data
                diff = float(cp.abs(delta).max()) if delta.size else 0.0
                t_kk = gpu_median_ms(lambda: spgemm(ga, gb), 3)
                t_host = host_ms(lambda: spgemm(ga, gb))
                t_cs = gpu_median_ms(lambda: ga @ gb, 3)
                m_kk = peak_mib(lambda: spgemm(ga, gb), scratch=True)
                m_cs = peak_mib(lambda: ga @ gb)
                ratios.append(t_cs / t_kk)
                print(f"| {case} {label} | {prods:.3g} | {ours.nnz:.3g} | {t_kk:.1f} "
                      f"| {t_host:.1f} | {t_cs:.1f} "
                      f"| {t_cs / t_kk:.2f}x | {m_kk:.0f} / {m_cs:.0f} | {diff:.1e} |", flush=True)
                del ours, theirs
        except Exception as exc:  # noqa: BLE001 - one broken case must not hide the rest
            print(f"| {case} | failed: {type(exc).__name__}: {str(exc)[:80]} |", flush=True)
    print(f"\ngeometric mean: {float(np.exp(np.mean(np.log(ratios)))):.2f}x cuSPARSE")


if __name__ == "__main__":
    main(sys.argv[1:] or sparse_suite.NAMES)
