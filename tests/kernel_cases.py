"""Dense float64 references shared by the kernel-sum tests (CPU, emulator, GPU); NumPy and SciPy
only, so the GPU machine can import it."""
import math

import numpy as np
import scipy.special as sc

KERNEL_CASES = [
    ("gaussian", {}), ("exponential", {}), ("matern", {"nu": 1.5}), ("matern", {"nu": 2.5}),
    ("matern", {"nu": 0.8}), ("matern", {"nu": 3.7}), ("cauchy", {}),
    ("rational_quadratic", {"alpha": 0.7}), ("inverse_multiquadric", {}), ("tophat", {}),
    ("epanechnikov", {}), ("linear", {}), ("cosine", {}), ("euclidean", {}), ("manhattan", {}),
]


def dense_kernel(name, r, **p):
    """Float64 reference k(r) from r = |x - y| / h (L1 for manhattan)."""
    if name == "gaussian":
        return np.exp(-0.5 * r * r)
    if name == "exponential":
        return np.exp(-r)
    if name == "matern":
        nu = p["nu"]
        a = np.sqrt(2 * nu) * r
        with np.errstate(invalid="ignore", over="ignore"):
            v = 2 ** (1 - nu) / math.gamma(nu) * a ** nu * sc.kv(nu, a)
        return np.where(a == 0, 1.0, np.nan_to_num(v, nan=0.0))
    if name == "cauchy":
        return 1 / (1 + r * r)
    if name == "rational_quadratic":
        return (1 + r * r / (2 * p["alpha"])) ** -p["alpha"]
    if name == "inverse_multiquadric":
        return 1 / np.sqrt(1 + r * r)
    if name == "tophat":
        return (r < 1).astype(float)
    if name == "epanechnikov":
        return np.where(r < 1, 1 - r * r, 0.0)
    if name == "linear":
        return np.where(r < 1, 1 - r, 0.0)
    if name == "cosine":
        return np.where(r < 1, np.cos(0.5 * np.pi * r), 0.0)
    return r  # euclidean, manhattan


def dense_distance(x, y, h, l1=False):
    diff = (y[:, None, :].astype(np.float64) - x[None, :, :].astype(np.float64)) / h
    return np.abs(diff).sum(-1) if l1 else np.sqrt((diff * diff).sum(-1))
