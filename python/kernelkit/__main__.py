"""`python -m kernelkit`: build information, a self-check against known values, and a demo."""
import sys
import warnings

import numpy as np

import kernelkit
from kernelkit import _core, _gpu, build_info
from kernelkit import special as ks

# (function, v, x, value) with values from mpmath at 50 digits, rounded to float64.
KNOWN_VALUES = [
    ("log_iv", 0.0, 1.0, 0.23591435850717865),
    ("log_iv", 1000.0, 10.0, -4302.665291340331),
    ("log_iv", 1e8, 1e-300, -70888935592.40189),
    ("log_kv", 1000.0, 1.0, 6597.674206338348),
    ("log_kv", 2.5, 1e5, -100005.53064137998),
    ("ive", 100.0, 1000.0, 8.515587581548156e-05),
    ("kve", 0.5, 1.0, 1.2533141373155003),
    ("iv", 2.0, -3.0, 2.245212440929951),
    ("iv_ratio_c", 1.0, 1e6, 5.00000125000125e-07),
]


def self_check():
    worst = 0.0
    for name, v, x, expected in KNOWN_VALUES:
        got = float(getattr(ks, name)(v, x))
        scale = max(abs(expected), 1.0) if name.startswith("log") else abs(expected)
        err = abs(got - expected) / np.spacing(scale)
        worst = max(worst, err)
        status = "ok" if err <= 4 else "FAIL"
        print(f"  {name}({v:g}, {x:g}) = {got:.17g}   ({err:.1f} ulp) {status}")
    return worst <= 4


def demo():
    import scipy
    import scipy.special as sc

    print(f"\nWhere scipy.special {scipy.__version__} over- or underflows and kernelkit does not:")
    rows = [
        ("I_v(x), v=1000, x=10", lambda: np.log(sc.iv(1000.0, 10.0)), lambda: ks.log_iv(1000.0, 10.0)),
        ("K_v(x), v=1000, x=1", lambda: np.log(sc.kv(1000.0, 1.0)), lambda: ks.log_kv(1000.0, 1.0)),
        ("I_v(x) e^-x, v=1023, x=300 (vMF d=2048)", lambda: np.log(sc.ive(1023.0, 300.0)),
         lambda: ks.log_iv(1023.0, 300.0) - 300.0),
        ("K_v(x), v=200, x=1e-3", lambda: np.log(sc.kv(200.0, 1e-3)), lambda: ks.log_kv(200.0, 1e-3)),
        ("I_v(x) e^-x at x=inf", lambda: sc.ive(2.0, np.inf), lambda: ks.ive(2.0, np.inf)),
    ]
    print(f"  {'quantity':44s} {'scipy (log)':>22s} {'kernelkit (log)':>22s}")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for label, ref, ours in rows:
            print(f"  {label:44s} {float(ref()):>22.16g} {float(ours()):>22.16g}")
    vmf_demo()
    kernels_demo()


def vmf_demo():
    from scipy import stats

    from kernelkit.stats import vonmises_fisher

    d, kappa, n = 2048, 1000.0, 2000
    mu = np.zeros(d)
    mu[0] = 1.0
    x = vonmises_fisher(mu, kappa).rvs(n, random_state=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        k_scipy = stats.vonmises_fisher.fit(x)[1]
        lp_scipy = stats.vonmises_fisher(mu, 300.0).logpdf(mu)
    mu_hat, k_ours = vonmises_fisher.fit(x)
    lp_ours = vonmises_fisher(mu, 300.0).logpdf(mu)
    print(f"\nvon Mises-Fisher, d = {d}, kappa = {kappa:g}, {n} samples (kernelkit.stats):")
    print(f"  {'fitted kappa':44s} {k_scipy:>22.6g} {k_ours:>22.6g}")
    print(f"  {'logpdf at mu for kappa = 300':44s} {lp_scipy:>22.6g} {lp_ours:>22.6g}")


def kernels_demo():
    from kernelkit.kernels import kernel_sum

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2000, 3)), rng.standard_normal((4, 3)) + 40.0
    with np.errstate(divide="ignore"):
        dense = np.log(np.exp(-2.0 * ((y[:, None] - x[None]) ** 2).sum(-1)).sum(1))
    ours = kernel_sum(x, y, bandwidth=0.5, reduction="logsumexp")
    print("\nGaussian kernel sum (h = 0.5, 2000 points) at a query 40 units away (kernelkit.kernels):")
    print(f"  {'log sum_i k(x_i, y) (NumPy dense, kernelkit)':44s} {dense[0]:>22.16g} {ours[0]:>22.16g}")


def main():
    print(f"kernelkit {kernelkit.__version__} (Python {sys.version.split()[0]}, NumPy {np.__version__})")
    print(f"  compiler: {build_info.cxx_compiler}, build type {build_info.build_type}, "
          f"OpenMP: {'yes' if build_info.openmp else 'no'}")
    cuda = (f"built for sm_{build_info.cuda_architectures} with nvcc {build_info.cuda_compiler_version}"
            if build_info.cuda else "not built")
    print(f"  CUDA module: {cuda}")
    print(f"  CPU threads: {_core.max_threads()}")
    why = _gpu.why_unavailable()
    print(f"  GPU usable: {'yes' if not why else 'no (' + why + ')'}")
    print("\nSelf-check against mpmath values:")
    ok = self_check()
    demo()
    if not ok:
        print("\nSELF-CHECK FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
