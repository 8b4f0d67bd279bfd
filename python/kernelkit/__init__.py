"""kernelkit: accurate, fast numerical kernels for NumPy (and CuPy on NVIDIA GPUs).

Families: :mod:`kernelkit.special` (log-space modified Bessel functions), :mod:`kernelkit.stats`
(von Mises-Fisher), :mod:`kernelkit.sparse` (SpGEMM over semirings), :mod:`kernelkit.kernels`
(batched kernel sums and KDE).
Importing kernelkit never imports CuPy; GPU support is a run-time question
(:func:`kernelkit.cuda_available`).
"""
from importlib.metadata import PackageNotFoundError, version as _version

import importlib

from . import _build_info as build_info
from . import special
from ._gpu import is_available as cuda_available

try:
    __version__ = _version("kernelkit")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = ["special", "sparse", "stats", "kernels", "kron", "build_info", "cuda_available", "__version__"]


def __getattr__(name):
    # kernelkit.sparse pulls in scipy.sparse (~0.35 s): load it, stats and kernels on first use.
    if name in ("sparse", "stats", "kernels", "kron"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kernelkit' has no attribute {name!r}")
