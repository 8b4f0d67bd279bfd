import os

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
