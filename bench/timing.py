"""Timing helper shared by the benchmark scripts."""
import time

import numpy as np


def median_time(f, repeats=3, warmup=False):
    """(median seconds of `repeats` calls of f, f's last result); one untimed call first if
    `warmup`."""
    if warmup:
        f()
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def gpu_median_ms(f, repeats=5):
    """Median milliseconds of `repeats` calls of f on CuPy's current stream (CUDA events),
    after one untimed call."""
    import cupy as cp

    f()
    times = []
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        f()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return float(np.median(times))
