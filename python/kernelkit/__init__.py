"""kernelkit: accurate, fast numerical kernels for NumPy (and CuPy on NVIDIA GPUs).

Families: :mod:`kernelkit.special` (log-space modified Bessel functions), :mod:`kernelkit.stats`
(von Mises-Fisher), :mod:`kernelkit.sparse` (SpGEMM over semirings).
Importing kernelkit never imports CuPy; GPU support is a run-time question
(:func:`kernelkit.cuda_available`).
"""
from importlib.metadata import PackageNotFoundError, version as _version

from . import _build_info as build_info
from . import sparse, special, stats
from ._gpu import is_available as cuda_available

try:
    __version__ = _version("kernelkit")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = ["special", "sparse", "stats", "build_info", "cuda_available", "__version__"]
