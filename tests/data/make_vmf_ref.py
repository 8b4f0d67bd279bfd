"""Generate reference values for the von Mises-Fisher normaliser and mean resultant length.

Run from the repository root (a few minutes on 2 cores):

    python tests/data/make_vmf_ref.py

It writes tests/data/vmf_ref.npz next to this file, for d in {2, 3, 64, 2048, 8192, 32768,
65536} and kappa log-spaced over [1e-3, 1e7] (plus a few random kappas per d):

  logc     log C_d(kappa) = (d/2 - 1) log kappa - (d/2) log(2 pi) - log I_{d/2-1}(kappa)
  a        A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa)
  a_c      1 - A_d(kappa)
  entropy  -log C_d(kappa) - kappa A_d(kappa) (differential entropy, nats)

The Bessel values come from the positive-integrand quadratures of make_bessel_ref.py (log I
and 1 - I_v/I_{v-1} from one integral), at 50 and 80 digits; a point is kept only if both
precisions agree to 1e-35 relative.
"""
import os
import sys
from multiprocessing import Pool

import numpy as np
from mpmath import mp, mpf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bessel_ref as mbr  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vmf_ref.npz")
DIMS = [2, 3, 64, 2048, 8192, 32768, 65536]
RTOL = mpf("1e-35")


def evaluate(d, kappa, dps):
    v = mpf(d) / 2
    (li, li_sc), prev, ratio_c = mbr.log_i_pair(float(v), kappa, dps, with_prev=True)
    with mp.workdps(dps + 10):
        k = mpf(kappa)
        logc = (v - 1) * mp.log(k) - v * mp.log(2 * mp.pi) - prev[0]
        a = mp.exp(li_sc - prev[1])
        entropy = -logc - k * a
    return logc, a, ratio_c, entropy


def compute(task):
    d, kappa = task
    lo, hi = (evaluate(d, kappa, dps) for dps in mbr.DPS_PAIR)
    with mp.workdps(100):
        worst = max(mbr.rel_diff(p, q) for p, q in zip(lo, hi))
        if worst > RTOL or abs(hi[1] + hi[2] - 1) > RTOL:
            return d, kappa, None
        return d, kappa, tuple(mbr.to_double(t) for t in hi)


def main():
    rng = np.random.default_rng(20261126)
    tasks = []
    for d in DIMS:
        kappas = np.concatenate([np.logspace(-3, 7, 31),
                                 np.exp(rng.uniform(np.log(1e-3), np.log(1e7), 9))])
        tasks += [(d, float(k)) for k in kappas]
    with Pool(2) as pool:
        rows = pool.map(compute, tasks, chunksize=1)
    dropped = [(d, k) for d, k, r in rows if r is None]
    rows = [(d, k) + r for d, k, r in rows if r is not None]
    arr = np.array(rows, dtype=np.float64)
    np.savez_compressed(OUT, d=arr[:, 0], kappa=arr[:, 1], logc=arr[:, 2], a=arr[:, 3],
                        a_c=arr[:, 4], entropy=arr[:, 5])
    print(f"wrote {OUT}: {len(rows)} points, dropped {dropped}")


if __name__ == "__main__":
    main()
