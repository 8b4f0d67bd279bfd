"""Kronecker products without forming them: y = (A_1 kron ... kron A_d) x, solves, log-dets.

x (of length N = prod of the factors' column counts, with k right-hand sides and any batch
dimensions) is viewed as a tensor with one axis per factor; each factor is applied along its
own axis by a register-blocked C++ loop (vectors along the trailing axes, or along the
factor's rows when those are short), so nothing is ever transposed or copied besides one
output buffer per factor; when every factor is 128 x 128 or larger they are GEMMs for
NumPy's BLAS instead. Factors that shrink their axis go first, which keeps the
intermediates small for non-square factors. OpenMP threads; float32/float64 (complex and other
types take a NumPy path).
"""
import functools

import numpy as np
from scipy.sparse.linalg import LinearOperator

from . import _core

__all__ = ["kron_matvec", "KroneckerOperator", "KroneckerSum", "kron_eigh", "kron_solve",
           "kron_logdet"]


def _check_factors(factors):
    fs = [np.asarray(f) for f in factors]
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
    each other down (6x on 20 x 50 x 70 when only the 70 went to BLAS)."""
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


def kron_matvec(factors, x, *, transpose=False):
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
    fs = _check_factors(factors)
    if transpose:
        fs = [f.T for f in fs]
    x = np.asarray(x)
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
    t = np.ascontiguousarray(xm, dtype=dt).reshape((B, *cols, k))
    fs = [np.asarray(f, dtype=dt) for f in fs]
    # shrinking factors first (smallest r/c), so intermediates stay small
    order = sorted(range(len(fs)), key=lambda i: rows[i] / cols[i] if cols[i] else 0.0)
    blas = _use_blas(fs)
    for i in order:
        t = _mode_product(fs[i], t, i + 1, blas)
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
    fs = _check_factors(factors)
    for i, f in enumerate(fs):
        if f.shape[0] != f.shape[1]:
            raise ValueError(f"factor {i} must be square (symmetric), got shape {f.shape}")
    pairs = [np.linalg.eigh(f) for f in fs]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _kron_values(values, combine):
    out = values[0]
    for v in values[1:]:
        out = combine.outer(out, v).reshape(-1)
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
