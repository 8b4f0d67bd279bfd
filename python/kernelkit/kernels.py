"""Batched kernel sums without the kernel matrix, and kernel density estimation on top.

``kernel_sum(x, y, w)[..., j, :] = sum_i k(|x_i - y_j| / h) w[..., i, :]`` for data x (..., n, d)
and queries y (..., m, d), in O((n + m) d) memory however large n m is. The C++ engine packs
the data once per problem (centred on its mean and scaled by the bandwidth, in float64, so a
large offset costs no accuracy), then walks cache-sized tiles of data for blocks of queries:
squared distances by direct differences into an L1 buffer, then a vectorised kernel (own SIMD
exp/log, AVX2+FMA picked at run time) reduced against the weights. float32 sums are kept in
float32 for one tile and accumulated in float64. OpenMP threads run over query blocks, over
batch problems when there are many, and over data ranges when queries are few; they follow
``OMP_NUM_THREADS`` and ``threadpoolctl``. No JIT: the first call costs what later calls do.
CuPy arrays run a CUDA kernel instead (one thread per query, data tiles staged through shared
memory, running sums in registers) on CuPy's current stream.
"""
import functools
import math

import numpy as np

from . import _core, _dispatch

__all__ = ["kernel_sum", "KernelDensity", "KERNELS"]

# name -> engine code (kernelkit::kernels::Kind); "matern" resolves by nu.
_CODES = {
    "gaussian": 0, "exponential": 1, "cauchy": 5, "rational_quadratic": 6,
    "inverse_multiquadric": 7, "tophat": 8, "epanechnikov": 9, "linear": 10, "cosine": 11,
    "euclidean": 12, "manhattan": 12,
}
_ALIASES = {"rbf": "gaussian", "laplacian": "exponential"}
KERNELS = tuple(sorted(set(_CODES) | set(_ALIASES) | {"matern"}))
_PARAMS = {"matern": {"nu": 1.5}, "rational_quadratic": {"alpha": 1.0}}


def _resolve_kernel(kernel, params):
    """(canonical name, engine code, (alpha, nu, log_c), l1) for a kernel name and its params."""
    if not isinstance(kernel, str):
        raise TypeError(f"kernel must be a string, one of {KERNELS}")
    name = _ALIASES.get(kernel.lower(), kernel.lower())
    if name not in _CODES and name != "matern":
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    allowed = _PARAMS.get(name, {})
    extra = set(params) - set(allowed)
    if extra:
        raise TypeError(f"kernel {name!r} takes no parameter(s) {sorted(extra)}"
                        + (f"; it takes {sorted(allowed)}" if allowed else ""))
    p = {**allowed, **params}
    alpha, nu, log_c = 1.0, 0.5, 0.0
    code = _CODES.get(name)
    if name == "rational_quadratic":
        alpha = float(p["alpha"])
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"rational_quadratic needs a finite alpha > 0, got {p['alpha']!r}")
    if name == "matern":
        nu = float(p["nu"])
        if not (nu > 0 and math.isfinite(nu)):
            raise ValueError(f"matern needs a finite nu > 0, got {p['nu']!r}")
        code = {0.5: 1, 1.5: 2, 2.5: 3}.get(nu, 4)
        log_c = (1.0 - nu) * math.log(2.0) - math.lgamma(nu)
    return name, code, (alpha, nu, log_c), name == "manhattan"


def _float_dtype(*arrays):
    dt = np.result_type(*[a.dtype for a in arrays], np.float32)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"kernel sums take real float32/float64 data, got {dt}")
    return dt


def _batch_index(batch, full):
    """Flat index of each problem's block in an array whose batch shape is `batch`."""
    size = math.prod(batch)
    return np.ascontiguousarray(
        np.broadcast_to(np.arange(size, dtype=np.int64).reshape(batch), full).reshape(-1))


def _finite_mean(x, xp=np):
    """Per-block mean of the finite coordinates (..., n, d) -> (..., d), 0 where none."""
    n = x.shape[-2]
    if n == 0:
        return xp.zeros(x.shape[:-2] + x.shape[-1:])
    # a BLAS matrix-vector product (NumPy's mean over axis -2 is slow for small d), in float64
    # so that the centre, and with it every rounded centred coordinate, is the same whichever
    # BLAS (CPU or cuBLAS) and summation order computed it
    x = x.astype(np.float64, copy=False)
    plain = xp.matmul(xp.full((1, n), 1.0 / n), x)[..., 0, :]
    if bool(xp.all(xp.isfinite(plain))):
        return plain
    finite = xp.isfinite(x)
    total = xp.where(finite, x, 0.0).sum(axis=-2)
    count = finite.sum(axis=-2)
    return total / xp.maximum(count, 1)


def _run(x, y, w, code, params, l1, reduction, bandwidth, scales2=(1.0,), exclude_self=False,
         xp=np, engine=None):
    """The engine call on validated arrays: x (..., n, d), y (..., m, d), w (..., n, c) already
    in one float dtype, bandwidth broadcastable to (..., d). Returns (..., m, len(scales2), c).
    engine: _core.kernel_sum (default), or another callable with its arguments (the block
    emulator, or the CUDA launcher with xp = cupy)."""
    dt = x.dtype
    n, d = x.shape[-2:]
    m = y.shape[-2]
    c = w.shape[-1]
    bw = np.asarray(bandwidth, dtype=np.float64)
    hb = bw.shape[:-1] if bw.ndim else ()
    xb, yb, wb = x.shape[:-2], y.shape[:-2], w.shape[:-2]
    try:
        full = np.broadcast_shapes(xb, yb, wb, hb)
        scale = np.broadcast_to(1.0 / bw, full + (d,))
    except ValueError:
        raise ValueError(
            f"batch shapes do not broadcast: x {x.shape}, y {y.shape}, weights {w.shape}, "
            f"bandwidth {bw.shape} (bandwidth broadcasts against (..., d) = (..., {d}))"
        ) from None
    nb = math.prod(full)
    x3 = xp.ascontiguousarray(x.reshape((math.prod(xb), n, d)))
    y3 = xp.ascontiguousarray(y.reshape((math.prod(yb), m, d)))
    w3 = xp.ascontiguousarray(w.reshape((math.prod(wb), n, c)))
    center = xp.ascontiguousarray(_finite_mean(x3, xp).reshape(-1, d))
    scale = xp.asarray(np.ascontiguousarray(scale.reshape(nb, d), dtype=np.float64))
    s2 = xp.asarray(np.ascontiguousarray(scales2, dtype=np.float64))
    index = [xp.asarray(_batch_index(b, full)) for b in (xb, yb, wb)]
    out = xp.empty((nb, m, len(s2), c), dtype=dt)
    (engine or _core.kernel_sum)(code, params[0], params[1], params[2], l1, reduction,
                                 exclude_self, x3, index[0], y3, index[1], w3, index[2], center,
                                 scale, s2, out)
    return out.reshape(full + (m, len(s2), c))


def _emulator_engine(shared_bytes):
    """_core.kernel_sum running the GPU block program on the CPU's emulator (tests)."""
    return functools.partial(_core.kernel_sum, emulate_shared=int(shared_bytes))


def _cuda_engine(code, alpha, nu, log_c, l1, reduction, exclude_self, x, x_index, y, y_index,
                 w, w_index, center, scale, scales2, out):
    """_core.kernel_sum's contract on CuPy arrays: the CUDA kernel on the current stream."""
    import cupy as cp

    from . import _gpu

    if scales2.size != 1 or float(scales2[0]) != 1.0:
        raise ValueError("the GPU kernel sums take one bandwidth scale")
    batch, m, _, c = out.shape
    _gpu.module().kernel_sum(dict(
        dtype=0 if x.dtype == np.float32 else 1, kind=code, l1=bool(l1), lse=reduction == 1,
        exclude_self=bool(exclude_self), alpha=alpha, nu=nu, log_c=log_c, batch=batch,
        n=x.shape[1], m=m, d=x.shape[2], c=c, x=x.data.ptr, x_index=x_index.data.ptr,
        y=y.data.ptr, y_index=y_index.data.ptr, w=w.data.ptr, w_index=w_index.data.ptr,
        center=center.data.ptr, scale=scale.data.ptr, out=out.data.ptr,
        stream=cp.cuda.get_current_stream().ptr))


_COMPACT = {8, 9, 10, 11}  # tophat, epanechnikov, linear, cosine: k = 0 beyond r = 1
_ZORDER_MAX_D = 6


def _zorder(points, bandwidth):
    """Permutation putting points (n, d) in Morton (Z-curve) order of a grid at half the
    bandwidth, so consecutive points are close: the engine skips whole tiles of a compact
    kernel that lie beyond its support from a block of queries."""
    p = np.asarray(points, dtype=np.float64)
    n, d = p.shape
    bits = 60 // d
    with np.errstate(invalid="ignore"):
        cell = np.floor(2.0 * (p - np.nanmin(p, axis=0)) / np.asarray(bandwidth, np.float64))
    cell = np.clip(np.nan_to_num(cell, nan=0.0), 0, 2 ** bits - 1).astype(np.uint64)
    code = np.zeros(n, dtype=np.uint64)
    for b in range(bits):
        for k in range(d):
            code |= ((cell[:, k] >> np.uint64(b)) & np.uint64(1)) << np.uint64(b * d + k)
    return np.argsort(code, kind="stable")


def _spatial_order(code, x, y):
    """Whether kernel_sum sorts an unbatched problem spatially (compact kernels, small d)."""
    return (code in _COMPACT and x.ndim == 2 and y.ndim == 2 and x.shape[1] <= _ZORDER_MAX_D
            and x.shape[0] > 512 and y.shape[0] > 8)


def _check_bandwidth(bandwidth, d):
    bw = np.asarray(bandwidth, dtype=np.float64)
    if not np.all(np.isfinite(bw) & (bw > 0)):
        raise ValueError(f"bandwidth must be finite and > 0, got {bandwidth!r}")
    if bw.ndim and bw.shape[-1] not in (1, d):
        raise ValueError(f"bandwidth of shape {bw.shape} does not broadcast against (..., d) "
                         f"with d = {d}; use shape (d,) per dimension or (..., 1) per problem")
    return bw


def kernel_sum(x, y, weights=None, *, kernel="gaussian", bandwidth=1.0, reduction="sum",
               log_weights=None, _emulate_shared=None, **kernel_params):
    """Kernel sums ``S[..., j, :] = sum_i k(x_i, y_j) W[..., i, :]`` without the kernel matrix.

    Parameters
    ----------
    x : array_like, shape (..., n, d)
        Data points (one set per batch problem; leading dimensions broadcast).
    y : array_like, shape (..., m, d)
        Query points.
    weights : array_like, shape (..., n) or (..., n, c), optional
        Weights W (default: ones). An array with as many dimensions as ``x`` is read as
        (..., n, c); the result then has shape (..., m, c), otherwise (..., m).
    kernel : str
        With r = |x - y| / h (Euclidean; ``bandwidth`` h), conventions of scikit-learn's
        KernelDensity where it has the kernel:

        ======================  ===================================================
        gaussian (rbf)          exp(-r^2 / 2)
        exponential (laplacian) exp(-r)   (Euclidean r, i.e. matern with nu = 1/2)
        matern (``nu``=1.5)     2^(1-nu)/Gamma(nu) a^nu K_nu(a), a = sqrt(2 nu) r;
                                closed forms for nu = 0.5, 1.5, 2.5, any other nu > 0
                                through log K_nu (kernelkit.special; slower)
        cauchy                  1 / (1 + r^2)
        rational_quadratic      (1 + r^2 / (2 alpha))^(-alpha)   (``alpha``=1)
        inverse_multiquadric    1 / sqrt(1 + r^2)
        tophat                  1 if r < 1 else 0
        epanechnikov            1 - r^2 if r < 1 else 0
        linear                  1 - r if r < 1 else 0
        cosine                  cos(pi r / 2) if r < 1 else 0
        euclidean               r            (distance sums)
        manhattan               sum_k |x_k - y_k| / h_k   (L1 distance sums)
        ======================  ===================================================
    bandwidth : float or array_like
        h > 0, broadcast against (..., d): a scalar, a (d,) vector (one per dimension, ARD),
        a (..., 1) array (one per batch problem) or (..., d).
    reduction : {"sum", "logsumexp"}
        "logsumexp" returns ``log sum_i exp(log k(x_i, y_j)) W_i`` (log of the sum, computed
        without forming it, so it stays finite where every kernel value underflows). It needs
        W >= 0 (log W is taken; zero weights drop out) or ``log_weights`` instead.
    log_weights : array_like, optional
        logsumexp only: log W directly (any real values, -inf for zero weight).
    **kernel_params
        ``nu`` for matern, ``alpha`` for rational_quadratic.

    Returns
    -------
    ndarray, shape (..., m) or (..., m, c)
        A CuPy array when x, y (and the weights) are CuPy arrays: the CUDA kernel ran on the
        current stream (NumPy and CuPy inputs mixed raise TypeError).
        float32 when x, y (and the weights) are float32, else float64. Empty data (n = 0)
        gives 0 (``-inf`` for logsumexp). NaN in x or in the weights makes every output of
        that problem NaN; NaN in a query makes its row NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import kernel_sum
    >>> x = np.array([[0.0], [1.0]]); y = np.array([[0.0]])
    >>> np.allclose(kernel_sum(x, y), 1 + np.exp(-0.5))
    True
    >>> float(kernel_sum(x, y + 100, bandwidth=0.5, reduction="logsumexp")[0])  # exp underflows
    -19602.0
    """
    on_gpu = [_dispatch.is_cupy(a) for a in (x, y, weights, log_weights) if a is not None]
    xp = np
    if any(on_gpu):
        if not all(on_gpu):
            raise TypeError("x, y and the weights must all be CuPy arrays or all NumPy arrays")
        import cupy as xp
    if _dispatch.is_cupy(bandwidth):
        bandwidth = bandwidth.get()
    name, code, params, l1 = _resolve_kernel(kernel, kernel_params)
    if reduction not in ("sum", "logsumexp"):
        raise ValueError(f"reduction must be 'sum' or 'logsumexp', got {reduction!r}")
    lse = reduction == "logsumexp"
    x = xp.asarray(x)
    y = xp.asarray(y)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(f"x and y must have shape (..., n, d) and (..., m, d); got x {x.shape}, "
                         f"y {y.shape}")
    n, d = x.shape[-2:]
    if y.shape[-1] != d:
        raise ValueError(f"x and y have different dimensions d: x {x.shape}, y {y.shape}")
    if log_weights is not None:
        if not lse:
            raise ValueError("log_weights needs reduction='logsumexp'")
        if weights is not None:
            raise ValueError("pass weights or log_weights, not both")
        weights = log_weights
    squeeze = True
    if weights is None:
        w = (xp.zeros if lse else xp.ones)((n, 1), dtype=_float_dtype(x, y))  # log 1 = 0
    else:
        w = xp.asarray(weights)
        if w.ndim == x.ndim:
            squeeze = False
        elif w.ndim == x.ndim - 1:
            w = w[..., None]
        else:
            raise ValueError(f"weights must have shape (..., n) or (..., n, c); got "
                             f"{w.shape} with x {x.shape}")
        if w.shape[-2] != n:
            raise ValueError(f"weights have {w.shape[-2]} rows for n = {n} points "
                             f"(weights {w.shape}, x {x.shape})")
        if lse and log_weights is None:
            if bool(xp.any(w < 0)):
                raise ValueError("logsumexp needs weights >= 0 (or pass log_weights)")
            with np.errstate(divide="ignore"):
                w = xp.log(w)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"weights must be real numbers, got {w.dtype}")
    dt = _float_dtype(x, y, w)
    bw = _check_bandwidth(bandwidth, d)
    x = x.astype(dt, copy=False)
    y = y.astype(dt, copy=False)
    w = w.astype(dt, copy=False)
    if d == 0:  # every distance is 0: one zero coordinate gives the same sums
        x = xp.zeros(x.shape[:-1] + (1,), dt)
        y = xp.zeros(y.shape[:-1] + (1,), dt)
        bw = np.ones(())
    # logsumexp works where exponents are large (-100 and below), and a float32 exponent is
    # only good to eps32 |exponent|: compute in float64 and round the logs once at the end
    work = np.float64 if lse else dt
    x, y, w = (a.astype(work, copy=False) for a in (x, y, w))
    if xp is not np or _emulate_shared:
        # The GPU block program: CUDA on CuPy arrays, or the CPU's emulator (tests).
        engine = _cuda_engine if xp is not np else _emulator_engine(_emulate_shared)
        out = _run(x, y, w, code, params, l1, int(lse), bw, xp=xp, engine=engine)[..., 0, :]
    else:
        out = _sum_prepared(x, y, w, code, params, l1, lse, bw)
    out = out.astype(dt, copy=False)
    return out[..., 0] if squeeze else out


def _sum_prepared(x, y, w, code, params, l1, lse, bw, data_sorted=False):
    """kernel_sum after validation: spatial order where it pays, then the engine."""
    if not _spatial_order(code, x, y):
        return _run(x, y, w, code, params, l1, int(lse), bw)[..., 0, :]
    h = np.broadcast_to(bw, (x.shape[1],))
    if not data_sorted:
        px = _zorder(x, h)
        x, w = x[px], w[px]
    py = _zorder(y, h)
    out = np.empty((y.shape[0], w.shape[1]), dtype=x.dtype)
    out[py] = _run(x, y[py], w, code, params, l1, int(lse), bw)[..., 0, :]
    return out


# ---- kernel density estimation ------------------------------------------------------------

def _host(a):
    """A NumPy copy of a CuPy array; NumPy input unchanged."""
    return a.get() if _dispatch.is_cupy(a) else np.asarray(a)



def _log_unit_ball_surface(d):
    """log of the (d-1)-sphere's area, 2 pi^(d/2) / Gamma(d/2)."""
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)


def _log_kernel_integral(name, d, alpha, nu):
    """log of the integral of k(|u|) over R^d (unit bandwidth), or ValueError if infinite."""
    log_ball = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
    if name == "gaussian":
        return 0.5 * d * math.log(2.0 * math.pi)
    if name in ("exponential", "matern"):  # exponential is matern with nu = 1/2
        nu = 0.5 if name == "exponential" else nu
        return (d * math.log(2.0) + 0.5 * d * math.log(math.pi) + math.lgamma(nu + 0.5 * d)
                - math.lgamma(nu) - 0.5 * d * math.log(2.0 * nu))
    if name == "rational_quadratic" and alpha > 0.5 * d:
        return (0.5 * d * math.log(2.0 * alpha * math.pi) + math.lgamma(alpha - 0.5 * d)
                - math.lgamma(alpha))
    if name == "cauchy" and d == 1:
        return math.log(math.pi)
    if name == "tophat":
        return log_ball
    if name == "epanechnikov":
        return log_ball + math.log(2.0 / (d + 2.0))
    if name == "linear":
        return log_ball - math.log(d + 1.0)
    if name == "cosine":
        from scipy.integrate import quad
        radial, _ = quad(lambda r: math.cos(0.5 * math.pi * r) * r ** (d - 1), 0.0, 1.0,
                         epsabs=0.0, epsrel=1e-13, limit=200)
        return _log_unit_ball_surface(d) + math.log(radial)
    raise ValueError(f"kernel {name!r} does not integrate to a finite value in d = {d} "
                     "dimensions, so it defines no density")


class KernelDensity:
    """Kernel density estimate with an exact, multithreaded kernel sum (no trees, no JIT).

    Parameters
    ----------
    kernel : str
        Any normalisable kernel of :func:`kernel_sum`: gaussian, exponential, matern,
        rational_quadratic (alpha > d/2), cauchy (d = 1), tophat, epanechnikov, linear, cosine.
    bandwidth : float, array_like (d,), "scott", "silverman" or "cv"
        A float or per-dimension vector is used as given (same convention as scikit-learn's
        KernelDensity for a float). "scott" (n_eff^(-1/(d+4))) and "silverman"
        ((n_eff (d+2)/4)^(-1/(d+4))) multiply the data's per-dimension standard deviation,
        unlike scikit-learn's bare factors. "cv" maximises the leave-one-out log-likelihood
        over ``cv_grid`` times the Scott bandwidth, from one distance pass for all candidates.
    cv_grid : array_like, optional
        Multipliers of the Scott bandwidth tried by "cv" (default 48 values from 0.05 to 5,
        evenly spaced in log).
    **kernel_params
        ``nu`` (matern), ``alpha`` (rational_quadratic).

    Attributes (after fit)
    ----------------------
    bandwidth_ : ndarray (d,)
        The bandwidth used, per dimension.
    cv_scores_ : ndarray
        For "cv": the mean leave-one-out log-likelihood of each grid multiplier.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import KernelDensity
    >>> x = np.random.default_rng(0).standard_normal((1000, 2))
    >>> kde = KernelDensity(bandwidth="scott").fit(x)
    >>> kde.score_samples(np.zeros((1, 2))).round(1)
    array([-2.])
    """

    def __init__(self, kernel="gaussian", bandwidth=1.0, *, cv_grid=None, **kernel_params):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.cv_grid = cv_grid
        self.kernel_params = kernel_params
        self._name, self._code, self._params, _ = _resolve_kernel(kernel, kernel_params)
        if self._name in ("euclidean", "manhattan", "inverse_multiquadric"):
            raise ValueError(f"kernel {self._name!r} does not define a density")

    _emulate_shared = None   # tests: run the GPU block program on the CPU's emulator

    def fit(self, x, sample_weight=None):
        """Store the data (n, d) (1-D: n points in one dimension) and choose the bandwidth.
        CuPy data keeps everything on the GPU (the kernel sums run as CUDA kernels; the
        score_samples queries must then be CuPy arrays too)."""
        if _dispatch.is_cupy(x):
            import cupy as xp
            engine = _cuda_engine
        else:
            xp, engine = np, None
            if self._emulate_shared:
                engine = _emulator_engine(self._emulate_shared)
        self._xp, self._engine = xp, engine
        x = xp.asarray(x)
        x = x[:, None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x must be a non-empty (n, d) array, got shape {x.shape}")
        dt = _float_dtype(x)
        x = x.astype(dt, copy=False)
        n, d = x.shape
        if not bool(xp.all(xp.isfinite(x))):
            raise ValueError("x contains NaN or inf")
        if sample_weight is None:
            w = xp.full(n, 1.0 / n)
        else:
            w = xp.asarray(sample_weight, dtype=np.float64)
            if (w.shape != (n,) or not bool(xp.all(xp.isfinite(w) & (w >= 0)))
                    or float(w.sum()) <= 0):
                raise ValueError(f"sample_weight must be {n} finite values >= 0, not all 0")
            w = w / w.sum()
        self.log_norm_ = _log_kernel_integral(self._name, d, self._params[0], self._params[1])
        self.x_, self.weights_ = x, w
        self.n_features_in_ = d
        bw = self.bandwidth
        if isinstance(bw, str):
            if bw not in ("scott", "silverman", "cv"):
                raise ValueError(f"bandwidth must be a number, an array, 'scott', 'silverman' "
                                 f"or 'cv'; got {bw!r}")
            n_eff = 1.0 / float(xp.sum(w ** 2))
            mean = w @ x.astype(np.float64)
            std = _host(xp.sqrt(w @ (x.astype(np.float64) - mean) ** 2 / (1.0 - 1.0 / n_eff)))
            if not np.all(std > 0):
                raise ValueError("a data-scaled bandwidth needs spread in every dimension")
            if bw == "silverman":
                factor = (n_eff * (d + 2) / 4.0) ** (-1.0 / (d + 4))
            else:
                factor = n_eff ** (-1.0 / (d + 4))
            h = factor * std
            if bw == "cv":
                h = h * self._cross_validate(h)
        else:
            h = np.broadcast_to(_check_bandwidth(bw, d), (d,)).astype(np.float64)
        self.bandwidth_ = np.array(h, dtype=np.float64)
        self._sorted = engine is None and _spatial_order(self._code, x, x)
        if self._sorted:  # once here rather than at every score_samples
            order = _zorder(x, self.bandwidth_)
            self.x_, self.weights_ = x[order], w[order]
        return self

    def _cross_validate(self, h):
        grid = (np.geomspace(0.05, 5.0, 48) if self.cv_grid is None
                else np.asarray(self.cv_grid, dtype=np.float64).reshape(-1))
        if grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
            raise ValueError("cv_grid must hold finite multipliers > 0")
        x, w, xp = self.x_, self.weights_, self._xp
        if x.shape[0] < 2:
            raise ValueError("bandwidth='cv' needs at least 2 points")
        if self._engine is None:
            logw = np.log(w).astype(x.dtype)[:, None]
            lse = _run(x, x, logw, self._code, self._params, False, 1, h,
                       scales2=1.0 / grid ** 2, exclude_self=True)[:, :, 0].astype(np.float64)
        else:   # the GPU kernel takes one bandwidth: one launch per multiplier, in float64
            x64, logw = x.astype(np.float64), xp.log(w)[:, None]
            lse = xp.stack([_run(x64, x64, logw, self._code, self._params, False, 1, h * g,
                                 exclude_self=True, xp=xp, engine=self._engine)[:, 0, 0]
                            for g in grid], axis=1)
        d = x.shape[1]
        with np.errstate(divide="ignore"):
            loo = (lse - xp.log1p(-w)[:, None] - self.log_norm_ - np.sum(np.log(h))
                   - d * xp.asarray(np.log(grid))[None, :])
        self.cv_scores_ = _host(w @ xp.where(xp.isnan(loo), -np.inf, loo))
        self.cv_grid_ = grid
        return grid[int(np.argmax(self.cv_scores_))]

    def _check_fitted(self):
        if not hasattr(self, "x_"):
            raise RuntimeError("call fit(x) first")

    def score_samples(self, y):
        """Log density at each row of y (m, d) (1-D: m points in one dimension); finite far out
        in the tails, where the density itself underflows (log-sum-exp there)."""
        self._check_fitted()
        xp, engine = self._xp, self._engine
        if _dispatch.is_cupy(y) != (xp is not np):
            raise TypeError("score_samples takes the array type fit had (NumPy or CuPy)")
        y = xp.asarray(y)
        d = self.n_features_in_
        y = y[:, None] if (y.ndim == 1 and d == 1) else y
        if y.ndim != 2 or y.shape[1] != d:
            raise ValueError(f"y must have shape (m, {d}), got {y.shape}")
        x = self.x_
        dt = _float_dtype(x, y)
        x, y = x.astype(dt, copy=False), y.astype(dt, copy=False)
        h, sorted_ = self.bandwidth_, self._sorted
        # The plain sum is about twice as fast as logsumexp and exact wherever it stays well
        # above the underflow threshold (the weights sum to 1, so the kernel values the engine
        # flushes to 0 below the normal range cost at most `tiny` in total): log of the sum
        # there, logsumexp (in float64) for the rest.
        w = self.weights_.astype(dt)[:, None]

        def sums(x, y, w, lse):
            if engine is None:
                return _sum_prepared(x, y, w, self._code, self._params, False, lse, h, sorted_)
            return _run(x, y, w, self._code, self._params, False, int(lse), h, xp=xp,
                        engine=engine)[:, 0]

        total = sums(x, y, w, False)[:, 0]
        fi = np.finfo(dt)
        redo = ~(total >= 4 * fi.tiny / fi.eps)
        with np.errstate(divide="ignore"):
            out = xp.log(xp.where(redo, 1, total))
            if bool(xp.any(redo)):
                logw = xp.log(self.weights_)[:, None]
                out[redo] = sums(x.astype(np.float64), y[redo].astype(np.float64), logw,
                                 True)[:, 0]
        return out - out.dtype.type(self.log_norm_ + np.sum(np.log(self.bandwidth_)))

    def score(self, y):
        """Total log-likelihood of the rows of y."""
        return float(np.sum(self.score_samples(y)))

    def sample(self, n_samples=1, random_state=None):
        """Draw n_samples points (n_samples, d) from the estimated density."""
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        x, w, (alpha, nu, _) = _host(self.x_), _host(self.weights_), self._params
        n, d = x.shape
        centres = x[rng.choice(n, size=n_samples, p=w)].astype(np.float64)
        k = self._name
        if k == "gaussian":
            u = rng.standard_normal((n_samples, d))
        elif k in ("exponential", "matern"):
            # a^nu K_nu(a) is a Gaussian scale mixture: variance 2t, t ~ Gamma(nu + d/2).
            nu = 0.5 if k == "exponential" else nu
            t = rng.gamma(nu + 0.5 * d, size=(n_samples, 1))
            u = np.sqrt(2.0 * t / (2.0 * nu)) * rng.standard_normal((n_samples, d))
        elif k == "rational_quadratic":
            tau = rng.gamma(alpha - 0.5 * d, size=(n_samples, 1))
            u = np.sqrt(alpha / tau) * rng.standard_normal((n_samples, d))
        elif k == "cauchy":
            u = rng.standard_cauchy((n_samples, 1))
        else:
            direction = rng.standard_normal((n_samples, d))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            if k == "tophat":
                r = rng.random(n_samples) ** (1.0 / d)
            elif k == "epanechnikov":  # radial density (1 - r^2) r^(d-1): r^2 ~ Beta(d/2, 2)
                r = np.sqrt(rng.beta(0.5 * d, 2.0, n_samples))
            elif k == "linear":  # (1 - r) r^(d-1): Beta(d, 2)
                r = rng.beta(d, 2.0, n_samples)
            else:  # cosine: Beta(d, 2) proposals, accepted with cos(pi r/2) / (pi/2 (1 - r))
                r = np.empty(n_samples)
                todo = np.arange(n_samples)
                while todo.size:
                    prop = rng.beta(d, 2.0, todo.size)
                    ok = (rng.random(todo.size) * (0.5 * np.pi) * (1.0 - prop)
                          <= np.cos(0.5 * np.pi * prop))
                    r[todo[ok]] = prop[ok]
                    todo = todo[~ok]
            u = direction * r[:, None]
        # drawn on the host (a few random numbers per sample), returned where the data live
        return self._xp.asarray((centres + u * self.bandwidth_).astype(x.dtype))
