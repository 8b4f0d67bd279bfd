"""GPU kernel sums: kernelkit.kernels.kernel_sum on CuPy arrays against KeOps (pykeops with
PyTorch CUDA tensors, when installed) and a blocked dense CuPy reference, same GPU, same run.

python bench/gpu_bench_kernels.py   -> a Markdown table (gaussian kernel, h = sqrt(d)).
Times: CUDA events / synchronised wall clock, median of 3 after a warm-up (KeOps compiles on
its first call, reported separately).
"""
import time

import cupy as cp
import numpy as np

from kernelkit.kernels import kernel_sum

CASES = [(3, np.float32, 1), (3, np.float32, 16), (3, np.float64, 1), (3, np.float64, 16),
         (64, np.float32, 1), (64, np.float32, 16), (64, np.float64, 1), (64, np.float64, 16)]
N, M = 300_000, 50_000


def timed(f, repeats=3):
    f()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        cp.cuda.Device().synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def dense_blocked(x, y, w, h, block=256):
    out = cp.empty((y.shape[0], w.shape[1]), dtype=x.dtype)
    x2 = (x * x).sum(1)
    for s in range(0, y.shape[0], block):
        yb = y[s:s + block]
        d2 = cp.maximum((yb * yb).sum(1)[:, None] + x2[None, :] - 2 * yb @ x.T, 0)
        out[s:s + block] = cp.exp(d2 * (-0.5 / h**2)) @ w
    return out


def keops_sum(x, y, w, h):
    import torch
    from pykeops.torch import LazyTensor

    tx, ty, tw = (torch.as_tensor(a, device="cuda") for a in (x, y, w))
    xi, yj = LazyTensor(tx[None, :, :]), LazyTensor(ty[:, None, :])
    k = (-((yj - xi) ** 2).sum(-1) / (2 * h * h)).exp()
    return lambda: (k @ tw)


def main():
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    print(f"{dev}; n = {N:.0e} points, m = {M:.0e} queries (d = 64: n / 10), gaussian\n")
    print("| d | dtype | c | kernelkit ms | Gpairs/s | KeOps ms | vs KeOps | KeOps first call s "
          "| dense CuPy ms | vs dense | max rel diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d, dtype, c in CASES:
        try:
            n = N if d < 16 else N // 10
            rng = cp.random.default_rng(0)
            x = rng.standard_normal((n, d)).astype(dtype)
            y = rng.standard_normal((M, d)).astype(dtype)
            w = rng.random((n, c)).astype(dtype)
            h = float(np.sqrt(d))
            ours = kernel_sum(x, y, w, bandwidth=h)
            t_kk = timed(lambda: kernel_sum(x, y, w, bandwidth=h))
            ref = dense_blocked(x, y, w, h)
            t_dn = timed(lambda: dense_blocked(x, y, w, h))
            diff = float(cp.max(cp.abs(ours - ref) / cp.abs(ref)))
            try:
                t0 = time.perf_counter()
                f = keops_sum(x, y, w, h)
                f()
                first = time.perf_counter() - t0
                t_ko = timed(f)
                keops = f"{t_ko * 1e3:.1f} | {t_ko / t_kk:.2f}x | {first:.1f}"
            except Exception as exc:  # noqa: BLE001 - report why the peer did not run
                keops = f"not run ({type(exc).__name__}: {str(exc)[:40]}) | - | -"
            print(f"| {d} | {np.dtype(dtype).name} | {c} | {t_kk * 1e3:.1f} "
                  f"| {n * M / t_kk / 1e9:.0f} | {keops} | {t_dn * 1e3:.1f} | {t_dn / t_kk:.2f}x "
                  f"| {diff:.1e} |", flush=True)
        except Exception as exc:  # noqa: BLE001 - one broken case must not hide the rest
            print(f"| {d} | {np.dtype(dtype).name} | {c} | failed: {type(exc).__name__}: "
                  f"{str(exc)[:80]} |", flush=True)


if __name__ == "__main__":
    main()
