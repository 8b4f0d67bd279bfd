"""The von Mises-Fisher distribution on the unit sphere S^{d-1}, in any dimension.

f(x; mu, kappa) = C_d(kappa) exp(kappa mu^T x) for unit vectors x, mu in R^d, kappa >= 0, with
log C_d(kappa) = (d/2 - 1) log kappa - (d/2) log(2 pi) - log I_{d/2-1}(kappa). Every Bessel
quantity comes from :mod:`kernelkit.special` in log space or as a ratio, so nothing overflows or
underflows for d up to 1e6 and beyond and kappa up to 1e8 and beyond, where
``scipy.stats.vonmises_fisher`` returns inf log-densities and fits kappa = 1e-8.

NumPy inputs compute on the CPU; CuPy inputs (``mu``, data, ``r_bar``) keep the work on the
GPU and return CuPy arrays (scalars such as a fitted kappa come back as Python floats).
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _core, _dispatch, special

__all__ = ["vonmises_fisher", "vmf_log_normalizer", "vmf_mean_resultant_length",
           "vmf_kappa_mle", "mean_direction"]

_LOG_2PI = math.log(2 * math.pi)


def _xp(*arrays):
    """cupy if any argument is a CuPy array, else numpy."""
    if any(_dispatch.is_cupy(a) for a in arrays):
        import cupy
        return cupy
    return np


def _dims(d, xp):
    """Validated dimension(s) as a float64 array: integers >= 2."""
    d = xp.asarray(d)
    if d.dtype.kind not in "iuf":
        raise TypeError(f"dimension d must be an integer, got dtype {d.dtype}")
    d = d.astype(np.float64)
    if not bool(xp.all((d >= 2) & (d == xp.floor(d)) & xp.isfinite(d))):
        raise ValueError("dimension d must be an integer >= 2")
    return d


def _kappas(kappa, xp):
    kappa = xp.asarray(kappa, dtype=np.float64)
    if bool(xp.any(kappa < 0)):
        raise ValueError("kappa must be >= 0")
    return kappa


def vmf_log_normalizer(d, kappa):
    """log C_d(kappa), the log normalising constant of the vMF density on S^{d-1}.

    C_d(kappa) = kappa^{d/2-1} / ((2 pi)^{d/2} I_{d/2-1}(kappa)), so that
    f(x) = C_d(kappa) exp(kappa mu^T x) integrates to 1 over the sphere. kappa = 0 gives the
    uniform density, log C_d(0) = log Gamma(d/2) - log 2 - (d/2) log pi; kappa = inf gives inf.

    Parameters
    ----------
    d : int or array of int
        Dimension of the ambient space (the sphere is S^{d-1}), d >= 2.
    kappa : float or array
        Concentration(s) >= 0; broadcast against d. NaN gives NaN.

    Returns
    -------
    float64 ndarray (CuPy array for CuPy input) of the broadcast shape.

    Raises
    ------
    ValueError
        d not an integer >= 2, or kappa < 0.

    Notes
    -----
    Relative error within 1e-15 against mpmath for d in {2, ..., 65536} and
    kappa in [1e-3, 1e7] (tests/data/vmf_ref.npz). SciPy's normaliser overflows to inf above
    kappa ~ 656 at d = 2048; this one does not.

    Examples
    --------
    >>> from kernelkit.stats import vmf_log_normalizer
    >>> float(vmf_log_normalizer(3, 0.0))   # 1 / (4 pi)
    -2.5310242469692907
    >>> float(vmf_log_normalizer(8192, 1e4))   # SciPy: the normaliser overflows
    21021.245752280178
    """
    xp = _xp(d, kappa)
    d = _dims(d, xp)
    kappa = _kappas(kappa, xp)
    d, kappa = xp.broadcast_arrays(d, kappa)
    v = d / 2 - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = v * xp.log(kappa) - (d / 2) * _LOG_2PI - special.log_iv(v, kappa)
    # Small kappa: v log kappa and log I_v(kappa) nearly cancel. There
    # kappa^v / I_v(kappa) = 2^v Gamma(v+1) / S with S = 0F1(; v+1; kappa^2/4), a series of
    # positive terms that converges within 30 terms while q = kappa^2 / (4 (v+1)) <= 1.
    logc0 = v * math.log(2) + _gammaln(v + 1, xp) - (d / 2) * _LOG_2PI
    z = kappa * kappa / 4
    small = z <= v + 1
    term, total = xp.ones_like(z), xp.zeros_like(z)
    for m in range(1, 31):
        term = term * xp.where(small, z, 0) / (m * (v + m))
        total += term
    logc = xp.where(small, logc0 - xp.log1p(total), logc)
    return xp.where(xp.isinf(kappa), xp.inf, logc)


def _gammaln(z, xp):
    if xp is np:
        from scipy.special import gammaln
    else:
        from cupyx.scipy.special import gammaln
    return gammaln(z)


def vmf_mean_resultant_length(d, kappa):
    """A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa) = E[mu^T x], the mean resultant length.

    A_d(0) = 0, A_d(inf) = 1; computed as ``kernelkit.special.iv_ratio(d/2, kappa)`` (within
    1 ULP), never as a quotient of two Bessel values. Broadcasts d against kappa.
    """
    xp = _xp(d, kappa)
    d = _dims(d, xp)
    kappa = _kappas(kappa, xp)
    return special.iv_ratio(d / 2, kappa)


def vmf_kappa_mle(r_bar, d, *, maxiter=100):
    """Maximum-likelihood concentration: the kappa >= 0 with A_d(kappa) = r_bar.

    Parameters
    ----------
    r_bar : float or array
        Mean resultant length(s) |sum_i x_i| / n, in [0, 1]. 0 gives kappa = 0, 1 gives inf,
        NaN gives NaN.
    d : int or array of int
        Dimension(s) >= 2; broadcast against r_bar.
    maxiter : int
        Iteration cap of the safeguarded Newton method (it needs 2 or 3).

    Returns
    -------
    float64 ndarray of kappas (CuPy for CuPy input); A_d(kappa) equals r_bar to within 4 ULP.

    Raises
    ------
    ValueError
        r_bar outside [0, 1], or d not an integer >= 2.

    Notes
    -----
    The root is bracketed by inverting Amos's bounds on I_{nu+1}/I_nu,
    kappa_lo = r (d-1) / (1-r^2) <= kappa <= kappa_hi = r (a + sqrt(r^2 a^2 + (1-r^2) b^2))
    / (1-r^2) with a = (d-1)/2, b = (d+1)/2 (Banerjee's estimate r (d - r^2)/(1 - r^2) lies
    between them), and refined by Newton steps with A' = 1 - A^2 - (d-1) A / kappa that fall
    back to bisection (geometric mean) when they leave the bracket. For r_bar > 1/2 the
    equation is solved as 1 - A_d(kappa) = 1 - r_bar (``iv_ratio_c``; 1 - r_bar is exact), in
    the variable 1/(1 - A), which is nearly linear in kappa there, so r_bar near 1 loses
    nothing to cancellation; 1 - r^2 is formed as (1 - r)(1 + r).

    Examples
    --------
    >>> from kernelkit.stats import vmf_kappa_mle, vmf_mean_resultant_length
    >>> k = vmf_kappa_mle(0.9, 8192)
    >>> round(float(vmf_mean_resultant_length(8192, k)), 15)
    0.9
    """
    xp = _xp(r_bar, d)
    r = xp.asarray(r_bar, dtype=np.float64)
    if bool(xp.any((r < 0) | (r > 1))):
        raise ValueError("r_bar must lie in [0, 1]")
    d = _dims(d, xp)
    r, d = xp.broadcast_arrays(r, d)
    r, d = r.copy(), d.copy()
    v = d / 2
    s = 1 - r                       # exact for r >= 1/2 (Sterbenz)
    one_m_r2 = s * (1 + r)
    a, b = (d - 1) / 2, (d + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = r * (d - 1) / one_m_r2
        hi = r * (a + xp.sqrt((r * a) ** 2 + one_m_r2 * b * b)) / one_m_r2
        k = xp.clip(r * (d - r * r) / one_m_r2, lo, hi)
    high = r > 0.5                  # solve 1/(1 - A) = 1/s there
    active = (r > 0) & (r < 1)      # NaN, 0 and 1 are final already
    for _ in range(maxiter):
        if not bool(xp.any(active)):
            break
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            c = special.iv_ratio_c(v, k)
            A = special.iv_ratio(v, k)
            dA = c * (2 - c) - (d - 1) * A / k          # A'(k) = 1 - A^2 - (d-1) A / k
            # Residual > 0 means k is too large (A increases with k).
            res = xp.where(high, 1 / c - 1 / s, A - r)
            slope = xp.where(high, dA / (c * c), dA)
            step = res / slope
            lo = xp.where(active & (res < 0), k, lo)
            hi = xp.where(active & (res > 0), k, hi)
            newton = k - step
            bisect = xp.sqrt(lo * hi)
            ok = (newton >= lo) & (newton <= hi) & (slope > 0)
            k_new = xp.where(res == 0, k, xp.where(ok, newton, bisect))
            done = (res == 0) | (xp.abs(k_new - k) <= 2e-16 * k) | (hi - lo <= 4e-16 * hi)
        k = xp.where(active, k_new, k)
        active = active & ~done
    k = xp.where(r == 0, 0.0, k)
    k = xp.where(r == 1, xp.inf, k)
    return xp.where(xp.isnan(r) | xp.isnan(d), xp.nan, k)


def mean_direction(x, *, normalize=False):
    """Sample mean direction and mean resultant length of unit vectors x (n, d).

    Returns (mu_hat, r_bar): mu_hat = s / |s| with s = sum_i x_i (summed in float64),
    r_bar = |s| / n. If s = 0 (r_bar = 0), mu_hat is the first unit vector e_1.

    Raises ValueError for a wrong shape, n = 0, non-finite data, or rows whose norm differs from
    1 by more than sqrt(eps) of the data type (unless ``normalize=True``, which rescales every
    row to unit norm first; zero rows are then an error).
    """
    xp = _xp(x)
    x = _sphere_data(x, normalize, xp)
    s = x.sum(axis=0, dtype=np.float64)
    norm = xp.linalg.norm(s)
    n, d = x.shape
    if float(norm) == 0:
        mu = xp.zeros(d)
        mu[0] = 1.0
        return mu, 0.0
    return s / norm, min(float(norm) / n, 1.0)


def _sphere_data(x, normalize, xp):
    x = xp.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"data must be real, got dtype {x.dtype}")
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        raise ValueError(f"data must have shape (n, d) with n >= 1 and d >= 2, got {x.shape}")
    x64 = x.astype(np.float64, copy=False)
    norms = xp.sqrt(xp.einsum("ij,ij->i", x64, x64))
    if not bool(xp.all(xp.isfinite(norms))):
        raise ValueError("data contain NaN or inf")
    if normalize:
        if bool(xp.any(norms == 0)):
            raise ValueError("normalize=True: data contain a zero row")
        return (x / norms[:, None]).astype(x.dtype, copy=False)
    tol = math.sqrt(np.finfo(x.dtype).eps)
    worst = float(xp.max(xp.abs(norms - 1)))
    if worst > tol:
        raise ValueError(f"data rows must have unit norm (worst |norm - 1| = {worst:.3g} > "
                         f"{tol:.2g}); pass normalize=True to rescale them")
    return x


class vonmises_fisher:  # noqa: N801 (named like scipy.stats.vonmises_fisher)
    """The von Mises-Fisher distribution with mean direction mu and concentration kappa.

    Shaped like ``scipy.stats.vonmises_fisher`` (frozen): ``vonmises_fisher(mu, kappa)`` has
    ``logpdf``, ``pdf``, ``rvs``, ``entropy``, ``mean``, ``mean_resultant_length`` and the
    attributes ``mu``, ``kappa``, ``dim``; ``vonmises_fisher.fit(x)`` returns (mu, kappa).

    Parameters
    ----------
    mu : array_like, shape (d,)
        Mean direction, d >= 2. It must have unit norm (to within sqrt(eps) of float64);
        ``normalize=True`` rescales any nonzero vector instead. A CuPy array puts the
        distribution on the GPU.
    kappa : float
        Concentration >= 0 (0 is the uniform distribution on the sphere).

    Raises
    ------
    ValueError
        mu not 1-D with d >= 2, not unit norm (without normalize), or not finite; kappa < 0 or
        NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.stats import vonmises_fisher
    >>> mu = np.zeros(2048); mu[0] = 1.0
    >>> dist = vonmises_fisher(mu, 1000.0)
    >>> x = dist.rvs(2000, random_state=0)
    >>> mu_hat, kappa_hat = vonmises_fisher.fit(x)
    >>> bool(abs(kappa_hat / 1000.0 - 1) < 0.05)
    True
    """

    def __init__(self, mu, kappa, *, normalize=False):
        xp = _xp(mu)
        mu = xp.asarray(mu, dtype=np.float64)
        if mu.ndim != 1 or mu.shape[0] < 2:
            raise ValueError(f"mu must be a vector of length d >= 2, got shape {mu.shape}")
        norm = float(xp.linalg.norm(mu))
        if not math.isfinite(norm):
            raise ValueError("mu contains NaN or inf")
        if normalize:
            if norm == 0:
                raise ValueError("mu must be nonzero")
            mu = mu / norm
        elif abs(norm - 1) > math.sqrt(np.finfo(np.float64).eps):
            raise ValueError(f"mu must have unit norm (|mu| = {norm:.6g}); pass normalize=True "
                             "to rescale it")
        kappa = float(kappa)
        if not kappa >= 0:
            raise ValueError(f"kappa must be >= 0, got {kappa}")
        self.mu, self.kappa, self.dim = mu, kappa, mu.shape[0]
        self._xp = xp
        self._logc = float(vmf_log_normalizer(self.dim, kappa))

    def __repr__(self):
        return f"vonmises_fisher(dim={self.dim}, kappa={self.kappa!r})"

    # -- densities ------------------------------------------------------------------------
    def logpdf(self, x):
        """Log density at points x of shape (..., d) (on the sphere; not checked).

        Computed in float64; float32 input gives float32 output, otherwise float64.
        """
        xp = self._xp
        x = xp.asarray(x)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"x must have shape (..., {self.dim}), got {x.shape}")
        dot = xp.matmul(x.astype(np.float64, copy=False), self.mu)
        out = self._logc + self.kappa * dot if self.kappa else xp.full(dot.shape, self._logc)
        return out.astype(np.float32) if x.dtype == np.float32 else out

    def pdf(self, x):
        """Density at x: exp(logpdf(x)) (overflows to inf where the density exceeds 1.8e308)."""
        with np.errstate(over="ignore"):
            return self._xp.exp(self.logpdf(x))

    def entropy(self):
        """Differential entropy -log C_d(kappa) - kappa A_d(kappa), in nats.

        Written as -(log C + kappa) + kappa (1 - A) with log C + kappa taken from ive, so the
        two O(kappa) terms never cancel when kappa >> d.
        """
        d, k = self.dim, self.kappa
        if k == 0:
            return -self._logc
        if math.isinf(k):
            return -math.inf
        v = d / 2 - 1
        ive = float(special.ive(v, k))
        log_ive = math.log(ive) if ive > 1e-300 else float(special.log_iv(v, k)) - k
        logc_plus_k = v * math.log(k) - (d / 2) * _LOG_2PI - log_ive
        return -logc_plus_k + k * float(special.iv_ratio_c(d / 2, k))

    def mean_resultant_length(self):
        """A_d(kappa) = E[mu^T x]."""
        return float(vmf_mean_resultant_length(self.dim, self.kappa))

    def mean(self):
        """E[x] = A_d(kappa) mu (not a unit vector)."""
        return self.mean_resultant_length() * self.mu

    # -- sampling -------------------------------------------------------------------------
    def rvs(self, size=1, random_state=None):
        """Random unit vectors, shape (*size, d) (``size`` an int or tuple).

        Wood's (1994) rejection sampler for w = mu^T x (vectorised; acceptance rate above
        ~0.6 in every case), then x = w mu + sqrt(1 - w^2) u with u uniform on the sphere
        orthogonal to mu: O(n d) work, no rotation matrix. 1 - w comes straight from Wood's
        proposal, never as a difference, so kappa >> d keeps the tangential part's full
        relative precision.

        random_state: None, an int seed, or a ``numpy.random.Generator`` (for CuPy ``mu``, a
        ``cupy.random.Generator``); legacy ``RandomState`` objects are accepted as well.
        """
        xp = self._xp
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
        n = math.prod(shape)
        rng = _generator(random_state, xp)
        omw = _wood_one_minus_w(self.dim, self.kappa, n, rng, xp)
        x = xp.empty((n, self.dim))
        if xp is not np or n == 0:
            _fill_sphere_rows(x, omw, self.mu, rng, xp)
            return x.reshape(shape + (self.dim,))
        # CPU: blocks of rows (about 256 KiB each) with their own child generators, run on
        # threads (NumPy's generators and BLAS release the GIL); the result does not depend
        # on the number of threads.
        rows = max(1, 32768 // self.dim)
        starts = range(0, n, rows)
        try:
            rngs = rng.spawn(len(starts))
        except (AttributeError, TypeError):      # RandomState or seedless bit generator
            rngs = None
        if rngs is None:
            _fill_sphere_rows(x, omw, self.mu, rng, np)
        else:
            def job(i):
                sl = slice(starts[i], starts[i] + rows)
                _fill_sphere_rows(x[sl], omw[sl], self.mu, rngs[i], np)
            threads = min(_core.max_threads(), len(starts))
            if threads > 1:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(job, range(len(starts))))
            else:
                for i in range(len(starts)):
                    job(i)
        return x.reshape(shape + (self.dim,))

    # -- fitting --------------------------------------------------------------------------
    @staticmethod
    def fit(x, *, normalize=False):
        """Maximum-likelihood (mu, kappa) from unit vectors x of shape (n, d).

        mu is the mean direction, kappa = vmf_kappa_mle(r_bar, d) (float). Raises ValueError
        when rows are not unit norm (unless normalize=True), see :func:`mean_direction`.
        """
        mu, r_bar = mean_direction(x, normalize=normalize)
        return mu, float(vmf_kappa_mle(r_bar, mu.shape[0]))


def _generator(random_state, xp):
    if xp is np:
        if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
            return random_state
        return np.random.default_rng(random_state)
    import cupy
    if isinstance(random_state, (cupy.random.Generator, cupy.random.RandomState)):
        return random_state
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        raise TypeError("random_state: for a CuPy mu pass a cupy.random.Generator or an int seed")
    return cupy.random.default_rng(random_state)


def _fill_sphere_rows(x, omw, mu, rng, xp):
    """x[i] = w_i mu + sqrt(1 - w_i^2) u_i, u_i uniform on the unit sphere orthogonal to mu."""
    if isinstance(rng, np.random.Generator):
        rng.standard_normal(out=x)
    else:
        x[...] = rng.standard_normal(x.shape)
    x -= (x @ mu)[:, None] * mu
    scale = xp.sqrt(omw * (2 - omw)) / xp.linalg.norm(x, axis=1)
    x *= scale[:, None]
    x += (1 - omw)[:, None] * mu


def _uniform(rng, n):
    return rng.random(n) if hasattr(rng, "random") else rng.random_sample(n)


def _wood_one_minus_w(d, kappa, n, rng, xp):
    """1 - w for n draws of w = mu^T x by Wood's rejection sampler.

    With b = (d-1) / (2 kappa + sqrt(4 kappa^2 + (d-1)^2)) and z ~ Beta((d-1)/2, (d-1)/2), the
    proposal is w = (1 - (1+b) z) / (1 - (1-b) z), so 1 - w = 2 b z / (1 - (1-b) z); it is
    accepted when kappa (w - x0) + (d-1) log((1 - x0 w) / (1 - x0^2)) >= log u, x0 = (1-b)/(1+b),
    every difference written without cancellation.
    """
    m = d - 1.0
    b = m / (2 * kappa + math.sqrt(4 * kappa * kappa + m * m))
    one_m_x0 = 2 * b / (1 + b)
    x0 = (1 - b) / (1 + b)
    log_1m_x0sq = math.log(4 * b) - 2 * math.log1p(b)
    out = xp.empty(n)
    todo = xp.arange(n)
    while todo.size:
        k = todo.size
        z = rng.beta(m / 2, m / 2, size=k)
        u = _uniform(rng, k)
        omw = 2 * b * z / (1 - (1 - b) * z)
        with np.errstate(divide="ignore"):
            t = kappa * (one_m_x0 - omw) + m * (xp.log(one_m_x0 + x0 * omw) - log_1m_x0sq)
            ok = t >= xp.log(u)
        out[todo[ok]] = omw[ok]
        todo = todo[~ok]
    return out
