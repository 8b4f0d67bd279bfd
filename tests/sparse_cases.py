"""Matrices and references shared by the SpGEMM tests (CPU, emulator, GPU); NumPy and SciPy only,
so the GPU machine can import it."""
import functools

import numpy as np
import scipy.sparse as sp

VALUE_DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.bool_]


def random_csr(m, n, density, seed, dtype=np.float64, power_law=False):
    rng = np.random.default_rng(seed)
    if power_law:   # row lengths ~ Zipf, so a few rows hold most entries
        lengths = np.minimum(rng.zipf(1.6, m), n)
        rows = np.repeat(np.arange(m), lengths)
        cols = rng.integers(0, n, rows.size)
    else:
        nnz = int(density * m * n)
        rows, cols = rng.integers(0, m, nnz), rng.integers(0, n, nnz)
    vals = rng.standard_normal(rows.size)
    if np.dtype(dtype).kind == "c":
        vals = vals + 1j * rng.standard_normal(rows.size)
    elif np.dtype(dtype) == np.bool_:
        vals = rng.random(rows.size) < 0.7
    a = sp.csr_array((vals.astype(dtype), (rows, cols)), shape=(m, n))
    a.sum_duplicates()
    return a


def split_entries(M):
    """(data, indices, indptr) of M with every entry split into two halves (exact) and each
    row in decreasing column order: unsorted, duplicated input with M's values."""
    rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
    twice = np.repeat(np.lexsort((-M.indices, rows)), 2)
    return M.data[twice] / 2, M.indices[twice], 2 * M.indptr


def laplacian(n, dims):
    t = sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], offsets=[-1, 0, 1])
    out = None
    for axis in range(dims):
        term = functools.reduce(sp.kron, [t if a == axis else sp.eye_array(n)
                                          for a in range(dims)])
        out = term if out is None else out + term
    return sp.csr_array(out)


def scipy_sorted(a, b):
    c = sp.csr_array(a @ b)
    c.sort_indices()
    return c


def assert_same(c, ref, exact=False):
    """Same pattern; values equal (exact) or to rounding: sums over the same products may be
    added in another order than SciPy's (the merge path reorders lists as they run out)."""
    assert c.shape == ref.shape
    assert c.has_sorted_indices
    np.testing.assert_array_equal(c.indptr, ref.indptr)
    np.testing.assert_array_equal(c.indices, ref.indices)
    if exact or c.dtype == np.bool_:
        np.testing.assert_array_equal(c.data, ref.data)
    else:
        rtol = 1e-5 if c.dtype in (np.float32, np.complex64) else 1e-12
        scale = np.max(np.abs(ref.data)) if ref.nnz else 1.0
        np.testing.assert_allclose(c.data, ref.data, rtol=rtol, atol=rtol * scale)


CASES = {
    "uniform": lambda: (random_csr(300, 400, 0.02, 1), random_csr(400, 250, 0.02, 2)),
    "power_law": lambda: (random_csr(500, 500, 0, 3, power_law=True),
                          random_csr(500, 500, 0, 4, power_law=True)),
    "wide_hash": lambda: (random_csr(200, 300_000, 2e-4, 5), random_csr(300_000, 300_000, 2e-5, 6)),
    "banded": lambda: (sp.csr_array(sp.diags_array([np.arange(1.0, 901 - abs(o)) for o in
                                                    range(-4, 5)], offsets=range(-4, 5))),) * 2,
    "poisson2d": lambda: (laplacian(30, 2),) * 2,
    "poisson3d": lambda: (laplacian(10, 3),) * 2,
    "empty_rows_cols": lambda: (sp.csr_array(np.diag([1.0, 0, 2, 0, 0, 3])),
                                sp.csr_array(np.triu(np.ones((6, 4))))),
    "zero_by_n": lambda: (sp.csr_array((0, 5)), random_csr(5, 7, 0.5, 7)),
    "m_by_zero": lambda: (sp.csr_array((4, 0)), sp.csr_array((0, 6))),
    # A's only column (2) meets B's only empty row: stored entries, no products
    "no_products": lambda: (sp.csr_array(np.eye(4, 3, k=2)),
                            sp.csr_array(np.vstack([np.eye(2, 4), np.zeros((1, 4))]))),
}


def reference(a, b, semiring, mask=None, complement=False):
    """Dense, loop-by-loop definition: entries over stored k only."""
    ops = {
        "plus_times": (np.multiply, np.add), "min_plus": (np.add, np.minimum),
        "max_plus": (np.add, np.maximum), "max_times": (np.multiply, np.maximum),
        "min_times": (np.multiply, np.minimum), "or_and": (np.logical_and, np.logical_or),
    }
    mul, add = ops[semiring]
    if semiring == "or_and":
        a, b = a.astype(bool), b.astype(bool)
    da, db = a.toarray(), b.toarray()
    pa, pb = sp.csr_array((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape).toarray() > 0, \
        sp.csr_array((np.ones(b.nnz), b.indices, b.indptr), shape=b.shape).toarray() > 0
    pm = None if mask is None else sp.csr_array(
        (np.ones(mask.nnz), mask.indices, mask.indptr), shape=mask.shape).toarray() > 0
    rows, cols, vals = [], [], []
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            if pm is not None and pm[i, j] == complement:
                continue
            ks = np.flatnonzero(pa[i] & pb[:, j])
            if ks.size == 0:
                continue
            v = functools.reduce(add, [mul(da[i, k], db[k, j]) for k in ks])
            if semiring == "plus_times" and v == 0:
                continue
            rows.append(i), cols.append(j), vals.append(v)
    dtype = np.bool_ if semiring == "or_and" else np.result_type(a.dtype, b.dtype)
    out = sp.csr_array((np.array(vals, dtype=dtype), (np.array(rows, int), np.array(cols, int))),
                       shape=(a.shape[0], b.shape[1]))
    out.sort_indices()
    return out
