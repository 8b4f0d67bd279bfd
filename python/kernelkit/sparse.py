"""Sparse matrix products: C = A B for CSR matrices, multithreaded, over semirings, with masks.

Row-wise (Gustavson) products merged per row as they are generated (a merge of the sorted B
rows for short rows of A, a dense accumulator over the row's column window when it fits in
cache, otherwise a hash table sized from the row's product count), rows sorted while they
are in cache. Usually in one pass: C's arrays are reserved for the product count, chunks of
rows are computed into per-thread buffers and copied behind each other in row order, and
the arrays are shrunk in place at the end (only nnz(C) entries are ever written, so the peak
memory is C itself, as with SciPy); two phases (exact symbolic count, then numeric fill)
where that reservation would be large or a few rows hold much of the work. The GIL is
released; OpenMP threads follow ``OMP_NUM_THREADS`` and ``threadpoolctl``.
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
           sort_indices=True, _heavy_row_products=0, _index_dtype=None, _phases=0):
    """C = A B over a semiring, optionally restricted to (or away from) a mask's pattern.

    Parameters
    ----------
    A, B : scipy.sparse arrays or matrices, shapes (m, k) and (k, n)
        Any format (converted to CSR; CSR input is not copied unless it has duplicate or
        unsorted indices, which are canonicalised first: duplicates are summed, as SciPy does).
        Values float32, float64, complex64, complex128 or bool; mixed inputs are promoted
        with NumPy's rules. Index dtype int32 or int64.
        ``cupyx.scipy.sparse`` matrices (A, B and the mask all on the GPU) run the CUDA
        kernels on CuPy's current stream and return a ``cupyx.scipy.sparse.csr_matrix``: one
        thread block per row of C with a hash table in shared memory (keys inserted with
        atomicCAS, values combined with the semiring's atomic), global-memory tables for rows
        too large for it, rows sorted by a bitonic network in the block. Sums may then be
        added in another order than on the CPU (equal to rounding; min, max and or exactly).
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
    with int32 indices unless nnz(C) needs int64 (or the inputs already needed int64);
    cupyx.scipy.sparse.csr_matrix for GPU input (int32 indices, as CuPy's sparse requires).

    Raises
    ------
    TypeError
        Non-sparse input (a dense NumPy or CuPy array), CuPy and SciPy sparse inputs mixed,
        an unsupported value dtype, or a semiring the value type does not have.
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
    on_gpu = [_is_cupy_sparse(M) for M in (A, B) + ((mask,) if mask is not None else ())]
    if any(on_gpu):
        if not all(on_gpu):
            raise TypeError("A, B (and the mask) must all be CuPy sparse or all SciPy sparse")
        return _spgemm_cuda(A, B, semiring, mask, complement_mask, sort_indices, _index_dtype)
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
        n, mask_arg, bool(complement_mask), bool(sort_indices), int(_heavy_row_products),
        int(_phases))
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


def _is_cupy_sparse(M):
    return type(M).__module__.startswith("cupyx")


def _as_csr(M, name, canonical=True):
    if _dispatch.is_cupy(M):
        raise TypeError(f"{name} must be a sparse matrix (cupyx.scipy.sparse on the GPU), "
                        "got a dense CuPy array")
    if not sp.issparse(M):
        raise TypeError(f"{name} must be a scipy.sparse array or matrix, got {type(M).__name__}")
    if M.format != "csr":
        M = M.tocsr()
    if M.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {M.shape}")
    _check_csr_sizes(M, name)
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


# ---- the GPU algorithm: CUDA kernels, or the same block programs on the CPU's emulator ------
_VALUE_CODES = {np.dtype(t): i for i, t in enumerate(
    (np.float32, np.float64, np.complex64, np.complex128, np.bool_))}


def _device_product(xp, a, b, mk, semiring, complement, sort, index, run):
    """C = A B by the GPU algorithm on xp (NumPy or CuPy) CSR parts; `run(args)` executes the
    launch sequence (CUDA or the block emulator) and returns (indptr int64, indices, data)."""
    m, n = a.shape[0], b.shape[1]
    dtype = _value_dtype(semiring, a.dtype, b.dtype)
    args = dict(semiring=SEMIRINGS.index(semiring), value_code=_VALUE_CODES[dtype],
                index=np.dtype(index), complement=bool(complement), sort=bool(sort), m=m,
                k=a.shape[1], n=n)
    for name, M in (("a", a), ("b", b)):
        args[name] = (*_index_arrays(xp, M, index), xp.ascontiguousarray(M.data, dtype=dtype))
    args["mask"] = None if mk is None else _index_arrays(xp, mk, index)
    indptr, indices, data = run(args)
    if semiring == "plus_times":    # as on the CPU (and in SciPy): exact zeros are not entries
        kept = int(xp.count_nonzero(data))      # on the GPU: the one sync after the product
        if kept < data.size:
            indptr, indices, data = _drop_zeros(xp, indptr, indices, data, kept)
    return indptr, indices, data


def _index_arrays(xp, M, index):
    """M's indptr and indices as `index` integers. Narrowing (int64 to int32) clips to just
    outside the valid range first, so that the device's checks still see an invalid value as
    invalid (a plain cast could wrap it into range)."""
    out = []
    for x, hi in ((M.indptr, M.indices.size + 1), (M.indices, M.shape[1])):
        if x.dtype.itemsize > np.dtype(index).itemsize:
            x = xp.clip(x, -1, hi)
        out.append(xp.ascontiguousarray(x, dtype=index))
    return tuple(out)


def _drop_zeros(xp, indptr, indices, data, kept):
    """The entries whose value is not zero, `kept` of them, without a host round trip (a
    boolean index would read its length back from the GPU): dropped entries are scattered
    to a spare slot past the end."""
    keep = data != 0
    count = np.int32 if data.size <= _I32_MAX else np.int64     # half the scratch if it can
    before = xp.cumsum(keep, dtype=count)                       # kept entries up to each one
    indptr = xp.concatenate([xp.zeros(1, count), before])[indptr].astype(np.int64)
    dest = xp.where(keep, before - 1, kept)
    out_i, out_d = xp.empty(kept + 1, indices.dtype), xp.empty(kept + 1, data.dtype)
    out_i[dest] = indices
    out_d[dest] = data
    return indptr, out_i[:kept], out_d[:kept]


def _device_inputs(A, B, mask, as_csr):
    a, b = as_csr(A, "A"), as_csr(B, "B")
    if b.shape[0] != a.shape[1]:
        raise ValueError(f"shape mismatch: A is {a.shape}, B is {b.shape}")
    mk = None
    if mask is not None:
        mk = as_csr(mask, "mask")       # canonical: the kernels binary-search sorted rows
        if mk.shape != (a.shape[0], b.shape[1]):
            raise ValueError(f"mask shape {mk.shape} differs from the product's "
                             f"{(a.shape[0], b.shape[1])}")
    return a, b, mk


def _index_for(parts, m, k, n, forced):
    if forced is not None:
        return np.dtype(forced)
    # >=: _index_arrays clips int64 input to nnz + 1, which must fit
    big = any(p.nnz >= _I32_MAX for p in parts) or max(m, k, n) >= _I32_MAX
    return np.dtype(np.int64 if big else np.int32)


def _emulated(A, B, *, semiring="plus_times", mask=None, complement_mask=False,
              sort_indices=True, shared_bytes=48 * 1024, workspace_bytes=64 << 20,
              index_dtype=None):
    """Test hook: the CUDA SpGEMM (validation, binning, launch plan, block programs) run by
    the CPU's sequential block emulator on SciPy input; returns a csr_array. shared_bytes and
    workspace_bytes stand in for the device's shared memory and the global-table budget
    (small values force the global-memory tables and their batching)."""
    a, b, mk = _device_inputs(A, B, mask, lambda M, name: _as_csr(M, name, canonical=False))
    index = _index_for([M for M in (a, b, mk) if M is not None], a.shape[0], a.shape[1],
                       b.shape[1], index_dtype)

    def run(g):
        indptr, indices, raw, noncanonical = _core.spgemm_emulate(
            g["semiring"], g["value_code"], *g["a"], g["m"], g["k"], *g["b"], g["n"],
            None if g["mask"] is None else (*g["mask"], g["m"], g["n"]), g["complement"],
            g["sort"], int(shared_bytes), int(workspace_bytes))
        if noncanonical:
            raise _NotCanonical(noncanonical)
        return indptr, indices, raw.view(g["a"][2].dtype)

    indptr, indices, data = _canonical_retry(
        (a, b, mk), lambda a, b, mk: _device_product(np, a, b, mk, semiring, complement_mask,
                                                     sort_indices, index, run))
    return sp.csr_array((data, indices, indptr), shape=(a.shape[0], b.shape[1]))


def _canonical_retry(inputs, product):
    """product(A, B, mask); when the launcher finds unsorted or duplicate column indices,
    once more with those inputs summed (as SciPy does)."""
    try:
        return product(*inputs)
    except _NotCanonical as e:
        return product(*(_canonical_copy(M) if e.which >> i & 1 else M
                         for i, M in enumerate(inputs)))


def _check_csr_sizes(M, name):
    """The checks of array lengths (known on the host: no GPU round trip)."""
    ip, ind = M.indptr, M.indices
    if ip.ndim != 1 or ip.size != M.shape[0] + 1:
        raise ValueError(f"{name}: malformed CSR: indptr has {ip.size} entries, expected "
                         f"rows + 1 = {M.shape[0] + 1}")
    if ind.size != M.data.size:
        raise ValueError(f"{name}: malformed CSR: {ind.size} column indices but "
                         f"{M.data.size} values")


def _as_cupy_csr(M, name):
    """CSR without a GPU round trip: the values are checked (and canonical format detected)
    on the device by the symbolic launcher."""
    if not _is_cupy_sparse(M):
        raise TypeError(f"{name} must be a cupyx.scipy.sparse matrix, got {type(M).__name__}")
    if M.format != "csr":
        M = M.tocsr()
    _check_csr_sizes(M, name)
    return M


def _canonical_copy(M):
    M = M.copy()
    M.has_canonical_format = False      # a stale True would make sum_duplicates a no-op
    M.sum_duplicates()
    return M


def _spgemm_cuda(A, B, semiring, mask, complement_mask, sort_indices, index_dtype):
    """spgemm on cupyx.scipy.sparse matrices: the CUDA kernels on CuPy's current stream.

    Host round trips: the symbolic launcher's two (after validation and row analysis; nnz(C)
    with the numeric launch plan) and, for plus_times, the count of exact zeros."""
    import cupy as cp
    import cupyx.scipy.sparse as csp

    from . import _gpu

    mod = _gpu.module()
    a, b, mk = _device_inputs(A, B, mask, _as_cupy_csr)
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    index = _index_for([M for M in (a, b, mk) if M is not None], m, k, n, index_dtype)
    stream = cp.cuda.get_current_stream().ptr

    def run(g):
        # Budget for the global-memory tables of rows too large for shared memory (batched;
        # at least one table whatever the budget): half the inputs, so the peak stays within
        # 1.5 x (A + B + C) plus the per-row arrays.
        workspace = sum(x.nbytes for x in (*g["a"], *g["b"])) // 2
        d = dict(semiring=g["semiring"], value_code=g["value_code"],
                 index64=g["index"] == np.int64, complement=g["complement"], sort=g["sort"],
                 m=m, k=k, n=n, a_nnz=g["a"][1].size, b_nnz=g["b"][1].size,
                 workspace_bytes=workspace, stream=stream)
        for name in ("a", "b"):
            ptr, ind, dat = g[name]
            d.update({f"{name}_indptr": ptr.data.ptr, f"{name}_indices": ind.data.ptr,
                      f"{name}_data": dat.data.ptr})
        if g["mask"] is not None:
            d.update(mask_indptr=g["mask"][0].data.ptr, mask_indices=g["mask"][1].data.ptr,
                     mask_nnz=g["mask"][1].size)
        indptr = cp.empty(m + 1, np.int64)
        d["c_indptr"] = indptr.data.ptr
        nnz, noncanonical, bin_count = mod.spgemm_symbolic(d)
        if noncanonical:
            raise _NotCanonical(noncanonical)
        indices = cp.empty(nnz, g["index"])
        data = cp.empty(nnz, g["a"][2].dtype)
        d.update(c_indices=indices.data.ptr, c_data=data.data.ptr, bin_count=bin_count)
        mod.spgemm_numeric(d)
        return indptr, indices, data

    indptr, indices, data = _canonical_retry(
        (a, b, mk), lambda a, b, mk: _device_product(cp, a, b, mk, semiring, complement_mask,
                                                     sort_indices, index, run))
    if indices.size > _I32_MAX:
        raise ValueError("nnz(C) exceeds the int32 indices of cupyx.scipy.sparse")
    C = csp.csr_matrix((data, indices.astype(np.int32, copy=False), indptr.astype(np.int32)),
                       shape=(m, n))
    if sort_indices:
        C.has_canonical_format = True
    return C


class _NotCanonical(ValueError):
    """Unsorted or duplicate column indices, found by the symbolic launcher: bit i of `which`
    for input i (A, B, mask). Caught and fixed once; a second one reaches the caller."""

    def __init__(self, which):
        names = [n for i, n in enumerate(("A", "B", "mask")) if which >> i & 1]
        super().__init__(f"{', '.join(names)}: unsorted or duplicate column indices remained "
                         "after sum_duplicates()")
        self.which = which
