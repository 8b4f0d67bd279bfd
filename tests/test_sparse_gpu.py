"""The GPU SpGEMM: its block programs run by the CPU's sequential block emulator (every run),
and the CUDA kernels on CuPy sparse matrices (marker `gpu`), both against the CPU spgemm."""
import numpy as np
import pytest
import scipy.sparse as sp

from kernelkit import sparse as ks
from kernelkit.sparse import SEMIRINGS, spgemm

from sparse_cases import (CASES, VALUE_DTYPES, assert_same, random_csr, reference,
                          split_entries)

# Device shapes the emulator stands in for: an H100-like block (48 KiB of shared memory: small
# rows many to a block, rows of narrow matrices as dense bitmaps), one too small for the
# bitmap (hash tables only, the larger ones global), one where most rows spill to global
# tables, and one where every row does, one table at a time (the batching of global launches).
DEVICES = {
    "shared": dict(shared_bytes=48 * 1024, workspace_bytes=64 << 20),
    "hash_only": dict(shared_bytes=4096, workspace_bytes=1 << 20),
    "mostly_global": dict(shared_bytes=512, workspace_bytes=64 << 10),
    "all_global_one_by_one": dict(shared_bytes=64, workspace_bytes=0),
}


def assert_same_entries(c, ref):
    """Unsorted output: the same entries in every row, in any order."""
    c = sp.csr_array(c, copy=True)
    c.has_sorted_indices = False
    c.sort_indices()
    assert_same(c, ref)


@pytest.mark.parametrize("device", sorted(DEVICES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_emulated_matmul_equals_cpu(case, device):
    a, b = CASES[case]()
    ref = spgemm(a, b)
    assert_same(ks._emulated(a, b, **DEVICES[device]), ref)


def test_emulated_binning_over_several_blocks():
    """More rows than one binning block (2048): counts and ranks from several blocks, empty
    rows between, a partial last block."""
    a = random_csr(5000, 300, 0.01, 3)
    a = sp.csr_array(a.multiply(np.arange(5000)[:, None] % 7 != 3))   # some empty rows
    b = random_csr(300, 400, 0.02, 4)
    for device in ("shared", "hash_only"):
        assert_same(ks._emulated(a, b, **DEVICES[device]), spgemm(a, b))


@pytest.mark.parametrize("device", ["shared", "hash_only", "mostly_global"])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_emulated_value_dtypes(dtype, device):
    a = random_csr(60, 70, 0.08, 1, dtype)
    b = random_csr(70, 50, 0.08, 2, dtype)
    c = ks._emulated(a, b, **DEVICES[device])
    assert c.dtype == dtype
    assert_same(c, spgemm(a, b))


@pytest.mark.parametrize("semiring", SEMIRINGS)
@pytest.mark.parametrize("masking", [None, "plain", "complement"])
@pytest.mark.parametrize("device", ["shared", "hash_only", "all_global_one_by_one"])
def test_emulated_semirings_and_masks(semiring, masking, device):
    a = random_csr(17, 23, 0.2, 101)
    b = random_csr(23, 19, 0.2, 201)
    a.data[::5] = 0.0
    a.data[1::9] = -np.inf
    b.data[2::11] = np.nan
    mask = random_csr(17, 19, 0.3, 301) if masking else None
    comp = masking == "complement"
    c = ks._emulated(a, b, semiring=semiring, mask=mask, complement_mask=comp, **DEVICES[device])
    ref = reference(a, b, semiring, mask, comp)
    np.testing.assert_array_equal(c.indptr, ref.indptr)
    np.testing.assert_array_equal(c.indices, ref.indices)
    if semiring == "plus_times":
        np.testing.assert_allclose(c.data, ref.data, rtol=1e-14, atol=1e-14, equal_nan=True)
    else:   # min, max and or are exact whatever the order of the atomic updates
        np.testing.assert_array_equal(c.data, ref.data)
    assert c.dtype == ref.dtype


def test_emulated_masks_on_larger_matrices():
    a = random_csr(400, 300, 0.03, 11)
    b = random_csr(300, 500, 0.03, 12)
    mask = random_csr(400, 500, 0.05, 13)
    for comp in (False, True):
        for semiring in ("plus_times", "min_plus"):
            ref = spgemm(a, b, semiring=semiring, mask=mask, complement_mask=comp)
            for device in ("shared", "hash_only", "mostly_global"):
                c = ks._emulated(a, b, semiring=semiring, mask=mask, complement_mask=comp,
                                 **DEVICES[device])
                assert_same(c, ref)


@pytest.mark.parametrize("semiring", ["plus_times", "max_times", "or_and"])
def test_emulated_row_groups_of_mixed_sizes(semiring):
    # Wide B (no bitmap below 4096-slot tables): rows of 0 .. ~150 products fill the grouped
    # bins (4 .. 128 threads per row, up to 64 rows per block), each bin with a partial block;
    # a few rows of ~1000 products take a block each (bitonic sort, shared or global table).
    rng = np.random.default_rng(41)
    lengths = rng.integers(0, 12, 997)
    lengths[::200] = 100
    rows = np.repeat(np.arange(997), lengths)
    dtype = np.bool_ if semiring == "or_and" else np.float64
    a = sp.csr_array((rng.standard_normal(rows.size).astype(dtype),
                      (rows, rng.integers(0, 800, rows.size))), shape=(997, 800))
    a.sum_duplicates()
    b = random_csr(800, 100_000, 1e-4, 42, dtype)
    ref = spgemm(a, b, semiring=semiring)
    assert np.diff(ref.indptr).max() > 600
    for device in ("shared", "hash_only"):
        assert_same(ks._emulated(a, b, semiring=semiring, **DEVICES[device]), ref)
        assert_same_entries(ks._emulated(a, b, semiring=semiring, sort_indices=False,
                                         **DEVICES[device]), ref)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_emulated_dense_rows(dtype):
    # Heavy rows of a narrow product (n = 3000: a 94-word bitmap): from a handful of columns up
    # to nearly all of them, with more words than threads and more threads than words.
    a = random_csr(40, 500, 0, 51, dtype, power_law=True)
    a = sp.csr_array(sp.vstack([a, sp.csr_array(np.ones((1, 500), dtype))]))
    b = random_csr(500, 3000, 0.01, 52, dtype)
    ref = spgemm(a, b)
    assert np.diff(ref.indptr).max() > 2000
    assert_same(ks._emulated(a, b, **DEVICES["shared"]), ref)
    big = random_csr(30, 200, 0.3, 53, dtype)
    wide = random_csr(200, 40_000, 0.02, 54, dtype)    # 1250 words, more than threads
    assert_same(ks._emulated(big, wide, **DEVICES["shared"]), spgemm(big, wide))


def test_emulated_heavy_rows_unsorted_int64_and_cancellation():
    # A few rows of A hold most products: tables of 2^14 slots, bitonic-sorted.
    a = random_csr(300, 3000, 0, 21, power_law=True)
    a = sp.csr_array(sp.vstack([a, sp.csr_array(np.ones((2, 3000)))]))
    b = random_csr(3000, 20000, 5e-4, 22)
    ref = spgemm(a, b)
    assert ref.indptr[-1] > 0 and np.diff(ref.indptr).max() > 4000
    for device in DEVICES.values():
        assert_same(ks._emulated(a, b, **device), ref)
        assert_same_entries(ks._emulated(a, b, sort_indices=False, **device), ref)
    c64 = ks._emulated(a, b, index_dtype=np.int64)
    assert c64.indices.dtype == np.int64
    assert_same(c64, ref)
    # Exact cancellation: [1, -1] x [[1], [1]] = 0, which plus_times drops (as SciPy).
    x = sp.csr_array(np.array([[1.0, -1.0], [2.0, 0.0]]))
    y = sp.csr_array(np.array([[1.0], [1.0]]))
    c = ks._emulated(x, y)
    assert c.nnz == 1 and c[1, 0] == 2.0


@pytest.mark.parametrize("side", ["A", "B", "mask"])
def test_emulated_validation_messages(side):
    """The device's validation block program (run by the emulator): each malformed input on
    each side gives the host checks' message, before any kernel reads it."""
    good = sp.csr_array(np.ones((3, 3)))
    bad = {
        "column indices outside": ([0, 1, 9], [0, 1, 2, 3]),
        "indptr decreases": ([0, 1, 2], [0, 2, 1, 3]),
        "indptr runs from 1 to 3, expected 0 to nnz = 3": ([0, 1, 2], [1, 1, 2, 3]),
        "indptr runs from 0 to 2, expected 0 to nnz = 3": ([0, 1, 2], [0, 1, 2, 2]),
        "indptr runs from 0 to 7, expected 0 to nnz = 3": ([0, 1, 2], [0, 1, 2, 7]),
    }
    for message, (indices, indptr) in bad.items():
        M = sp.csr_array(np.eye(3))          # then its arrays replaced (SciPy would refuse some)
        M.indices, M.indptr = np.array(indices, np.int32), np.array(indptr, np.int32)
        args = {"A": (M, good, None), "B": (good, M, None), "mask": (good, good, M)}[side]
        with pytest.raises(ValueError, match=f"{side}: malformed CSR: {message}"):
            ks._emulated(args[0], args[1], mask=args[2])


@pytest.mark.parametrize("side", ["A", "B", "mask"])
def test_emulated_unsorted_and_duplicate_indices(side):
    """Non-canonical input found by the validation program, summed, and the product rerun:
    every entry split into two halves (exact), rows in decreasing column order."""
    a = random_csr(50, 40, 0.2, 61)
    b = random_csr(40, 60, 0.2, 62)
    mask = random_csr(50, 60, 0.3, 63)
    M = {"A": a, "B": b, "mask": mask}[side]
    G = sp.csr_array(split_entries(M), shape=M.shape)
    G.has_canonical_format = False
    args = {"A": (G, b, None), "B": (a, G, None), "mask": (a, b, G)}[side]
    ref = spgemm(a, b, mask=mask if side == "mask" else None)
    assert_same(ks._emulated(args[0], args[1], mask=args[2]), ref)


def test_emulated_bad_input():
    a = sp.csr_array(np.ones((3, 4)))
    bad = sp.csr_array((np.ones(3), np.array([0, 1, 9]), np.array([0, 1, 2, 3])), shape=(3, 4))
    with pytest.raises(ValueError, match="malformed CSR: column indices outside"):
        ks._emulated(bad, a.T)
    bad = sp.csr_array((np.ones(3), np.array([0, 1, 2]), np.array([0, 2, 1, 3])), shape=(3, 4))
    with pytest.raises(ValueError, match="malformed CSR: indptr decreases"):
        ks._emulated(bad, a.T)
    with pytest.raises(ValueError, match="shape mismatch"):
        ks._emulated(a, a)
    with pytest.raises(ValueError, match="mask shape"):
        ks._emulated(a, a.T, mask=a)
    with pytest.raises(TypeError, match="float32 or float64"):
        ks._emulated(a.astype(np.complex64), a.T, semiring="max_plus")


def test_drop_zeros_without_boolean_indexing():
    """The device path's zero removal (plus_times): zeros first, last, whole rows, none."""
    dense = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0],
                      [0.0, 0.0, 0.0, 4.0]])
    full = sp.csr_array(np.ones((4, 4)))
    full.data = dense.ravel().copy()        # every position stored, many of them zero
    indptr = full.indptr.astype(np.int64)
    kept = int(np.count_nonzero(full.data))
    ip, ind, dat = ks._drop_zeros(np, indptr, full.indices, full.data, kept)
    ref = sp.csr_array(dense)
    np.testing.assert_array_equal(ip, ref.indptr)
    np.testing.assert_array_equal(ind, ref.indices)
    np.testing.assert_array_equal(dat, ref.data)
    ip, ind, dat = ks._drop_zeros(np, indptr, full.indices, np.zeros(16), 0)
    assert ind.size == dat.size == 0 and not ip.any()


def test_cupy_and_scipy_inputs_do_not_mix():
    class FakeCupySparse:   # stands in for a cupyx.scipy.sparse matrix
        __module__ = "cupyx.scipy.sparse._csr"
    a = sp.csr_array(np.ones((3, 4)))
    with pytest.raises(TypeError, match="must all be CuPy sparse or all SciPy"):
        spgemm(FakeCupySparse(), a.T)


# ---- on the GPU -------------------------------------------------------------------------------

def to_gpu(M):
    import cupyx.scipy.sparse as csp
    return csp.csr_matrix(sp.csr_matrix(M))


def check_gpu(c_gpu, ref):
    c = sp.csr_array((c_gpu.data.get(), c_gpu.indices.get(), c_gpu.indptr.get()),
                     shape=c_gpu.shape)
    c.has_sorted_indices = True
    assert_same(c, ref)


@pytest.mark.gpu
@pytest.mark.parametrize("case", sorted(CASES))
def test_gpu_matmul_equals_cpu(case):
    a, b = CASES[case]()
    check_gpu(spgemm(to_gpu(a), to_gpu(b)), spgemm(a, b))


@pytest.mark.gpu
@pytest.mark.parametrize("semiring", SEMIRINGS)
@pytest.mark.parametrize("masking", [None, "plain", "complement"])
def test_gpu_semirings_masks_on_a_stream(semiring, masking):
    import cupy as cp

    a = random_csr(400, 300, 0.03, 31, np.bool_ if semiring == "or_and" else np.float64)
    b = random_csr(300, 500, 0.03, 32, np.bool_ if semiring == "or_and" else np.float64)
    mask = random_csr(400, 500, 0.05, 33) if masking else None
    comp = masking == "complement"
    ref = spgemm(a, b, semiring=semiring, mask=mask, complement_mask=comp)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        c = spgemm(to_gpu(a), to_gpu(b), semiring=semiring,
                   mask=None if mask is None else to_gpu(mask), complement_mask=comp)
    stream.synchronize()
    check_gpu(c, ref)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_gpu_value_dtypes_heavy_rows_int64(dtype):
    a = random_csr(300, 3000, 0, 21, dtype, power_law=True)
    a = sp.csr_array(sp.vstack([a, sp.csr_array(np.ones((2, 3000), dtype))]))
    b = random_csr(3000, 200_000, 5e-5, 22, dtype)
    ref = spgemm(a, b)
    check_gpu(spgemm(to_gpu(a), to_gpu(b)), ref)
    check_gpu(spgemm(to_gpu(a), to_gpu(b), _index_dtype=np.int64), ref)


@pytest.mark.gpu
def test_gpu_empty_shapes():
    for a, b in (CASES["zero_by_n"](), CASES["no_products"]()):
        c = spgemm(to_gpu(a), to_gpu(b))
        assert c.shape == (a.shape[0], b.shape[1]) and c.nnz == 0


@pytest.mark.gpu
def test_gpu_malformed_csr_raises():
    import cupy as cp
    import cupyx.scipy.sparse as csp

    a = to_gpu(sp.csr_array(np.ones((3, 4))))
    bad = csp.csr_matrix((cp.ones(3), cp.array([0, 1, 9], cp.int32), cp.array([0, 1, 2, 3],
                                                                            cp.int32)),
                         shape=(3, 4))
    with pytest.raises(ValueError, match="malformed CSR"):
        spgemm(bad, a.T.tocsr())
    with pytest.raises(ValueError, match="shape mismatch"):
        spgemm(a, a)


def gpu_csr(data, indices, indptr, shape):
    """A CuPy CSR matrix holding exactly these arrays (set after construction, so that no
    constructor check or pruning gets in the way)."""
    import cupy as cp
    import cupyx.scipy.sparse as csp

    M = csp.csr_matrix(shape, dtype=np.float64)
    M.data = cp.asarray(np.asarray(data, np.float64))
    M.indices = cp.asarray(np.asarray(indices, np.int32))
    M.indptr = cp.asarray(np.asarray(indptr, np.int32))
    return M


@pytest.mark.gpu
@pytest.mark.parametrize("side", ["A", "B", "mask"])
def test_gpu_malformed_csr_messages(side):
    """Checked on the device (one fused kernel, read back with the bin counts): the same
    messages as the host checks, and the context stays usable afterwards."""
    good = to_gpu(sp.csr_array(np.ones((3, 3))))
    bad = {
        "column indices outside": ([1.0] * 3, [0, 1, 9], [0, 1, 2, 3]),
        "indptr decreases": ([1.0] * 3, [0, 1, 2], [0, 2, 1, 3]),
        "indptr runs from 1 to 3, expected 0 to nnz = 3": ([1.0] * 3, [0, 1, 2], [1, 1, 2, 3]),
        "indptr runs from 0 to 2, expected 0 to nnz = 3": ([1.0] * 3, [0, 1, 2], [0, 1, 2, 2]),
        "indptr runs from 0 to 7, expected 0 to nnz = 3": ([1.0] * 3, [0, 1, 2], [0, 1, 2, 7]),
    }
    for message, parts in bad.items():
        M = gpu_csr(*parts, (3, 3))
        args = {"A": (M, good, None), "B": (good, M, None), "mask": (good, good, M)}[side]
        with pytest.raises(ValueError, match=f"{side}: malformed CSR: {message}"):
            spgemm(args[0], args[1], mask=args[2])
    c = spgemm(good, good)
    check_gpu(c, spgemm(sp.csr_array(np.ones((3, 3))), sp.csr_array(np.ones((3, 3)))))


@pytest.mark.gpu
@pytest.mark.parametrize("side", ["A", "B", "mask"])
def test_gpu_unsorted_and_duplicate_indices(side):
    """Non-canonical input is found on the device and summed (as SciPy does), then used:
    every entry split into two halves (exact), rows in decreasing column order."""
    a = random_csr(50, 40, 0.2, 61)
    b = random_csr(40, 60, 0.2, 62)
    mask = random_csr(50, 60, 0.3, 63)
    M = {"A": a, "B": b, "mask": mask}[side]
    G = gpu_csr(*split_entries(M), M.shape)
    args = {"A": (G, to_gpu(b), None), "B": (to_gpu(a), G, None),
            "mask": (to_gpu(a), to_gpu(b), G)}[side]
    ref = spgemm(a, b, mask=mask if side == "mask" else None)
    check_gpu(spgemm(args[0], args[1], mask=args[2]), ref)


@pytest.mark.gpu
def test_gpu_cancellation_dropped():
    x = to_gpu(sp.csr_array(np.array([[1.0, -1.0, 0.0], [2.0, 0.0, 1.0], [1.0, 1.0, 0.0]])))
    y = to_gpu(sp.csr_array(np.array([[1.0, 1.0], [1.0, -1.0], [0.0, 1.0]])))
    c = spgemm(x, y)
    ref = spgemm(sp.csr_array(x.get()), sp.csr_array(y.get()))
    assert c.nnz == ref.nnz == 4
    check_gpu(c, ref)
