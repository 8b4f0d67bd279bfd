"""SpGEMM speed and peak memory: kernelkit.sparse against SciPy and SuiteSparse:GraphBLAS.

python bench/bench_sparse.py [case ...]   -> Markdown table (cases from bench/sparse_suite.py;
                                             "rmat" runs A A and A A^T, "rmat:AAT" only one)
python bench/bench_sparse.py phases [case ...]  -> kernelkit's one pass against its two phases
pytest bench/bench_sparse.py                -> pytest-benchmark, kernelkit and SciPy, A A only

Sorted output on every side: SciPy's ``A @ B`` followed by ``sort_indices()``; GraphBLAS's
``mxm`` followed by ``wait()`` (which finishes its lazy sort), with its JIT switched on and
pointed at the machine's gcc (``gb.ss.config["jit_c_control"] = "on"``,
``gb.ss.config["jit_c_compiler_name"] = shutil.which("gcc")``; the first call per kernel
compiles, so every library gets one warm-up call). Times are medians of 3 after the warm-up,
all threads (OpenMP for kernelkit, GraphBLAS's own threads; SciPy is single-threaded).
GFLOPS = 2 x products / time. Peak memory = the rise of the process's peak RSS (VmHWM, reset
through /proc/self/clear_refs) over the RSS before the call, after malloc_trim.
"""
import ctypes
import os
import shutil
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sparse_suite  # noqa: E402

from kernelkit.sparse import matmul  # noqa: E402

try:
    import graphblas as gb
    gb.init("suitesparse", blocking=False)
    gb.ss.config["nthreads"] = os.cpu_count()
    if shutil.which("gcc"):
        gb.ss.config["jit_c_compiler_name"] = shutil.which("gcc")
        gb.ss.config["jit_c_control"] = "on"
except ImportError:
    gb = None

_libc = ctypes.CDLL("libc.so.6")


def rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_mib(f):
    """Rise of the peak resident set while f runs (MiB); the result is dropped before return."""
    _libc.malloc_trim(0)
    before = rss_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    out = f()
    peak = rss_kib("VmHWM")
    del out
    return (peak - before) / 1024


def median_time(f, repeats=3):
    f()   # warm-up (GraphBLAS's JIT compiles here)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
        del out
    return float(np.median(times))


def scipy_sorted(a, b):
    c = a @ b
    c.sort_indices()
    return c


def graphblas_sorted(ga, gb_):
    c = ga.mxm(gb_).new()
    c.wait()
    return c


@pytest.fixture(scope="module", params=[n for n in sparse_suite.NAMES if n != "rmat"])
def suite_matrix(request):
    return sparse_suite.make(request.param)


@pytest.mark.parametrize("library", ["kernelkit", "scipy"])
def test_speed(benchmark, suite_matrix, library):
    a = suite_matrix
    benchmark(matmul if library == "kernelkit" else scipy_sorted, a, a)


def suite_products(cases):
    """(name, label, A, B) for each case, B made when its turn comes."""
    for case in cases:
        name, _, only = case.partition(":")
        a = sparse_suite.make(name)
        for label, tag in (("A A", "AA"), ("A A^T", "AAT")):
            if only in ("", tag):
                yield name, label, a, a if tag == "AA" else a.T.tocsr()


def main(cases):
    """kernelkit and SciPy on every case first, then GraphBLAS on every case, in the same
    process: after GraphBLAS had run on a case, kernelkit's next cases took up to twice as
    long (poisson2d A A^T 244 ms instead of 118, this VM), which the kernelkit and SciPy runs
    alone do not show; GraphBLAS also ran out of memory on banded after the earlier cases, so
    its matrices are freed after each case and a failure is reported, not fatal."""
    print(f"machine: {os.cpu_count()} CPUs; kernelkit threads: all; GraphBLAS "
          f"{'JIT on' if gb else 'not installed'}\n")
    rows = []
    for name, label, a, b in suite_products(cases):
        c = matmul(a, b)
        rows.append(dict(case=f"{name} {label}", prods=sparse_suite.products(a, b), nnz=c.nnz,
                         kk=median_time(lambda: matmul(a, b)),
                         sp=median_time(lambda: scipy_sorted(a, b)),
                         m_kk=peak_mib(lambda: matmul(a, b)),
                         m_sp=peak_mib(lambda: scipy_sorted(a, b)), gb=float("nan"),
                         m_gb=float("nan")))
        del c, b
    if gb is not None:
        for row, (name, label, a, b) in zip(rows, suite_products(cases)):
            ga, gbb = gb.io.from_scipy_sparse(a), gb.io.from_scipy_sparse(b)
            try:
                row["gb"] = median_time(lambda: graphblas_sorted(ga, gbb))
                row["m_gb"] = peak_mib(lambda: graphblas_sorted(ga, gbb))
            except gb.exceptions.OutOfMemory:
                print(f"GraphBLAS ran out of memory on {row['case']}")
            del ga, gbb, b
    print("| case | products | nnz(C) | products/nnz | kernelkit ms | GFLOPS | SciPy ms | vs SciPy "
          "| GraphBLAS ms | vs GraphBLAS | peak MiB kk / SciPy / GrB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['case']} | {r['prods']:.3g} | {r['nnz']:.3g} | "
              f"{r['prods'] / max(r['nnz'], 1):.2f} | {r['kk'] * 1e3:.0f} | "
              f"{2 * r['prods'] / r['kk'] / 1e9:.2f} | {r['sp'] * 1e3:.0f} | "
              f"{r['sp'] / r['kk']:.2f}x | {r['gb'] * 1e3:.0f} | {r['gb'] / r['kk']:.2f}x "
              f"| {r['m_kk']:.0f} / {r['m_sp']:.0f} / {r['m_gb']:.0f} |")
    geo = lambda r: float(np.exp(np.mean(np.log(r)))) if r else float("nan")  # noqa: E731
    ratios_sp = [r["sp"] / r["kk"] for r in rows]
    ratios_gb = [r["gb"] / r["kk"] for r in rows if r["gb"] == r["gb"]]
    print(f"\ngeometric mean: {geo(ratios_sp):.2f}x SciPy, {geo(ratios_gb):.2f}x GraphBLAS; "
          f"slowest case vs SciPy {min(ratios_sp):.2f}x")


def phases(cases):
    """The CPU's one pass (reserved product-count bound) against its two phases (symbolic
    count, then fill), same inputs, medians of 3 after a warm-up."""
    from kernelkit.sparse import spgemm
    print("| case | one pass ms | two phases ms | two / one |")
    print("|---|---:|---:|---:|")
    for name, label, a, b in suite_products(cases):
        t1 = median_time(lambda: spgemm(a, b, _phases=1))
        t2 = median_time(lambda: spgemm(a, b, _phases=2))
        print(f"| {name} {label} | {t1 * 1e3:.0f} | {t2 * 1e3:.0f} | {t2 / t1:.2f}x |",
              flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["phases"]:
        phases(sys.argv[2:] or sparse_suite.NAMES)
    else:
        main(sys.argv[1:] or sparse_suite.NAMES)
