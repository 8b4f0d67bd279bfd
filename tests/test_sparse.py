"""kernelkit.sparse.spgemm against SciPy and a dense semiring reference."""
import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from kernelkit.sparse import SEMIRINGS, matmul, spgemm

from sparse_cases import (CASES, VALUE_DTYPES, assert_same, random_csr, reference,
                          scipy_sorted)


# Both CPU algorithms: one pass into C's bound (1), symbolic count then fill (2).
PHASES = pytest.mark.parametrize("phases", [1, 2])


# -- plus_times == SciPy -----------------------------------------------------------------------

@PHASES
@pytest.mark.parametrize("case", sorted(CASES))
def test_matmul_equals_scipy(case, phases):
    a, b = CASES[case]()
    assert_same(spgemm(a, b, _phases=phases), scipy_sorted(a, b))
    if a.shape[1] == b.shape[1]:
        assert_same(spgemm(a, b.T.tocsr(), _phases=phases), scipy_sorted(a, b.T.tocsr()))


@PHASES
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_value_dtypes(dtype, phases):
    a, b = random_csr(80, 90, 0.05, 8, dtype), random_csr(90, 70, 0.05, 9, dtype)
    c = spgemm(a, b, _phases=phases)
    assert c.dtype == np.dtype(dtype)
    assert_same(c, scipy_sorted(a, b))
    # Mixed inputs promote like NumPy.
    wide = b.astype(np.result_type(dtype, np.float64))
    c2 = spgemm(a, wide, _phases=phases)
    assert c2.dtype == wide.dtype
    assert_same(c2, scipy_sorted(a, wide), exact=False)


@PHASES
def test_unsorted_duplicates_explicit_zeros_int64(phases):
    rng = np.random.default_rng(10)
    rows = rng.integers(0, 50, 600)
    cols = rng.integers(0, 60, 600)
    vals = rng.standard_normal(600)
    vals[::7] = 0.0                                      # explicit zeros
    order = rng.permutation(600)                         # unsorted within rows
    coo_rows, coo_cols, coo_vals = rows[order], cols[order], vals[order]
    indptr = np.searchsorted(np.sort(coo_rows), np.arange(51)).astype(np.int64)
    by_row = np.argsort(coo_rows, kind="stable")
    a = sp.csr_array((coo_vals[by_row], coo_cols[by_row].astype(np.int64), indptr), shape=(50, 60))
    assert not a.has_canonical_format and a.indices.dtype == np.int64
    b = random_csr(60, 40, 0.1, 11)
    ref = scipy_sorted(a, b)
    c = spgemm(a, b, _phases=phases)
    assert_same(c, ref, exact=False)
    assert not a.has_canonical_format                   # the input is left alone
    assert c.indices.dtype == np.int32                   # int32 whenever it fits
    c64 = spgemm(a, b, _index_dtype=np.int64, _phases=phases)
    assert c64.indices.dtype == np.int64
    assert_same(c64, ref, exact=False)


@PHASES
def test_cancellation_dropped_like_scipy(phases):
    a = sp.csr_array(np.array([[1.0, 1.0], [1.0, 0.0]]))
    b = sp.csr_array(np.array([[1.0, 2.0], [-1.0, 5.0]]))
    c = spgemm(a, b, _phases=phases)
    ref = scipy_sorted(a, b)
    assert_same(c, ref)
    assert c.nnz == 3 and c[0, 0] == 0                   # 1 - 1 = 0 is not stored


@PHASES
@pytest.mark.parametrize("threads", [1, 2])
def test_many_chunks_with_cancellations(phases, threads):
    # Thousands of rows in dozens of chunks (the one pass places them in order), each row
    # path (merge for short rows; for long rows a dense window over 3000 columns, a hash table
    # over 200000), rows whose products all vanish (stored zeros), empty rows; int32, int64.
    rng = np.random.default_rng(30)
    k = 3000
    short = sp.random_array((3000, k), density=3 / k, format="csr", random_state=rng)
    long = sp.random_array((1500, k), density=40 / k, format="csr", random_state=rng)
    a = sp.vstack([short, long, sp.csr_array((300, k)), short]).tocsr()
    a.data[a.indptr[3500]:a.indptr[4000]] = 0.0
    for n in (k, 200_000):
        b = sp.random_array((k, n), density=20 / n, format="csr", random_state=rng)
        ref = scipy_sorted(a, b)
        with threadpool_limits(threads):
            for index in (None, np.int64):
                c = spgemm(a, b, _phases=phases, _index_dtype=index)
                assert_same(c, ref, exact=False)
                assert c.indices.size == c.nnz and c.data.size == c.nnz
            zeros = sp.csr_array((0 * a.data, a.indices, a.indptr), shape=a.shape)
            empty = spgemm(zeros, b, _phases=phases)          # everything vanishes
            assert empty.nnz == 0 and empty.indptr.max() == 0 and empty.data.size == 0


def test_matrix_or_array_result_and_formats():
    a, b = random_csr(40, 50, 0.1, 12), random_csr(50, 30, 0.1, 13)
    assert isinstance(matmul(a, b), sp.csr_array)
    assert isinstance(matmul(sp.csr_matrix(a), sp.csr_matrix(b)), sp.csr_matrix)
    assert isinstance(matmul(sp.csr_matrix(a), b), sp.csr_array)
    for fmt in ("coo", "csc", "lil", "dok", "bsr"):
        assert_same(matmul(a.asformat(fmt), b.asformat(fmt)), scipy_sorted(a, b), exact=False)


def test_unsorted_output_and_threads():
    a, b = random_csr(400, 500, 0.02, 14, power_law=False), random_csr(500, 300, 0.02, 15)
    ref = scipy_sorted(a, b)
    for phases in (1, 2):
        c = spgemm(a, b, sort_indices=False, _phases=phases)
        c.sort_indices()
        assert_same(c, ref)
    with threadpool_limits(1):
        one = matmul(a, b)
    assert_same(one, matmul(a, b), exact=True)   # deterministic whatever the thread count


@pytest.mark.parametrize("semiring", ["plus_times", "min_plus", "max_times", "or_and"])
def test_heavy_row_path(semiring):
    # Force every row onto the shared atomic table that heavy rows use.
    a = random_csr(60, 3000, 0, 16, power_law=True)
    b = random_csr(3000, 80_000, 1e-3, 17)
    dtype = None if semiring == "plus_times" else np.float64
    ref = spgemm(a, b, semiring=semiring)
    heavy = spgemm(a, b, semiring=semiring, _heavy_row_products=1)
    assert_same(heavy, ref, exact=semiring != "plus_times")
    mask = random_csr(60, 80_000, 5e-3, 18)
    for comp in (False, True):
        assert_same(spgemm(a, b, semiring=semiring, mask=mask, complement_mask=comp,
                           _heavy_row_products=1),
                    spgemm(a, b, semiring=semiring, mask=mask, complement_mask=comp),
                    exact=semiring != "plus_times")
    del dtype


# -- semirings and masks against a dense reference ---------------------------------------------

@PHASES
@pytest.mark.parametrize("semiring", SEMIRINGS)
@pytest.mark.parametrize("masking", [None, "plain", "complement"])
@pytest.mark.parametrize("seed", [0, 1])
def test_semirings_and_masks_against_dense_reference(semiring, masking, seed, phases):
    a = random_csr(17, 23, 0.2, 100 + seed)
    b = random_csr(23, 19, 0.2, 200 + seed)
    a.data[::5] = 0.0                    # explicit zeros are stored entries
    if seed == 1:                        # negative, inf and NaN values
        a.data[1::9] = -np.inf
        b.data[2::11] = np.nan
    mask = random_csr(17, 19, 0.3, 300 + seed) if masking else None
    comp = masking == "complement"
    c = spgemm(a, b, semiring=semiring, mask=mask, complement_mask=comp, _phases=phases)
    ref = reference(a, b, semiring, mask, comp)
    np.testing.assert_array_equal(c.indptr, ref.indptr)
    np.testing.assert_array_equal(c.indices, ref.indices)
    if semiring == "plus_times":   # sums may run in another order: equal to rounding
        np.testing.assert_allclose(c.data, ref.data, rtol=1e-14, atol=1e-14, equal_nan=True)
    else:                          # min, max and or do not depend on the order: exact
        np.testing.assert_array_equal(c.data, ref.data)
    assert c.dtype == ref.dtype


@pytest.mark.parametrize("semiring", ["plus_times", "min_plus", "max_times"])
def test_masks_on_larger_matrices(semiring):
    a, b = random_csr(400, 500, 0.02, 20), random_csr(500, 350, 0.02, 21)
    mask = random_csr(400, 350, 0.05, 22)
    full = spgemm(a, b, semiring=semiring)
    pm = sp.csr_array((np.ones(mask.nnz), mask.indices, mask.indptr), shape=mask.shape)
    pf = sp.csr_array((np.ones(full.nnz), full.indices, full.indptr), shape=full.shape)
    inside = spgemm(a, b, semiring=semiring, mask=mask)
    outside = spgemm(a, b, semiring=semiring, mask=mask, complement_mask=True)
    assert inside.nnz == (pf * pm).nnz and inside.nnz + outside.nnz == full.nnz
    # Every masked entry equals the unmasked product's entry.
    for part in (inside, outside):
        rows = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))
        np.testing.assert_array_equal(part.data, full[rows, part.indices])
    # A mask with empty rows gives empty rows.
    empty = sp.csr_array(mask.shape)
    assert spgemm(a, b, semiring=semiring, mask=empty).nnz == 0
    assert spgemm(a, b, semiring=semiring, mask=empty, complement_mask=True).nnz == full.nnz


# -- bad input ---------------------------------------------------------------------------------

def malformed(kind):
    a = sp.csr_array(np.arange(12.0).reshape(3, 4))
    if kind == "indptr_decreasing":
        a.indptr[1], a.indptr[2] = a.indptr[2], a.indptr[1]
    elif kind == "indptr_start":
        a.indptr[0] = 1
    elif kind == "indptr_end":
        a.indptr[-1] = a.indptr[-1] - 1
    elif kind == "index_high":
        a.indices[3] = 4
    elif kind == "index_negative":
        a.indices[2] = -1
    elif kind == "indptr_length":
        a.indptr = a.indptr[:-1]
    elif kind == "data_length":
        a.data = a.data[:-1]
    return a


@pytest.mark.parametrize("kind", ["indptr_decreasing", "indptr_start", "indptr_end",
                                  "index_high", "index_negative", "indptr_length",
                                  "data_length"])
@pytest.mark.parametrize("side", ["A", "B", "mask"])
def test_malformed_csr_raises(kind, side):
    good = sp.csr_array(np.arange(12.0).reshape(3, 4))
    sq = sp.csr_array(np.ones((4, 4)))
    bad = malformed(kind)
    with pytest.raises(ValueError, match="malformed|indptr|index|entries|values"):
        if side == "A":
            spgemm(bad, sq)
        elif side == "B":
            spgemm(sq[:3, :3] if False else sp.csr_array(np.ones((2, 3))), bad)
        else:
            spgemm(good, sq, mask=bad)


def test_other_bad_input():
    a = sp.csr_array(np.ones((3, 4)))
    with pytest.raises(ValueError, match="shape mismatch"):
        spgemm(a, a)
    with pytest.raises(ValueError, match="mask shape"):
        spgemm(a, a.T, mask=a)
    with pytest.raises(ValueError, match="unknown semiring"):
        spgemm(a, a.T, semiring="plus_min")
    with pytest.raises(TypeError, match="scipy.sparse"):
        spgemm(np.ones((3, 4)), a.T)
    with pytest.raises(TypeError, match="unsupported value dtype"):
        spgemm(a.astype(np.int64), a.T)
    with pytest.raises(TypeError, match="float32 or float64"):
        spgemm(a.astype(np.complex128), a.T, semiring="min_plus")
    with pytest.raises(TypeError, match="float32 or float64"):
        spgemm(a.astype(bool), a.T.astype(bool), semiring="max_times")
    # or_and casts any values to bool.
    c = spgemm(a.astype(np.int64), a.T, semiring="or_and")
    assert c.dtype == np.bool_ and c.nnz == 9


def test_docstring_examples_run():
    import doctest

    import kernelkit.sparse as ksp

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in doctest.DocTestFinder().find(ksp) if t.examples]
    assert tests
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
