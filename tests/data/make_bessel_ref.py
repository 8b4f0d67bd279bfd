"""Generate high-precision reference values for log I_v(x) and log K_v(x).

Run from the repository root:

    python tests/data/make_bessel_ref.py

and it writes tests/data/bessel_ref.npz next to this file.

Why not just call mpmath.besseli / besselk?  For large order or argument
they are slow and sometimes wrong.  Instead we evaluate positive integral
representations with mpmath.quad, in log space, with the integrand
normalised to 1 at its peak, and split at points where the log-integrand
has dropped by fixed amounts (so each piece is an easy, smooth quadrature
problem whatever the scale of v and x).  Every point is computed at two
working precisions (50 and 80 digits); a point is kept only if they agree.
For small v and x we additionally compare against mpmath.besseli/besselk.

Representations used (v >= 0, x > 0):

  K_v(x) = int_0^inf exp(-x cosh t) cosh(v t) dt

  I_v(x) = (x/2)^v / (sqrt(pi) Gamma(v + 1/2))
           * int_0^pi exp(x cos th) sin(th)^(2v) dth

The second form is the brief's s-integral with s = cos(th); it has no
endpoint singularity for v < 1/2, which is why it is used here.  For tiny
x (where log I_v(x) ~ x^2/4 can be far below the quadrature's absolute
error) the ascending power series of I_v is used instead.

Stored arrays (all float64 except `group`): v, x, logi_hi, logi_lo,
logk_hi, logk_lo (double-double: hi = round(ref), lo = round(ref - hi)),
ratio = I_v/I_{v-1} and ratio_c = 1 - ratio (NaN when v < 1), ive, kve,
iv, kv (rounded to nearest double; 0 or inf outside the double range).
"""

import math
import os
import sys
import time
from multiprocessing import Pool

import mpmath
import numpy as np
from mpmath import mp, mpf
from scipy.optimize import brentq

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bessel_ref.npz")
SEED = 20261126
DPS_PAIR = (50, 80)
LOG_RTOL = mpf("1e-40")     # two-precision agreement required for the logs
DERIVED_RTOL = 1e-20        # ... and for ratio_c (which can cancel badly)
WORKERS = 2


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def to_double(y):
    """Round an mpf to the nearest float64 (ties to even), with 0/inf outside.

    float(mpf) rounds to 53 bits and then lets ldexp round again, which can
    double-round in the subnormal range; so handle that range by hand.
    """
    y = mpf(y)
    if not mp.isfinite(y):
        return float(y)
    if y == 0:
        return 0.0
    if abs(y) >= mpf(2) ** -1022:
        return float(y)             # normal range: mpmath rounds to nearest
    # Subnormal range: the grid spacing is 2^-1074, round to an integer count.
    with mp.workprec(mp.prec + 64):
        n = int(mp.nint(mp.ldexp(y, 1074)))
    return math.ldexp(n, -1074)


def exp_to_double(logval):
    """Nearest double to exp(logval), without forming absurdly large mpfs."""
    if logval > 710:
        return math.inf
    if logval < -746:
        return 0.0
    return to_double(mp.exp(logval))


def split_dd(ref):
    """Double-double (hi, lo) with hi = round(ref), lo = round(ref - hi)."""
    hi = to_double(ref)
    lo = to_double(ref - mpf(hi))
    return hi, lo


def log1pexp_neg2(u):
    """log(1 + exp(-2u)) for u >= 0 (the correction in log cosh u)."""
    return mp.log1p(mp.exp(-2 * u))


# ---------------------------------------------------------------------------
# Generic peak-centred quadrature of exp(g) for a unimodal log-integrand g
# ---------------------------------------------------------------------------

# Drops of g (from its peak value 0) at which intervals are split.  Between
# consecutive levels exp(g) changes by at most ~e^40, which Gauss-Legendre
# resolves quickly.  The last level is chosen per integral (see lmax below).
LEVELS = [0.5, 2.0, 6.0, 15.0, 30.0, 55.0, 90.0, 135.0, 190.0, 260.0,
          350.0, 460.0, 600.0, 780.0]


def find_level(g, peak, bound, level, step):
    """Point between peak and bound where g = -level (g is monotone there).

    Returns (point, reached): reached is False when g stays above -level all
    the way to the (finite) bound, in which case point == bound.
    `step` is a first guess of the distance; it is doubled until bracketed.
    """
    sign = 1 if bound > peak else -1
    dist_to_bound = abs(bound - peak)
    lo, hi = mpf(0), None
    d = step
    while True:
        if d >= dist_to_bound:
            if g(bound) > -level:
                return bound, False
            hi = dist_to_bound
            break
        if g(peak + sign * d) <= -level:
            hi = d
            break
        lo = d
        d *= 2
    # Bisection; the split points need only be approximate.
    for _ in range(40):
        mid = (lo + hi) / 2
        if g(peak + sign * mid) > -level:
            lo = mid
        else:
            hi = mid
        if hi - lo <= hi * mpf("1e-6"):
            break
    return peak + sign * hi, True


def side_points(g, peak, bound, step, lmax):
    """Split points on one side of the peak, ordered away from the peak."""
    pts = []
    levels = [L for L in LEVELS if L < lmax] + [lmax]
    for L in levels:
        p, reached = find_level(g, peak, bound, L, step)
        pts.append(p)
        if not reached:
            break
        step = abs(p - peak)        # next level is further out
    return pts


def peak_quad(g, peak, left, right, span, dps, singular_ends=False,
              max_piece=None):
    """log of int_left^right exp(g(t)) dt, g unimodal with g(peak) = 0.

    span:  length of the region where the neglected tails live; it sets how
           far down (lmax) we must go so that the dropped tails are below
           10^-(dps+6) of the integral.
    singular_ends: the integrand may be non-smooth at left/right (then the
           pieces touching them use tanh-sinh, which copes with that).
    max_piece: optional cap on the piece length, in units of the peak width.
    Returns (log of the integral, estimated relative quadrature error,
    split points, lmax).
    """
    with mp.workdps(20):
        # Where g = -1 on each side: the peak's width.  The integral is at
        # least e^-1 times the distance between these two points.
        step = mpf(10) ** -30 * max(abs(peak), mpf(10) ** -300)
        step = max(step, mpf(10) ** -320)
        pl = side_points(g, peak, left, step, 1.0) if left < peak else [peak]
        pr = side_points(g, peak, right, step, 1.0) if right > peak else [peak]
        width = pr[-1] - pl[-1]
        lmax = (dps + 6) * math.log(10) + 1 + max(0.0, float(mp.log(span / width)))
        left_pts = side_points(g, peak, left, width / 4, lmax) if left < peak else []
        right_pts = side_points(g, peak, right, width / 4, lmax) if right > peak else []
    # Integrate in u = (t - peak) / width, so that mp.quad's absolute error
    # target is relative to an O(1) (or larger) integral.
    width = mpf(width)
    pts = [(mpf(p) - peak) / width for p in reversed(left_pts)] + [mpf(0)]
    pts += [(mpf(p) - peak) / width for p in right_pts]
    clean = [pts[0]]
    for p in pts[1:]:
        if p > clean[-1]:           # drop duplicates (peak on the boundary)
            clean.append(p)
    if max_piece is not None:
        fine = [clean[0]]
        for p in clean[1:]:
            a = fine[-1]
            n = int(math.ceil(float((p - a) / max_piece)))
            for k in range(1, n):
                fine.append(a + (p - a) * k / n)
            fine.append(p)
        clean = fine
    f = lambda u: mp.exp(g(peak + width * u))
    total = mpf(0)
    err = mpf(0)
    for i in range(len(clean) - 1):
        a, b = clean[i], clean[i + 1]
        touches = (i == 0 and left_pts and left_pts[-1] == left) or \
                  (i == len(clean) - 2 and right_pts and right_pts[-1] == right)
        method = "tanh-sinh" if (singular_ends and touches) else "gauss-legendre"
        val, e = mp.quad(f, [a, b], method=method, error=True)
        total += val
        err += e
    return mp.log(total) + mp.log(width), err / total, clean, lmax


# ---------------------------------------------------------------------------
# log K_v(x)
# ---------------------------------------------------------------------------

def k_peak(v, x):
    """Maximiser t* >= 0 of -x cosh t + log cosh(v t)."""
    if v * v <= x:
        return mpf(0)             # concave from t = 0 onwards
    # x sinh t - v tanh(v t) is < 0 on (0, t*) and > 0 beyond; t* <= asinh(v/x).
    hi = mp.asinh(v / x)
    lo = mpf(0)
    for _ in range(200):
        mid = (lo + hi) / 2
        if x * mp.sinh(mid) < v * mp.tanh(v * mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= hi * mpf(10) ** (-mp.dps):
            break
    return (lo + hi) / 2


def log_k(v, x, dps):
    """Return (log K_v(x), log K_v(x) + x) at working precision dps."""
    with mp.workdps(dps + 10):
        v, x = mpf(v), mpf(x)
        with mp.workdps(30):
            ts = k_peak(v, x)
        ts = mpf(ts)
        vts = v * ts
        lc_peak = log1pexp_neg2(vts)

        def g(t):
            # -x (cosh t - cosh t*) written without cancellation, plus
            # log cosh(vt) - log cosh(vt*) in the overflow-free form.
            d = -2 * x * mp.sinh((t + ts) / 2) * mp.sinh((t - ts) / 2)
            if v:
                d += v * (t - ts) + log1pexp_neg2(v * t) - lc_peak
            return d

        # Curvature at the peak gives the width.
        curv = x * mp.cosh(ts) - v * v / mp.cosh(vts) ** 2
        width = 1 / mp.sqrt(abs(curv)) if curv else mpf(1)
        width = min(width, mpf(1))
        right = ts + 1000 + 10 * width       # g is far below any level there
        span = ts + 1
        lq, rerr, pts, lmax = peak_quad(g, ts, mpf(0), right, width, span, dps,
                                        max_piece=mpf(2))
        # Right tail beyond the last point: g is concave there, so the tail is
        # at most e^-lmax * (distance from peak) / lmax.
        tail = math.exp(-lmax) * float(pts[-1] - ts + 1) / lmax
        assert tail < 10.0 ** (-dps - 5) * float(mp.exp(lq)), "K tail too big"
        # log cosh(v t*) = v t* + log1p(exp(-2 v t*)) - log 2
        lcosh = vts + lc_peak - mp.log(2)
        # log K + x = -x (cosh t* - 1) + log cosh(v t*) + log Q
        lsc = -2 * x * mp.sinh(ts / 2) ** 2 + lcosh + lq
        return +(lsc - x), +lsc, rerr


# ---------------------------------------------------------------------------
# log I_v(x)
# ---------------------------------------------------------------------------

def log_i_series(v, x):
    """log I_v(x) - x and log I_v(x) from the ascending series (tiny x)."""
    q = x * x / 4
    term = mpf(1)
    s = mpf(0)
    k = 0
    while True:
        k += 1
        term = term * q / (k * (v + k))
        s += term
        if term < s * mp.eps / 4 or (s == 0 and term == 0):
            break
    li = v * mp.log(x / 2) - mp.loggamma(v + 1) + mp.log1p(s)
    return li


def i_peak(v, x):
    """Maximiser th* of x cos th + 2v log sin th, cancellation-free."""
    if v == 0:
        return mpf(0)
    r = mp.sqrt(v * v + x * x)
    c = x / (v + r)                             # cos th*
    one_minus_c = v * (r + x + v) / ((r + x) * (v + r))
    s = mp.sqrt(one_minus_c * (1 + c))          # sin th*
    return mp.atan2(s, c)


def log_i(v, x, dps, force_quad=False):
    """Return (log I_v(x), log I_v(x) - x, quad error) at precision dps."""
    with mp.workdps(dps + 10):
        v, x = mpf(v), mpf(x)
        # Tiny x: log I_v(x) may be ~x^2/4, far below the quadrature's
        # absolute error; the series gives it with full relative accuracy.
        if not force_quad and x * x / 4 < mpf("1e-6") * (v + 1):
            li = log_i_series(v, x)
            return +li, +(li - x), mpf(0)
        th = i_peak(v, x)
        s_th = mp.sin(th)

        def g(t):
            # x (cos t - cos th*) + 2v log(sin t / sin th*), no cancellation.
            d = -2 * x * mp.sin((t + th) / 2) * mp.sin((t - th) / 2)
            if v:
                ds = 2 * mp.cos((t + th) / 2) * mp.sin((t - th) / 2)
                d += 2 * v * mp.log1p(ds / s_th)
            return d

        curv = x * mp.cos(th) + (2 * v / s_th ** 2 if v else 0)
        width = min(1 / mp.sqrt(abs(curv)) if curv else mpf(1), mpf(1))
        lq, rerr, pts, lmax = peak_quad(g, th, mpf(0), +mp.pi, width, +mp.pi, dps)
        pref = v * mp.log(x / 2) - mp.loggamma(v + mpf(0.5)) - mp.log(mp.pi) / 2
        # log I - x = pref - x (1 - cos th*) + 2v log sin th* + log Q
        lsc = pref - 2 * x * mp.sin(th / 2) ** 2 + lq
        if v:
            lsc += 2 * v * mp.log(s_th)
        return +(lsc + x), +lsc, rerr
