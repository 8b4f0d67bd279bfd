"""Generate high-precision reference values for log I_v(x) and log K_v(x).

Run from the repository root (takes about 13 minutes on 2 cores):

    python tests/data/make_bessel_ref.py

It writes tests/data/bessel_ref.npz next to this file.

Why not just call mpmath.besseli / besselk?  For large order or argument
they are slow and sometimes wrong.  Instead we evaluate positive integral
representations in log space: the integrand is normalised to 1 at its
peak and split at the points where its log has dropped by fixed amounts,
so every piece is an easy quadrature problem whatever the scale of v and x.
Each point is computed at two working precisions (50 and 80 digits, which
also use different quadrature orders) and kept only if the two agree.  For
small v and x we additionally compare against mpmath.besseli/besselk.

Representations used (v >= 0, x > 0):

  K_v(x) = int_0^inf exp(-x cosh t) cosh(v t) dt

  I_v(x) = (x/2)^v / (sqrt(pi) Gamma(v + 1/2))
           * int_0^pi exp(x cos th) sin(th)^(2v) dth

The second form is the s-integral int_{-1}^{1} (1-s^2)^(v-1/2) e^(xs) ds
with s = cos(th); it has no endpoint blow-up for v < 1/2.  For tiny x
(where log I_v(x) ~ x^2/4 can be far below the quadrature's absolute error)
the ascending power series of I_v is used instead.

ratio = I_v/I_{v-1} comes from the logs; ratio_c = 1 - ratio from its own
positive integral (see log_i_pair), since 1 - exp(difference of logs)
cancels catastrophically when x >> v.

Stored arrays (float64 except `group`): v, x, logi_hi, logi_lo, logk_hi,
logk_lo (double-double: hi = round(ref), lo = round(ref - hi)); ratio,
ratio_c (NaN when v < 1); ive = I_v(x) e^-x, kve = K_v(x) e^x, iv, kv (all
rounded to nearest double; 0 or inf outside the double range); group (the
sampling group of the point).
"""

import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
from mpmath import mp, mpf
from scipy.optimize import brentq

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bessel_ref.npz")
SEED = 20261126
DPS_PAIR = (50, 80)          # low / high working precision (digits)
LOG_RTOL = mpf("1e-40")      # required two-precision agreement of the logs
DERIVED_RTOL = mpf("1e-35")  # ... of ratio and ratio_c (and their sum vs 1)
WORKERS = 2
LN10 = math.log(10)


# ---------------------------------------------------------------------------
# Rounding helpers
# ---------------------------------------------------------------------------

def to_double(y):
    """Round an mpf to the nearest float64, giving 0 or inf outside the range.

    float(mpf) rounds to 53 bits and then lets ldexp round again, which can
    double-round in the subnormal range; so that range is done by hand.
    """
    y = mpf(y)
    if y == 0 or not mp.isfinite(y):
        return float(y)
    if abs(y) >= mpf(2) ** -1022:
        return float(y)             # normal range: mpmath rounds to nearest
    # Subnormals are integer multiples of 2^-1074: round the multiple.
    with mp.workprec(mp.prec + 64):
        n = int(mp.nint(mp.ldexp(y, 1074)))
    return math.ldexp(n, -1074)


def exp_to_double(logval):
    """Nearest double to exp(logval) (skips forming gigantic mpfs)."""
    if logval > 710:
        return math.inf
    if logval < -746:
        return 0.0
    return to_double(mp.exp(logval))


def split_dd(offset, rest):
    """Double-double (hi, lo) of ref = offset + rest: hi = round(ref),
    lo = round(ref - hi).

    offset is a double (here +-x), kept apart from rest (log ive / log kve)
    because for huge x the working precision cannot hold x + rest exactly:
    ref - hi = (offset - hi) + rest is formed with offset - hi exact.
    """
    hi = to_double(offset + rest)
    lo = to_double(mp.fsub(offset, hi, exact=True) + rest)
    return hi, lo


# ---------------------------------------------------------------------------
# Gauss-Legendre rule (own implementation so each piece can use the order it
# needs, and the two precisions use different orders)
# ---------------------------------------------------------------------------

_GL_CACHE = {}


class TailError(ArithmeticError):
    """The neglected tails are not small enough; go to a deeper lmax."""


def _legendre(n, z):
    """(P_n(z), P_n'(z)) by the three-term recurrence."""
    p0, p1 = mpf(1), z
    for k in range(2, n + 1):
        p0, p1 = p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k
    dp = n * (z * p1 - p0) / (z * z - 1)
    return p1, dp


def gl_rule(n):
    """Nonnegative nodes and weights of the n-point rule on [-1, 1]."""
    key = (n, mp.prec)
    if key not in _GL_CACHE:
        rule = []
        with mp.workprec(mp.prec + 30):
            for i in range(1, n // 2 + 1):
                # Newton from the usual asymptotic first guess.
                z = mp.cos(mp.pi * (i - mpf(0.25)) / (n + mpf(0.5)))
                for _ in range(100):
                    p, dp = _legendre(n, z)
                    dz = p / dp
                    z -= dz
                    if abs(dz) < 4 * mp.eps:
                        break
                p, dp = _legendre(n, z)
                rule.append((z, 2 / ((1 - z * z) * dp * dp)))
            if n % 2:
                p, dp = _legendre(n, mpf(0))
                rule.append((mpf(0), 2 / (dp * dp)))
        _GL_CACHE[key] = [(+z, +w) for z, w in rule]
    return _GL_CACHE[key]


def gl_integrate(f, a, b, n):
    """int_a^b f(u) du with n-point Gauss-Legendre; f returns a list."""
    c = (b - a) / 2
    d = (b + a) / 2
    acc = None
    for z, w in gl_rule(n):
        vals = f(d + c * z) if z == 0 else \
            [p + q for p, q in zip(f(d + c * z), f(d - c * z))]
        acc = [w * y for y in vals] if acc is None else \
            [s + w * y for s, y in zip(acc, vals)]
    return [c * s for s in acc]


def gl_order(digits):
    """Nodes for `digits` correct digits on one piece between two LEVELS.

    Calibrated against 120-digit results and mpmath's besseli/besselk:
    with the requested digits = dps + 4 the results came out good to about
    10^-(dps + 8) or better.
    """
    n = int(math.ceil(0.85 * max(digits, 0) + 8))
    return 8 * ((n + 7) // 8)       # few distinct rules -> few node sets


# ---------------------------------------------------------------------------
# Tanh-sinh rule, for pieces ending where the integrand is not analytic
# (sin(th)^(2 mu) with non-integer 2 mu at th = 0 or pi)
# ---------------------------------------------------------------------------

_TS_CACHE = {}


def ts_level(j):
    """Nodes (x, w) with x >= 0 that tanh-sinh level j adds (step 2^-j).

    x = tanh(pi/2 sinh t), w = pi/2 cosh t / cosh(pi/2 sinh t)^2 at
    t = k h (j = 0) or odd multiples of h = 2^-j (j > 0); the list stops
    where the weights are negligible.
    """
    key = (j, mp.prec)
    if key not in _TS_CACHE:
        h = mpf(2) ** -j
        tiny = mpf(2) ** (-mp.prec - 30)
        nodes = []
        k = 0 if j == 0 else 1
        while True:
            t = k * h
            s = mp.pi / 2 * mp.sinh(t)
            w = mp.pi / 2 * mp.cosh(t) / mp.cosh(s) ** 2
            if w < tiny:
                break
            nodes.append((mp.tanh(s), w))
            k += 1 if j == 0 else 2
        _TS_CACHE[key] = nodes
    return _TS_CACHE[key]


def ts_integrate(f, a, b, digits):
    """int_a^b f(u) du (f returns a list) by tanh-sinh, halving the step
    until successive sums agree to about `digits` digits."""
    c = (b - a) / 2
    d = (b + a) / 2
    sums = []
    acc = None
    for j in range(0, 12):
        part = None
        for z, w in ts_level(j):
            vals = f(d) if z == 0 else \
                [p + q for p, q in zip(f(d + c * z), f(d - c * z))]
            part = [w * y for y in vals] if part is None else \
                [s + w * y for s, y in zip(part, vals)]
        acc = part if acc is None else [s + y for s, y in zip(acc, part)]
        h = mpf(2) ** -j
        sums.append([c * h * s for s in acc])
        if len(sums) >= 3:
            # Each halving roughly squares the error.  Extrapolate the error
            # of the last sum from the last two differences (the rule
            # mpmath's quad uses), never more optimistically than squaring.
            worst = -math.inf
            for s2, s1, s0 in zip(sums[-3], sums[-2], sums[-1]):
                if s0 == s1:
                    continue
                d1 = float(mp.log10(abs(s0 - s1) / abs(s0)))
                d2 = float(mp.log10(abs(s0 - s2) / abs(s0)))
                worst = max(worst, min(0.0, max(d1 * d1 / d2, 2 * d1)))
            if worst < -digits:
                return sums[-1]
    raise ArithmeticError("tanh-sinh did not converge")


# ---------------------------------------------------------------------------
# Peak-centred quadrature of exp(g) (times optional bounded factors) for a
# unimodal log-integrand g with g(peak) = 0
# ---------------------------------------------------------------------------

# Drops of g (from its peak value 0) at which to split.  Between consecutive
# levels exp(g) changes by a bounded factor, which Gauss-Legendre resolves
# with a modest number of nodes.  The last level (lmax) is chosen per
# integral so that everything beyond it is negligible.
LEVELS = [3.0, 15.0, 45.0, 100.0, 200.0, 400.0, 800.0, 1600.0]


def find_level(g, peak, bound, level, step):
    """Point between peak and bound where g = -level (g monotone there).

    Returns (point, reached); reached is False when g stays above -level up
    to the bound (then point == bound).  `step` is a first guess of the
    distance from the peak; it is doubled until the level is bracketed.
    """
    sign = 1 if bound > peak else -1
    room = abs(bound - peak)
    lo, hi = mpf(0), None
    d = min(step, room)
    while hi is None:
        if d >= room:
            if g(bound) > -level:
                return bound, False
            hi = room
        elif g(peak + sign * d) <= -level:
            hi = d
        else:
            lo = d
            d *= 2
    # Bisection: split points need only be roughly right (g <= -level holds
    # at the returned point).
    while hi - lo > hi * mpf("0.01"):
        mid = (lo + hi) / 2
        if g(peak + sign * mid) > -level:
            lo = mid
        else:
            hi = mid
    return peak + sign * hi, True


def side_points(g, peak, bound, step, lmax):
    """Split points (with their levels) from the peak towards bound."""
    pts = []
    for level in [L for L in LEVELS if L < lmax] + [lmax]:
        p, reached = find_level(g, peak, bound, level, step)
        pts.append((p, level if reached else None))
        if not reached:
            break
        step = abs(p - peak)
    return pts


def crowd_into_end(pts, peak, bound):
    """Cut the split points once they close in on `bound` geometrically.

    Near an end where the integrand behaves like a small power of the
    distance to it, the levels crowd into the end on a log scale (bad for
    Gauss-Legendre); one tanh-sinh piece reaching the end handles that.
    """
    prev = abs(bound - peak)
    for k, (p, level) in enumerate(pts):
        dist = abs(bound - p)
        if dist < prev / 4:
            return pts[:k] + [(bound, None)]
        prev = dist
    return pts


def peak_quad(parts, peak, left, right, step, span, dps,
              crowd_ends=False, singular_ends=False, max_piece=None,
              piece_from=None, extra_lmax=0.0):
    """Logs of int_left^right exp(g(t)) * h(t) dt for h in [1] + factors.

    parts(t) returns (g(t), [factors h(t)]); g is unimodal with g(peak) = 0
    and each factor satisfies 0 <= h <= 1.
    step:  first guess of the peak's half-width (from the curvature).
    span:  bound on the length of the neglected tails (beyond level lmax).
    crowd_ends: levels may crowd into left/right (log-type behaviour of g
           there): end such runs with one piece reaching the end.
    singular_ends: the integrand may be non-analytic at left/right; pieces
           reaching them use tanh-sinh.
    max_piece, piece_from: pieces with t >= piece_from are cut to at most
           max_piece long (K needs this where exp(-x cosh t) varies on the
           scale 1 underneath a much slower variation of g).
    extra_lmax: go this much further down (for factors that make their
           integral much smaller than the plain one).
    Returns the list of logs.
    """
    def g(t):
        return parts(t)[0]

    with mp.workdps(20):
        # Where g = -1 on each side: the peak's width.  The plain integral
        # is at least e^-1 times the distance between these two points.
        pl = side_points(g, peak, left, step, 1.0)[-1][0] if left < peak else peak
        pr = side_points(g, peak, right, step, 1.0)[-1][0] if right > peak else peak
        width = pr - pl
        lmax = (dps + 6) * LN10 + 1 + max(0.0, float(mp.log(span / width))) + extra_lmax
        lp = side_points(g, peak, left, width / 4, lmax) if left < peak else []
        rp = side_points(g, peak, right, width / 4, lmax) if right > peak else []
    if crowd_ends:
        lp = crowd_into_end(lp, peak, left)
        rp = crowd_into_end(rp, peak, right)
    # The level search ran at 20 digits; make sure (at full precision) that
    # the outermost split points really are at level lmax, since the tails
    # beyond them are dropped.
    for pts in (lp, rp):
        if pts and pts[-1][1] is not None:
            if not g(mpf(pts[-1][0])) <= -(lmax - 1):
                raise ArithmeticError("outer split point not at level lmax")
    across = False
    if singular_ends and lp and abs(peak - left) < 2 * abs(rp[0][0] - peak):
        # Peak right next to a singular end (within about its own width):
        # integrate from the end straight across the peak with tanh-sinh.
        lp = [(left, None)]
        across = True
    # Work in u = (t - peak) / width so that integrals are O(1) or larger.
    width = mpf(width)
    nodes = [((mpf(p) - peak) / width, lev) for p, lev in reversed(lp)]
    nodes += [(mpf(0), 0.0)]
    nodes += [((mpf(p) - peak) / width, lev) for p, lev in rp]
    if across:
        nodes = [nodes[0]] + nodes[2:]          # drop the peak split point
    pieces = []
    for (a, la), (b, lb) in zip(nodes, nodes[1:]):
        if b <= a:
            continue            # duplicate point (e.g. peak on the boundary)
        at_end = (la is None) or (lb is None)
        # Largest value of exp(g) on the piece: set by the level nearer the
        # peak (None marks an end point, whose level we do not know).
        known = [lv for lv in (la, lb) if lv is not None]
        lev = min(known) if known else 0.0
        if a < 0 < b:
            lev = 0.0
        pieces.append((a, b, lev, at_end))
    if max_piece is not None:
        cut = []
        lim = max_piece / width
        start = (piece_from - peak) / width if piece_from is not None else None
        for a, b, lev, at_end in pieces:
            if start is None or b <= start or b - a <= lim or \
                    (at_end and singular_ends):
                cut.append((a, b, lev, at_end))
                continue
            a0 = max(a, start)
            if a0 > a:
                cut.append((a, a0, lev, False))
            n = int(math.ceil(float((b - a0) / lim)))
            for k in range(n):
                cut.append((a0 + (b - a0) * k / n, a0 + (b - a0) * (k + 1) / n,
                            lev, False))
        pieces = cut

    def f(u):
        val, factors = parts(peak + width * u)
        e = mp.exp(val)
        return [e] + [e * h for h in factors]

    totals = None
    for a, b, lev, at_end in pieces:
        # Digits this piece must deliver: the full set near the peak, fewer
        # where exp(g) <= e^-lev (scaled by the piece length).
        digits = dps + 4 - (lev - max(0.0, float(mp.log(b - a)))) / LN10
        if singular_ends and at_end:
            vals = ts_integrate(f, a, b, digits)
        else:
            vals = gl_integrate(f, a, b, gl_order(digits))
        totals = vals if totals is None else [s + y for s, y in zip(totals, vals)]
    # Neglected tails are at most e^-lmax * span (in t units) each.
    for s in totals:
        tail = mp.exp(-lmax) * span / width
        if not tail < mpf(10) ** (-dps - 5) * s:
            raise TailError("tail bound violated; raise extra_lmax")
    return [mp.log(s) + mp.log(width) for s in totals]


# ---------------------------------------------------------------------------
# log K_v(x)
# ---------------------------------------------------------------------------

def log1p_exp_neg2(u):
    """log(1 + exp(-2u)), the correction in log cosh u = u - log 2 + this."""
    if 2 * u > 0.7 * mp.prec + 10:     # exp(-2u) below the working precision
        return mpf(0)
    return mp.log1p(mp.exp(-2 * u))


def k_peak(v, x):
    """Maximiser t* >= 0 of -x cosh t + log cosh(v t) (approximate)."""
    if v * v <= x:
        return mpf(0)             # then the log-integrand is concave on t >= 0
    # x sinh t - v tanh(v t) is < 0 on (0, t*) and > 0 beyond; t* <= asinh(v/x)
    lo, hi = mpf(0), mp.asinh(v / x)
    while hi - lo > hi * mpf("1e-12"):
        mid = (lo + hi) / 2
        if x * mp.sinh(mid) < v * mp.tanh(v * mid):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def log_k(v, x, dps):
    """(log K_v(x), log K_v(x) + x) at working precision dps."""
    with mp.workdps(dps + 10):
        v, x = mpf(v), mpf(x)
        with mp.workdps(30):
            ts = k_peak(v, x)
        ts = mpf(ts)
        corr_peak = log1p_exp_neg2(v * ts)

        def parts(t):
            # g(t) = -x (cosh t - cosh t*) in product form (no cancellation)
            # + log cosh(vt) - log cosh(vt*) in the overflow-free form.
            d = -2 * x * mp.sinh((t + ts) / 2) * mp.sinh((t - ts) / 2)
            if v:
                d += v * (t - ts) + log1p_exp_neg2(v * t) - corr_peak
            return d, ()

        curv = x * mp.cosh(ts) - v * v / mp.cosh(v * ts) ** 2
        step = min(1 / mp.sqrt(abs(curv)) if curv else mpf(1), mpf(1))
        # The right tail is cut at level lmax; g is concave for t > t* (both
        # parts of g'' decrease there), so beyond the last split point the
        # tail is at most e^-lmax * (distance from the peak) / lmax, and
        # that distance is below ts + 2000 -> span = ts + 2000 is safe.
        # exp(-x cosh t) changes on the scale 1 wherever x cosh t is not
        # negligible, i.e. t > acosh(10^-(dps+10) / x): keep pieces short
        # there.
        tiny = mpf(10) ** -(dps + 10)
        start = mp.acosh(tiny / x) if x < tiny else mpf(0)
        logs = peak_quad(parts, ts, mpf(0), ts + 2000, step, ts + 2000,
                         dps, max_piece=mpf(2), piece_from=start)
        # log cosh(v t*) = v t* - log 2 + log1p(exp(-2 v t*))
        lcosh = v * ts - mp.log(2) + corr_peak
        # log K + x = -x (cosh t* - 1) + log cosh(v t*) + log(integral)
        lsc = -2 * x * mp.sinh(ts / 2) ** 2 + lcosh + logs[0]
        return +(lsc - x), +lsc


# ---------------------------------------------------------------------------
# log I_v(x)
# ---------------------------------------------------------------------------

def series_ok(v, x):
    """Tiny x: the ascending series converges at once (ratio <= 1e-6)."""
    return x * x / 4 < mpf("1e-6") * (v + 1)


def log_i_series(v, x):
    """log I_v(x) from I_v(x) = (x/2)^v / Gamma(v+1) * sum_k q^k/(k!(v+1)_k)."""
    q = x * x / 4
    term, s, k = mpf(1), mpf(0), 0
    while True:
        k += 1
        term = term * q / (k * (v + k))
        s += term
        if term <= s * mp.eps / 16:
            break
    return v * mp.log(x / 2) - mp.loggamma(v + 1) + mp.log1p(s)


def i_peak(mu, x):
    """Maximiser th* of x cos th + 2 mu log sin th, computed without
    cancellation (cos th* = x / (mu + r), 1 - cos th* from r - x)."""
    if mu == 0:
        return mpf(0)
    r = mp.sqrt(mu * mu + x * x)
    c = x / (mu + r)
    one_minus_c = mu * (r + x + mu) / ((r + x) * (mu + r))
    s = mp.sqrt(one_minus_c * (1 + c))
    return mp.atan2(s, c)


def log_i_pair(v, x, dps, with_prev, force_quad=False):
    """log I_v(x) and, if with_prev (v >= 1), log I_{v-1}(x) and
    1 - I_v(x)/I_{v-1}(x), at precision dps.

    Returns ([log I_v, log I_v - x], [log I_{v-1}, log I_{v-1} - x] or None,
    1 - I_v/I_{v-1} or None).

    With with_prev the integral is set up for order mu = v - 1 and I_v's
    integrand is that times sin(th)^2 (<= 1), so both come from the same
    quadrature nodes.  Integrating the s-form by parts gives
    I_v/I_{v-1} = <s> under the weight (1-s^2)^(v-3/2) e^(xs) ds (v > 1/2),
    i.e. 1 - I_v/I_{v-1} = <1 - cos th> under I_{v-1}'s th-integrand:
    a positive integral, free of the cancellation in 1 - exp(difference of
    logs) when x >> v (there 1 - I_v/I_{v-1} ~ (2v-1)/(2x)).
    """
    with mp.workdps(dps + 10):
        v, x = mpf(v), mpf(x)
        if not force_quad and series_ok(v - 1 if with_prev else v, x):
            # log I_v(x) ~ v log(x/2) + x^2/(4(v+1)) can be far smaller than
            # the quadrature's absolute error; the series keeps it relative.
            out = []
            for order in ([v, v - 1] if with_prev else [v]):
                li = log_i_series(order, x)
                out.append([+li, +(li - x)])
            if not with_prev:
                return out[0], None, None
            # I_v / I_{v-1} ~ x / (2v) is small here: no cancellation.
            return out[0], out[1], +(-mp.expm1(out[0][0] - out[1][0]))

        mu = v - 1 if with_prev else v
        th = i_peak(mu, x)
        s_th = mp.sin(th)
        pi = +mp.pi
        half_th2 = mp.sin(th / 2) ** 2          # sin^2(th*/2)

        def g_and_sin(t):
            """(g(t), sin t, sin^2(t/2)) with
            g(t) = x (cos t - cos th*) + 2 mu log(sin t / sin th*).

            Near th* both differences use product forms (no cancellation);
            elsewhere cos t - cos th* = 2 (sin^2(th*/2) - sin^2(t/2)) does
            not cancel either, and sin t = 2 sin(t/2) cos(t/2) stays
            accurate right up to pi.
            """
            if abs(t - th) < th / 2:
                ca, sa = mp.cos_sin((t + th) / 2)
                sb = mp.sin((t - th) / 2)
                st = s_th + 2 * ca * sb
                d = -2 * x * sa * sb
                if mu:
                    d += 2 * mu * mp.log1p(2 * ca * sb / s_th)
                return d, st, half_th2 + sa * sb
            c, s = mp.cos_sin(t / 2)
            st = 2 * s * c
            d = 2 * x * (half_th2 - s * s)
            if mu:
                if st <= 0:             # rounding stepped outside [0, pi]
                    return mp.ninf, mp.zero, mp.zero
                d += 2 * mu * mp.log(st / s_th)
            return d, st, s * s

        def parts(t):
            d, st, sh2 = g_and_sin(t)
            # With with_prev, I_v's integrand is I_{v-1}'s times sin^2 t, and
            # times 2 sin^2(t/2) = 1 - cos t it gives the numerator of
            # 1 - I_v/I_{v-1} (see log_i_pair's docstring).
            return d, ((st * st, sh2) if with_prev else ())

        curv = x * mp.cos(th) + (2 * mu / s_th ** 2 if mu else 0)
        step = min(1 / mp.sqrt(abs(curv)) if curv else mpf(1), mpf(1))
        # sin^(2 mu) is analytic at 0 and pi only for integer 2 mu.
        singular = (2 * mu) != mp.floor(2 * mu)
        extra = 0.0
        if with_prev:
            # The factors shrink the integral by about sin^2 th* (or
            # width^2 when th* ~ 0): go correspondingly deeper.
            extra = 5 + 2 * max(0.0, -float(mp.log(max(s_th, step))))
        while True:
            try:
                logs = peak_quad(parts, th, mpf(0), pi, step, pi, dps,
                                 crowd_ends=True, singular_ends=singular,
                                 extra_lmax=extra)
                break
            except TailError:
                extra += 20
        base = 2 * x * half_th2                  # x (1 - cos th*)
        lsin = 2 * mu * mp.log(s_th) if mu else mpf(0)

        def assemble(order, log_q):
            # log I - x = (x/2)^order / (sqrt(pi) Gamma(order + 1/2)) part
            #             - x (1 - cos th*) + 2 mu log sin th* + log integral
            lsc = (order * mp.log(x / 2) - mp.loggamma(order + mpf(0.5))
                   - mp.log(pi) / 2 - base + lsin + log_q)
            return [+(lsc + x), +lsc]

        if with_prev:
            ratio_c = 2 * mp.exp(logs[2] - logs[0])
            return assemble(v, logs[1]), assemble(mu, logs[0]), +ratio_c
        return assemble(v, logs[0]), None, None


# ---------------------------------------------------------------------------
# One point at one precision, and the two-precision comparison
# ---------------------------------------------------------------------------

def evaluate(v, x, dps):
    """All logs needed for point (v, x) at working precision dps."""
    lk, lk_sc = log_k(v, x, dps)
    (li, li_sc), prev, ratio_c = log_i_pair(v, x, dps, with_prev=(v >= 1))
    out = {"logk": lk, "logk_sc": lk_sc, "logi": li, "logi_sc": li_sc}
    if prev is not None:
        out["logi_prev"] = prev[0]
        with mp.workdps(dps + 10):
            # The scaled logs' difference suffers less cancellation; the
            # ratio itself is never tiny-minus-tiny (it is <= 1).
            out["ratio"] = mp.exp(li_sc - prev[1])
        out["ratio_c"] = ratio_c
    return out


def rel_diff(a, b):
    if a == b:
        return mpf(0)
    return abs(a - b) / max(abs(a), abs(b))


def compute_point(task):
    """Worker: returns (index, record or None, messages)."""
    idx, v, x, group = task
    try:
        lo, hi = (evaluate(v, x, dps) for dps in DPS_PAIR)
    except Exception as exc:        # report, never silently keep
        return idx, None, ["DROP %s v=%r x=%r: %s: %s"
                           % (group, v, x, type(exc).__name__, exc)]
    with mp.workdps(max(DPS_PAIR) + 10):
        # The logs must agree to LOG_RTOL (relative) between precisions; so
        # must log ive and log kve (relative, or absolute below 1: they can
        # cross 0), which carry the low part of the logs for huge x.
        diffs = {k: rel_diff(lo[k], hi[k])
                 for k in ("logk", "logi", "logi_prev") if k in hi}
        for k in ("logk_sc", "logi_sc"):
            diffs[k] = abs(lo[k] - hi[k]) / max(abs(hi[k]), 1)
        worst = max(diffs.values())
        if worst > LOG_RTOL:
            shown = {k: mp.nstr(d, 3) for k, d in diffs.items()}
            return idx, None, ["DROP %s v=%r x=%r: precisions disagree %s"
                               % (group, v, x, shown)]
        rec = {"log_disagree": float(max(diffs["logk"], diffs["logi"],
                                         diffs.get("logi_prev", 0))),
               "sc_disagree": float(max(diffs["logk_sc"], diffs["logi_sc"]))}
        rec["logi_hi"], rec["logi_lo"] = split_dd(mpf(x), hi["logi_sc"])
        rec["logk_hi"], rec["logk_lo"] = split_dd(-mpf(x), hi["logk_sc"])
        rec["ive"] = exp_to_double(hi["logi_sc"])
        rec["kve"] = exp_to_double(hi["logk_sc"])
        rec["iv"] = exp_to_double(hi["logi"])
        rec["kv"] = exp_to_double(hi["logk"])
        rec["ratio"] = rec["ratio_c"] = math.nan
        rec["ratio_disagree"] = 0.0
        if "ratio" in hi:
            # ratio (from the logs) and ratio_c (its own integral) must agree
            # between precisions and add up to 1.
            rd = max(rel_diff(lo["ratio_c"], hi["ratio_c"]),
                     rel_diff(lo["ratio"], hi["ratio"]))
            closure = abs(hi["ratio"] + hi["ratio_c"] - 1)
            if rd > DERIVED_RTOL or closure > DERIVED_RTOL:
                return idx, None, ["DROP %s v=%r x=%r: ratio check %s / %s"
                                   % (group, v, x, mp.nstr(rd, 3),
                                      mp.nstr(closure, 3))]
            rec["ratio"] = to_double(hi["ratio"])
            rec["ratio_c"] = to_double(hi["ratio_c"])
            rec["ratio_disagree"] = float(rd)
            rec["ratio_closure"] = float(closure)
        # The doubles stored must not depend on which precision was used.
        for key, val in (("ive", lo["logi_sc"]), ("kve", lo["logk_sc"]),
                         ("iv", lo["logi"]), ("kv", lo["logk"])):
            if exp_to_double(val) != rec[key]:
                return idx, None, ["DROP %s v=%r x=%r: %s rounds differently"
                                   % (group, v, x, key)]
        # Independent check against mpmath's own Bessel functions where
        # those are trustworthy (small order and argument).
        rec["xcheck"] = math.nan
        if v <= 5 and x <= 20:
            # log I_v(x) ~ x^2/4 for v = 0 and tiny x: give mpmath enough
            # digits to resolve it.
            extra = max(0, int(-mp.log10(abs(hi["logi"])))) if hi["logi"] else 0
            with mp.workdps(100 + extra):
                ri = mp.log(mp.besseli(v, x))
                rk = mp.log(mp.besselk(v, x))
                rec["xcheck"] = float(max(rel_diff(ri, hi["logi"]),
                                          rel_diff(rk, hi["logk"])))
    return idx, rec, []


# ---------------------------------------------------------------------------
# Sample points
# ---------------------------------------------------------------------------

def log_uniform(rng, lo, hi, n):
    return 10.0 ** rng.uniform(np.log10(lo), np.log10(hi), n)


def debye_logs(v, x):
    """Leading uniform-asymptotic (Debye) log I_v(x), log K_v(x) in floats;
    only used to place the "logzero" points roughly."""
    z = x / v
    s = math.sqrt(1 + z * z)
    eta = s + math.log(z) - math.log1p(s)
    common = -0.5 * math.log(s)
    return (common - 0.5 * math.log(2 * math.pi * v) + v * eta,
            common + 0.5 * math.log(math.pi / (2 * v)) - v * eta)


def sample_points():
    rng = np.random.default_rng(SEED)
    groups = []

    def add(name, v, x):
        v = np.asarray(v, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        groups.append((name, v, x))

    # scan: wide log-uniform coverage (plus a uniform block at small v).
    n = 800
    small_v = rng.random(n) < 0.3
    v = np.where(small_v, rng.uniform(0, 25, n), log_uniform(rng, 1e-3, 1e4, n))
    add("scan", v, log_uniform(rng, 1e-8, 1e5, n))

    # small: where most calls land.
    n = 400
    add("small", rng.uniform(0, 25, n), log_uniform(rng, 1e-2, 2000, n))

    # boundary: around the implementation's switch-over curves.
    n = 110
    add("boundary", rng.uniform(19, 21, n), log_uniform(rng, 1e-3, 1e4, n))
    add("boundary", rng.uniform(0, 20, n), rng.uniform(18, 22, n))
    add("boundary", rng.uniform(0, 20, n), rng.uniform(1.8, 2.2, n))
    v = rng.uniform(3, 20, n)
    add("boundary", v, 2 * v * v * rng.uniform(0.9, 1.1, n))

    # logzero: |log I| < 3 and |log K| < 3, where absolute accuracy of the
    # log is hardest.  Solve the Debye approximation for a target log drawn
    # from [-3, 3] (for large v a +-20% jitter of x would move the log far
    # outside that band).
    n = 140
    for which in (0, 1):
        vs = log_uniform(rng, 1, 1e4, n)
        targets = rng.uniform(-3, 3, n)
        xs = [math.exp(brentq(lambda lx: debye_logs(vv, math.exp(lx))[which] - t,
                              -50.0, 50.0))
              for vv, t in zip(vs.tolist(), targets.tolist())]
        add("logzero", vs, xs)

    # integer and half-integer orders.
    orders = np.repeat(np.arange(0, 50.5, 0.5), 3)
    add("integer", orders, log_uniform(rng, 1e-3, 1e3, orders.size))

    # extreme corners of the domain.
    ev = [0, 1e-3, 0.5, 1, 10, 100, 1e3, 1e4, 1e6, 1e8]
    ex = [1e-300, 1e-100, 1e-20, 1e-8, 1, 1e3, 1e8, 1e20, 1e100, 1e300]
    vv, xx = np.meshgrid(ev, ex, indexing="ij")
    add("extreme", vv.ravel(), xx.ravel())

    names = np.concatenate([[name] * len(v) for name, v, _ in groups])
    v = np.concatenate([v for _, v, _ in groups])
    x = np.concatenate([x for _, _, x in groups])
    assert np.all(v >= 0) and np.all(x > 0) and np.all(np.isfinite(x))
    return v, x, names


# ---------------------------------------------------------------------------
# Self-tests and main
# ---------------------------------------------------------------------------

def self_test():
    """Quick consistency checks of the pieces before the long run."""
    # Series and quadrature agree where both are fine.
    for v, x in [(0.7, 0.002), (3.0, 0.003), (40.0, 0.01)]:
        a = log_i_pair(v, x, 50, False)[0][0]
        b = log_i_pair(v, x, 50, False, force_quad=True)[0][0]
        assert rel_diff(a, b) < mpf("1e-45"), (v, x, a, b)
    # Closed forms at v = 1/2.
    with mp.workdps(60):
        for x in [mpf("1e-5"), mpf("0.75"), mpf(30), mpf(4000)]:
            li = log_i_pair(0.5, x, 50, False, force_quad=True)[0][0]
            lk = log_k(0.5, x, 50)[0]
            ci = mp.log(mp.sqrt(2 / (mp.pi * x)) * mp.sinh(x))
            ck = mp.log(mp.sqrt(mp.pi / (2 * x))) - x
            assert rel_diff(li, ci) < mpf("1e-45"), (x, li, ci)
            assert rel_diff(lk, ck) < mpf("1e-45"), (x, lk, ck)
    print("self-test passed", flush=True)


def main():
    t_start = time.time()
    self_test()
    v, x, group = sample_points()
    n = len(v)
    print("%d points; dps %s; %d workers" % (n, DPS_PAIR, WORKERS), flush=True)
    tasks = [(i, float(v[i]), float(x[i]), str(group[i])) for i in range(n)]
    # Expensive corners first, so the workers finish together.
    tasks.sort(key=lambda t: t[3] != "extreme")
    results = {}
    with Pool(WORKERS) as pool:
        for done, (idx, rec, msgs) in enumerate(
                pool.imap_unordered(compute_point, tasks, chunksize=2), 1):
            results[idx] = rec
            for m in msgs:
                print(m, flush=True)     # dropped points, with the reason
            if done % 100 == 0 or done == n:
                print("  %d/%d done, %.0f s" % (done, n, time.time() - t_start),
                      flush=True)

    keep = [i for i in range(n) if results[i] is not None]
    dropped = n - len(keep)
    cols = ["logi_hi", "logi_lo", "logk_hi", "logk_lo", "ratio", "ratio_c",
            "ive", "kve", "iv", "kv"]
    data = {"v": v[keep], "x": x[keep]}
    for c in cols:
        data[c] = np.array([results[i][c] for i in keep], dtype=np.float64)
    data["group"] = np.array([group[i] for i in keep])
    np.savez_compressed(OUT, **data)

    # Summary.
    print("\nwrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))
    names, counts = np.unique(data["group"], return_counts=True)
    for name, c in zip(names, counts):
        print("  %-9s %5d points" % (name, c))
    print("  total     %5d points, %d dropped" % (len(keep), dropped))
    print("max two-precision disagreement of log I, log K (relative): %.3g"
          % max(results[i]["log_disagree"] for i in keep))
    print("max two-precision disagreement of log ive, log kve "
          "(relative, absolute below 1): %.3g"
          % max(results[i]["sc_disagree"] for i in keep))
    print("max two-precision disagreement of ratio, ratio_c (relative): %.3g"
          % max(results[i]["ratio_disagree"] for i in keep))
    print("max |ratio + ratio_c - 1| (before rounding): %.3g"
          % max(results[i].get("ratio_closure", 0.0) for i in keep))
    xc = [results[i]["xcheck"] for i in keep if not math.isnan(results[i]["xcheck"])]
    print("cross-check vs mpmath besseli/besselk (v <= 5, x <= 20): %d points, "
          "max relative difference of the logs %.3g" % (len(xc), max(xc)))
    assert max(xc) < 1e-40, "cross-check against mpmath failed"
    print("runtime %.0f s" % (time.time() - t_start))


if __name__ == "__main__":
    sys.exit(main())
