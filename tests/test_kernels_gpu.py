"""The GPU kernel sums: the block program run by the CPU's sequential block emulator (every
run) and the CUDA kernel on CuPy arrays (marker `gpu`), both against the CPU engine."""
import functools

import numpy as np
import pytest

from kernelkit import _core
from kernelkit import kernels as kk
from kernelkit.kernels import KERNELS, KernelDensity, kernel_sum

from kernel_cases import dense_distance, dense_kernel

H100_SHARED = 96 * 1024
TINY_SHARED = 2048          # 32 queries per block, a few points per tile: every edge case
SMALL_SHARED = 6 * 1024     # the small-d program with tiles of 70-380 points
PARAMS = {"matern": [dict(nu=0.5), dict(nu=1.5), dict(nu=2.5), dict(nu=0.8)],
          "rational_quadratic": [dict(alpha=0.7)]}


def kernel_cases():
    for name in KERNELS:
        for params in PARAMS.get(name, [{}]):
            yield name, params


def data(dtype, n=300, m=77, d=3, c=None, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, d)) + shift).astype(dtype)
    y = (rng.standard_normal((m, d)) * 1.3 + shift).astype(dtype)
    w = rng.random((n,) if c is None else (n, c)).astype(dtype)
    return x, y, w


def check_sums(got, cpu, x, y, w, name, params, h, dtype):
    """The CPU issue's bar, for the GPU result and the CPU's: within tol of the float64 dense
    reference plus the slack its distances' rounding (relative eps) explains near a compact
    kernel's edge; and so within twice that of each other."""
    tol = 2e-6 if dtype == np.float32 else 1e-13
    name = {"rbf": "gaussian", "laplacian": "exponential"}.get(name, name)
    r = dense_distance(x, y, h, l1=name == "manhattan")
    w64 = w.astype(np.float64).reshape(len(x), -1)
    ref = (dense_kernel(name, r, **params) @ w64).reshape(cpu.shape)
    dk = np.abs(dense_kernel(name, r * (1 + 1e-6), **params)
                - dense_kernel(name, r * (1 - 1e-6), **params)) / 2e-6
    bound = tol * np.abs(ref) + tol * (dk @ w64).reshape(cpu.shape)
    if name == "tophat":   # k jumps at r = 1: pairs within rounding of the edge may flip
        bound += ((np.abs(r - 1) < 1e-4) @ w64).reshape(cpu.shape)
    assert np.all(np.abs(got - ref) <= bound), np.max(np.abs(got - ref) / bound)
    assert np.all(np.abs(got - cpu) <= 2 * bound)


def close(got, ref, dtype, lse=False):
    """float64 1e-13 and float32 2e-6, relative (to max(|ref|, 1) for the logs)."""
    tol = 2e-6 if dtype == np.float32 else 1e-13
    scale = np.maximum(np.abs(ref), 1.0) if lse else np.abs(ref)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.array_equal(got[ok & np.isinf(ref)], ref[ok & np.isinf(ref)])
    fin = ok & np.isfinite(ref)
    err = np.abs(got[fin] - ref[fin]) / np.maximum(scale[fin], np.finfo(dtype).tiny)
    assert err.max(initial=0.0) <= tol, err.max()


@pytest.mark.parametrize("shared", [H100_SHARED, TINY_SHARED])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", list(kernel_cases()))
def test_emulated_kernels_match_cpu(name, params, dtype, shared):
    x, y, w = data(dtype, shift=1e3)
    for reduction in ("sum", "logsumexp"):
        kw = dict(kernel=name, reduction=reduction, bandwidth=0.9, **params)
        ref = kernel_sum(x, y, w, **kw)
        got = kernel_sum(x, y, w, _emulate_shared=shared, **kw)
        assert got.dtype == ref.dtype == dtype
        if reduction == "sum":
            check_sums(got, ref, x, y, w, name, params, 0.9, dtype)
        else:
            close(got, ref, dtype, lse=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_emulated_batches_columns_and_bandwidths(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 1, 130, 5)).astype(dtype)     # broadcasts over axis 1
    y = rng.standard_normal((1, 3, 45, 5)).astype(dtype)
    w = rng.random((4, 3, 130, 11)).astype(dtype)             # 11 columns: two chunks of 8
    bw = rng.uniform(0.5, 2.0, (4, 3, 1))                     # one bandwidth per problem
    for shared in (H100_SHARED, TINY_SHARED):
        ref = kernel_sum(x, y, w, kernel="matern", nu=2.5, bandwidth=bw)
        close(kernel_sum(x, y, w, kernel="matern", nu=2.5, bandwidth=bw, _emulate_shared=shared),
              ref, dtype)
    ard = [0.5, 1, 2, 3, 0.7]
    close(kernel_sum(x[0, 0], y[0, 0], w[0, 0], bandwidth=ard, _emulate_shared=TINY_SHARED),
          kernel_sum(x[0, 0], y[0, 0], w[0, 0], bandwidth=ard), dtype)


def test_emulated_large_d_and_edge_cases():
    x, y, w = data(np.float64, n=200, m=40, d=64)
    close(kernel_sum(x, y, w, bandwidth=8.0, _emulate_shared=H100_SHARED),
          kernel_sum(x, y, w, bandwidth=8.0), np.float64)
    x, y, w = data(np.float64)
    # empty data: 0 (sum) and -inf (logsumexp); no queries: empty result
    assert np.all(kernel_sum(x[:0], y, w[:0], _emulate_shared=TINY_SHARED) == 0)
    lse = kernel_sum(x[:0], y, w[:0], reduction="logsumexp", _emulate_shared=TINY_SHARED)
    assert np.all(lse == -np.inf)
    assert kernel_sum(x, y[:0], w, _emulate_shared=TINY_SHARED).shape == (0,)
    # NaN in the data poisons every output, NaN in a query its row; far queries underflow the
    # sum but not the logsumexp
    xn = x.copy()
    xn[5, 1] = np.nan
    assert np.all(np.isnan(kernel_sum(xn, y, w, _emulate_shared=TINY_SHARED)))
    yn = y.copy()
    yn[3, 0] = np.nan
    got = kernel_sum(x, yn, w, _emulate_shared=TINY_SHARED)
    assert np.isnan(got[3]) and not np.any(np.isnan(np.delete(got, 3)))
    far = kernel_sum(x, y + 100, w, bandwidth=0.1, reduction="logsumexp",
                     _emulate_shared=TINY_SHARED)
    close(far, kernel_sum(x, y + 100, w, bandwidth=0.1, reduction="logsumexp"), np.float64,
          lse=True)


def test_emulated_exclude_self_matches_cpu_engine():
    x, _, w = data(np.float64, n=150)
    args = (x, x, np.log(w)[:, None], 0, (1.0, 0.5, 0.0), False, 1, 0.7)
    ref = kk._run(*args, exclude_self=True)
    got = kk._run(*args, exclude_self=True,
                  engine=functools.partial(_core.kernel_sum, emulate_shared=TINY_SHARED))
    close(got, ref, np.float64, lse=True)


@pytest.mark.parametrize("kernel, params", [("gaussian", {}), ("epanechnikov", {}),
                                            ("matern", {"nu": 1.5})])
def test_emulated_kernel_density_matches_cpu(kernel, params):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((400, 2))
    w = rng.random(400)
    y = np.concatenate([rng.standard_normal((40, 2)), rng.standard_normal((10, 2)) + 30])
    for bw in (0.5, "scott", "cv"):
        cpu = KernelDensity(kernel, bandwidth=bw, **params).fit(x, sample_weight=w)
        emu = KernelDensity(kernel, bandwidth=bw, **params)
        emu._emulate_shared = H100_SHARED
        emu.fit(x, sample_weight=w)
        np.testing.assert_allclose(emu.bandwidth_, cpu.bandwidth_, rtol=1e-12)
        np.testing.assert_allclose(emu.score_samples(y), cpu.score_samples(y), rtol=1e-12,
                                   atol=1e-12)
        if bw == "cv":
            np.testing.assert_allclose(emu.cv_scores_, cpu.cv_scores_, rtol=1e-10)
    assert emu.sample(5, random_state=0).shape == (5, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6, 7, 8])
def test_emulated_small_d_program(d, dtype):
    """Compile-time D (5-7 padded to 8), 150 queries (blocks of 64, the last partial), 700
    points (partial tiles), one weight column (kept with the point) and three."""
    x, y, w = data(dtype, n=700, m=150, d=d, c=3, seed=d)
    for shared in (H100_SHARED, SMALL_SHARED):
        for name, params in [("gaussian", {}), ("matern", {"nu": 1.5}), ("manhattan", {}),
                             ("epanechnikov", {})]:
            kw = dict(kernel=name, bandwidth=0.8, **params)
            for ww in (w[:, 0], w):
                got = kernel_sum(x, y, ww, _emulate_shared=shared, **kw)
                check_sums(got, kernel_sum(x, y, ww, **kw), x, y, ww, name, params, 0.8, dtype)
            if dtype == np.float64:
                kw["reduction"] = "logsumexp"
                close(kernel_sum(x, y, w, _emulate_shared=shared, **kw),
                      kernel_sum(x, y, w, **kw), dtype, lse=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 3, 5])
def test_emulated_small_d_weight_columns(d, dtype):
    """Small d with several weight columns: one block takes 4, 8 or 16 of them (zero-padded
    past c), more than 16 take several blocks; 1100 points (three tiles, the last partial),
    150 queries (the last block partial). A NaN weight poisons its own column only."""
    for c in (2, 4, 6, 8, 9, 16, 21, 40):
        x, y, w = data(dtype, n=1100, m=150, d=d, c=c, seed=c)
        for name, params in [("gaussian", {}), ("matern", {"nu": 1.5})]:
            kw = dict(kernel=name, bandwidth=0.8, **params)
            got = kernel_sum(x, y, w, _emulate_shared=H100_SHARED, **kw)
            check_sums(got, kernel_sum(x, y, w, **kw), x, y, w, name, params, 0.8, dtype)
    wn = w.copy()
    wn[7, 5] = np.nan
    got = kernel_sum(x, y, wn, _emulate_shared=H100_SHARED)
    assert np.all(np.isnan(got[:, 5])) and not np.any(np.isnan(np.delete(got, 5, axis=1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [9, 16, 40, 64, 120])
def test_emulated_tiled_program(d, dtype):
    """Register tiles for d > 8 (d = 120 in float64 does not fit: the generic program):
    150 queries and points (partial query blocks and data tiles), 11 columns (two chunks);
    a wide bandwidth keeps most norms small (cross term), a narrow one none (differences)."""
    x, y, w = data(dtype, n=150, m=150, d=d, c=11, seed=d)
    for h in (1.5 * np.sqrt(d), 0.5 * np.sqrt(d)):
        for name, params in [("gaussian", {}), ("matern", {"nu": 2.5}), ("manhattan", {}),
                             ("epanechnikov", {}), ("cosine", {})]:
            kw = dict(kernel=name, bandwidth=h, **params)
            for ww in (w[:, 0], w):
                got = kernel_sum(x, y, ww, _emulate_shared=H100_SHARED, **kw)
                check_sums(got, kernel_sum(x, y, ww, **kw), x, y, ww, name, params, h, dtype)
        if dtype == np.float64:
            kw = dict(bandwidth=h, reduction="logsumexp")
            close(kernel_sum(x, y, w, _emulate_shared=H100_SHARED, **kw),
                  kernel_sum(x, y, w, **kw), dtype, lse=True)


@pytest.mark.parametrize("d,shared", [(3, SMALL_SHARED), (3, H100_SHARED), (20, H100_SHARED)])
def test_emulated_new_programs_edge_cases_and_exclude_self(d, shared):
    for dtype in (np.float32, np.float64):
        x, y, w = data(dtype, n=130, m=70, d=d)
        assert np.all(kernel_sum(x[:0], y, w[:0], _emulate_shared=shared) == 0)
        xn = x.copy()
        xn[5, 1] = np.nan
        assert np.all(np.isnan(kernel_sum(xn, y, w, _emulate_shared=shared)))
        yn = y.copy()
        yn[3, 0] = np.nan
        got = kernel_sum(x, yn, w, bandwidth=2.0, _emulate_shared=shared)
        assert np.isnan(got[3]) and not np.any(np.isnan(np.delete(got, 3)))
        close(np.delete(got, 3), np.delete(kernel_sum(x, yn, w, bandwidth=2.0), 3), dtype)
    x, _, w = data(np.float64, n=150, d=d)
    lse = kernel_sum(x[:0], x, w[:0], reduction="logsumexp", _emulate_shared=shared)
    assert np.all(lse == -np.inf)
    for c in (1, 3):
        logw = np.log(np.stack([w] * c, axis=1))
        args = (x, x, logw, 0, (1.0, 0.5, 0.0), False, 1, 0.7 * np.sqrt(d))
        close(kk._run(*args, exclude_self=True,
                      engine=functools.partial(_core.kernel_sum, emulate_shared=shared)),
              kk._run(*args, exclude_self=True), np.float64, lse=True)


def test_mixed_numpy_and_cupy_inputs_raise():
    class FakeCupy:   # stands in for a CuPy array
        __module__ = "cupy._core.core"
    x, y, _ = data(np.float64)
    with pytest.raises(TypeError, match="must all be CuPy arrays or all NumPy"):
        kernel_sum(FakeCupy(), y)


# ---- on the GPU -------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", list(kernel_cases()))
def test_gpu_kernels_match_cpu(name, params, dtype):
    import cupy as cp

    x, y, w = data(dtype, n=3000, m=700, shift=1e3)
    stream = cp.cuda.Stream(non_blocking=True)
    for reduction in ("sum", "logsumexp"):
        kw = dict(kernel=name, reduction=reduction, bandwidth=0.9, **params)
        ref = kernel_sum(x, y, w, **kw)
        with stream:
            got = kernel_sum(cp.asarray(x), cp.asarray(y), cp.asarray(w), **kw)
        stream.synchronize()
        assert isinstance(got, cp.ndarray) and got.dtype == dtype
        if reduction == "sum":
            check_sums(got.get(), ref, x, y, w, name, params, 0.9, dtype)
        else:
            close(got.get(), ref, dtype, lse=True)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 9, 16, 40, 64, 130])
def test_gpu_dimensions_and_columns(d, dtype):
    """Every block program (small d, tiled, generic) on the device, 1 to 21 columns (the
    small program's blocks of 4, 8 and 16 columns), partial blocks and tiles."""
    import cupy as cp

    for c in (None, 3, 11, 16, 21):
        x, y, w = data(dtype, n=1500, m=333, d=d, c=c, seed=d)
        h = 0.5 * np.sqrt(d)
        for kernel, params in (("gaussian", {}), ("matern", {"nu": 1.5})):
            ref = kernel_sum(x, y, w, kernel=kernel, bandwidth=h, **params)
            got = kernel_sum(cp.asarray(x), cp.asarray(y), cp.asarray(w), kernel=kernel,
                             bandwidth=h, **params)
            check_sums(got.get(), ref, x, y, w, kernel, params, h, dtype)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_batches_large_d_and_empty(dtype):
    import cupy as cp

    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 1, 1300, 64)).astype(dtype)
    y = rng.standard_normal((1, 3, 450, 64)).astype(dtype)
    w = rng.random((4, 3, 1300, 11)).astype(dtype)
    bw = rng.uniform(5, 9, (4, 3, 1))
    ref = kernel_sum(x, y, w, bandwidth=bw)
    close(kernel_sum(cp.asarray(x), cp.asarray(y), cp.asarray(w), bandwidth=bw).get(), ref, dtype)
    empty = kernel_sum(cp.asarray(x[0, 0, :0]), cp.asarray(y[0, 0]), cp.asarray(w[0, 0, :0]))
    assert empty.shape == (450, 11) and bool(cp.all(empty == 0))


@pytest.mark.gpu
def test_gpu_kernel_density_matches_cpu():
    import cupy as cp

    rng = np.random.default_rng(9)
    x = rng.standard_normal((3000, 3))
    y = np.concatenate([rng.standard_normal((400, 3)), rng.standard_normal((20, 3)) + 30])
    for bw in (0.4, "silverman", "cv"):
        cpu = KernelDensity("gaussian", bandwidth=bw).fit(x)
        gpu = KernelDensity("gaussian", bandwidth=bw).fit(cp.asarray(x))
        np.testing.assert_allclose(gpu.bandwidth_, cpu.bandwidth_, rtol=1e-12)
        got = gpu.score_samples(cp.asarray(y))
        assert isinstance(got, cp.ndarray)
        got, ref = got.get(), cpu.score_samples(y)
        bad = np.flatnonzero(~np.isclose(got, ref, rtol=1e-12, atol=1e-12))
        assert bad.size == 0, (f"bandwidth {bw!r}: {bad.size} of {len(y)} differ, first "
                               f"{bad[:5]}: gpu {got[bad[:5]]}, cpu {ref[bad[:5]]}")
    assert isinstance(gpu.sample(4, random_state=0), cp.ndarray)
    with pytest.raises(TypeError, match="array type fit had"):
        gpu.score_samples(y)
