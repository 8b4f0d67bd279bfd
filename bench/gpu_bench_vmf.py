"""von Mises-Fisher on CuPy arrays: rvs, fit and logpdf at d = 2048 and 8192 (n = 2000), GPU
against the CPU path of kernelkit in the same run.

python bench/gpu_bench_vmf.py   -> a Markdown table (ms, median of 5 after a warm-up; the GPU
times include synchronisation, since fit returns kappa as a Python float).
"""
import time

import cupy as cp
import numpy as np

from kernelkit.stats import vonmises_fisher


def median_ms(f, sync):
    f()
    sync()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        f()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main():
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    print(f"n = 2000 samples; {dev}\n")
    print("| d | step | GPU ms | CPU ms |")
    print("|---:|---|---:|---:|")
    sync = cp.cuda.get_current_stream().synchronize
    for d, kappa in ((2048, 1000.0), (8192, 5000.0)):
        mu = np.zeros(d)
        mu[0] = 1.0
        cpu, gpu = vonmises_fisher(mu, kappa), vonmises_fisher(cp.asarray(mu), kappa)
        x_cpu = cpu.rvs(2000, random_state=0)
        x_gpu = gpu.rvs(2000, random_state=0)
        rows = [
            ("rvs", lambda: gpu.rvs(2000, random_state=1), lambda: cpu.rvs(2000, random_state=1)),
            ("fit", lambda: vonmises_fisher.fit(x_gpu), lambda: vonmises_fisher.fit(x_cpu)),
            ("logpdf", lambda: gpu.logpdf(x_gpu), lambda: cpu.logpdf(x_cpu)),
        ]
        for name, on_gpu, on_cpu in rows:
            print(f"| {d} | {name} | {median_ms(on_gpu, sync):.2f} "
                  f"| {median_ms(on_cpu, lambda: None):.2f} |", flush=True)


if __name__ == "__main__":
    main()
