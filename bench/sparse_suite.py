"""The SpGEMM benchmark suite: generated matrices with fixed seeds (no downloads).

poisson2d  5-point Laplacian on a 1000 x 1000 grid (1e6 rows)
poisson3d  7-point Laplacian on a 100^3 grid (1e6 rows)
er         Erdos-Renyi, 200k x 200k, 10 entries per row (uniform columns)
rmat       R-MAT scale 16 (65536 vertices), edge factor 16, a = 0.57, b = c = 0.19
banded     200k x 200k, 17 diagonals (half-bandwidth 8), random values
Each is used as A A and A A^T (A^T formed as CSR before timing).
"""
import numpy as np
import scipy.sparse as sp

NAMES = ["poisson2d", "poisson3d", "er", "rmat", "banded"]


def laplacian(n, dims):
    t = sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], offsets=[-1, 0, 1])
    eye = sp.eye_array(n)
    total = None
    for axis in range(dims):
        factors = [t if a == axis else eye for a in range(dims)]
        term = factors[0]
        for f in factors[1:]:
            term = sp.kron(term, f)
        total = term if total is None else total + term
    return sp.csr_array(total)


def erdos_renyi(n, per_row, seed):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, n, n * per_row)
    a = sp.csr_array((rng.standard_normal(n * per_row), (rows, cols)), shape=(n, n))
    a.sum_duplicates()
    return a


def rmat(scale, edge_factor, seed, a=0.57, b=0.19, c=0.19):
    rng = np.random.default_rng(seed)
    n, m = 1 << scale, edge_factor << scale
    rows = np.zeros(m, dtype=np.int64)
    cols = np.zeros(m, dtype=np.int64)
    for level in range(scale):   # pick one quadrant per level
        r = rng.random(m)
        down = r >= a + b                       # quadrants c and d: lower half
        right = ((r >= a) & (r < a + b)) | (r >= a + b + c)
        rows |= down.astype(np.int64) << level
        cols |= right.astype(np.int64) << level
    mat = sp.csr_array((rng.standard_normal(m), (rows, cols)), shape=(n, n))
    mat.sum_duplicates()
    return mat


def banded(n, half, seed):
    rng = np.random.default_rng(seed)
    offsets = list(range(-half, half + 1))
    diags = [rng.standard_normal(n - abs(o)) for o in offsets]
    return sp.csr_array(sp.diags_array(diags, offsets=offsets))


def make(name):
    if name == "poisson2d":
        return laplacian(1000, 2)
    if name == "poisson3d":
        return laplacian(100, 3)
    if name == "er":
        return erdos_renyi(200_000, 10, seed=1)
    if name == "rmat":
        return rmat(16, 16, seed=2)
    if name == "banded":
        return banded(200_000, 8, seed=3)
    raise ValueError(name)


def products(a, b):
    """Number of partial products of a @ b (the flop count is twice this)."""
    return int(np.diff(b.indptr)[a.indices].sum())
