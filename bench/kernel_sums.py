"""Kernel sums and KDE: kernelkit next to KeOps (CPU), NumPy blocked, scikit-learn and SciPy.

python bench/kernel_sums.py sums [--n 100000] [--m 10000]   -> table 1 (gaussian kernel sums)
python bench/kernel_sums.py batched                        -> table 2 (256 problems of 2000 x 2000)
python bench/kernel_sums.py kde                            -> table 3 (KDE log densities)
python bench/kernel_sums.py first                          -> first call vs steady state
python bench/kernel_sums.py accuracy                       -> max relative error vs float64 dense
python bench/kernel_sums.py compact                        -> compact kernels: tile skipping
pytest bench/kernel_sums.py                                -> pytest-benchmark, d = 3, n = 1e5, m = 1e4

Every library runs on the same points in the same process after a warm-up call, all threads,
times are medians. Sums: S_j = sum_i exp(-|x_i - y_j|^2 / (2 h^2)) W_i with h = sqrt(d), data and
queries N(0, I_d), W (n, c) uniform; each library gets the same n data points and m queries
(m = 1e4 rather than 1e5 keeps KeOps at d = 64 near a minute; every library's time is linear in
m), plus kernelkit alone on the full n = m = 1e5 problem. KeOps compiles each formula on first
use: its cache is cleared at start and the first-call time is reported separately.
NumPy blocked: |x|^2 + |y|^2 - 2 x.y (data centred first) for blocks of 256 queries, exp, then
a GEMM with W; NumPy's BLAS threads. scikit-learn KernelDensity (rtol=0, its exact mode) and
scipy.stats.gaussian_kde compute log densities; kernelkit's KernelDensity runs the same
(logsumexp) computation.
"""
import argparse
import time

import numpy as np
import pytest

from kernelkit.kernels import KernelDensity, kernel_sum
from timing import median_time


def numpy_blocked(x, y, w, h, block=256):
    """The materialise-in-blocks peer: GEMM form after centring (float64 or float32)."""
    ctr = x.mean(0)
    xc, yc = x - ctr, y - ctr
    xn = (xc * xc).sum(1)
    out = np.empty((len(y), w.shape[1]), dtype=x.dtype)
    for j in range(0, len(y), block):
        yb = yc[j:j + block]
        d2 = (yb * yb).sum(1)[:, None] + xn[None, :] - 2 * (yb @ xc.T)
        np.maximum(d2, 0, out=d2)
        d2 *= -0.5 / (h * h)
        np.exp(d2, out=d2)
        out[j:j + block] = d2 @ w
    return out


def keops_sum(x, y, w, h):
    from pykeops.numpy import LazyTensor
    X = LazyTensor(x[None, :, :])
    Y = LazyTensor(y[:, None, :])
    g = LazyTensor(np.array([-0.5 / (h * h)], dtype=x.dtype))
    return ((((Y - X) ** 2).sum(-1) * g).exp() * LazyTensor(w[None, :, :])).sum(1)


def keops_clean():
    try:
        import pykeops
        pykeops.clean_pykeops()
        return True
    except Exception:  # not installed, or no cache yet
        return False


def make(n, m, d, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal((m, d)).astype(dtype)
    w = rng.random((n, c)).astype(dtype)
    return x, y, w


def table_sums(n, m, full, dims, dtypes):
    have_keops = keops_clean()
    dtypes = [np.dtype(t).type for t in dtypes]
    print("| d | dtype | c | kernelkit Mpairs/s | kernelkit n = m = 1e5 (s) | KeOps Mpairs/s "
          "(first call s) | ratio | NumPy blocked Mpairs/s | ratio | max rel diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in dims:
        h = float(np.sqrt(d))
        for dtype in dtypes:
            for c in (1, 16):
                x, y, w = make(n, m, d, c, dtype)
                pairs = n * m
                kk = lambda: kernel_sum(x, y, w, bandwidth=h)
                kk()
                t_kk, s_kk = median_time(kk)
                t_full = float("nan")
                if full:
                    xf, yf, wf = make(100_000, 100_000, d, c, dtype, seed=1)
                    t_full, _ = median_time(lambda: kernel_sum(xf, yf, wf, bandwidth=h), 1)
                keops_cell, keops_ratio = "-", "-"
                if have_keops:
                    t0 = time.perf_counter()
                    keops_sum(x, y, w, h)
                    first = time.perf_counter() - t0
                    t_ko, _ = median_time(lambda: keops_sum(x, y, w, h), 3 if d == 3 else 1)
                    keops_cell = f"{pairs / t_ko / 1e6:.0f} ({first:.0f})"
                    keops_ratio = f"{t_ko / t_kk:.1f}x"
                t_np, s_np = median_time(lambda: numpy_blocked(x, y, w, h), 1)
                diff = np.max(np.abs(s_kk.astype(np.float64) / s_np.astype(np.float64) - 1))
                print(f"| {d} | {np.dtype(dtype).name} | {c} | {pairs / t_kk / 1e6:.0f} | "
                      f"{t_full:.1f} | {keops_cell} | {keops_ratio} | {pairs / t_np / 1e6:.0f} | "
                      f"{t_np / t_kk:.1f}x | {diff:.1e} |", flush=True)


def table_batched():
    have_keops = keops_clean()
    B, n, d = 256, 2000, 3
    print("| problems | dtype | kernelkit ms | KeOps ms | ratio | NumPy loop ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((B, n, d)).astype(dtype)
        y = rng.standard_normal((B, n, d)).astype(dtype)
        w = rng.random((B, n, 1)).astype(dtype)
        h = (rng.random((B, 1)) + 0.5)
        kk = lambda: kernel_sum(x, y, w, bandwidth=h)
        kk()
        t_kk, s_kk = median_time(kk, 5)
        ko_cell, ko_ratio = "-", "-"
        if have_keops:
            from pykeops.numpy import LazyTensor
            hs = h.astype(dtype)[:, :, None]

            def ko():
                X = LazyTensor((x / hs)[:, None, :, :])
                Y = LazyTensor((y / hs)[:, :, None, :])
                return ((-0.5 * ((Y - X) ** 2).sum(-1)).exp() * LazyTensor(w[:, None, :, :])).sum(2)
            ko()
            t_ko, _ = median_time(ko, 5)
            ko_cell, ko_ratio = f"{t_ko * 1e3:.0f}", f"{t_ko / t_kk:.1f}x"
        t_np, _ = median_time(lambda: [numpy_blocked(x[b], y[b], w[b], h[b, 0], 2000)
                                       for b in range(B)], 1)
        print(f"| {B} x {n}x{n} | {np.dtype(dtype).name} | {t_kk * 1e3:.0f} | {ko_cell} | "
              f"{ko_ratio} | {t_np * 1e3:.0f} | {t_np / t_kk:.1f}x |", flush=True)


def table_kde():
    from scipy import stats
    from sklearn.neighbors import KernelDensity as SkKDE
    n, d, h = 100_000, 3, 0.3
    x, _, _ = make(n, 1, d, 1, np.float64)
    print("| peer | queries | kernelkit ms | peer ms | ratio | max abs diff of log density |")
    print("|---|---|---|---|---|---|")
    for kernel in ("gaussian", "epanechnikov"):
        m = 200
        y = np.random.default_rng(1).standard_normal((m, d))
        ours = KernelDensity(kernel=kernel, bandwidth=h).fit(x)
        ours.score_samples(y)
        t_kk, s_kk = median_time(lambda: ours.score_samples(y), 5)
        sk = SkKDE(kernel=kernel, bandwidth=h, rtol=0).fit(x)
        t_sk, s_sk = median_time(lambda: sk.score_samples(y), 1)
        print(f"| scikit-learn KernelDensity({kernel}, rtol=0) | {m} | {t_kk * 1e3:.1f} | "
              f"{t_sk * 1e3:.0f} | {t_sk / t_kk:.0f}x | {np.max(np.abs(s_kk - s_sk)):.1e} |",
              flush=True)
    m = 2000
    y = np.random.default_rng(2).standard_normal((m, d))
    kde = stats.gaussian_kde(x.T)
    ours = KernelDensity(bandwidth="scott").fit(x)
    ours.score_samples(y)
    t_kk, s_kk = median_time(lambda: ours.score_samples(y), 5)
    t_sp, s_sp = median_time(lambda: kde.logpdf(y.T), 1)
    print(f"| scipy gaussian_kde (scott; full covariance) | {m} | {t_kk * 1e3:.1f} | "
          f"{t_sp * 1e3:.0f} | {t_sp / t_kk:.0f}x | {np.max(np.abs(s_kk - s_sp)):.1e} |")


def table_first():
    """First call of each kernel in this process vs its steady state (n = m = 2000, d = 3)."""
    x, y, w = make(2000, 2000, 3, 1, np.float64)
    print("| kernel | first call ms | steady ms | difference ms |")
    print("|---|---|---|---|")
    for kernel in ("gaussian", "matern", "epanechnikov"):
        t0 = time.perf_counter()
        kernel_sum(x, y, w, kernel=kernel)
        first = time.perf_counter() - t0
        steady, _ = median_time(lambda: kernel_sum(x, y, w, kernel=kernel), 9)
        print(f"| {kernel} | {first * 1e3:.2f} | {steady * 1e3:.2f} | "
              f"{(first - steady) * 1e3:.2f} |")


def table_accuracy():
    """Max relative error of gaussian sums against float64 dense sums from the same rounded
    inputs (n = 2000, m = 300, h = sqrt(d), data N(0, 1) plus an offset)."""
    print("| d | offset | float64 max rel err | float32 max rel err |")
    print("|---|---|---|---|")
    for d in (1, 3, 20, 64):
        for offset in (0.0, 1e3):
            cells = []
            for dtype in (np.float64, np.float32):
                x, y, w = make(2000, 300, d, 1, dtype, seed=d)
                x, y = (x + offset).astype(dtype), (y + offset).astype(dtype)
                got = kernel_sum(x, y, w, bandwidth=np.sqrt(d))
                x64, y64 = x.astype(np.float64), y.astype(np.float64)
                r2 = ((y64[:, None, :] - x64[None]) ** 2).sum(-1) / d
                ref = np.exp(-0.5 * r2) @ w.astype(np.float64)
                cells.append(np.max(np.abs(got[:, 0] / ref[:, 0] - 1)))
            print(f"| {d} | {offset:g} | {cells[0]:.1e} | {cells[1]:.1e} |", flush=True)


def table_compact():
    """Epanechnikov sums with and without tile skipping: the unbatched call sorts data and
    queries spatially and skips tiles; the same problem passed with a batch axis is not sorted."""
    print("| d | h | skipping ms | without ms | ratio |")
    print("|---|---|---|---|---|")
    for d in (2, 3):
        x, y, w = make(100_000, 20_000, d, 1, np.float64)
        for h in (0.05, 0.2):
            t_on, _ = median_time(lambda: kernel_sum(x, y, w, kernel="epanechnikov", bandwidth=h),
                                  3, warmup=True)
            t_off, _ = median_time(lambda: kernel_sum(x[None], y[None], w[None],
                                                      kernel="epanechnikov", bandwidth=h), 3,
                                   warmup=True)
            print(f"| {d} | {h} | {t_on * 1e3:.0f} | {t_off * 1e3:.0f} | {t_off / t_on:.1f}x |",
                  flush=True)


@pytest.mark.parametrize("library", ["kernelkit", "numpy_blocked"])
def test_speed(benchmark, library):
    x, y, w = make(100_000, 10_000, 3, 1, np.float64)
    h = float(np.sqrt(3))
    if library == "kernelkit":
        benchmark(kernel_sum, x, y, w, bandwidth=h)
    else:
        benchmark.pedantic(numpy_blocked, args=(x, y, w, h), rounds=1)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["sums", "batched", "kde", "first", "accuracy", "compact"])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--m", type=int, default=10_000)
    ap.add_argument("--d", type=int, nargs="*", default=[3, 64])
    ap.add_argument("--dtype", nargs="*", default=["float32", "float64"])
    ap.add_argument("--no-full", action="store_true", help="skip the n = m = 1e5 kernelkit runs")
    args = ap.parse_args()
    {"sums": lambda: table_sums(args.n, args.m, not args.no_full, args.d, args.dtype), "batched": table_batched,
     "kde": table_kde, "first": table_first, "accuracy": table_accuracy,
     "compact": table_compact}[args.part]()
