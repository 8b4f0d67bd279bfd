"""GPU Kronecker matvecs: kernelkit.kron.kron_matvec on CuPy arrays against CuPy's
tensordot shuffle (one tensordot per factor, as users write it), same GPU, same run.

python bench/gpu_bench_kron.py   -> a Markdown table (float64).
Times: CUDA events on the current stream, median of 5 after a warm-up.
"""
import cupy as cp
import numpy as np

from kernelkit.kron import kron_matvec
from timing import gpu_median_ms

SHAPES = [("16^5", [16] * 5), ("8^8", [8] * 8), ("100^3", [100] * 3), ("128^3", [128] * 3),
          ("400x400", [400, 400])]


def cupy_kron(factors, x):
    """The reshape + tensordot shuffle: each factor contracts the leading axis and appends
    its output axis at the end, so after d steps the axes are back in order."""
    k = x.shape[1]
    t = x.reshape([f.shape[1] for f in factors] + [k])
    t = cp.moveaxis(t, -1, 0)
    for f in factors:
        t = cp.tensordot(t, f, axes=([1], [1]))
    return cp.moveaxis(t, 0, -1).reshape(-1, k)


def main():
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    print(f"{dev}; CuPy {cp.__version__}; float64\n")
    print("| shape | k | kernelkit ms | GFLOP/s | CuPy tensordot ms | vs CuPy | max rel diff |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rng = cp.random.default_rng(0)
    for name, sizes in SHAPES:
        for k in (1, 16):
            N = int(np.prod(sizes))
            if N * k > 2e8:
                continue
            try:
                fs = [rng.standard_normal((s, s)) for s in sizes]
                x = rng.standard_normal((N, k))
                ours, ref = kron_matvec(fs, x), cupy_kron(fs, x)
                diff = float(cp.max(cp.abs(ours - ref)) / cp.max(cp.abs(ref)))
                t_kk = gpu_median_ms(lambda: kron_matvec(fs, x))
                t_cp = gpu_median_ms(lambda: cupy_kron(fs, x))
                gflops = 2 * N * k * sum(sizes) / t_kk / 1e6
                print(f"| {name} | {k} | {t_kk:.2f} | {gflops:.0f} | {t_cp:.2f} | {t_cp / t_kk:.2f}x "
                      f"| {diff:.1e} |", flush=True)
            except Exception as exc:  # noqa: BLE001 - one broken case must not hide the rest
                print(f"| {name} | {k} | failed: {type(exc).__name__}: {str(exc)[:80]} |",
                      flush=True)


if __name__ == "__main__":
    main()
