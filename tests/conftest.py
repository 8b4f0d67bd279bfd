import importlib.util
import os
import re

import pytest

try:  # absent on the GPU machine, which runs only the `gpu` tests
    from hypothesis import settings
except ImportError:
    settings = None
else:
    # Deterministic property tests everywhere (CI and local runs see the same examples).
    settings.register_profile("kernelkit", derandomize=True, max_examples=150, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kernelkit"))


def _cupy_with_gpu():
    try:
        import kernelkit

        return kernelkit.cuda_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if _cupy_with_gpu():
        return
    skip = pytest.mark.skip(reason="needs CuPy, a CUDA build of kernelkit and a usable GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# Test dependencies the GPU machine may lack (it has NumPy, SciPy, CuPy and PyTorch only).
_MISSING = [m for m in ("hypothesis", "threadpoolctl", "sklearn", "mpmath")
            if importlib.util.find_spec(m) is None]


def pytest_ignore_collect(collection_path, config):
    """Leave out test modules importing a missing optional dependency (instead of failing the
    whole collection), so `pytest -m gpu tests` runs wherever the GPU modules import."""
    name = collection_path.name
    if not _MISSING or not (name.startswith("test_") and name.endswith(".py")):
        return None
    text = collection_path.read_text()
    if any(re.search(rf"^\s*(from|import) {m}\b", text, re.M) for m in _MISSING):
        return True
    return None
