"""Sparse matrix products: C = A B for CSR matrices, multithreaded, over semirings, with masks.

Row-wise (Gustavson) products merged per row as they are generated (a merge of the sorted B
rows for short rows of A, a dense accumulator over the row's column window when it fits in
cache, otherwise a hash table sized from the row's product count), in two
phases (exact symbolic count, then numeric fill into exactly allocated C, so the peak memory
is C itself, as with SciPy), rows sorted while they are in cache. The GIL is released;
OpenMP threads follow ``OMP_NUM_THREADS`` and ``threadpoolctl``.
"""
import numpy as np
import scipy.sparse as sp

from . import _core, _dispatch

__all__ = ["spgemm", "matmul", "SEMIRINGS"]

SEMIRINGS = ("plus_times", "min_plus", "max_plus", "max_times", "min_times", "or_and")
_VALUE_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                            np.complex128, np.bool_))
_I32_MAX = np.iinfo(np.int32).max


def spgemm(A, B, *, semiring="plus_times", mask=None, complement_mask=False,
           sort_indices=True, _heavy_row_products=0, _index_dtype=None):
    """C = A B over a semiring, optionally restricted to (or away from) a mask's pattern.

    Parameters
    ----------
    A, B : scipy.sparse arrays or matrices, shapes (m, k) and (k, n)
        Any format (converted to CSR; CSR input is not copied unless it has duplicate or
        unsorted indices, which are canonicalised first: duplicates are summed, as SciPy does).
        Values float32, float64, complex64, complex128 or bool; mixed inputs are promoted
        with NumPy's rules. Index dtype int32 or int64.
    semiring : str
        How products combine, over the *stored* entries (absent entries are not zeros):

        ============  ================================  ================================
        semiring      C_ij                              value types
        ============  ================================  ================================
        plus_times    sum_k A_ik B_kj                   all (bool: OR of ANDs)
        min_plus      min_k (A_ik + B_kj)               float32, float64
        max_plus      max_k (A_ik + B_kj)               float32, float64
        max_times     max_k A_ik B_kj                   float32, float64
        min_times     min_k A_ik B_kj                   float32, float64
        or_and        OR_k (A_ik AND B_kj)              any; values are cast to bool
        ============  ================================  ================================

        min and max propagate NaN (like ``np.minimum``). plus_times drops the entries whose
        sum is exactly zero (SciPy does the same, so ``matmul`` matches SciPy's pattern); the
        other semirings keep every produced entry (a min_plus result of 0 is a real entry).
    mask : scipy.sparse array or matrix, shape (m, n), optional
        Only entries of C at the mask's stored positions (its pattern; values ignored) are
        computed, or, with ``complement_mask=True``, only entries outside it. A row's table
        then holds only the mask's columns, and rows with an empty mask cost nothing.
    complement_mask : bool
        Use the complement of the mask's pattern.
    sort_indices : bool
        True (default): canonical CSR, column indices sorted in every row. False skips the
        per-row sort (rows then come in hash or first-touch order; no duplicates either way).

    Returns
    -------
    scipy.sparse.csr_array (csr_matrix when A and B are both sparse matrices) of shape (m, n),
    with int32 indices unless nnz(C) needs int64 (or the inputs already needed int64).

    Raises
    ------
    TypeError
        Non-sparse input (including CuPy sparse: the GPU version is not available yet), an
        unsupported value dtype, or a semiring the value type does not have.
    ValueError
        Unknown semiring, shape mismatch (A's columns vs B's rows, or the mask's shape), or
        malformed CSR (indptr of the wrong length, not starting at 0, decreasing or not ending
        at nnz; column indices out of range; data and indices of different lengths).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from kernelkit.sparse import spgemm
    >>> A = sp.csr_array(np.array([[0.0, 1.0], [2.0, 0.0]]))
    >>> spgemm(A, A).toarray()
    array([[2., 0.],
           [0., 2.]])
    >>> spgemm(A, A, semiring="min_plus").toarray()   # shortest two-step paths
    array([[3., 0.],
           [0., 3.]])
    """
    if semiring not in SEMIRINGS:
        raise ValueError(f"unknown semiring {semiring!r}; choose one of {SEMIRINGS}")
    a, b = _as_csr(A, "A"), _as_csr(B, "B")
    m, k = a.shape
    if b.shape[0] != k:
        raise ValueError(f"shape mismatch: A is {a.shape}, B is {b.shape}")
    n = b.shape[1]
    dtype = _value_dtype(semiring, a.dtype, b.dtype)
    index = np.int32
    parts = [a, b]
    if mask is not None:
        mk = _as_csr(mask, "mask", canonical=False)
        if mk.shape != (m, n):
            raise ValueError(f"mask shape {mk.shape} differs from the product's {(m, n)}")
        parts.append(mk)
    # int32 whenever the sizes allow (even for int64 input: copying the indices costs far less
    # than 64-bit hashing and the wider memory traffic); int64 only when needed.
    if any(p.nnz > _I32_MAX for p in parts) or max(m, k, n) > _I32_MAX:
        index = np.int64
    if _index_dtype is not None:    # tests: force the int64 code path
        index = np.dtype(_index_dtype)
    args = []
    for p in (a, b):
        args += [np.ascontiguousarray(p.indptr, dtype=index),
                 np.ascontiguousarray(p.indices, dtype=index),
                 np.ascontiguousarray(p.data, dtype=dtype)]
    mask_arg = None
    if mask is not None:
        mask_arg = (np.ascontiguousarray(mk.indptr, dtype=index),
                    np.ascontiguousarray(mk.indices, dtype=index), m, n)
    indptr, indices, data = _core.spgemm(
        SEMIRINGS.index(semiring), args[0], args[1], args[2], m, k, args[3], args[4], args[5],
        n, mask_arg, bool(complement_mask), bool(sort_indices), int(_heavy_row_products))
    both_matrices = isinstance(A, sp.spmatrix) and isinstance(B, sp.spmatrix)
    cls = sp.csr_matrix if both_matrices else sp.csr_array
    C = cls((data, indices, indptr), shape=(m, n), copy=False)
    if sort_indices:
        C.has_sorted_indices = True
        C.has_canonical_format = True
    return C


def matmul(A, B):
    """A @ B for sparse A, B: ``spgemm(A, B)`` with plus_times and sorted indices.

    The same pattern as SciPy's product after ``sort_indices()`` (entries summing to exactly
    zero are dropped, as SciPy does) and the same values to rounding, computed on all threads.
    """
    return spgemm(A, B)


def _as_csr(M, name, canonical=True):
    if _dispatch.is_cupy(M) or type(M).__module__.startswith("cupyx"):
        raise TypeError(f"{name}: CuPy sparse input is not supported yet (CPU only for now)")
    if not sp.issparse(M):
        raise TypeError(f"{name} must be a scipy.sparse array or matrix, got {type(M).__name__}")
    if M.format != "csr":
        M = M.tocsr()
    if M.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {M.shape}")
    if len(M.indptr) != M.shape[0] + 1:
        raise ValueError(f"{name}: malformed CSR: indptr has {len(M.indptr)} entries, "
                         f"expected rows + 1 = {M.shape[0] + 1}")
    if len(M.indices) != len(M.data):
        raise ValueError(f"{name}: malformed CSR: {len(M.indices)} column indices but "
                         f"{len(M.data)} values")
    if canonical and not _is_canonical(M):
        M = M.copy()
        M.sum_duplicates()
    return M


def _is_canonical(M):
    """Sorted indices without duplicates; checks only well-formed CSR (the core checks the
    rest and must see malformed input unchanged to report it)."""
    ip = M.indptr
    if len(ip) == 0 or ip[0] != 0 or ip[-1] != len(M.indices) or np.any(np.diff(ip) < 0):
        return True     # malformed: leave it to the core's checks
    return bool(M.has_canonical_format)


def _value_dtype(semiring, da, db):
    if semiring == "or_and":
        return np.dtype(np.bool_)
    for d in (da, db):
        if d not in _VALUE_DTYPES:
            raise TypeError(f"unsupported value dtype {d}; supported: float32, float64, "
                            "complex64, complex128, bool")
    dtype = np.result_type(da, db)
    if semiring != "plus_times" and dtype.kind != "f":
        raise TypeError(f"semiring {semiring!r} needs float32 or float64 values, got {dtype}")
    return dtype
