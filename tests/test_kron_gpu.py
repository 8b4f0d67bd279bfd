"""The GPU Kronecker products: the chain block program run by the CPU's sequential block
emulator (every run) and the CUDA kernel / cuBLAS passes on CuPy arrays (marker `gpu`),
against np.kron and the CPU kron_matvec."""
import numpy as np
import pytest

from kernelkit.kron import kron_logdet, kron_matvec, kron_solve

from kron_cases import dense, spd_factors

# Shared memory per chain block: an H100-like 96 KiB (long chains, 32 r per block), 2 KiB
# (short chains, some single-r blocks) and 256 bytes (mostly one factor per pass, the larger
# factors through matmul).
SHARED = [96 * 1024, 2048, 256]


@pytest.mark.parametrize("seed", range(40))
def test_emulated_equals_dense_kron(seed):
    rng = np.random.default_rng(seed)
    shared = SHARED[seed % 3]
    while True:   # random shapes, d = 1..6, sizes 1..9, small enough for a dense reference
        shapes = [tuple(rng.integers(1, 10, 2)) for _ in range(rng.integers(1, 7))]
        if np.prod([r for r, _ in shapes]) * np.prod([c for _, c in shapes]) <= 4e6:
            break
    transpose, k = bool(seed % 2), int(rng.integers(1, 4))
    fs = [rng.standard_normal(s) for s in shapes]
    K = dense(fs)
    K = K.T if transpose else K
    x = rng.standard_normal((K.shape[1], k))
    got = kron_matvec(fs, x, transpose=transpose, _emulate_shared=shared)
    ref = K @ x
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("shared", SHARED)
@pytest.mark.parametrize("shapes", [[(40, 40)], [(40, 3), (2, 33)], [(17, 23), (31, 9), (5, 5)],
                                    [(3, 4)] * 6, [(70, 70), (3, 5)], [(8, 8)] * 5])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-5)])
def test_emulated_sizes_dtypes_batches(shapes, dtype, tol, shared):
    rng = np.random.default_rng(1)
    fs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    N = int(np.prod([s[1] for s in shapes]))
    x = rng.standard_normal((2, 3, N, 2)).astype(dtype)
    ref = kron_matvec(fs, x)
    got = kron_matvec(fs, x, _emulate_shared=shared)
    assert got.dtype == dtype and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())
    vec = kron_matvec(fs, x[0, 0, :, 0], _emulate_shared=shared)
    np.testing.assert_allclose(vec, ref[0, 0, :, 0], rtol=tol, atol=tol * np.abs(ref).max())


@pytest.mark.parametrize("shapes", [[(16, 16)] * 3, [(20, 20), (3, 3)], [(16, 5), (5, 16)],
                                    [(2, 2)] * 9, [(17, 16), (16, 16)]])
@pytest.mark.parametrize("k", [1, 3, 40])
def test_emulated_columns_in_place_and_wide(shapes, k):
    """Square chains of narrow factors (in place, rotated sums for short trailing runs), a
    factor wider than a register column (element path), non-square chains."""
    rng = np.random.default_rng(2)
    fs = [rng.standard_normal(s) for s in shapes]
    x = rng.standard_normal((int(np.prod([c for _, c in shapes])), k))
    ref = dense(fs) @ x
    for shared in (96 * 1024, 4096):
        got = kron_matvec(fs, x, _emulate_shared=shared)
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max())


def test_chain_plan_for_the_benchmark_shapes():
    from kernelkit.kron import _GPU_SHARED, _device_passes

    def passes(size, d, k):   # float64 size^d with k columns
        shape = (size,) * d
        return len(_device_passes(shape, shape, (True,) * d, k, _GPU_SHARED // 8))
    assert passes(16, 5, 1) == 2 and passes(16, 5, 16) == 2 and passes(8, 8, 1) == 2


def test_emulated_empty_factors():
    got = kron_matvec([np.ones((3, 0)), np.ones((2, 2))], np.ones((0, 4)), _emulate_shared=2048)
    assert got.shape == (6, 4) and np.all(got == 0)
    got = kron_matvec([np.ones((3, 2)), np.ones((0, 2))], np.ones(4), _emulate_shared=2048)
    assert got.shape == (0,)


def test_mixed_numpy_and_cupy_inputs_raise():
    class FakeCupy:   # stands in for a CuPy array
        __module__ = "cupy._core.core"
    with pytest.raises(TypeError, match="must all be CuPy arrays or all NumPy"):
        kron_matvec([np.eye(2)], FakeCupy())


# ---- on the GPU -------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("shapes", [[(16, 16)] * 5, [(8, 8)] * 8, [(100, 100)] * 3,
                                    [(128, 128)] * 2 + [(3, 5)], [(17, 23), (31, 9), (5, 5)],
                                    [(300, 400), (300, 400)], [(40, 3), (2, 33)],
                                    [(16, 16), (8, 8), (12, 12)]],
                         ids=["16^5", "8^8", "100^3", "128^2x3x5", "mixed", "300x400^2",
                              "narrow", "small_square"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-5)],
                         ids=["float64", "float32"])
def test_gpu_matches_cpu_on_a_stream(shapes, dtype, tol):
    import cupy as cp

    rng = np.random.default_rng(2)
    fs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    N = int(np.prod([s[1] for s in shapes]))
    x = rng.standard_normal((N, 3)).astype(dtype)
    ref = kron_matvec(fs, x)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        got = kron_matvec([cp.asarray(f) for f in fs], cp.asarray(x))
        got_t = kron_matvec([cp.asarray(f) for f in fs], cp.asarray(ref), transpose=True)
    stream.synchronize()
    assert isinstance(got, cp.ndarray) and got.dtype == dtype
    np.testing.assert_allclose(got.get(), ref, rtol=tol, atol=tol * np.abs(ref).max())
    ref_t = kron_matvec(fs, ref, transpose=True)
    np.testing.assert_allclose(got_t.get(), ref_t, rtol=tol, atol=tol * np.abs(ref_t).max())


@pytest.mark.gpu
def test_gpu_solve_logdet_batched_and_empty():
    import cupy as cp

    rng = np.random.default_rng(3)
    fs = spd_factors(rng, [6, 7, 5])
    y = rng.standard_normal((2, 210, 3))
    gfs = [cp.asarray(f) for f in fs]
    np.testing.assert_allclose(kron_solve(gfs, cp.asarray(y), shift=0.1).get(),
                               kron_solve(fs, y, shift=0.1), rtol=1e-10)
    assert abs(kron_logdet(gfs, 0.1) - kron_logdet(fs, 0.1)) < 1e-9
    empty = kron_matvec([cp.ones((3, 0)), cp.ones((2, 2))], cp.ones((0, 4)))
    assert empty.shape == (6, 4) and bool(cp.all(empty == 0))


@pytest.mark.gpu
def test_gpu_gridgp_matches_cpu():
    import cupy as cp

    from kernelkit.kron import GridGP

    rng = np.random.default_rng(4)
    grid = [np.linspace(0, 1, 40), np.linspace(0, 2, 30)]
    y = rng.standard_normal(1200)
    gp = GridGP(grid, kernel=["rbf", "matern32"], lengthscale=[0.2, 0.5], noise=0.3)
    v_cpu, g_cpu = gp.log_marginal_likelihood(y, gradient=True)
    v_gpu, g_gpu = gp.log_marginal_likelihood(cp.asarray(y), gradient=True)
    assert abs(v_gpu - v_cpu) <= 1e-9 * abs(v_cpu)
    np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-8, atol=1e-8)
    test = [np.linspace(0, 1, 7), np.linspace(0, 2, 5)]
    mean, var = gp.predict(cp.asarray(y), grid=test, return_var=True)
    ref_mean, ref_var = gp.predict(y, grid=test, return_var=True)
    assert isinstance(mean, cp.ndarray) and isinstance(var, cp.ndarray)
    np.testing.assert_allclose(mean.get(), ref_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(var.get(), ref_var, rtol=1e-9, atol=1e-12)
    fitted = GridGP(grid, kernel=["rbf", "matern32"]).fit(cp.asarray(y), maxiter=5)
    assert np.all(np.isfinite(fitted.params))
