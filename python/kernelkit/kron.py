"""Kronecker products without forming them: y = (A_1 kron ... kron A_d) x, solves, log-dets,
and exact Gaussian-process regression on grids (GridGP).

x (of length N = prod of the factors' column counts, with k right-hand sides and any batch
dimensions) is viewed as a tensor with one axis per factor; each factor is applied along its
own axis by a register-blocked C++ loop (vectors along the trailing axes, or along the
factor's rows when those are short), so nothing is ever transposed or copied besides one
output buffer per pass; consecutive small factors whose blocks fit in L2 are applied together,
block by block, in one pass (the trailing ones over contiguous blocks, leading ones over
gathered tiles); when every factor is 128 x 128 or larger they are GEMMs for NumPy's BLAS
instead. Factors that shrink their axis go first, which keeps the
intermediates small for non-square factors. OpenMP threads; float32/float64 (complex and other
types take a NumPy path). CuPy factors and x run on the GPU instead: large factors as
batched GEMMs (cupy.matmul), runs of small ones fused in one kernel pass through shared memory
(float64 modes on the tensor cores).
"""
import functools
import math

import numpy as np
from scipy.sparse.linalg import LinearOperator

from . import _core, _dispatch

__all__ = ["kron_matvec", "KroneckerOperator", "KroneckerSum", "kron_eigh", "kron_solve",
           "kron_logdet", "GridGP"]


def _check_factors(factors, xp=np):
    fs = [f if isinstance(f, xp.ndarray) else xp.asarray(f) for f in factors]
    if not fs:
        raise ValueError("need at least one factor")
    for i, f in enumerate(fs):
        if f.ndim != 2:
            raise ValueError(f"factor {i} must be 2-D, got shape {f.shape}")
        if f.dtype.kind not in "biufc":
            raise TypeError(f"factor {i} has non-numeric dtype {f.dtype}")
    return fs


_BLAS_MIN = 128


def _use_blas(factors):
    """Whether every factor is large enough (both sizes >= 128) for NumPy's BLAS to beat the
    C++ loop. All or none: OpenMP and BLAS thread pools alternating on the same cores slow
    each other down."""
    return all(min(f.shape) >= _BLAS_MIN for f in factors)


def _mode_product(a, t, axis, blas=False):
    """Apply a (r x c) along `axis` of t: (L, c, R) view, result (..., r, ...)."""
    shape = t.shape
    L = int(np.prod(shape[:axis], dtype=np.int64))
    R = int(np.prod(shape[axis + 1:], dtype=np.int64))
    out_shape = shape[:axis] + (a.shape[0],) + shape[axis + 1:]
    if blas or t.dtype not in (np.float32, np.float64):
        # a large factor is a GEMM NumPy's BLAS does well: one call when the mode is first or
        # last, else one per leading index
        x = t.reshape(L, shape[axis], R)
        out = (x[:, :, 0] @ a.T)[:, :, None] if R == 1 else np.matmul(a, x)
        return out.reshape(out_shape)
    out = np.empty(out_shape, dtype=t.dtype)
    _core.kron_mode_product(np.ascontiguousarray(a), t.reshape(L, shape[axis], R),
                            out.reshape(L, a.shape[0], R))
    return out


# Per-thread intermediates of a CPU chain block, in elements (512 KiB in float64: about this
# VM's L2; with 16384 and trailing chains only, 16^5 at k = 16 took 4 passes and 2.7x NumPy,
# now 2 and 4.2x). A tiled chain (trailing runs gathered from a longer axis) also holds its
# input and output tiles, so its intermediates get a quarter of that (the full budget made
# 16^5 with k = 1 twice as slow, bench/kron_matvec.py), in runs of these many values.
_CHAIN_MAX = 65536
_CHAIN_RUNS = (512, 256, 128, 64, 32, 16)


@functools.lru_cache(maxsize=256)
def _cpu_passes(rows, cols, k):
    """The CPU's passes, first mode first (shrinking factors early keep intermediates small):
    (s, j, rt) applies modes s..j-1 as one chain with rt trailing values per block, or
    (s, s + 1, None) mode s alone over the whole array. The last pass is the longest trailing
    chain whose contiguous blocks fit in _CHAIN_MAX; the modes before it form the longest
    tiled chains that fit a quarter of it. Each pass costs one trip through memory (16^5 and
    8^8: 2 passes)."""
    d = len(rows)
    tail = next((s for s in range(d - 1) if _chain_elements(rows[s:], cols[s:]) * k
                 <= _CHAIN_MAX), d)
    passes, s = [], 0
    while s < tail:
        best = (s + 1, None)
        for j in range(s + 2, tail + 1):
            R = math.prod(cols[j:]) * k
            per_value = _chain_elements(rows[s:j], cols[s:j])
            run = next((r for r in _CHAIN_RUNS if r < R and 4 * per_value * r <= _CHAIN_MAX),
                       None)
            if run is None:
                break
            best = (j, run)
        passes.append((s, *best))
        s = best[0]
    if tail < d:
        passes.append((tail, d, k))
    return tuple(passes)


_GPU_GEMM_MIN = 64        # factors at least this large (both sizes) go to cuBLAS (matmul)
_GPU_SHARED = 96 * 1024   # shared memory a chain block may use (two blocks per SM)
_COLUMN_MAX = 16          # kron_blocks.hpp kColumnMax: square chains of such factors run in place


def _chain_elements(rows, cols):
    """Largest intermediate (per r) of a chain pass: the kernel's buffer size."""
    return max(math.prod(rows[:done] + cols[done:]) for done in range(len(rows) + 1))


def _chain_fits(rows, cols, rt, shared_values):
    """Whether a chain pass with rt r values per block fits (chain_smem_elements in
    kron_blocks.hpp: the factors, then one buffer for a square chain of narrow factors, else
    two)."""
    square = all(r == c <= _COLUMN_MAX for r, c in zip(rows, cols))
    factors = sum(r * c for r, c in zip(rows, cols))
    return factors + (1 if square else 2) * _chain_elements(rows, cols) * rt <= shared_values


_GPU_MIN_BLOCKS = 512     # blocks a chain pass should have: about 4 per SM of an H100/H200


def _plan_chain(rows, cols, small, j, R, B, shared_values):
    """The chain pass ending at mode j-1: (first mode s, rt), the most modes per pass, then the
    most r values per block (longer coalesced runs) that still gives the pass
    _GPU_MIN_BLOCKS blocks, else the fewest r values that fill a 32-byte sector (4 float64)
    so the GPU has more blocks to spread; None when mode j-1 is not small or does not fit
    alone. On the H200, 8^8 with k = 1 took 1.66 ms in two passes (the second with runs of 2
    values) and 2.46 ms in three passes of 16-value runs or more, and with the tensor-core
    kernel 0.82 against 0.96-1.0 ms: the passes cost more than the short runs."""
    first = {}
    rt = min(R, 32)
    while rt >= 1:
        if small[j - 1] and _chain_fits(rows[j - 1:j], cols[j - 1:j], rt, shared_values):
            s = j - 1
            while (s > 0 and j - s < 16 and small[s - 1]
                   and _chain_fits(rows[s - 1:j], cols[s - 1:j], rt, shared_values)):
                s -= 1
            first[rt] = s
        rt //= 2
    if not first:
        return None
    s = min(first.values())
    rts = [rt for rt in first if first[rt] == s]   # descending
    L = B * math.prod(cols[:s])
    for rt in rts:
        if L * -(-R // rt) >= _GPU_MIN_BLOCKS:
            return s, rt
    sector = [rt for rt in rts if rt >= 4]
    return s, sector[-1] if sector else rts[0]


@functools.lru_cache(maxsize=256)
def _device_passes(rows, cols, small, k, shared_values, B=1):
    """The passes of _device_matvec for these shapes, last mode first: (s, j, rt) applies
    modes s..j-1 as one chain with rt r values per block, (j - 1, j, None) mode j-1 as a GEMM.
    Cached: planning in Python costs more than a small product's kernels."""
    passes, j = [], len(rows)
    while j > 0:
        plan = _plan_chain(rows, cols, small, j, math.prod(rows[j:]) * k, B, shared_values)
        s, rt = plan if plan is not None else (j - 1, None)
        passes.append((s, j, rt))
        j = s
    return tuple(passes)


@functools.lru_cache(maxsize=256)
def _chain_plan(passes, rows, cols, k, B):
    """When every pass is a chain: the passes as (s, j, L, R, rt, src, dst) over the slots
    0 = x, 1 = out, 2 and 3 = the two halves of one scratch buffer (the intermediates
    alternate between them), and the two halves' sizes. None if a pass is a GEMM."""
    if any(rt is None for _, _, rt in passes):
        return None
    plan, sizes, src = [], [0, 0], 0
    for i, (s, j, rt) in enumerate(passes):
        R = math.prod(rows[j:]) * k
        L = B * math.prod(cols[:s])
        dst = 1 if i == len(passes) - 1 else 2 + i % 2
        if dst > 1:
            sizes[dst - 2] = max(sizes[dst - 2], L * math.prod(rows[s:j]) * R)
        plan.append((s, j, L, R, rt, src, dst))
        src = dst
    return tuple(plan), tuple(sizes)


def _device_matvec(fs, t, xp, chain, shared_bytes, chains=None):
    """The GPU algorithm: t (B, *cols, k) -> (B, *rows, k), modes taken from the last one
    backwards in passes. A pass is either one large factor as a strided batched GEMM
    (xp.matmul, no transposes) or a chain of small consecutive factors applied by one kernel
    launch through shared memory (`chain(factors, in (L, P, R), out (L, Q, R), rt)`). When
    every pass is a chain, `chains(fs, plan, slots)` runs them all at once (one call from
    Python: host time is most of a small product's time)."""
    rows = tuple(f.shape[0] for f in fs)
    cols = tuple(f.shape[1] for f in fs)
    B, k = t.shape[0], t.shape[-1]
    small = tuple(min(f.shape) < _GPU_GEMM_MIN and t.dtype in (np.float32, np.float64)
                  for f in fs)
    passes = _device_passes(rows, cols, small, k, shared_bytes // t.dtype.itemsize, B)
    planned = _chain_plan(passes, rows, cols, k, B)
    if planned is not None:
        plan, (size_a, size_b) = planned
        out = xp.empty((B, *rows, k), dtype=t.dtype)
        scratch = xp.empty(size_a + size_b, dtype=t.dtype) if size_a else None
        (chains or _run_chains)(fs, plan, (t, out, scratch, size_a), chain)
        return out
    for s, j, rt in passes:
        R = math.prod(rows[j:]) * k
        L = B * math.prod(cols[:s])
        if rt is None:
            x3 = t.reshape(L, cols[s], R)
            if R == 1:   # the last mode with one column: a single GEMM, not L matvecs
                t = (x3[:, :, 0] @ fs[s].T)[:, :, None]
            elif L == 1:  # the first mode: a single GEMM
                t = (fs[s] @ x3[0])[None]
            else:        # (L, rows, R): one strided batched GEMM over L
                t = xp.matmul(fs[s], x3)
            continue
        out = xp.empty((L, math.prod(rows[s:j]), R), dtype=t.dtype)
        chain(fs[s:j], xp.ascontiguousarray(t.reshape(L, math.prod(cols[s:j]), R)), out, rt)
        t = out
    return t


def _run_chains(fs, plan, buffers, chain):
    """_chain_plan's passes one chain call after another, on views of the buffers (x, out,
    scratch, size of the scratch's first half)."""
    t, out, scratch, size_a = buffers
    slots = [t.reshape(-1), out.reshape(-1)]
    if scratch is not None:
        slots += [scratch[:size_a], scratch[size_a:]]
    for s, j, L, R, rt, src, dst in plan:
        P = math.prod(f.shape[1] for f in fs[s:j])
        Q = math.prod(f.shape[0] for f in fs[s:j])
        chain(fs[s:j], slots[src][:L * P * R].reshape(L, P, R),
              slots[dst][:L * Q * R].reshape(L, Q, R), rt)


def _cuda_chains(fs, plan, buffers, chain=None):
    """All of _chain_plan's passes in one call into the CUDA module (device pointers: no
    CuPy views to make, host time being most of a small product's time)."""
    import cupy as cp

    from . import _gpu

    t, out, scratch, size_a = buffers
    slots = [t.data.ptr, out.data.ptr]
    if scratch is not None:
        slots += [scratch.data.ptr, scratch.data.ptr + size_a * scratch.itemsize]
    _gpu.module().kron_passes(
        0 if fs[0].dtype == np.float32 else 1, [f.shape[0] for f in fs],
        [f.shape[1] for f in fs], [f.data.ptr for f in fs], plan, slots,
        cp.cuda.get_current_stream().ptr)


def _cuda_chain(factors, t, out, rt):
    _cuda_chains(factors, ((0, len(factors), t.shape[0], t.shape[2], rt, 0, 1),),
                 (t, out, None, 0))


def kron_matvec(factors, x, *, transpose=False, _emulate_shared=None):
    """``(A_1 kron A_2 kron ... kron A_d) @ x`` without forming the Kronecker product.

    Parameters
    ----------
    factors : sequence of 2-D array_like
        A_k of shape (r_k, c_k): any sizes, square or not, d >= 1.
    x : array_like, shape (N,), (N, k) or (batch..., N, k)
        N = prod(c_k) (prod(r_k) with ``transpose``).
    transpose : bool
        Multiply by the transpose (A_1^T kron ... kron A_d^T) instead.

    Returns
    -------
    ndarray, shape (M,), (M, k) or (batch..., M, k) with M = prod(r_k)
        float32 when the factors and x are float32, float64 for real input otherwise;
        complex input takes a (slower) NumPy path.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kron import kron_matvec
    >>> A, B = np.arange(4.0).reshape(2, 2), np.ones((3, 2))
    >>> x = np.arange(4.0)
    >>> np.allclose(kron_matvec([A, B], x), np.kron(A, B) @ x)
    True
    """
    on_gpu = [_dispatch.is_cupy(a) for a in (x, *factors)]
    xp = np
    if any(on_gpu):
        if not all(on_gpu):
            raise TypeError("the factors and x must all be CuPy arrays or all NumPy arrays")
        import cupy as xp
    fs = _check_factors(factors, xp)
    if transpose:
        fs = [f.T for f in fs]
    x = xp.asarray(x)
    if x.dtype.kind not in "biufc":
        raise TypeError(f"x has non-numeric dtype {x.dtype}")
    dt = np.result_type(x.dtype, *[f.dtype for f in fs], np.float32)
    cols = [f.shape[1] for f in fs]
    rows = [f.shape[0] for f in fs]
    N = int(np.prod(cols, dtype=np.int64))
    vector = x.ndim == 1
    xm = x[:, None] if vector else x
    if xm.ndim < 2 or xm.shape[-2] != N:
        raise ValueError(f"x of shape {x.shape} does not match the factors: their column counts "
                         f"{cols} multiply to N = {N}, so x needs shape (N,), (N, k) or "
                         f"(..., N, k)")
    batch, k = xm.shape[:-2], xm.shape[-1]
    B = int(np.prod(batch, dtype=np.int64))
    t = xp.ascontiguousarray(xm, dtype=dt).reshape((B, *cols, k))
    if (xp is not np or _emulate_shared) and 0 in rows + cols:
        return xp.zeros((*batch, int(np.prod(rows, dtype=np.int64)), k) if not vector
                        else (int(np.prod(rows, dtype=np.int64)),), dtype=dt)
    if xp is not np or _emulate_shared:
        # The GPU algorithm: CUDA on CuPy arrays, or the CPU's block emulator (tests).
        fs = [f if f.dtype == dt and f.flags.c_contiguous else xp.ascontiguousarray(f, dtype=dt)
              for f in fs]
        if xp is not np:
            chain, chains, shared = _cuda_chain, _cuda_chains, _GPU_SHARED
        else:
            def chain(factors, t3, out, rt):
                _core.kron_chain_emulate(list(factors), t3, out, rt, 256)
            chains, shared = None, int(_emulate_shared)
        t = _device_matvec(fs, t, xp, chain, shared, chains)
        out = t.reshape((*batch, int(np.prod(rows, dtype=np.int64)), k))
        return out[:, 0] if vector else out
    fs = [np.asarray(f, dtype=dt) for f in fs]
    # shrinking factors first (smallest r/c), so intermediates stay small
    order = sorted(range(len(fs)), key=lambda i: rows[i] / cols[i] if cols[i] else 0.0)
    blas = _use_blas(fs)
    if blas or dt not in (np.float32, np.float64) or order != sorted(order):
        for i in order:
            t = _mode_product(fs[i], t, i + 1, blas)
    else:
        for s, j, rt in _cpu_passes(tuple(rows), tuple(cols), k):
            if rt is None:
                t = _mode_product(fs[s], t, s + 1)
                continue
            L = B * math.prod(rows[:s])
            R = math.prod(cols[j:]) * k
            out = np.empty((B, *rows[:j], *cols[j:], k), dtype=dt)
            _core.kron_mode_chain([np.ascontiguousarray(f) for f in fs[s:j]],
                                  t.reshape((L, *cols[s:j], R)), out.reshape((L, *rows[s:j], R)),
                                  rt)
            t = out
    out = t.reshape((*batch, int(np.prod(rows, dtype=np.int64)), k))
    return out[:, 0] if vector else out


class KroneckerOperator(LinearOperator):
    """A_1 kron ... kron A_d as a ``scipy.sparse.linalg.LinearOperator`` (matvec, rmatvec,
    matmat, ``@``, ``.T``, ``.H``), usable in scipy's cg/gmres; ``to_dense()`` forms it."""

    def __init__(self, factors):
        self.factors = _check_factors(factors)
        shape = (int(np.prod([f.shape[0] for f in self.factors], dtype=np.int64)),
                 int(np.prod([f.shape[1] for f in self.factors], dtype=np.int64)))
        dtype = np.result_type(*[f.dtype for f in self.factors], np.float32)
        super().__init__(dtype=dtype, shape=shape)

    def _matvec(self, x):
        return kron_matvec(self.factors, np.asarray(x).reshape(-1))

    def _matmat(self, X):
        return kron_matvec(self.factors, X)

    def _rmatvec(self, x):
        return kron_matvec([f.conj() for f in self.factors], np.asarray(x).reshape(-1),
                           transpose=True)

    def _rmatmat(self, X):
        return kron_matvec([f.conj() for f in self.factors], X, transpose=True)

    def _transpose(self):
        return KroneckerOperator([f.T for f in self.factors])

    def _adjoint(self):
        return KroneckerOperator([f.conj().T for f in self.factors])

    def to_dense(self):
        return functools.reduce(np.kron, self.factors).astype(self.dtype, copy=False)


def _eigen(factors):
    xp = np
    if any(_dispatch.is_cupy(f) for f in factors):
        import cupy as xp
    fs = _check_factors(factors, xp)
    for i, f in enumerate(fs):
        if f.shape[0] != f.shape[1]:
            raise ValueError(f"factor {i} must be square (symmetric), got shape {f.shape}")
    pairs = [xp.linalg.eigh(f) for f in fs]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _kron_values(values, combine):
    """combine(a_i, b_j) over the Kronecker index (NumPy or CuPy vectors)."""
    out = values[0]
    for v in values[1:]:
        out = combine(out[:, None], v[None, :]).reshape(-1)
    return out


def kron_eigh(factors):
    """Per-factor eigenpairs of symmetric factors: ``(eigenvalues, eigenvectors)``, two lists;
    the product's eigenvalues are the Kronecker product of the eigenvalue vectors and its
    eigenvectors the Kronecker product of the eigenvector matrices (never formed)."""
    return _eigen(factors)


def kron_solve(factors, y, shift=0.0):
    """``(A_1 kron ... kron A_d + shift I)^{-1} y`` for symmetric positive (semi-)definite
    factors, by per-factor eigendecomposition: two Kronecker matvecs and a diagonal solve.
    y has shape (N,), (N, k) or (..., N, k)."""
    values, vectors = _eigen(factors)
    lam = _kron_values(values, np.multiply) + shift
    z = kron_matvec(vectors, y, transpose=True)
    z = z / (lam if np.ndim(y) == 1 else lam[:, None])
    return kron_matvec(vectors, z)


def kron_logdet(factors, shift=0.0):
    """``log det(A_1 kron ... kron A_d + shift I)`` for symmetric positive (semi-)definite
    factors (-inf if singular, nan if indefinite)."""
    values, _ = _eigen(factors)
    lam = _kron_values(values, np.multiply) + shift
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.log(lam)))


class KroneckerSum(LinearOperator):
    """A_1 (+) ... (+) A_d = sum_k I kron ... kron A_k kron ... kron I for square factors, as a
    LinearOperator; ``solve(y, shift)`` and ``eigh()`` for symmetric factors."""

    def __init__(self, factors):
        self.factors = _check_factors(factors)
        for i, f in enumerate(self.factors):
            if f.shape[0] != f.shape[1]:
                raise ValueError(f"factor {i} must be square, got shape {f.shape}")
        n = int(np.prod([f.shape[0] for f in self.factors], dtype=np.int64))
        dtype = np.result_type(*[f.dtype for f in self.factors], np.float32)
        super().__init__(dtype=dtype, shape=(n, n))

    def _apply(self, X, adjoint=False):
        X = np.asarray(X)
        vector = X.ndim == 1
        Xm = X[:, None] if vector else X
        sizes = [f.shape[0] for f in self.factors]
        k = Xm.shape[-1]
        t = np.ascontiguousarray(Xm, dtype=np.result_type(self.dtype, Xm.dtype)).reshape(
            (1, *sizes, k))
        out = np.zeros_like(t)
        blas = _use_blas(self.factors)
        for i, f in enumerate(self.factors):
            f = f.conj().T if adjoint else f
            out += _mode_product(np.asarray(f, dtype=t.dtype), t, i + 1, blas)
        out = out.reshape(Xm.shape)
        return out[:, 0] if vector else out

    def _matvec(self, x):
        return self._apply(np.asarray(x).reshape(-1))

    def _matmat(self, X):
        return self._apply(X)

    def _rmatvec(self, x):
        return self._apply(np.asarray(x).reshape(-1), adjoint=True)

    def eigh(self):
        """Per-factor eigenpairs; the sum's eigenvalues are all sums lambda_1 + ... + lambda_d."""
        return _eigen(self.factors)

    def solve(self, y, shift=0.0):
        """``(A_1 (+) ... (+) A_d + shift I)^{-1} y`` for symmetric factors."""
        values, vectors = _eigen(self.factors)
        lam = _kron_values(values, np.add) + shift
        z = kron_matvec(vectors, y, transpose=True)
        z = z / (lam if np.ndim(y) == 1 else lam[:, None])
        return kron_matvec(vectors, z)

    def to_dense(self):
        n = [f.shape[0] for f in self.factors]
        out = np.zeros(self.shape, dtype=self.dtype)
        for i, f in enumerate(self.factors):
            parts = [np.eye(m) for m in n]
            parts[i] = f
            out += functools.reduce(np.kron, parts)
        return out


# ---- exact Gaussian-process regression on a full grid --------------------------------------

def _cupy():
    import cupy
    return cupy


def _kernel_1d(kind, r, p):
    """One dimension's kernel at distances r for log-parameters p: (k, [d k / d p_i ...]).
    rbf and matern: p = [log lengthscale], unit variance. Spectral mixture with Q components:
    p = [log w_1..w_Q, log mu_1..mu_Q, log v_1..v_Q], k = sum_q w_q exp(-2 pi^2 r^2 v_q)
    cos(2 pi r mu_q)."""
    if kind == "sm":
        Q = len(p) // 3
        w, mu, v = np.exp(p[:Q]), np.exp(p[Q:2 * Q]), np.exp(p[2 * Q:])
        k = np.zeros_like(r)
        dw, dmu, dv = [], [], []
        for q in range(Q):
            e = np.exp(-2 * np.pi ** 2 * r * r * v[q])
            phase = 2 * np.pi * r * mu[q]
            term = w[q] * e * np.cos(phase)
            k += term
            dw.append(term)
            dmu.append(-w[q] * e * np.sin(phase) * phase)
            dv.append(term * (-2 * np.pi ** 2 * r * r * v[q]))
        return k, dw + dmu + dv
    ell = np.exp(p[0])
    if kind == "rbf":
        u = (r / ell) ** 2
        k = np.exp(-0.5 * u)
        return k, [k * u]
    a = {"matern12": 1.0, "matern32": np.sqrt(3.0), "matern52": np.sqrt(5.0)}[kind] * r / ell
    e = np.exp(-a)
    if kind == "matern12":
        return e, [a * e]
    if kind == "matern32":
        return (1 + a) * e, [a * a * e]
    return (1 + a + a * a / 3) * e, [a * a * (1 + a) / 3 * e]


_GP_KERNELS = ("rbf", "matern12", "matern32", "matern52", "sm")


class GridGP:
    """Exact GP regression on a full grid with a product kernel, by per-factor eigendecomposition.

    y is observed at every point of the grid ``grid[0] x grid[1] x ...`` (flattened in C order,
    the first coordinate slowest). The kernel is ``variance * prod_d k_d(x_d - x'_d)`` plus
    ``noise`` I, with k_d per dimension one of "rbf", "matern12", "matern32", "matern52"
    (lengthscale ell_d) or "sm", a spectral mixture of ``sm_components`` components (weights,
    frequencies mu and variances v). Evaluations cost O(sum n_d^3 + N sum n_d): one
    eigendecomposition per factor and a few Kronecker matvecs.

    Parameters
    ----------
    grid : sequence of 1-D arrays
    kernel : str or sequence of str (one per dimension)
    lengthscale, variance, noise : initial values (lengthscale per dimension or one)
    sm_components : int
        Components of each spectral-mixture dimension (initialised with equal weights,
        frequencies (q + 1) / (4 range) and variances 1 / range^2).

    y given as a CuPy array keeps the O(N) work (Kronecker matvecs, eigenvalue products,
    sums) on the GPU and returns predictions as CuPy arrays; the per-dimension n_d x n_d
    kernels and their eigendecompositions stay on the host (small, and faster there).

    Attributes
    ----------
    params : ndarray
        All log-hyperparameters: each dimension's slice (``param_slices``), then log variance
        and log noise; ``fit`` optimises them.
    """

    def __init__(self, grid, kernel="rbf", lengthscale=1.0, variance=1.0, noise=0.1,
                 sm_components=2):
        self.grid = [np.asarray(g, dtype=np.float64).reshape(-1) for g in grid]
        if not self.grid or any(g.size == 0 for g in self.grid):
            raise ValueError("grid needs at least one non-empty coordinate array")
        D = len(self.grid)
        self.kernels = [kernel] * D if isinstance(kernel, str) else list(kernel)
        for k in self.kernels:
            if k not in _GP_KERNELS:
                raise ValueError(f"unknown kernel {k!r}: one of {_GP_KERNELS}")
        if len(self.kernels) != D:
            raise ValueError(f"{len(self.kernels)} kernels for {D} grid dimensions")
        ell = np.broadcast_to(np.asarray(lengthscale, dtype=np.float64), (D,))
        raw = np.concatenate([ell, [variance, noise]]).astype(np.float64)
        if not np.all(np.isfinite(raw) & (raw > 0)):
            raise ValueError("lengthscale, variance and noise must be finite and > 0")
        if int(sm_components) < 1:
            raise ValueError("sm_components must be >= 1")
        parts, self.param_slices, start = [], [], 0
        for kind, g, l in zip(self.kernels, self.grid, ell):
            if kind == "sm":
                Q = int(sm_components)
                span = max(float(np.ptp(g)), 1e-12)
                p = np.concatenate([np.full(Q, np.log(1.0 / Q)),
                                    np.log((np.arange(Q) + 1.0) / (4 * span)),
                                    np.full(Q, np.log(1.0 / span ** 2))])
            else:
                p = np.array([np.log(l)])
            parts.append(p)
            self.param_slices.append(slice(start, start + p.size))
            start += p.size
        self.params = np.concatenate(parts + [np.log(raw[-2:])])

    @property
    def lengthscale(self):
        """Lengthscale per dimension (NaN for spectral-mixture dimensions)."""
        return np.array([np.exp(self.params[sl][0]) if k != "sm" else np.nan
                         for k, sl in zip(self.kernels, self.param_slices)])

    @property
    def variance(self):
        return float(np.exp(self.params[-2]))

    @property
    def noise(self):
        return float(np.exp(self.params[-1]))

    def _factors(self, params, grid_a=None):
        ga = self.grid if grid_a is None else grid_a
        return [_kernel_1d(kind, np.abs(g[:, None] - h[None, :]), params[sl])
                for kind, g, h, sl in zip(self.kernels, ga, self.grid, self.param_slices)]

    def _check_y(self, y):
        """y as a float64 vector: NumPy, or CuPy when it came as CuPy (then the O(N) work of
        the model runs on the GPU; the small per-dimension matrices stay on the host)."""
        y = (_cupy() if _dispatch.is_cupy(y) else np).asarray(y, dtype=np.float64)
        N = int(np.prod([g.size for g in self.grid]))
        if y.shape not in ((N,), tuple(g.size for g in self.grid)):
            raise ValueError(f"y must have shape ({N},) or {tuple(g.size for g in self.grid)}, "
                             f"got {y.shape}")
        return y.reshape(-1)

    def _params(self, params):
        p = self.params if params is None else np.asarray(params, dtype=np.float64)
        if p.shape != self.params.shape:
            raise ValueError(f"params must have shape {self.params.shape}, got {p.shape}")
        return p

    def log_marginal_likelihood(self, y, params=None, gradient=False):
        """log p(y | hyperparameters); with ``gradient=True`` also its gradient with respect to
        ``params`` (the log-hyperparameters)."""
        y = self._check_y(y)
        xp = _cupy() if _dispatch.is_cupy(y) else np
        dev = xp.asarray    # small host matrices to y's device
        params = self._params(params)
        facs = self._factors(params)
        eig = [np.linalg.eigh(k) for k, _ in facs]
        values, vectors = [e[0] for e in eig], [e[1] for e in eig]
        vec = [dev(v) for v in vectors]
        s2f, s2n = np.exp(params[-2]), np.exp(params[-1])
        lam = s2f * _kron_values([dev(v) for v in values], np.multiply)
        den = lam + s2n
        alpha = kron_matvec(vec, kron_matvec(vec, y, transpose=True) / den)
        N = y.size
        lml = (-0.5 * float(y @ alpha) - 0.5 * float(xp.sum(xp.log(den)))
               - 0.5 * N * np.log(2 * np.pi))
        if not gradient:
            return float(lml)
        grad = np.empty(params.size)
        Ks = [dev(k) for k, _ in facs]
        for d, (sl, (_, dks)) in enumerate(zip(self.param_slices, facs)):
            for j, dk in zip(range(sl.start, sl.stop), dks):
                parts = list(Ks)
                parts[d] = dev(dk)
                quad = s2f * float(alpha @ kron_matvec(parts, alpha))
                diag = [values[e] if e != d else np.einsum("ij,ik,kj->j", vectors[d], dk,
                                                           vectors[d])
                        for e in range(len(Ks))]
                trace = s2f * float(xp.sum(_kron_values([dev(g) for g in diag], np.multiply)
                                           / den))
                grad[j] = 0.5 * quad - 0.5 * trace
        grad[-2] = (0.5 * float(alpha @ kron_matvec(Ks, alpha)) * s2f
                    - 0.5 * float(xp.sum(lam / den)))
        grad[-1] = 0.5 * s2n * float(alpha @ alpha) - 0.5 * s2n * float(xp.sum(1.0 / den))
        return float(lml), grad

    def fit(self, y, maxiter=200):
        """Maximise the log marginal likelihood over all hyperparameters (L-BFGS-B on their
        logs, from the current values). Returns self."""
        from scipy.optimize import minimize
        y = self._check_y(y)

        def f(p):
            v, g = self.log_marginal_likelihood(y, p, gradient=True)
            return -v, -g

        res = minimize(f, self.params, jac=True, method="L-BFGS-B",
                       bounds=[(-12.0, 12.0)] * self.params.size, options={"maxiter": maxiter})
        self.params = res.x
        self.fit_result_ = res
        return self

    def predict(self, y, grid=None, return_var=False):
        """Posterior mean (and variance) of the latent function on a grid (default: the
        training grid), flattened in C order."""
        y = self._check_y(y)
        test = self.grid if grid is None else [np.asarray(g, dtype=np.float64).reshape(-1)
                                               for g in grid]
        if len(test) != len(self.grid):
            raise ValueError(f"prediction grid has {len(test)} dimensions, the model "
                             f"{len(self.grid)}")
        xp = _cupy() if _dispatch.is_cupy(y) else np
        dev = xp.asarray
        eig = [np.linalg.eigh(k) for k, _ in self._factors(self.params)]
        values, vectors = [e[0] for e in eig], [e[1] for e in eig]
        vec = [dev(v) for v in vectors]
        s2f, s2n = self.variance, self.noise
        den = s2f * _kron_values([dev(v) for v in values], np.multiply) + s2n
        alpha = kron_matvec(vec, kron_matvec(vec, y, transpose=True) / den)
        cross = [k for k, _ in self._factors(self.params, test)]  # K_*d (m_d x n_d)
        mean = s2f * kron_matvec([dev(c) for c in cross], alpha)
        if not return_var:
            return mean
        prior = s2f * np.prod([_kernel_1d(kind, np.zeros(1), self.params[sl])[0][0]
                               for kind, sl in zip(self.kernels, self.param_slices)])
        kq = [dev((c @ q) ** 2) for c, q in zip(cross, vectors)]
        var = prior - s2f ** 2 * kron_matvec(kq, 1.0 / den)
        return mean, xp.maximum(var, 0.0)
