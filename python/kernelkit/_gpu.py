"""Lazy access to the optional CUDA module and to CuPy (never imported at package import)."""
import functools


@functools.lru_cache(maxsize=None)
def _load():
    try:
        from . import _cuda as mod  # the compiled module; absent without nvcc
    except ImportError as exc:  # built without nvcc
        return None, f"kernelkit was built without CUDA ({exc})"
    try:
        import cupy  # noqa: F401
    except ImportError:
        return None, "CuPy is not installed (pip install 'kernelkit[cuda]')"
    count, why = mod.device_count()
    if count == 0:
        return None, f"no usable CUDA device ({why})"
    return mod, ""


def why_unavailable() -> str:
    """Empty string when the GPU path works, else the reason it does not."""
    return _load()[1]


def is_available() -> bool:
    """True when kernelkit was built with CUDA, CuPy imports and a GPU is usable."""
    return _load()[0] is not None


def module():
    mod, why = _load()
    if mod is None:
        raise RuntimeError(f"kernelkit GPU path unavailable: {why}")
    return mod
