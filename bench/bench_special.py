"""Speed of kernelkit.special against scipy.special in the same process.

pytest-benchmark:  pytest bench/bench_special.py --benchmark-group-by=param:box
README table:      python bench/bench_special.py   (median of repeats, one thread and all)
Per region:        python bench/bench_special.py regions   (ns per element, one thread)

Four boxes of 1e6 (v, x) points each. The log functions are compared with SciPy's scaled
functions (ive, kve), which is what a SciPy user calls to avoid overflow.
"""
import os
import time

import numpy as np
import pytest
import scipy.special as sc
from threadpoolctl import threadpool_limits

import kernelkit.special as ks

N = 1_000_000


def make_box(name, n=N, seed=0):
    rng = np.random.default_rng(seed)
    logu = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), n))  # noqa: E731
    if name == "small v":
        return rng.uniform(0, 20, n), logu(1e-3, 1e3)
    if name == "v<=1e3":
        return rng.uniform(0, 1e3, n), logu(1e-2, 1e4)
    if name == "v<=1e5":
        return rng.uniform(0, 1e5, n), logu(1e-1, 1e6)
    if name == "mixed wide":
        return logu(1e-3, 1e5), logu(1e-8, 1e5)
    raise ValueError(name)


BOXES = ["small v", "v<=1e3", "v<=1e5", "mixed wide"]
PAIRS = [  # (kernelkit function, SciPy peer)
    (ks.log_iv, sc.ive), (ks.log_kv, sc.kve), (ks.ive, sc.ive), (ks.kve, sc.kve),
]
FUNCS = {f"kk.{f.__name__}": f for f, _ in PAIRS} | {f"scipy.{p.__name__}": p for _, p in PAIRS}


@pytest.fixture(scope="module", params=BOXES)
def box(request):
    return make_box(request.param, n=200_000)


@pytest.mark.parametrize("func", sorted(FUNCS))
def test_speed(benchmark, box, func):
    v, x = box
    with np.errstate(all="ignore"), threadpool_limits(1):
        benchmark(FUNCS[func], v, x)


def median_time(f, v, x, repeats=5):
    times = []
    with np.errstate(all="ignore"):
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(v, x)
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    threads = os.cpu_count()
    print(f"{N:.0e} elements per box, median of 5; machine: {os.cpu_count()} CPUs\n")
    print("| box | kernelkit | SciPy | kk 1 thread (Melem/s) | SciPy (Melem/s) | ratio 1 thread "
          f"| kk {threads} threads (Melem/s) | ratio {threads} threads |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name in BOXES:
        v, x = make_box(name)
        for ours, peer in PAIRS:
            with threadpool_limits(1):
                t_peer = median_time(peer, v, x, repeats=3)
                t_one = median_time(ours, v, x)
            t_all = median_time(ours, v, x)
            print(f"| {name} | {ours.__name__} | {peer.__name__} | {N / t_one / 1e6:.1f} "
                  f"| {N / t_peer / 1e6:.2f} | {t_peer / t_one:.1f}x | {N / t_all / 1e6:.1f} "
                  f"| {t_peer / t_all:.1f}x |", flush=True)


def region_points(name, n=200_000, seed=0):
    """(v, x) inside one evaluation region of kernelkit.special (see log_bessel.hpp)."""
    rng = np.random.default_rng(seed)
    logu = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), n))  # noqa: E731
    if name == "series, v < 20, x <= 10":
        return rng.uniform(0, 20, n), logu(1e-3, 10)
    if name == "recurrences, v < 20, 10 < x < 2 v^2":
        v = rng.uniform(5, 20, n)
        return v, np.minimum(rng.uniform(10, 800, n), 0.99 * np.maximum(20, 2 * v * v))
    if name == "Hankel, v < 3, x in [20, 1e3]":
        return rng.uniform(0, 3, n), logu(20, 1e3)
    if name == "Debye, v in [20, 1e3]":
        return rng.uniform(20, 1e3, n), logu(1e-2, 1e4)
    raise ValueError(name)


REGIONS = ["series, v < 20, x <= 10", "recurrences, v < 20, 10 < x < 2 v^2",
           "Hankel, v < 3, x in [20, 1e3]", "Debye, v in [20, 1e3]"]


def regions():
    print("| region | kk log_iv | kk log_kv | kk ive | kk kve | SciPy ive | SciPy kve |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with threadpool_limits(1):
        for name in REGIONS:
            v, x = region_points(name)
            ns = [median_time(f, v, x, repeats=3) / v.size * 1e9
                  for f in (ks.log_iv, ks.log_kv, ks.ive, ks.kve, sc.ive, sc.kve)]
            print(f"| {name} | " + " | ".join(f"{t:.0f}" for t in ns) + " |", flush=True)


if __name__ == "__main__":
    import sys
    regions() if sys.argv[1:] == ["regions"] else main()
