"""Where the GPU time goes: for a few benchmark cases, the host time to submit one call, the
time to its completion, and the GPU kernels it ran (PyTorch's profiler records every kernel
of the process through CUPTI, CuPy's and kernelkit's included).

python bench/gpu_profile.py   -> per case: host/complete microseconds and the top kernels.
"""
import sys
import time

import cupy as cp
import cupyx.scipy.sparse as csp
import numpy as np

import sparse_suite
from kernelkit.kernels import kernel_sum
from kernelkit.kron import kron_matvec
from kernelkit.sparse import spgemm


def cases():
    rng = cp.random.default_rng(0)
    for name, sizes, k in (("kron 16^5 k=1", [16] * 5, 1), ("kron 8^8 k=1", [8] * 8, 1),
                           ("kron 16^5 k=16", [16] * 5, 16)):
        fs = [rng.standard_normal((s, s)) for s in sizes]
        x = rng.standard_normal((int(np.prod(sizes)), k))
        yield name, lambda fs=fs, x=x: kron_matvec(fs, x)
    a = csp.csr_matrix(sparse_suite.make("poisson2d"))
    yield "spgemm poisson2d A A", lambda: spgemm(a, a)
    for d, c, dt in ((64, 1, np.float32), (3, 16, np.float32)):
        n = 30_000 if d > 16 else 300_000
        x = rng.standard_normal((n, d)).astype(dt)
        y = rng.standard_normal((50_000, d)).astype(dt)
        w = rng.random((n, c)).astype(dt)
        yield (f"kernel_sum d={d} c={c} {np.dtype(dt).name}",
               lambda x=x, y=y, w=w, d=d: kernel_sum(x, y, w, bandwidth=float(np.sqrt(d))))


def main():
    from torch.profiler import ProfilerActivity, profile

    for name, f in cases():
        f()
        cp.cuda.Device().synchronize()
        host, complete = [], []
        for _ in range(5):    # medians: one call's host time is noisy
            t0 = time.perf_counter()
            f()
            host.append(time.perf_counter() - t0)
            cp.cuda.Device().synchronize()
            complete.append(time.perf_counter() - t0)
        print(f"\n## {name}: host {1e6 * np.median(host):.0f} us, complete "
              f"{1e6 * np.median(complete):.0f} us (medians of 5)")
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            f()
            cp.cuda.Device().synchronize()
        launches = [e for e in prof.events() if "CUDA" in str(getattr(e, "device_type", ""))
                    and "kernelkit" in e.name]
        if 1 < len(launches) <= 8:   # each launch of ours, in order (a product's passes)
            print("our launches, us:", ", ".join(
                f"{getattr(e, 'device_time_total', getattr(e, 'cuda_time_total', 0.0)):.1f}"
                for e in launches))
        table = prof.key_averages()
        for key in ("device_time_total", "cuda_time_total"):
            try:
                print(table.table(sort_by=key, row_limit=8, max_name_column_width=70))
                break
            except (AttributeError, KeyError, ValueError):
                continue
        sys.stdout.flush()


if __name__ == "__main__":
    main()
