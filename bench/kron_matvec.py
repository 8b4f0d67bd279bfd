"""Kronecker matrix-vector products: kernelkit next to NumPy and pykronecker (float64).

python bench/kron_matvec.py   -> Markdown table, then one GridGP likelihood + gradient timing

Shapes from issue 6; x has k right-hand sides. NumPy: the reshape + tensordot shuffle (one
factor at a time, moving the contracted axis to the end), pykronecker: KroneckerProduct @ x.
Same inputs, same process, all threads, medians of 5 after a warm-up; GFLOP/s counts
2 N_in_mode r_k c_k / c_k flops per factor (the mode-product work).
"""
import numpy as np

from kernelkit.kron import GridGP, kron_matvec
from timing import median_time

SHAPES = {
    "400x400 (2)": [(400, 400)] * 2,
    "100^3": [(100, 100)] * 3,
    "16^5": [(16, 16)] * 5,
    "8^8": [(8, 8)] * 8,
    "128^3": [(128, 128)] * 3,
    "300x400 (2)": [(300, 400)] * 2,
    "20x50x70": [(20, 20), (50, 50), (70, 70)],
}


def numpy_kron(factors, x):
    """The usual shuffle: contract each factor with the leading axis, rotating axes."""
    k = x.shape[1]
    t = x.reshape([f.shape[1] for f in factors] + [k])
    for f in factors:
        t = np.tensordot(f, t, axes=([1], [0]))  # new axis first
        t = np.moveaxis(t, 0, -2) if t.ndim > 2 else t
    # after d rotations the factor axes are back in order, k last
    return t.reshape(-1, k)


def flops(factors, k):
    total, size = 0, int(np.prod([f.shape[1] for f in factors])) * k
    for f in factors:
        total += 2 * size * f.shape[0]
        size = size // f.shape[1] * f.shape[0]
    return total


def main():
    try:
        import pykronecker
    except ImportError:
        pykronecker = None
    print("| shape | k | kernelkit ms | GFLOP/s | NumPy ms | vs NumPy | pykronecker ms | vs pykronecker |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for name, shapes in SHAPES.items():
        fs = [rng.standard_normal(s) for s in shapes]
        N = int(np.prod([s[1] for s in shapes]))
        for k in (1, 16, 64):
            if N * k > 3e7:
                continue
            x = rng.standard_normal((N, k))
            t_kk, _ = median_time(lambda: kron_matvec(fs, x), 5, warmup=True)
            t_np, _ = median_time(lambda: numpy_kron(fs, x), 5, warmup=True)
            err = np.max(np.abs(kron_matvec(fs, x) - numpy_kron(fs, x)))
            assert err < 1e-8 * np.max(np.abs(numpy_kron(fs, x))), err
            pk_cells = "- | -"
            if pykronecker is not None and all(s[0] == s[1] for s in shapes):  # square only
                op = pykronecker.KroneckerProduct(fs)
                t_pk, _ = median_time(lambda: op @ x, 5, warmup=True)
                pk_cells = f"{t_pk * 1e3:.1f} | {t_pk / t_kk:.1f}x"
            print(f"| {name} | {k} | {t_kk * 1e3:.1f} | {flops(fs, k) / t_kk / 1e9:.1f} | "
                  f"{t_np * 1e3:.1f} | {t_np / t_kk:.1f}x | {pk_cells} |", flush=True)


def gridgp():
    """One log marginal likelihood + gradient on a 256 x 256 grid (Matern 5/2)."""
    grid = [np.linspace(0, 1, 256)] * 2
    y = np.random.default_rng(0).standard_normal(256 * 256)
    gp = GridGP(grid, kernel="matern52", lengthscale=0.1)
    t, _ = median_time(lambda: gp.log_marginal_likelihood(y, gradient=True), 5, warmup=True)
    print(f"\nGridGP 256 x 256, log marginal likelihood + gradient: {t * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
    gridgp()
