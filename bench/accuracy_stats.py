"""Accuracy of kernelkit.stats (von Mises-Fisher) against the mpmath reference set, SciPy alongside.

python bench/accuracy_stats.py   -> Markdown table.

Reference: tests/data/vmf_ref.npz (tests/data/make_vmf_ref.py: quadratures at 50 and 80 digits
that agree to 1e-35). SciPy's log normaliser is taken as logpdf(mu) - kappa from
scipy.stats.vonmises_fisher (it rejects kappa = 0, so all reference kappas are > 0).
kappa_mle is checked by the round trip A_d(vmf_kappa_mle(r, d)) = r over a grid of r_bar.
"""
import os

import numpy as np
from scipy import stats

from kernelkit.stats import (vmf_kappa_mle, vmf_log_normalizer, vmf_mean_resultant_length,
                             vonmises_fisher)

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "tests", "data", "vmf_ref.npz"))


def fmt(err):
    err = np.asarray(err, dtype=float)
    bad = ~np.isfinite(err)
    good = err[~bad]
    s = f"{np.median(good):.2g} / {good.max():.2g}"
    return s + (f" ({bad.sum()} inf or NaN)" if bad.any() else "")


def scipy_logc(d, kappa):
    mu = np.zeros(int(d))
    mu[0] = 1.0
    with np.errstate(all="ignore"):
        return float(stats.vonmises_fisher(mu, kappa).logpdf(mu)) - kappa


def main():
    d, kappa = REF["d"].astype(int), REF["kappa"]
    print(f"{len(d)} reference points, d in {sorted(set(d.tolist()))}, kappa in "
          f"[{kappa.min():g}, {kappa.max():g}]\n")
    print("| quantity | measure | kernelkit median / max | SciPy median / max |")
    print("|---|---|---|---|")
    ref = REF["logc"]
    ours = vmf_log_normalizer(d, kappa)
    theirs = np.array([scipy_logc(di, ki) for di, ki in zip(d, kappa)])
    print(f"| log C_d(kappa) | relative error | {fmt(np.abs(ours - ref) / np.abs(ref))} "
          f"| {fmt(np.abs(theirs - ref) / np.abs(ref))} |")
    a = vmf_mean_resultant_length(d, kappa)
    print(f"| A_d(kappa) | ULP | {fmt(np.abs(a - REF['a']) / np.spacing(REF['a']))} | - |")
    h = np.array([vonmises_fisher(np.eye(1, di)[0], ki).entropy() for di, ki in zip(d, kappa)])
    with np.errstate(all="ignore"):
        h_sp = np.array([stats.vonmises_fisher(np.eye(1, di)[0], ki).entropy()
                         for di, ki in zip(d, kappa)])
    scale = np.maximum(np.abs(REF["entropy"]), 1)
    print(f"| entropy | error / max(1, abs H) | {fmt(np.abs(h - REF['entropy']) / scale)} "
          f"| {fmt(np.abs(h_sp - REF['entropy']) / scale)} |")
    r = np.concatenate([np.logspace(-6, np.log10(0.5), 200), 1 - np.logspace(-12, -0.3, 200)])
    worst = []
    for dim in (2, 3, 64, 2048, 8192, 32768, 65536, 10**6):
        k = vmf_kappa_mle(r, dim)
        worst.append(np.abs(vmf_mean_resultant_length(dim, k) - r) / np.spacing(r))
    print(f"| kappa_mle round trip, r_bar in [1e-6, 1 - 1e-12], d in 2..1e6 | ULP of r_bar "
          f"| {fmt(np.concatenate(worst))} | - |")


if __name__ == "__main__":
    main()
