"""kernelkit.stats.vonmises_fisher against mpmath references, exact distributions and SciPy."""
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln

from kernelkit.stats import (mean_direction, vmf_kappa_mle, vmf_log_normalizer,
                             vmf_mean_resultant_length, vonmises_fisher)

REF = np.load(__import__("os").path.join(__import__("os").path.dirname(__file__), "data",
                                         "vmf_ref.npz"))


def unit(d, i=0):
    mu = np.zeros(d)
    mu[i] = 1.0
    return mu


# -- normaliser, mean resultant length, entropy ---------------------------------------------

def test_log_normalizer_against_mpmath():
    d, kappa, ref = REF["d"], REF["kappa"], REF["logc"]
    assert set(d) >= {3, 64, 2048, 8192, 32768, 65536}
    assert kappa.min() <= 1e-3 and kappa.max() >= 1e7
    got = vmf_log_normalizer(d.astype(int), kappa)
    assert got.dtype == np.float64 and got.shape == d.shape
    rel = np.abs(got - ref) / np.abs(ref)
    assert rel.max() <= 1e-14, (rel.max(), d[rel.argmax()], kappa[rel.argmax()])


def test_log_normalizer_where_scipy_overflows():
    # SciPy's normaliser goes through ive, which underflows to 0 for kappa << d^2.
    for d, kappa in [(2048, 300.0), (8192, 1e4), (32768, 1e5)]:
        with np.errstate(all="ignore"):
            sp = stats.vonmises_fisher(unit(d), kappa).logpdf(unit(d))
        assert not np.isfinite(sp)
        assert np.isfinite(vonmises_fisher(unit(d), kappa).logpdf(unit(d)))
    sel = (REF["d"] == 8192) & (REF["kappa"] > 1e3) & (REF["kappa"] < 1e4)
    assert sel.any()
    assert np.allclose(vmf_log_normalizer(8192, REF["kappa"][sel]), REF["logc"][sel],
                       rtol=1e-14, atol=0)


def test_log_normalizer_limits_and_broadcasting():
    d = np.array([2, 3, 64, 2048, 10**6])
    exact0 = gammaln(d / 2) - math.log(2) - (d / 2) * math.log(math.pi)  # -log |S^{d-1}|
    assert np.allclose(vmf_log_normalizer(d, 0.0), exact0, rtol=1e-15)
    # Continuous at 0 (kappa^v / I_v(kappa) -> 2^v Gamma(v + 1)).
    assert np.allclose(vmf_log_normalizer(d, 1e-300), exact0, rtol=1e-15)
    assert np.allclose(vmf_log_normalizer(3, 0.0), -math.log(4 * math.pi), rtol=1e-15)
    # d = 3 in closed form: log(kappa / (4 pi sinh kappa)).
    k = np.array([1e-3, 0.5, 3.0, 40.0])
    assert np.allclose(vmf_log_normalizer(3, k), np.log(k / (4 * np.pi * np.sinh(k))),
                       rtol=1e-14)
    out = vmf_log_normalizer(np.array([[3], [64]]), [0.0, 1.0, np.inf, np.nan])
    assert out.shape == (2, 4)
    assert np.all(out[:, 2] == np.inf) and np.all(np.isnan(out[:, 3]))
    assert np.isfinite(vmf_log_normalizer(10**6, 1e8))


@pytest.mark.parametrize("bad_d", [1, 0, -3, 2.5, np.nan, np.inf])
def test_bad_dimension(bad_d):
    with pytest.raises(ValueError, match="dimension"):
        vmf_log_normalizer(bad_d, 1.0)
    with pytest.raises(ValueError, match="dimension"):
        vmf_kappa_mle(0.5, bad_d)


def test_bad_kappa_and_types():
    with pytest.raises(ValueError, match="kappa"):
        vmf_log_normalizer(3, -1.0)
    with pytest.raises(TypeError):
        vmf_log_normalizer("3", 1.0)
    with pytest.raises(ValueError, match="r_bar"):
        vmf_kappa_mle(1.5, 3)
    with pytest.raises(ValueError, match="r_bar"):
        vmf_kappa_mle(-0.1, 3)


def test_mean_resultant_length_and_entropy_against_mpmath():
    d, kappa = REF["d"].astype(int), REF["kappa"]
    a = vmf_mean_resultant_length(d, kappa)
    assert np.max(np.abs(a - REF["a"]) / np.spacing(REF["a"])) <= 2
    h = np.array([vonmises_fisher(unit(int(di)), ki).entropy() for di, ki in zip(d, kappa)])
    err = np.abs(h - REF["entropy"]) / np.maximum(np.abs(REF["entropy"]), 1)
    assert err.max() <= 1e-14, err.max()
    # kappa = 0: the uniform distribution, entropy log |S^{d-1}|.
    assert vonmises_fisher(unit(3), 0.0).entropy() == pytest.approx(math.log(4 * math.pi))
    assert vmf_mean_resultant_length(5, 0.0) == 0 and vmf_mean_resultant_length(5, np.inf) == 1


# -- kappa MLE ---------------------------------------------------------------------------------

R_GRID = np.concatenate([np.logspace(-6, np.log10(0.5), 150), 1 - np.logspace(-12, -0.3, 150),
                         np.random.default_rng(3).uniform(1e-6, 1 - 1e-12, 100)])


@pytest.mark.parametrize("d", [2, 3, 5, 64, 2048, 8192, 32768, 65536, 10**6])
def test_kappa_mle_inverts_a_within_4_ulp(d):
    k = vmf_kappa_mle(R_GRID, d)
    assert np.all(np.isfinite(k)) and np.all(k > 0)
    a = vmf_mean_resultant_length(d, k)
    ulp = np.abs(a - R_GRID) / np.spacing(R_GRID)
    assert ulp.max() <= 4, (ulp.max(), R_GRID[ulp.argmax()])
    assert np.all(np.diff(vmf_kappa_mle(np.sort(R_GRID), d)) >= 0)   # monotone


def test_kappa_mle_edges_and_broadcasting():
    k = vmf_kappa_mle([0.0, 1.0, np.nan, 0.5], 3)
    assert k[0] == 0 and k[1] == np.inf and np.isnan(k[2]) and np.isfinite(k[3])
    out = vmf_kappa_mle(np.array([[0.3], [0.9]]), [3, 64, 2048])
    assert out.shape == (2, 3)
    for i, r in enumerate([0.3, 0.9]):
        for j, d in enumerate([3, 64, 2048]):
            assert out[i, j] == vmf_kappa_mle(r, d)
    # Banerjee's approximation is within a few per cent; the MLE is exact.
    r, d = 0.7, 8192
    banerjee = r * (d - r * r) / (1 - r * r)
    assert abs(vmf_kappa_mle(r, d) / banerjee - 1) < 0.01


# -- sampling ----------------------------------------------------------------------------------

def projection_cdf(d, kappa):
    """Exact CDF of t = mu^T x, density ~ exp(kappa t) (1 - t^2)^((d-3)/2) on [-1, 1]."""
    if d == 3:
        def cdf3(t):
            t = np.asarray(t)
            if kappa == 0:
                return (t + 1) / 2
            # (exp(kappa (t+1)) - 1) / (exp(2 kappa) - 1), written without overflow.
            return np.exp(kappa * (t - 1)) * -np.expm1(-kappa * (t + 1)) / -np.expm1(-2 * kappa)
        return cdf3
    t = np.linspace(-1, 1, 2_000_001)[1:-1]
    logf = kappa * t + (d - 3) / 2 * np.log1p(-t * t)
    f = np.exp(logf - logf.max())
    cdf = np.concatenate([[0], np.cumsum((f[1:] + f[:-1]) / 2)])
    cdf /= cdf[-1]
    return lambda s: np.interp(s, t, cdf)


@pytest.mark.parametrize("d, kappa", [(3, 0.0), (3, 2.0), (3, 50.0), (3, 1e5), (64, 0.0),
                                      (64, 10.0), (64, 200.0), (2048, 0.0), (2048, 500.0),
                                      (2048, 5000.0)])
def test_rvs_projection_goodness_of_fit(d, kappa):
    mu = np.random.default_rng(d).standard_normal(d)
    mu /= np.linalg.norm(mu)
    x = vonmises_fisher(mu, kappa).rvs(4000, random_state=12345)
    assert x.shape == (4000, d)
    assert np.max(np.abs(np.linalg.norm(x, axis=1) - 1)) < 1e-14
    p = stats.kstest(x @ mu, projection_cdf(d, kappa)).pvalue
    assert p > 1e-3, p
    # The tangential part is uniform: its mean vanishes (sd ~ 1/sqrt(n d)).
    tangential = x - np.outer(x @ mu, mu)
    assert np.linalg.norm(tangential.mean(axis=0)) < 5 * math.sqrt(1 / 4000)


def test_rvs_shapes_seeds_and_extremes():
    dist = vonmises_fisher(unit(16, 3), 10.0)
    assert dist.rvs(random_state=0).shape == (1, 16)
    assert dist.rvs((2, 3), random_state=0).shape == (2, 3, 16)
    assert dist.rvs(0).shape == (0, 16)
    a = dist.rvs(500, random_state=7)
    assert np.array_equal(a, dist.rvs(500, random_state=7))
    assert np.array_equal(a, dist.rvs(500, random_state=np.random.default_rng(7)))
    assert not np.array_equal(a, dist.rvs(500, random_state=8))
    assert dist.rvs(5, random_state=np.random.RandomState(0)).shape == (5, 16)
    # kappa >> d: 1 - w ~ (d-1)/(2 kappa) keeps its relative precision.
    x = vonmises_fisher(unit(3), 1e12).rvs(1000, random_state=0)
    one_m_w = np.linalg.norm(x[:, 1:], axis=1) ** 2 / 2      # ~ 1 - w for tiny angles
    assert abs(one_m_w.mean() * 1e12 - 1) < 0.1
    x = vonmises_fisher(unit(2), 3.0).rvs(1000, random_state=0)   # the circle
    assert np.allclose(np.linalg.norm(x, axis=1), 1)


# -- fitting -----------------------------------------------------------------------------------

@pytest.mark.parametrize("d, r_target", [(2048, 0.2), (2048, 0.6), (2048, 0.95), (8192, 0.2),
                                         (8192, 0.6), (8192, 0.95), (32768, 0.2), (32768, 0.95)])
def test_fit_recovers_parameters(d, r_target):
    kappa = float(vmf_kappa_mle(r_target, d))
    mu = np.random.default_rng(d).standard_normal(d)
    mu /= np.linalg.norm(mu)
    x = vonmises_fisher(mu, kappa).rvs(2000, random_state=d + int(100 * r_target))
    mu_hat, kappa_hat = vonmises_fisher.fit(x)
    assert abs(kappa_hat / kappa - 1) < 0.02, (kappa, kappa_hat)
    assert 1 - mu_hat @ mu < 0.01
    assert isinstance(kappa_hat, float) and mu_hat.shape == (d,)


@pytest.mark.parametrize("d, kappa", [(64, 50.0), (2048, 1000.0)])
def test_fit_on_scipy_samples(d, kappa):
    mu = unit(d, 5)
    x = stats.vonmises_fisher(mu, kappa).rvs(2000, random_state=1)
    mu_hat, kappa_hat = vonmises_fisher.fit(x)
    assert abs(kappa_hat / kappa - 1) < 0.02 and 1 - mu_hat @ mu < 0.01
    if d == 2048:   # where SciPy's own fit gives up (ive underflows)
        with np.errstate(all="ignore"):
            assert stats.vonmises_fisher.fit(x)[1] < 1


def test_fit_input_checks():
    x = vonmises_fisher(unit(8), 5.0).rvs(100, random_state=0)
    with pytest.raises(ValueError, match="unit norm"):
        vonmises_fisher.fit(2 * x)
    mu_hat, k = vonmises_fisher.fit(2 * x, normalize=True)
    assert (mu_hat, k)[1] == vonmises_fisher.fit(x)[1]
    with pytest.raises(ValueError, match="shape"):
        vonmises_fisher.fit(x[0])
    with pytest.raises(ValueError, match="shape"):
        vonmises_fisher.fit(x[:0])
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vonmises_fisher.fit(bad)
    with pytest.raises(ValueError, match="zero row"):
        vonmises_fisher.fit(np.zeros((3, 4)), normalize=True)
    with pytest.raises(TypeError):
        vonmises_fisher.fit(x.astype(complex))
    # float32 data: sums in float64, tolerance sqrt(eps(float32)).
    mu32, k32 = vonmises_fisher.fit(x.astype(np.float32))
    assert abs(k32 / vonmises_fisher.fit(x)[1] - 1) < 1e-5
    # Antipodal pairs: r_bar = 0, so kappa = 0 (mu arbitrary: e_1).
    mu0, k0 = vonmises_fisher.fit(np.array([unit(4, 2), -unit(4, 2)]))
    assert k0 == 0 and mu0[0] == 1
    assert mean_direction(np.array([unit(4, 2)]))[1] == 1


# -- densities ---------------------------------------------------------------------------------

def test_logpdf_matches_scipy_where_scipy_works():
    for d, kappa in [(3, 5.0), (64, 30.0), (512, 2000.0)]:   # SciPy rejects kappa = 0
        mu = unit(d, 1)
        x = vonmises_fisher(mu, kappa).rvs(50, random_state=2)
        ours, theirs = vonmises_fisher(mu, kappa), stats.vonmises_fisher(mu, kappa)
        assert np.allclose(ours.logpdf(x), theirs.logpdf(x), rtol=1e-13, atol=1e-13)
        with np.errstate(over="ignore"):     # the density exceeds 1e308 at d = 512
            assert np.allclose(ours.pdf(x), theirs.pdf(x), rtol=1e-12, atol=0)
        assert ours.entropy() == pytest.approx(theirs.entropy(), rel=1e-12, abs=1e-12)


def test_density_integrates_to_one_on_s2():
    # f(x) on S^2 depends on t = mu^T x only; the area element is 2 pi dt.
    dist = vonmises_fisher(unit(3), 7.5)
    t = np.linspace(-1, 1, 200_001)
    x = np.stack([t, np.sqrt(1 - t * t), np.zeros_like(t)], axis=1)
    total = 2 * np.pi * np.trapezoid(dist.pdf(x), t)
    assert total == pytest.approx(1, rel=1e-8)


def test_logpdf_high_dimension_shapes_and_dtypes():
    dist = vonmises_fisher(unit(2048), 300.0)
    x = dist.rvs((4, 5), random_state=0)
    lp = dist.logpdf(x)
    assert lp.shape == (4, 5) and np.all(np.isfinite(lp))
    assert dist.logpdf(x.astype(np.float32)).dtype == np.float32
    assert dist.logpdf(unit(2048)) == pytest.approx(float(vmf_log_normalizer(2048, 300.0)) + 300)
    with pytest.raises(ValueError, match="shape"):
        dist.logpdf(np.ones(3))
    assert np.isnan(dist.logpdf(np.full(2048, np.nan)))


def test_distribution_input_checks():
    with pytest.raises(ValueError, match="unit norm"):
        vonmises_fisher(np.ones(3), 1.0)
    dist = vonmises_fisher(np.ones(4), 1.0, normalize=True)
    assert np.allclose(dist.mu, 0.5)
    for bad_mu in (np.ones((2, 2)) / 2, np.ones(1), [np.nan, 1.0]):
        with pytest.raises(ValueError):
            vonmises_fisher(bad_mu, 1.0)
    with pytest.raises(ValueError, match="nonzero"):
        vonmises_fisher(np.zeros(3), 1.0, normalize=True)
    for bad_kappa in (-1.0, np.nan):
        with pytest.raises(ValueError, match="kappa"):
            vonmises_fisher(unit(3), bad_kappa)
    dist = vonmises_fisher(unit(5), 2.0)
    assert dist.dim == 5 and dist.kappa == 2.0 and "dim=5" in repr(dist)
    assert np.allclose(dist.mean(), dist.mean_resultant_length() * unit(5))


def test_docstring_examples_run():
    import doctest

    import kernelkit.stats as kst

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(kst) if t.examples]
    assert len(tests) >= 3
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


def test_fit_accepts_nested_lists():
    x = vonmises_fisher(unit(3), 4.0).rvs(200, random_state=3)
    mu, k = vonmises_fisher.fit(x.tolist())
    assert (mu == vonmises_fisher.fit(x)[0]).all() and k == vonmises_fisher.fit(x)[1]
