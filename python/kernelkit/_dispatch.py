"""Routing of array arguments: NumPy -> kernelkit._core ufuncs, CuPy -> kernelkit._cuda."""
import numpy as np

from . import _gpu


def is_cupy(a) -> bool:
    """True for CuPy arrays, checked without importing CuPy."""
    return type(a).__module__.split(".")[0] == "cupy"


def _loop_dtype(name, *dtypes):
    """The float type NumPy's ufunc machinery would pick among our ff->f and dd->d loops."""
    for dt in dtypes:
        if dt.kind == "c":
            raise TypeError(f"kernelkit.special.{name}: complex input is not supported yet")
        if dt.kind not in "biuf":
            raise TypeError(f"kernelkit.special.{name}: unsupported input dtype {dt}")
    if all(np.can_cast(dt, np.float32, "safe") for dt in dtypes):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def cupy_binary(name, code, v, x, out=None, **kwargs):
    """Evaluate Bessel function `code` on CuPy arrays, on the current stream, no sync."""
    import cupy as cp

    if kwargs:
        raise TypeError(
            f"kernelkit.special.{name}: only out= is supported for CuPy arrays, "
            f"got {sorted(kwargs)}")
    mod = _gpu.module()
    # Python scalars are "weak" as in NumPy 2: they do not promote float32 arrays.
    weak = [isinstance(a, (int, float)) for a in (v, x)]
    v, x = cp.asarray(v), cp.asarray(x)
    strong = [a.dtype for a, w in zip((v, x), weak) if not w]
    dt = _loop_dtype(name, *strong) if strong else np.dtype(np.float64)
    v, x = cp.broadcast_arrays(v, x)
    v = cp.ascontiguousarray(v, dtype=dt)
    x = cp.ascontiguousarray(x, dtype=dt)
    if isinstance(out, tuple):
        (out,) = out
    direct = (out is not None and is_cupy(out) and out.dtype == dt and out.shape == v.shape
              and out.flags.c_contiguous)
    res = out if direct else cp.empty(v.shape, dtype=dt)
    mod.bessel(code, 0 if dt == np.float32 else 1, v.data.ptr, x.data.ptr, res.data.ptr,
               res.size, cp.cuda.get_current_stream().ptr)
    if out is None or direct:
        return res
    if not is_cupy(out):
        raise TypeError(f"kernelkit.special.{name}: out= must be a CuPy array for CuPy input")
    out[...] = res
    return out
