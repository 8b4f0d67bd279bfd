"""Fitting von Mises-Fisher distributions in high dimension: kernelkit next to SciPy.

python bench/vmf_high_dim.py   -> Markdown tables (one thread for both libraries):
pytest bench/vmf_high_dim.py   -> pytest-benchmark of rvs at d = 2048, n = 2000 (SciPy: ~9 s a call)

1. rvs at d = 2048, n = 2000: kernelkit vs scipy.stats.vonmises_fisher.rvs (median of 3; SciPy
   takes seconds per call), and the ratio.
2. For d = 2048, 8192, 32768 (n = 2000 samples drawn by kernelkit, kappa such that A_d(kappa)
   = 0.5): the true kappa, kernelkit's fit and SciPy's fit on the same data, the fit times,
   and logpdf of the data (kernelkit's mean value; SciPy's gives inf where its normaliser
   overflows).
"""
import os

import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from timing import median_time

from kernelkit.stats import vmf_kappa_mle, vonmises_fisher

N = 2000


def unit(d):
    mu = np.zeros(d)
    mu[0] = 1.0
    return mu


def rvs_table(threads):
    d, kappa = 2048, 1000.0
    ours = vonmises_fisher(unit(d), kappa)
    theirs = stats.vonmises_fisher(unit(d), kappa)
    with threadpool_limits(threads):
        t_ours, _ = median_time(lambda: ours.rvs(N, random_state=0), 7)
        t_sp, _ = median_time(lambda: theirs.rvs(N, random_state=0), 3)
    print(f"| {d} | {N} | {kappa:g} | {threads} | {t_ours * 1e3:.0f} | {t_sp * 1e3:.0f} "
          f"| {t_sp / t_ours:.0f}x |", flush=True)


def fit_row(d):
    kappa = float(vmf_kappa_mle(0.5, d))
    x = vonmises_fisher(unit(d), kappa).rvs(N, random_state=d)
    t_fit, (mu, k_fit) = median_time(lambda: vonmises_fisher.fit(x), 5)
    t_lp, lp = median_time(lambda: vonmises_fisher(mu, k_fit).logpdf(x), 5)
    with np.errstate(all="ignore"):
        t_sp_fit, (mu_sp, k_sp) = median_time(lambda: stats.vonmises_fisher.fit(x), 3)
        try:
            lp_sp = f"{np.mean(stats.vonmises_fisher(mu_sp, k_sp).logpdf(x)):.6g}"
        except ValueError as exc:      # e.g. kappa fitted as 0 or mu not unit
            lp_sp = f"error: {exc}"
    print(f"| {d} | {kappa:.6g} | {k_fit:.6g} | {k_sp:.3g} | {t_fit * 1e3:.1f} "
          f"| {t_lp * 1e3:.1f} | {t_sp_fit * 1e3:.1f} | {np.mean(lp):.6g} | {lp_sp} |",
          flush=True)


@pytest.mark.parametrize("library", ["kernelkit", "scipy"])
def test_rvs_speed(benchmark, library):
    d, kappa = 2048, 1000.0
    dist = (vonmises_fisher if library == "kernelkit" else stats.vonmises_fisher)(unit(d), kappa)
    benchmark.pedantic(dist.rvs, args=(N,), kwargs={"random_state": 0}, rounds=3)


def main():
    print(f"machine: {os.cpu_count()} CPUs; n = {N} samples\n")
    print("| d | n | kappa | threads | kernelkit rvs (ms) | SciPy rvs (ms) | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rvs_table(1)
    rvs_table(os.cpu_count())
    print()
    print("| d | kappa true | kernelkit fit | SciPy fit | kk fit (ms) | kk logpdf (ms) "
          "| SciPy fit (ms) | kk mean logpdf | SciPy mean logpdf |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    with threadpool_limits(1):
        for d in (2048, 8192, 32768):
            fit_row(d)


if __name__ == "__main__":
    main()
