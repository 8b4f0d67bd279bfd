"""Helpers shared by the Kronecker tests (CPU, emulator, GPU); NumPy only."""
import functools

import numpy as np


def dense(factors):
    return functools.reduce(np.kron, factors)


def spd_factors(rng, sizes):
    out = []
    for n in sizes:
        a = rng.standard_normal((n, n))
        out.append(a @ a.T / n + 0.1 * np.eye(n))
    return out
