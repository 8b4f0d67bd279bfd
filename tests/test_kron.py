"""kernelkit.kron: Kronecker matvecs against np.kron, solves and log-dets against dense
linear algebra, the LinearOperator interface, bad input."""
import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse.linalg import cg

from kernelkit.kron import (KroneckerOperator, KroneckerSum, kron_eigh, kron_logdet, kron_matvec,
                            kron_solve)

from kron_cases import dense, spd_factors


@given(shapes=st.lists(st.tuples(st.integers(1, 7), st.integers(1, 7)), min_size=1, max_size=6),
       k=st.integers(1, 4), transpose=st.booleans(), seed=st.integers(0, 2**32 - 1),
       vector=st.booleans())
def test_equals_dense_kron(shapes, k, transpose, seed, vector):
    rng = np.random.default_rng(seed)
    fs = [rng.standard_normal(s) for s in shapes]
    K = dense(fs)
    K = K.T if transpose else K
    if K.shape[1] > 20000:
        return
    x = rng.standard_normal(K.shape[1]) if vector else rng.standard_normal((K.shape[1], k))
    got = kron_matvec(fs, x, transpose=transpose)
    ref = K @ x
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("shapes", [[(40, 40)], [(40, 3), (2, 33)], [(17, 23), (31, 9), (5, 5)],
                                    [(3, 4)] * 6, [(1, 1), (40, 1), (1, 40)]])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-5)])
def test_sizes_dtypes_and_batches(shapes, dtype, tol):
    rng = np.random.default_rng(1)
    fs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    K = dense([f.astype(np.float64) for f in fs])
    for k in (1, 5, 16):
        x = rng.standard_normal((2, 3, K.shape[1], k)).astype(dtype)
        got = kron_matvec(fs, x)
        assert got.dtype == dtype and got.shape == (2, 3, K.shape[0], k)
        ref = K @ x.astype(np.float64)
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())
        y = rng.standard_normal((K.shape[0], k)).astype(dtype)
        np.testing.assert_allclose(kron_matvec(fs, y, transpose=True), K.T @ y,
                                   rtol=tol, atol=tol * np.abs(K.T @ y).max())


def test_complex_and_integer_inputs():
    rng = np.random.default_rng(2)
    fs = [rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4)), np.arange(6).reshape(2, 3)]
    x = rng.standard_normal(12) + 1j * rng.standard_normal(12)
    np.testing.assert_allclose(kron_matvec(fs, x), dense(fs) @ x, rtol=1e-13)
    assert kron_matvec([np.eye(2, dtype=int)], np.arange(2)).dtype == np.float64


def test_linear_operator():
    rng = np.random.default_rng(3)
    fs = [rng.standard_normal((4, 5)), rng.standard_normal((3, 2))]
    op = KroneckerOperator(fs)
    K = dense(fs)
    assert op.shape == K.shape
    x, y = rng.standard_normal(10), rng.standard_normal(12)
    np.testing.assert_allclose(op @ x, K @ x, rtol=1e-13)
    np.testing.assert_allclose(op.matmat(np.eye(10)), K, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(op.rmatvec(y), K.T @ y, rtol=1e-13)
    np.testing.assert_allclose(op.T @ y, K.T @ y, rtol=1e-13)
    np.testing.assert_allclose(op.H @ y, K.T @ y, rtol=1e-13)
    np.testing.assert_allclose(op.to_dense(), K)
    spd = [a @ a.T + np.eye(4) for a in rng.standard_normal((3, 4, 4))]
    b = rng.standard_normal(64)
    sol, info = cg(KroneckerOperator(spd), b, rtol=1e-12, maxiter=2000)
    assert info == 0
    np.testing.assert_allclose(dense(spd) @ sol, b, atol=1e-8)


@pytest.mark.parametrize("sizes", [[5], [4, 6], [3, 4, 5]])
def test_solve_logdet_eigh(sizes):
    rng = np.random.default_rng(4)
    fs = spd_factors(rng, sizes)
    K = dense(fs)
    N = K.shape[0]
    for shift in (0.0, 0.7):
        y = rng.standard_normal((N, 3))
        np.testing.assert_allclose(kron_solve(fs, y, shift), np.linalg.solve(K + shift * np.eye(N), y),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(kron_solve(fs, y[:, 0], shift),
                                   np.linalg.solve(K + shift * np.eye(N), y[:, 0]), rtol=1e-10)
        assert abs(kron_logdet(fs, shift) - np.linalg.slogdet(K + shift * np.eye(N))[1]) < 1e-10
    values, vectors = kron_eigh(fs)
    lam = functools.reduce(lambda a, b: np.outer(a, b).ravel(), values)
    np.testing.assert_allclose(dense(vectors) @ np.diag(lam) @ dense(vectors).T, K, atol=1e-12)


def test_kronecker_sum():
    rng = np.random.default_rng(5)
    fs = spd_factors(rng, [3, 4, 2])
    ks = KroneckerSum(fs)
    D = ks.to_dense()
    ref = (np.kron(np.kron(fs[0], np.eye(4)), np.eye(2)) + np.kron(np.kron(np.eye(3), fs[1]), np.eye(2))
           + np.kron(np.eye(12), fs[2]))
    np.testing.assert_allclose(D, ref, atol=1e-14)
    x = rng.standard_normal((24, 2))
    np.testing.assert_allclose(ks @ x, D @ x, rtol=1e-13)
    np.testing.assert_allclose(ks.rmatvec(x[:, 0]), D.T @ x[:, 0], rtol=1e-13)
    np.testing.assert_allclose(ks.solve(x, 0.5), np.linalg.solve(D + 0.5 * np.eye(24), x),
                               rtol=1e-10)
    values, _ = ks.eigh()
    lam = np.add.outer(np.add.outer(values[0], values[1]).ravel(), values[2]).ravel()
    np.testing.assert_allclose(np.sort(lam), np.linalg.eigvalsh(D), atol=1e-12)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: kron_matvec([np.ones((2, 3))], np.ones(4)), ValueError, r"\(2, 3\)|N = 3"),
    (lambda: kron_matvec([np.ones(3)], np.ones(3)), ValueError, "2-D"),
    (lambda: kron_matvec([], np.ones(3)), ValueError, "at least one"),
    (lambda: kron_matvec([np.ones((2, 2))], np.ones((2, 2, 3, 3))), ValueError, "N = 2"),
    (lambda: kron_matvec([np.ones((2, 2), object)], np.ones(2)), TypeError, "dtype"),
    (lambda: kron_solve([np.ones((2, 3))], np.ones(6)), ValueError, "square"),
    (lambda: KroneckerSum([np.ones((2, 3))]), ValueError, "square"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_empty_and_nan():
    assert kron_matvec([np.ones((0, 3)), np.ones((2, 2))], np.ones(6)).shape == (0,)
    assert np.array_equal(kron_matvec([np.ones((2, 0))], np.ones(0)), np.zeros(2))
    x = np.array([1.0, np.nan, 2.0, 3.0])
    a = np.array([[1.0, 2.0], [0.5, 1.0]])
    out = kron_matvec([a, np.eye(2)], x)  # NaN meets 0 * NaN as in the dense product
    np.testing.assert_array_equal(out, np.kron(a, np.eye(2)) @ x)


# ---- GridGP -----------------------------------------------------------------------------------

@pytest.mark.parametrize("chain_max", [48, 160, 400])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-5)])
def test_tiled_chains(monkeypatch, chain_max, dtype, tol):
    """Small chain budgets: leading chains over gathered tiles of trailing runs (with a
    partial last tile), as 16^5 and 8^8 take at full size, next to the trailing chain."""
    import kernelkit.kron as kr

    monkeypatch.setattr(kr, "_CHAIN_MAX", chain_max)
    monkeypatch.setattr(kr, "_CHAIN_RUNS", (8, 3, 2))
    kr._cpu_passes.cache_clear()
    rng = np.random.default_rng(chain_max)
    tiled = 0
    try:
        for shapes, k in (([(3, 3)] * 6, 2), ([(4, 5), (3, 2), (5, 5), (2, 3), (3, 3)], 3),
                          ([(2, 2)] * 9, 1), ([(5, 3), (2, 4), (4, 4)], 5)):
            fs = [rng.standard_normal(sh).astype(dtype) for sh in shapes]
            x = rng.standard_normal((2, int(np.prod([c for _, c in shapes])), k)).astype(dtype)
            ref = np.einsum("ij,bjk->bik", dense(fs), x)
            got = kron_matvec(fs, x)
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())
            rows, cols = tuple(r for r, _ in shapes), tuple(c for _, c in shapes)
            tiled += sum(rt is not None and rt < np.prod(cols[j:]) * k
                         for _, j, rt in kr._cpu_passes(rows, cols, k))
    finally:
        kr._cpu_passes.cache_clear()
    assert tiled > 0


from kernelkit.kron import GridGP, _kernel_1d  # noqa: E402

GRID = [np.linspace(0, 1, 12), np.linspace(0, 2, 10), np.linspace(-1, 1, 8)]


def dense_gp(gp, grid, params, points_a=None):
    pts = np.stack(np.meshgrid(*grid, indexing="ij"), -1).reshape(-1, len(grid))
    pa = pts if points_a is None else points_a
    K = np.exp(params[-2]) * np.ones((len(pa), len(pts)))
    for d, (kind, sl) in enumerate(zip(gp.kernels, gp.param_slices)):
        K = K * _kernel_1d(kind, np.abs(pa[:, None, d] - pts[None, :, d]), params[sl])[0]
    return K


@pytest.mark.parametrize("kern", ["rbf", "matern12", "matern32", "matern52", "sm",
                                  ("sm", "rbf", "matern32")])
def test_gridgp_likelihood_and_gradient_against_dense(kern):
    rng = np.random.default_rng(6)
    gp = GridGP(GRID, kernel=kern, lengthscale=[0.3, 0.5, 0.7], variance=1.3, noise=0.2)
    y = rng.standard_normal(960)

    def dense_lml(p):
        C = dense_gp(gp, GRID, p) + np.exp(p[-1]) * np.eye(960)
        sign, logdet = np.linalg.slogdet(C)
        return -0.5 * y @ np.linalg.solve(C, y) - 0.5 * logdet - 480 * np.log(2 * np.pi)

    v, g = gp.log_marginal_likelihood(y, gradient=True)
    assert abs(v - dense_lml(gp.params)) < 1e-9 * abs(v)
    h = 1e-5
    fd = np.array([(dense_lml(gp.params + e) - dense_lml(gp.params - e)) / (2 * h)
                   for e in np.eye(gp.params.size) * h])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-5)


def test_gridgp_prediction_against_dense():
    rng = np.random.default_rng(7)
    gp = GridGP(GRID, kernel=("matern52", "sm", "rbf"), lengthscale=[0.4, 0.6, 0.5],
                variance=0.8, noise=0.05)
    y = rng.standard_normal(960)
    test = [np.linspace(0.1, 0.9, 5), np.linspace(0, 2, 3), np.linspace(-1.2, 1.2, 4)]
    mean, var = gp.predict(y, grid=test, return_var=True)
    pts = np.stack(np.meshgrid(*test, indexing="ij"), -1).reshape(-1, 3)
    Ks = dense_gp(gp, GRID, gp.params, pts)
    C = dense_gp(gp, GRID, gp.params) + gp.noise * np.eye(960)
    np.testing.assert_allclose(mean, Ks @ np.linalg.solve(C, y), rtol=1e-9, atol=1e-10)
    kxx = np.exp(gp.params[-2]) * np.prod([_kernel_1d(k, np.zeros(1), gp.params[sl])[0][0]
                                           for k, sl in zip(gp.kernels, gp.param_slices)])
    ref_var = kxx - np.einsum("ij,ji->i", Ks, np.linalg.solve(C, Ks.T))
    np.testing.assert_allclose(var, ref_var, rtol=1e-8, atol=1e-10)


def test_gridgp_recovers_lengthscales():
    rng = np.random.default_rng(8)
    grid = [np.linspace(0, 1, 64), np.linspace(0, 1, 64)]
    true = np.array([0.08, 0.25])
    chol = [np.linalg.cholesky(_kernel_1d("rbf", np.abs(g[:, None] - g[None, :]), [np.log(ell)])[0]
                               + 1e-8 * np.eye(64)) for g, ell in zip(grid, true)]
    f = kron_matvec(chol, rng.standard_normal(64 * 64))
    y = f + 0.1 * rng.standard_normal(64 * 64)
    gp = GridGP(grid, kernel="rbf", lengthscale=0.15, variance=0.5, noise=0.5).fit(y)
    np.testing.assert_allclose(gp.lengthscale, true, rtol=0.2)
    assert 0.05 < gp.noise ** 0.5 < 0.2


def test_gridgp_bad_input():
    with pytest.raises(ValueError, match="kernel"):
        GridGP(GRID, kernel="cubic")
    with pytest.raises(ValueError, match="params"):
        GridGP(GRID).log_marginal_likelihood(np.ones(960), params=np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        GridGP(GRID).log_marginal_likelihood(np.ones(7))
    with pytest.raises(ValueError, match="> 0"):
        GridGP(GRID, noise=0.0)
    with pytest.raises(ValueError, match="dimensions"):
        GridGP(GRID).predict(np.ones(960), grid=[np.ones(3)])
