"""GPU throughput of kernelkit.special on CuPy arrays (1e8 elements, mixed wide box).

python bench/gpu_bench.py   -> a Markdown table of elements/s per function and dtype.
Timed with CUDA events on the current stream, median of 5 after one warm-up.
"""
import cupy as cp
import numpy as np

import kernelkit.special as ks
from timing import gpu_median_ms

N = 100_000_000


def main():
    rng = cp.random.default_rng(0)
    v64 = cp.exp(rng.uniform(np.log(1e-3), np.log(1e5), N))
    x64 = cp.exp(rng.uniform(np.log(1e-8), np.log(1e5), N))
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    print(f"{N:.0e} elements, v log-uniform [1e-3, 1e5], x log-uniform [1e-8, 1e5]; {dev}\n")
    print("| function | dtype | Gelem/s | ms |")
    print("|---|---|---:|---:|")
    for dtype in (cp.float32, cp.float64):
        v, x = v64.astype(dtype), x64.astype(dtype)
        out = cp.empty_like(v)
        for f in (ks.log_iv, ks.log_kv, ks.ive, ks.kve):
            ms = gpu_median_ms(lambda: f(v, x, out=out))
            print(f"| {f.__name__} | {np.dtype(dtype).name} | {N / ms / 1e6:.2f} | {ms:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
