"""kernelkit.kernels: kernel sums against float64 dense references, KDE against SciPy and
scikit-learn, batching, threads and bad input."""
import numpy as np
import pytest
import scipy.special as sc
from scipy import stats
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from kernelkit.kernels import KERNELS, KernelDensity, kernel_sum

from kernel_cases import KERNEL_CASES, dense_distance, dense_kernel

def problem(rng, n, m, d, offset, dtype, spread=1.0):
    x = (rng.standard_normal((n, d)) * spread + offset).astype(dtype)
    y = (rng.standard_normal((m, d)) * spread + offset).astype(dtype)
    return x, y


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-6)])
@pytest.mark.parametrize("offset", [0.0, 1e3])
@pytest.mark.parametrize("name, params", KERNEL_CASES)
def test_matches_dense_reference(name, params, offset, dtype, tol):
    rng = np.random.default_rng(7)
    for d, h in ((1, 0.7), (3, 1.3), (20, 4.0)):
        x, y = problem(rng, 301, 67, d, offset, dtype)
        w = rng.random((301, 3)).astype(dtype) + 0.1
        got = kernel_sum(x, y, w, kernel=name, bandwidth=h, **params)
        assert got.dtype == dtype and got.shape == (67, 3)
        r = dense_distance(x, y, h, l1=name == "manhattan")
        ref = dense_kernel(name, r, **params) @ w.astype(np.float64)
        if name == "tophat":  # k jumps at r = 1: pairs within rounding of the edge may flip
            slack = (np.abs(r - 1) < 1e-4) @ w.astype(np.float64)
        elif name in ("epanechnikov", "linear", "cosine", "gaussian", "matern", "exponential"):
            # distances carry relative error ~eps, which moves each term by eps |r k'(r)|:
            # large relative to k itself near a compact kernel's edge (or far out in a tail)
            dk = np.abs(dense_kernel(name, r * (1 + 1e-6), **params)
                        - dense_kernel(name, r * (1 - 1e-6), **params)) / 2e-6
            slack = tol * (dk @ w.astype(np.float64))
        else:
            slack = 0.0
        err = np.abs(got.astype(np.float64) - ref)
        assert np.all(err <= tol * ref + slack), (d, np.max(err / np.maximum(ref, 1e-300)))
        one = kernel_sum(x, y, w[:, 0], kernel=name, bandwidth=h, **params)
        assert one.shape == (67,)
        assert np.all(np.abs(one - ref[:, 0]) <= tol * ref[:, 0] + np.asarray(slack)[..., 0:1]
                      .reshape(-1) if np.ndim(slack) else tol * ref[:, 0])


@given(n=st.integers(0, 70), m=st.integers(0, 40), d=st.integers(1, 20),
       c=st.integers(1, 5), case=st.sampled_from(KERNEL_CASES), seed=st.integers(0, 2**32 - 1),
       h=st.floats(0.1, 10.0), offset=st.sampled_from([0.0, -7.5, 1e3]))
def test_property_equals_dense_sum(n, m, d, c, case, seed, h, offset):
    name, params = case
    rng = np.random.default_rng(seed)
    x, y = problem(rng, n, m, d, offset, np.float64)
    w = rng.random((n, c)) + 0.01
    got = kernel_sum(x, y, w, kernel=name, bandwidth=h, **params)
    assert got.shape == (m, c)
    r = dense_distance(x, y, h, l1=name == "manhattan")
    kv = dense_kernel(name, r, **params)
    ref = kv @ w
    if name == "tophat":
        slack = (np.abs(r - 1) < 1e-9) @ w
    else:
        dk = np.abs(dense_kernel(name, r * (1 + 1e-6), **params)
                    - dense_kernel(name, r * (1 - 1e-6), **params)) / 2e-6
        slack = 1e-13 * (dk @ w)
    assert np.all(np.abs(got - ref) <= 1e-13 * ref + slack)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_dimension_bandwidth(dtype):
    rng = np.random.default_rng(1)
    x, y = problem(rng, 200, 40, 3, 5.0, dtype)
    h = np.array([0.5, 2.0, 1.0])
    got = kernel_sum(x, y, kernel="gaussian", bandwidth=h)
    ref = np.exp(-0.5 * dense_distance(x, y, h) ** 2).sum(1)
    np.testing.assert_allclose(got, ref, rtol=1e-13 if dtype == np.float64 else 2e-6)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-6)])
@pytest.mark.parametrize("layout", ["compact", "clusters"])
def test_high_dimension_cross_term_and_direct(layout, dtype, tol):
    """d >= 16 uses |x|^2 + |y|^2 - 2 x.y while the centred data stay within a few bandwidths
    (compact), direct differences when the cancellation would cost accuracy (clusters far from
    the common centre); both meet the bound."""
    rng = np.random.default_rng(9)
    d, h = 24, 10.0
    x, y = problem(rng, 500, 80, d, 0.0, dtype)
    if layout == "clusters":  # two tight clusters 30 bandwidths either side of the centre
        shift = np.zeros(d)
        shift[0] = 300.0
        x = (x + np.where(rng.random((500, 1)) < 0.5, shift, -shift)).astype(dtype)
        y = (y + np.where(rng.random((80, 1)) < 0.5, shift, -shift)).astype(dtype)
    w = rng.random((500, 2)).astype(dtype)
    got = kernel_sum(x, y, w, bandwidth=h)
    ref = np.exp(-0.5 * dense_distance(x, y, h) ** 2) @ w.astype(np.float64)
    np.testing.assert_allclose(got, ref, rtol=tol)


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("name, params", [("gaussian", {}), ("matern", {"nu": 2.5}),
                                          ("rational_quadratic", {"alpha": 2.0}),
                                          ("epanechnikov", {}), ("euclidean", {})])
def test_logsumexp_where_everything_underflows(name, params, dtype, atol):
    rng = np.random.default_rng(3)
    x, y = problem(rng, 500, 50, 4, 0.0, dtype, spread=30.0)
    h = 0.05 if name not in ("epanechnikov",) else 200.0  # exp(-r^2/2) ~ exp(-1e6)
    w = rng.random((500, 2)) + 0.5
    r = dense_distance(x, y, h)
    with np.errstate(divide="ignore"):
        if name == "gaussian":
            logk = -0.5 * r * r
        elif name == "matern":
            a = np.sqrt(5) * r
            logk = np.log1p(a + a * a / 3) - a
        elif name == "rational_quadratic":
            logk = -2.0 * np.log1p(r * r / 4.0)
        elif name == "epanechnikov":
            logk = np.where(r < 1, np.log1p(-np.minimum(r * r, 1)), -np.inf)
        else:
            logk = np.log(r)
    ref = sc.logsumexp(logk[:, :, None] + np.log(w)[None], axis=1)
    got = kernel_sum(x, y, w.astype(dtype), kernel=name, bandwidth=h, reduction="logsumexp",
                     **params)
    assert got.dtype == dtype
    assert np.all(np.isfinite(got))
    tol = atol * np.maximum(1, np.abs(ref) / 100)  # beyond |log| = 100, a float32 ulp grows
    assert np.all(np.abs(got - ref) <= tol)
    logw = np.log(w[:, 0]).astype(dtype)
    got1 = kernel_sum(x, y, kernel=name, bandwidth=h, reduction="logsumexp",
                      log_weights=logw, **params)
    assert np.all(np.abs(got1 - ref[:, 0]) <= tol[:, 0])
    if name == "gaussian":  # where the direct sum is 0, its log is -inf
        assert np.all(kernel_sum(x, y, w, kernel=name, bandwidth=h) == 0)


def test_logsumexp_float32_absolute_error():
    """The issue's bar: |error| <= 1e-5 in float32 where every kernel value underflows float32
    (or one ulp of the result, for logs beyond 128 where a float32 ulp exceeds 1e-5)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2000, 3)).astype(np.float32)
    y = (rng.standard_normal((400, 3)) * 1.5).astype(np.float32)
    h = 0.004  # nearest neighbours ~0.1 away: exponents -(0.1/0.004)^2/2 ~ -300
    got = kernel_sum(x, y, bandwidth=h, reduction="logsumexp")
    r2 = dense_distance(x, y, h) ** 2
    ref = sc.logsumexp(-0.5 * r2, axis=1)
    under = ref < -87  # every term below float32's smallest normal number
    assert under.mean() > 0.5
    ulp = np.spacing(np.abs(ref[under]).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got[under] - ref[under]) <= np.maximum(1e-5, ulp))


def test_logsumexp_nan_and_zero_weights():
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[0.5]])
    got = kernel_sum(x, y, [1.0, 0.0, 2.0], reduction="logsumexp")
    ref = np.log(np.exp(-0.125) + 2 * np.exp(-1.125))
    assert abs(got[0] - ref) < 1e-15
    assert kernel_sum(x, y, [0.0, 0.0, 0.0], reduction="logsumexp")[0] == -np.inf
    assert np.isnan(kernel_sum(x, y, [1.0, np.nan, 1.0], reduction="logsumexp")[0])
    assert np.isnan(kernel_sum(np.array([[0.0], [np.nan]]), y, reduction="logsumexp")[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_broadcasting_equals_loop(dtype):
    rng = np.random.default_rng(11)
    B, n, m, d = 5, 120, 33, 2
    x = rng.standard_normal((B, n, d)).astype(dtype)
    y = rng.standard_normal((m, d)).astype(dtype)  # shared queries
    w = rng.random((B, n, 4)).astype(dtype)
    h = rng.random((B, 1)) + 0.5  # one bandwidth per problem
    got = kernel_sum(x, y, w, bandwidth=h, kernel="matern", nu=1.5)
    assert got.shape == (B, m, 4)
    for b in range(B):
        ref = kernel_sum(x[b], y, w[b], bandwidth=h[b, 0], kernel="matern", nu=1.5)
        np.testing.assert_allclose(got[b], ref, rtol=1e-14 if dtype == np.float64 else 1e-6)
    # two batch axes that broadcast against each other, and many problems (one per thread)
    x2 = rng.standard_normal((3, 1, 40, d))
    y2 = rng.standard_normal((1, 7, 9, d))
    got2 = kernel_sum(x2, y2, bandwidth=0.8, reduction="logsumexp")
    assert got2.shape == (3, 7, 9)
    for i in range(3):
        for j in range(7):
            ref = kernel_sum(x2[i, 0], y2[0, j], bandwidth=0.8, reduction="logsumexp")
            np.testing.assert_allclose(got2[i, j], ref, rtol=1e-14)


def test_thread_count_and_splits_agree():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5000, 3))
    y = rng.standard_normal((7, 3))  # few queries: the data range is split over threads
    w = rng.random(5000)
    with threadpool_limits(1):
        one = kernel_sum(x, y, w, kernel="cauchy")
        one_l = kernel_sum(x, y, w, reduction="logsumexp", bandwidth=0.1)
    two = kernel_sum(x, y, w, kernel="cauchy")
    two_l = kernel_sum(x, y, w, reduction="logsumexp", bandwidth=0.1)
    np.testing.assert_allclose(one, two, rtol=1e-14)
    np.testing.assert_allclose(one_l, two_l, rtol=1e-14)


def test_edge_cases_and_dtypes():
    y = np.zeros((3, 2))
    assert np.array_equal(kernel_sum(np.zeros((0, 2)), y), np.zeros(3))
    assert np.all(kernel_sum(np.zeros((0, 2)), y, reduction="logsumexp") == -np.inf)
    assert kernel_sum(np.ones((4, 2)), np.zeros((0, 2))).shape == (0,)
    assert kernel_sum(np.ones((4, 2)), np.zeros((0, 2)), np.ones((4, 3))).shape == (0, 3)
    assert kernel_sum(np.ones((4, 0)), np.ones((2, 0)))[0] == 4.0  # d = 0: every r is 0
    assert kernel_sum(np.ones((4, 2), np.int64), y).dtype == np.float64
    assert kernel_sum(np.ones((4, 2), np.float32), y.astype(np.float32)).dtype == np.float32
    assert kernel_sum(np.ones((4, 2), np.float32), y).dtype == np.float64
    x = np.array([[0.0, 0.0], [np.nan, 0.0]])
    assert np.all(np.isnan(kernel_sum(x, y)))
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    out = kernel_sum(x, np.array([[0.0, 0.0], [np.nan, 1.0]]), kernel="tophat", bandwidth=2.0)
    assert out[0] == 2.0 and np.isnan(out[1])
    assert kernel_sum(x, y[:1], [1.0, np.inf])[0] == np.inf
    # points at infinity contribute k(inf) = 0 and do not disturb the others
    xi = np.array([[0.0, 0.0], [np.inf, 0.0]])
    assert kernel_sum(xi, y[:1])[0] == 1.0


@pytest.mark.parametrize("call, exc, match", [
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 3))), ValueError, "different dimensions"),
    (lambda: kernel_sum(np.ones(3), np.ones((2, 3))), ValueError, "shape"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), bandwidth=0.0), ValueError, "bandwidth"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), bandwidth=-1), ValueError, "bandwidth"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), bandwidth=np.nan), ValueError,
     "bandwidth"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), bandwidth=[1, 2, 3]), ValueError,
     "bandwidth"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), kernel="bogus"), ValueError,
     "unknown kernel"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), kernel="gaussian", nu=1), TypeError,
     "no parameter"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), kernel="matern", nu=-1), ValueError,
     "nu"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), kernel="rational_quadratic",
                        alpha=0), ValueError, "alpha"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), np.ones(4)), ValueError, "rows"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), np.ones((1, 1, 3, 1))), ValueError,
     "weights"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), -np.ones(3), reduction="logsumexp"),
     ValueError, "weights >= 0"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), reduction="max"), ValueError,
     "reduction"),
    (lambda: kernel_sum(np.ones((3, 2)), np.ones((2, 2)), log_weights=np.ones(3)), ValueError,
     "logsumexp"),
    (lambda: kernel_sum(np.ones((2, 3, 2)), np.ones((4, 2, 2))), ValueError, "broadcast"),
    (lambda: kernel_sum(np.ones((3, 2), complex), np.ones((2, 2))), TypeError, "float"),
    (lambda: kernel_sum(np.ones((3, 2), object), np.ones((2, 2))), TypeError, "object"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_kernel_list():
    assert {"gaussian", "matern", "tophat", "manhattan", "laplacian"} <= set(KERNELS)
    x, y = np.random.default_rng(0).standard_normal((2, 50, 3))
    np.testing.assert_array_equal(kernel_sum(x, y, kernel="laplacian"),
                                  kernel_sum(x, y, kernel="exponential"))
    np.testing.assert_allclose(kernel_sum(x, y, kernel="matern", nu=0.5),
                               kernel_sum(x, y, kernel="exponential"), rtol=1e-15)


# ---- KernelDensity ---------------------------------------------------------------------------

def uncorrelated(rng, n, d):
    """Data whose sample covariance is exactly diagonal (to rounding)."""
    z = rng.standard_normal((n, d))
    q, _ = np.linalg.qr(z - z.mean(0))
    return q * np.sqrt(n - 1) * np.arange(1, d + 1) + 3.0


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("rule", ["scott", "silverman"])
def test_kde_matches_scipy_gaussian_kde(d, rule):
    rng = np.random.default_rng(4)
    x = uncorrelated(rng, 400, d)
    y = rng.standard_normal((60, d)) * 2 + 3
    ours = KernelDensity(bandwidth=rule).fit(x).score_samples(y)
    ref = stats.gaussian_kde(x.T, bw_method=rule).logpdf(y.T)
    np.testing.assert_allclose(ours, ref, rtol=1e-11, atol=1e-11)
    w = rng.random(400)
    ours = KernelDensity(bandwidth=rule).fit(x, sample_weight=w).score_samples(y)
    kde = stats.gaussian_kde(x.T, bw_method=rule, weights=w)
    if d == 1:  # weighted covariance is only diagonal by construction in 1-D
        np.testing.assert_allclose(ours, kde.logpdf(y.T), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("kernel", ["gaussian", "tophat", "epanechnikov", "exponential",
                                    "linear", "cosine"])
def test_kde_matches_sklearn(kernel):
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((300, 3))
    y = rng.standard_normal((50, 3)) * 0.7
    ours = KernelDensity(kernel=kernel, bandwidth=0.9).fit(x).score_samples(y)
    ref = neighbors.KernelDensity(kernel=kernel, bandwidth=0.9, rtol=0, atol=0).fit(x)
    np.testing.assert_allclose(ours, ref.score_samples(y), rtol=1e-10, atol=1e-10)
    w = rng.random(300)
    ours = KernelDensity(kernel=kernel, bandwidth=0.9).fit(x, sample_weight=w).score_samples(y)
    ref = neighbors.KernelDensity(kernel=kernel, bandwidth=0.9, rtol=0, atol=0)
    np.testing.assert_allclose(ours, ref.fit(x, sample_weight=w).score_samples(y), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("kernel, params", [
    ("gaussian", {}), ("exponential", {}), ("matern", {"nu": 1.5}), ("matern", {"nu": 3.2}),
    ("rational_quadratic", {"alpha": 2.5}), ("tophat", {}), ("epanechnikov", {}),
    ("linear", {}), ("cosine", {}),
])
def test_kde_normalised_and_sampler(kernel, params):
    """exp(score_samples) integrates to 1 (2-D grid quadrature), and samples follow the density
    (1-D KS test against its numerically integrated CDF)."""
    kde = KernelDensity(kernel=kernel, bandwidth=0.7, **params).fit(np.zeros((1, 2)))
    g = np.linspace(-12, 12, 801)
    gx, gy = np.meshgrid(g, g)
    dens = np.exp(kde.score_samples(np.column_stack([gx.ravel(), gy.ravel()])))
    assert abs(dens.sum() * (g[1] - g[0]) ** 2 - 1) < 2e-3
    kde1 = KernelDensity(kernel=kernel, bandwidth=0.7, **params).fit(np.zeros(1))
    t = np.linspace(-40, 40, 200001)
    cdf = np.cumsum(np.exp(kde1.score_samples(t))) * (t[1] - t[0])
    assert abs(cdf[-1] - 1) < 2e-3
    s = kde1.sample(4000, random_state=1)[:, 0]
    assert kde1.sample(3, random_state=0).shape == (3, 1)
    assert stats.kstest(s, lambda v: np.interp(v, t, cdf)).pvalue > 1e-3
    s2 = kde.sample(4000, random_state=2)
    assert s2.shape == (4000, 2)
    # radial law in 2-D: E[log density at the samples] = -entropy, estimated by quadrature
    ent = -np.sum(dens * np.log(np.maximum(dens, 1e-300))) * (g[1] - g[0]) ** 2
    assert abs(np.mean(kde.score_samples(s2)) + ent) < 0.1


def test_kde_cv_picks_the_best_grid_bandwidth():
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.standard_normal((300, 2)) * 0.3 - 2,
                        rng.standard_normal((200, 2)) * 1.0 + 1])
    kde = KernelDensity(bandwidth="cv").fit(x)
    grid = kde.cv_grid_
    base = kde.bandwidth_ / grid[np.argmax(kde.cv_scores_)]
    # brute-force leave-one-out log-likelihood for every grid value
    brute = []
    for g in grid:
        h = base * g
        diff = (x[:, None, :] - x[None, :, :]) / h
        k = np.exp(-0.5 * (diff ** 2).sum(-1))
        np.fill_diagonal(k, 0)
        dens = k.sum(1) / (len(x) - 1) / ((2 * np.pi) * np.prod(h))
        brute.append(np.mean(np.log(dens)))
    best = int(np.argmax(brute))
    assert abs(int(np.argmax(kde.cv_scores_)) - best) <= 1
    np.testing.assert_allclose(kde.cv_scores_[best], brute[best], rtol=1e-10)


def test_kde_bad_input():
    with pytest.raises(ValueError, match="density"):
        KernelDensity(kernel="euclidean")
    with pytest.raises(ValueError, match="finite"):
        KernelDensity(kernel="cauchy").fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="bandwidth"):
        KernelDensity(bandwidth="wide").fit(np.ones((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        KernelDensity().fit(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="sample_weight"):
        KernelDensity().fit(np.ones((3, 1)), sample_weight=[1, -1, 1])
    with pytest.raises(RuntimeError, match="fit"):
        KernelDensity().score_samples(np.ones((3, 1)))
    with pytest.raises(ValueError, match="shape"):
        KernelDensity().fit(np.ones((3, 2))).score_samples(np.ones((3, 3)))
    assert KernelDensity().fit(np.ones((3, 1)), ).score(np.ones((2, 1))) < 0
    kde = KernelDensity(kernel="epanechnikov").fit(np.random.default_rng(0).random((700, 2)))
    assert kde.score_samples(np.zeros((0, 2))).shape == (0,)
    out = kde.score_samples(np.array([[0.5, 0.5], [np.nan, 0.0], [9.0, 9.0]] * 4))
    assert np.isfinite(out[0]) and np.isnan(out[1]) and out[2] == -np.inf
    assert KernelDensity().fit(np.ones((3, 2), np.float32)).score_samples(
        np.ones((2, 2), np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kde_far_tails_stay_finite(dtype):
    """Where the density underflows, score_samples switches to log-sum-exp."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((300, 2)).astype(dtype)
    y = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, -300.0]], dtype)
    kde = KernelDensity(bandwidth=0.2).fit(x)
    got = kde.score_samples(y)
    r2 = dense_distance(x, y, 0.2) ** 2
    ref = sc.logsumexp(-0.5 * r2, axis=1) - np.log(300) - np.log(2 * np.pi * 0.04)
    assert np.all(np.isfinite(got)) and got.dtype == dtype
    np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("name", ["tophat", "epanechnikov", "linear", "cosine"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_compact_kernels_skip_far_tiles_exactly(name, d):
    """Spatially sorted data and queries let the engine skip tiles beyond the support: the sums
    must equal the dense reference, also for logsumexp and for KDE (sorted once at fit)."""
    rng = np.random.default_rng(13 + d)
    x = rng.standard_normal((6000, d)) * 3
    y = rng.standard_normal((700, d)) * 3
    w = rng.random(6000) + 0.1
    h = 0.3
    r = dense_distance(x, y, h)
    ref = dense_kernel(name, r) @ w
    slack = (np.abs(r - 1) < 1e-9) @ w if name == "tophat" else 0.0
    got = kernel_sum(x, y, w, kernel=name, bandwidth=h)
    assert np.all(np.abs(got - ref) <= 1e-13 * ref + slack + 1e-13 * (r < 1) @ w)
    batched = kernel_sum(x[None], y[None], w[None], kernel=name, bandwidth=h)[0]  # unsorted
    np.testing.assert_allclose(got, batched, rtol=1e-12, atol=1e-14)
    with np.errstate(divide="ignore"):
        lse = kernel_sum(x, y, w, kernel=name, bandwidth=h, reduction="logsumexp")
        np.testing.assert_allclose(lse, np.log(ref), rtol=1e-12, atol=1e-13)
    kde = KernelDensity(kernel=name, bandwidth=h).fit(x, sample_weight=w)
    with np.errstate(divide="ignore"):
        dens = np.log(ref / w.sum()) - kde.log_norm_ - d * np.log(h)
    np.testing.assert_allclose(kde.score_samples(y), dens, rtol=1e-12, atol=1e-13)
