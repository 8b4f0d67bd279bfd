// Modified Bessel functions I_v(x), K_v(x) of real order in log space, host and device.
//
// Every region returns a `scaled` value m * exp(B + L): m is a double near 1 carrying the
// part that is summed (series), B an exact double (0, x or -x) and L a double-double log of
// the prefactor. The log functions round B + L + log(m); the drop-ins (iv, ive, kv, kve)
// exponentiate L + (B - offset) in double-double first, so a log near 700 costs no accuracy.
//
// Regions (v >= 0, 0 < x < inf); the switch points come from truncation bounds and were
// checked by a dense scan against mpmath (tests/data):
//   v >= 20            Debye (uniform) expansion, up to 16 terms chosen from a bound on |u_k|
//   v < 20, x >= max(20, 2 v^2)   Hankel (large-argument) expansion, terms < 1/4 in size
//   I, v < 20, x <= 10 power series, anchored at its first term
//   I, v < 20, between  Debye at order v + N >= 20, then the backward recurrence down to v
//   K, v < 20, x <= 1/2 Temme's series for |mu| <= 1/2, then the forward recurrence in order
//   K, v < 20, x >= 20  Hankel at |mu| <= 1/2 and mu + 1, then the forward recurrence
//   K, v < 20, else     the Wronskian with I_v, I_{v+1}/I_v and K_{v+1}/K_v (CF2 + recurrence)
#pragma once
#include <utility>

#include "kernelkit/config.hpp"
#include "kernelkit/special/bessel_coeffs.hpp"
#include "kernelkit/special/dd.hpp"

namespace kernelkit::special {

namespace detail {

constexpr double kDebyeOrder = 20.0;  // Debye expansion from this order on
constexpr double kPi = 3.141592653589793;
constexpr double kTemmeSeriesMax = 0.5;  // K: Temme's series up to here, the Wronskian above
constexpr double kSeriesMax = 10.0;      // I: power series up to here (for v < 20)

struct scaled {
  dd m;      // the summed part, of order 1 (1 + a small tail kept apart where it is that)
  dd L;      // log of the prefactor
  double B;  // exact exponent: 0, x or -x
};

constexpr double kHankelMin = 20.0;  // the Hankel expansion from here (and x >= 2 v^2) on

KK_FN double hankel_start(double v) {
  double a = 2.0 * v * v;
  return a > kHankelMin ? a : kHankelMin;
}

// Hankel sum H - 1 = sum_{k>=1} s^k a_k(v) / x^k with s = -1 for I and +1 for K (kept apart
// from the leading 1, which it is small against); also returns sum_k k term_k (for the
// log-derivative H'/H = -that / (x H)).
KK_FN double hankel_sum(double v, double x, double sign, double* kweighted) {
  double two_v = 2.0 * v;
  double term = 1.0, tail = 0.0, ksum = 0.0;  // the terms after the first summed on their own,
  for (int k = 1; k < 80; ++k) {              // so that adding them to 1 rounds only once
    double odd = 2.0 * k - 1.0;
    term *= sign * fma(two_v, two_v, -odd * odd) / (8.0 * k * x);
    tail += term;
    ksum += k * term;
    if (fabs(term) < 1e-18) break;
  }
  if (kweighted) *kweighted = ksum;
  return tail;
}

KK_FN scaled hankel_i(double v, double x) {
  double h = hankel_sum(v, x, -1.0, nullptr);
  dd L = dd_scale(dd_add(dd_log(x), dd{ln_2pi_hi, ln_2pi_lo}), -0.5);
  return {two_sum(1.0, h), L, x};
}

KK_FN scaled hankel_k(double v, double x) {
  double h = hankel_sum(v, x, 1.0, nullptr);
  dd L = dd_scale(dd_sub(dd{ln_pi_2_hi, ln_pi_2_lo}, dd_log(x)), 0.5);
  return {two_sum(1.0, h), L, -x};
}

// Pieces of the Debye expansion shared by I, K and the ratio, at order v = vd (a
// double-double, so that v + N in the recurrence region is exact).
struct debye_parts {
  dd w;        // v eta(x/v) - x, with eta = sqrt(1+z^2) + log(z / (1 + sqrt(1+z^2)))
  dd log_r;    // log sqrt(v^2 + x^2)
  double t2;   // t^2 = v^2 / (v^2 + x^2)
  double ir;   // 1 / sqrt(v^2 + x^2)
  dd vs, rs;   // v and sqrt(v^2 + x^2) scaled by the same power of two as xs
  double xs;
};

KK_FN debye_parts debye_setup(dd vd, double x) {
  // Scale (v, x) by a power of two so that v^2 + x^2 cannot overflow; w scales linearly.
  double big = vd.hi > x ? vd.hi : x;
  double sc = big > 1e150 ? 0x1p-600 : 1.0;
  dd v = dd_scale(vd, sc);
  double xs = x * sc;
  dd v2 = dd_mul(v, v);
  dd rr = dd_sqrt(dd_add(v2, two_prod(xs, xs)));
  dd q = dd_div(dd{xs, 0.0}, dd_add(rr, v));  // z / (1 + sqrt(1 + z^2))
  dd w = dd_add(dd_div(v2, dd_add(rr, xs)), dd_mul(dd_log(q), v));
  debye_parts p;
  p.w = dd_scale(w, 1.0 / sc);
  p.log_r = dd_log(rr);
  if (sc != 1.0) p.log_r = dd_add(p.log_r, dd_ln2_times(600.0));
  double t = v.hi / rr.hi;
  p.t2 = t * t;
  p.ir = sc / rr.hi;
  p.vs = v;
  p.rs = rr;
  p.xs = xs;
  return p;
}

// sum_{k=1..K} (s/r)^k P_k(t^2) = sum s^k u_k(t) / v^k, and sum_{k=1..K} r^-(k-1) Q_k(t^2)
// (for the derivative), expanded at compile time for a fixed number of terms K: every
// polynomial is independent of the others and the sum is one Horner chain in s/r.
template <bool Derivative, int... k>
KK_FN double debye_horner(double rho, double t2, std::integer_sequence<int, k...>) {
  constexpr int n = sizeof...(k);
  double c[n] = {(Derivative ? coeffs::debye<k + 1>::q(t2) : coeffs::debye<k + 1>::p(t2))...};
  double sum = c[n - 1];
  for (int i = n - 2; i >= 0; --i) sum = fma(sum, rho, c[i]);
  return Derivative ? sum : sum * rho;
}
template <int K>
KK_FN double debye_sum_p(double ir, double t2, double sign) {
  return debye_horner<false>(sign * ir, t2, std::make_integer_sequence<int, K>{});
}
template <int K>
KK_FN void debye_sum_pq(double ir, double t2, double* p, double* q) {
  *p = debye_horner<false>(ir, t2, std::make_integer_sequence<int, K>{});
  *q = debye_horner<true>(ir, t2, std::make_integer_sequence<int, K>{});
}

// Terms needed for a truncation error below 2e-18 (0.01 ULP): the smallest K with
// debye<K+1>::bound / v^(K+1) < 2e-18 (max_t |u_{K+1}(t)|), in a few tiers; the test suite
// checks each tier's start against the bounds.
#define KK_DEBYE_TIERS(CALL) \
  (v < 33.0 ? CALL(16) : v < 91.0 ? CALL(12) : v < 600.0 ? CALL(8) : v < 12300.0 ? CALL(5) \
   : v < 2.7e5 ? CALL(3) : CALL(2))

#define KK_FAST_TAIL(K) debye_sum_p<K>(ir, t * t, kind)

KK_FN double debye_tail(const debye_parts& p, double v, double sign) {
#define KK_CALL(K) debye_sum_p<K>(p.ir, p.t2, sign)
  return KK_DEBYE_TIERS(KK_CALL);
#undef KK_CALL
}

// log I_v(x) (kind = +1) or log K_v(x) (kind = -1) for 20 <= v and x <= 1e150, from
//   log I = v eta - log(2 pi r)/2 + log(1 + tail),  log K = -v eta + log(pi / (2r))/2 + ...,
// r = sqrt(v^2 + x^2), eta = s + log(z / (1 + s)). Where nothing cancels the terms are
// summed in double: x >= 4v, where r dominates v eta = r + v log(x / (v + r)); and
// x <= v/20, where v eta = v log(e x / (2v)) + v phi(z) with the small, well-conditioned
// phi = (s - 1) - log((1 + s) / 2). In between, where log I or log K can be near 0 while v eta
// is large, v eta and log r are carried in double-double. (Cheaper than debye_setup, which
// also keeps v eta - x exact for the exponentially scaled drop-ins.)
KK_FN double debye_log(double v, double x, double kind) {
  dd r2 = dd_add(two_prod(v, v), two_prod(x, x));
  double r0 = sqrt(r2.hi);
  dd rr = quick_two_sum(r0, (fma(-r0, r0, r2.hi) + r2.lo) / (2.0 * r0));  // sqrt to ~eps^2
  double r = rr.hi;
  double ir = 1.0 / r;
  double t = v * ir;
  double tail = log1p_small(KK_DEBYE_TIERS(KK_FAST_TAIL));
  if (x >= 4.0 * v) {  // the large r first, every other term added to it once
    double pre = kind > 0 ? -0.5 * (ln_2pi_hi + log_d(r)) : 0.5 * (ln_pi_2_hi - log_d(r));
    double rest = rr.lo + v * log_d(x / (v + r));
    return kind * r + ((kind * rest + pre) + tail);
  }
  if (x <= 0.05 * v) {
    double pre = kind > 0 ? -0.5 * (ln_2pi_hi + log_d(r)) : 0.5 * (ln_pi_2_hi - log_d(r));
    dd z = dd_div(dd{x, 0.0}, dd{v, 0.0});
    double s1 = z.hi * z.hi / (1.0 + sqrt(fma(z.hi, z.hi, 1.0)));  // s - 1
    double phi = s1 - log1p(0.5 * s1);
    // log(e z / 2) in double-double, then v times it with the product's error kept
    dd lz = dd_add(dd_add(dd_log(z), two_sum(1.0, -ln2_hi)), -ln2_lo);
    dd p = two_prod(v, lz.hi);
    return kind * p.hi + ((p.lo + v * (lz.lo + phi)) * kind + pre + tail);
  }
  dd veta = dd_add(rr, dd_mul(dd_log(dd_div(dd{x, 0.0}, dd_add(rr, v))), v));
  dd pre = kind > 0 ? dd_scale(dd_add(dd_log(rr), dd{ln_2pi_hi, ln_2pi_lo}), -0.5)
                    : dd_scale(dd_sub(dd{ln_pi_2_hi, ln_pi_2_lo}, dd_log(rr)), 0.5);
  return dd_round(dd_add(dd_add(dd_mul(veta, kind), pre), tail));
}

// kind (v eta - x) - log(r)/2 in plain double (r = sqrt(v^2 + x^2)), stable for any x: within
// a few units of log I_v(x) - x (kind = +1) or log K_v(x) + x (kind = -1) for v >= 20. The
// drop-ins use it to return 0 or inf at once where the value is far out of range.
KK_FN double debye_exponent(double v, double x, double kind) {
  double r = hypot(v, x);
  double vx = v / (r + x);
  // v eta - x = v^2/(r+x) + v log(x/(v+r)), with log(x/(v+r)) = -log1p(v/x (1 + v/(r+x)))
  // so that x >> v (where x/(v+r) rounds to 1) keeps the -v^2/(2x) it is made of.
  return kind * (vx * v - v * log1p((v / x) * (1.0 + vx))) - 0.5 * log(r);
}

// I from the Debye parts and tail = sum_k u_k(t) / v^k.
KK_FN scaled debye_i_parts(const debye_parts& p, double tail, double x) {
  dd L = dd_sub(p.w, dd_scale(dd_add(p.log_r, dd{ln_2pi_hi, ln_2pi_lo}), 0.5));
  return {two_sum(1.0, tail), L, x};
}

KK_FN scaled debye_i(dd vd, double x) {
  debye_parts p = debye_setup(vd, x);
  return debye_i_parts(p, debye_tail(p, vd.hi, 1.0), x);
}

KK_FN scaled debye_k(dd vd, double x) {
  debye_parts p = debye_setup(vd, x);
  double tail = debye_tail(p, vd.hi, -1.0);
  dd L = dd_sub(dd_scale(dd_sub(dd{ln_pi_2_hi, ln_pi_2_lo}, p.log_r), 0.5), p.w);
  return {two_sum(1.0, tail), L, -x};
}

// g = I_{v-1}(x) / I_v(x) - 1 from the Debye expansion (d/dx log I_v + v/x - 1):
// g = v (v + r + x) / (x (r + x)) - x/(2r^2) - (x/r^3) D'(t)/D(t). The first term, which
// carries g (the others are below 1/(2v) of it), is formed in double-double from the scaled
// v, r, x (it is homogeneous of degree 0). ps = D(t) - 1 and dq = D'(t) come from
// debye_sums.
KK_FN void debye_sums(const debye_parts& p, double v, double* ps, double* dq) {
#define KK_CALL(K) debye_sum_pq<K>(p.ir, p.t2, ps, dq)
  KK_DEBYE_TIERS(KK_CALL);
#undef KK_CALL
}

KK_FN double debye_g_parts(const debye_parts& p, double x, double ps, double dq) {
  dd rx = dd_add(p.rs, p.xs);
  dd main = dd_div(dd_mul(p.vs, dd_add(p.vs, rx)), dd_mul(rx, p.xs));
  double xr = x * p.ir;  // x / r
  return main.hi + (main.lo - (0.5 * xr * p.ir + xr * p.ir * p.ir * dq / (1.0 + ps)));
}

KK_FN double debye_g(double v, double x) {
  debye_parts p = debye_setup(dd{v, 0.0}, x);
  double ps, dq;
  debye_sums(p, v, &ps, &dq);
  return debye_g_parts(p, x, ps, dq);
}

KK_FN double hankel_g(double v, double x) {
  double ksum;
  double h = 1.0 + hankel_sum(v, x, -1.0, &ksum);
  return (v - 0.5) / x - ksum / (x * h);
}

// Power series I_v(x) = (x/2)^v / Gamma(v+1) S, S = sum_m (x^2/4)^m / (m! (v+1)_m), for
// v < 20 and x <= 20; S has positive terms and is accumulated with Neumaier compensation.
KK_FN double series_sum(double v, double x) {
  double q = 0.25 * x * x;
  double term = 1.0, sum = 1.0, comp = 0.0;
  for (int m = 1; m < 200; ++m) {
    term *= q / (m * (m + v));
    double s = sum + term;
    comp += sum >= term ? (sum - s) + term : (term - s) + sum;
    sum = s;
    if (term < 1e-18 * sum) break;
  }
  return sum + comp;
}

KK_FN scaled series_i(double v, double x) {
  dd L{0.0, 0.0};
  if (v != 0.0) L = dd_sub(dd_mul(dd_sub(dd_log(x), dd{ln2_hi, ln2_lo}), v), dd_lgamma1p(v));
  return {dd{series_sum(v, x), 0.0}, L, 0.0};
}

// g_k = I_{k-1}/I_k - 1 for k = v + n down to v + 1 by g_{k-1} = 2(k-1)/x - g_k/(1+g_k)
// (backward recurrence of the ratio, stable), starting from g_top = g_{v+n} (Debye).
// Returns g_v (iv_ratio needs it where 1 - I_v/I_{v-1} is tiny).
KK_FN dd ratio_recurrence(double v, double x, int n, double g_top) {
  // In double-double throughout: when x >> v each step amplifies the relative error of the
  // small c = 1 - I_k/I_{k-1} by up to (2k+1)/(2k-1), so no step may add rounding error.
  dd g{g_top, 0.0};
  dd inv_x = dd_div(dd{1.0, 0.0}, dd{x, 0.0});
  for (int j = n; j >= 1; --j) {
    dd c = dd_div(g, dd_add(g, 1.0));
    g = dd_sub(dd_mul(two_sum(2.0 * v, 2.0 * (j - 1)), inv_x), c);  // 2(v + j - 1)/x - c
  }
  return g;  // kept in double-double: for v < 1/2, 1 + g can be far smaller than g
}

// Number of orders from v < 20 up to the Debye region; v + n is carried as a double-double.
KK_FN int orders_to_debye(double v) {
  return static_cast<int>(ceil(kDebyeOrder - v));
}

// I_v for v < 20 and x > 10: Debye at order v + n >= 20 for I_{v+n} and g_{v+n}, then
// y_k = I_k / I_{v+n} down to k = v by the backward recurrence y_{k-1} = (2k/x) y_k + y_{k+1}.
// Only positive terms, so in double-double no step adds an error that later ones amplify (the
// ratio form, above, divides at every step). Also I_{v+1} / I_v in *r1 when r1 != nullptr.
KK_FN scaled recurrence_i(double v, double x, double* r1 = nullptr) {
  int n = orders_to_debye(v);
  dd vn = two_sum(v, static_cast<double>(n));
  debye_parts p = debye_setup(vn, x);
  double ps, dq;
  debye_sums(p, vn.hi, &ps, &dq);
  dd inv_x = dd_div(dd{1.0, 0.0}, dd{x, 0.0});
  dd upper{1.0, 0.0};                                  // y_{k+1}
  dd y = two_sum(1.0, debye_g_parts(p, x, ps, dq));    // y_k, from k = v + n - 1
  for (int j = n - 1; j >= 1; --j) {
    dd y_down = dd_add(dd_mul(dd_mul(two_sum(2.0 * v, 2.0 * j), inv_x), y), upper);
    upper = y;
    y = y_down;
  }
  if (r1) *r1 = dd_div(upper, y).hi;
  scaled s = debye_i_parts(p, ps, x);
  s.L = dd_add(s.L, dd_log(y));
  return s;
}

// K_{mu+1}/K_mu for |mu| <= 1/2, x > 1/2: the ratio part of Steed's CF2 (Thompson & Barnett).
// (CF2's normalisation sum loses up to ~10 ULP near x = 1; the ratio keeps ~2, so K itself
// comes from the Wronskian below.)
KK_FN double cf2_ratio(double mu, double x) {
  double a1 = 0.25 - mu * mu;
  double a = -a1, b = 2.0 * (1.0 + x);
  double d = 1.0 / b, h = d, delh = d;
  for (int i = 1; i < 1000; ++i) {
    a -= 2 * i;
    b += 2.0;
    d = 1.0 / (b + a * d);
    delh = (b * d - 1.0) * delh;
    h += delh;
    if (fabs(delh) < 1e-17 * fabs(h)) break;
  }
  return (mu + x + 0.5 - a1 * h) / x;
}

// K_{mu+n} from a0 = 2^-escale K_mu and a1 = 2^-escale K_{mu+1} by the forward recurrence
// K_{mu+i+1} = 2(mu+i)/x K_{mu+i} + K_{mu+i-1}: positive terms (stable), in double-double so
// that up to 20 steps add no rounding error of their own. Returned as m 2^e (L = e log 2).
KK_FN scaled k_forward(double mu, double x, int n, dd a0, dd a1, int escale) {
  if (n == 0) a1 = a0;
  dd inv_x = dd_div(dd{1.0, 0.0}, dd{x, 0.0});
  for (int i = 1; i < n; ++i) {
    dd coef = dd_mul(two_sum(2.0 * mu, 2.0 * i), inv_x);
    if (exponent_of(a1.hi) + exponent_of(coef.hi) > 1000) {  // rescale before it overflows
      int sh = exponent_of(a1.hi);
      double f = ldexp(1.0, -sh);
      a0 = dd_scale(a0, f);
      a1 = dd_scale(a1, f);
      escale += sh;
    }
    dd a2 = dd_add(dd_mul(a1, coef), a0);
    a0 = a1;
    a1 = a2;
  }
  int e0;
  double m = frexp(a1.hi, &e0);
  return {dd{m, ldexp(a1.lo, -e0)}, dd_ln2_times(static_cast<double>(escale + e0)), 0.0};
}

// Temme's series for K_mu, K_{mu+1}, |mu| <= 1/2 and x <= 1/2, then the forward recurrence to
// order v < 20.
KK_FN scaled temme_k(double v, double x) {
  double nl = floor(v + 0.5);
  double mu = v - nl;
  // Series (Temme 1975): gamma_1, gamma_2 from the Taylor series of 1/Gamma(1+z).
  double mu2 = mu * mu;
  double ev = coeffs::rgamma1p_even(mu2), od = coeffs::rgamma1p_odd(mu2);
  double gam1 = -od, gam2 = ev;
  double gampl = ev + mu * od, gammi = ev - mu * od;  // 1/Gamma(1+mu), 1/Gamma(1-mu)
  double x2 = 0.5 * x;
  double pimu = kPi * mu;
  double fact = fabs(pimu) < 1e-15 ? 1.0 : pimu / sin_small(pimu);
  // e = mu log(2/x) reaches ~350 for tiny x: carried in double-double so that exp(e),
  // cosh(e) and sinh(e) keep full relative accuracy.
  dd d_dd = dd_sub(dd{ln2_hi, ln2_lo}, dd_log(x));
  dd e_dd = dd_mul(d_dd, mu);
  double d = d_dd.hi, e = e_dd.hi;
  double ee = exp_d(e) * (1.0 + e_dd.lo);
  double cosh_e = 0.5 * (ee + 1.0 / ee);
  // fact2 = sinh(e)/e, e = e_dd.hi + e_dd.lo; d/de (sinh(e)/e) = e/3 + O(e^3) for the low part
  double fact2 = fabs(e) < 1.0 ? (1.0 + sinhc_minus_1(e)) + e_dd.lo * e * (1.0 / 3.0)
                               : 0.5 * (ee - 1.0 / ee) / e * (1.0 - e_dd.lo / e);
  double ff = fact * (gam1 * cosh_e + gam2 * fact2 * d);
  double sum = ff;
  double p = 0.5 * ee / gampl;
  double q = 0.5 / (ee * gammi);
  double c = 1.0, d2 = x2 * x2, sum1 = p;
  for (int i = 1; i < 100; ++i) {
    ff = (i * ff + p + q) / (i * static_cast<double>(i) - mu2);
    c *= d2 / i;
    p /= (i - mu);
    q /= (i + mu);
    double del = c * ff;
    sum += del;
    sum1 += c * (p - i * ff);
    if (fabs(del) < 1e-17 * fabs(sum)) break;
  }
  // K_{mu+1} = sum1 * 2/x can overflow for tiny x: keep both with a common power of two.
  int e1, e2;
  double m1 = frexp(sum1, &e1), m2 = frexp(2.0 / x, &e2);
  int escale = e1 + e2;
  return k_forward(mu, x, static_cast<int>(nl), dd{ldexp(sum, -escale), 0.0}, dd{m1 * m2, 0.0},
                   escale);
}

// K_v for v < 20 and x >= 20 (below hankel_start(v)): the Hankel expansion at |mu| <= 1/2 and
// mu + 1 (where it converges fast), then the forward recurrence.
KK_FN scaled hankel_recurrence_k(double v, double x) {
  double nl = floor(v + 0.5);
  double mu = v - nl;
  scaled k0 = hankel_k(mu, x);
  dd k1 = two_sum(1.0, hankel_sum(mu + 1.0, x, 1.0, nullptr));  // same prefactor as k0
  scaled s = k_forward(mu, x, static_cast<int>(nl), k0.m, k1, 0);
  s.L = dd_add(s.L, k0.L);
  s.B = k0.B;
  return s;
}

// Dispatch for v >= 0, 0 < x < inf.
KK_FN scaled bessel_i_scaled(double v, double x) {
  if (v >= kDebyeOrder) return debye_i(dd{v, 0.0}, x);
  if (x >= hankel_start(v)) return hankel_i(v, x);
  if (x <= kSeriesMax) return series_i(v, x);
  return recurrence_i(v, x);
}

// g = I_{v-1}/I_v - 1 for v >= 0, 0 < x < inf (x not tiny: see iv_ratio).
KK_FN dd bessel_g(double v, double x) {
  if (v >= kDebyeOrder) return dd{debye_g(v, x), 0.0};
  if (x >= hankel_start(v) && v >= 1.0) return dd{hankel_g(v, x), 0.0};
  int n = orders_to_debye(v);
  return ratio_recurrence(v, x, n, debye_g(v + n, x));
}

// K_v for v < 20, 1/2 < x < max(20, 2v^2), from the Wronskian I_v K_{v+1} + I_{v+1} K_v = 1/x:
// K_v = 1 / (x I_v (rho_v + I_{v+1}/I_v)) with rho_v = K_{v+1}/K_v from CF2 at |mu| <= 1/2 and
// the (stable, error-damping) forward recurrence rho_{k} = 1/rho_{k-1} + 2k/x.
KK_FN scaled wronskian_k(double v, double x) {
  double nl = floor(v + 0.5);
  double mu = v - nl;
  double rho = cf2_ratio(mu, x);
  for (int i = 1; i <= static_cast<int>(nl); ++i) rho = 1.0 / rho + 2.0 * (mu + i) / x;
  // I_v and r1 = I_{v+1} / I_v from one evaluation: both from the series (S_{v+1} / S_v), or
  // r1 from the ratio recurrence that yields I_v (x < hankel_start(v) here).
  scaled si;
  double r1;
  if (x <= kSeriesMax) {
    si = series_i(v, x);
    r1 = (0.5 * x / (v + 1.0)) * (series_sum(v + 1.0, x) / si.m.hi);
  } else {
    si = recurrence_i(v, x, &r1);
  }
  return {dd{1.0 / (dd_round(si.m) * x * (rho + r1)), 0.0}, dd_neg(si.L), -si.B};
}

KK_FN scaled bessel_k_scaled(double v, double x) {
  if (v >= kDebyeOrder) return debye_k(dd{v, 0.0}, x);
  if (x >= hankel_start(v)) return hankel_k(v, x);
  if (x <= kTemmeSeriesMax) return temme_k(v, x);
  if (x >= kHankelMin) return hankel_recurrence_k(v, x);
  return wronskian_k(v, x);
}

KK_FN dd scaled_log(const scaled& s) {
  return dd_add(dd_add(s.L, s.B), dd_log(s.m));
}

// m * exp(L + B + shift) without spurious overflow: exp of a double-double via
// exp(E) = 2^n exp(r), r = E - n log 2 reduced in double-double.
KK_FN double scaled_value(const scaled& s, double shift) {
  dd e = dd_add(s.L, two_sum(s.B, shift));
  if (e.hi > 2000.0) return s.m.hi > 0 ? INFINITY : -INFINITY;
  if (e.hi < -2000.0) return 0.0 * s.m.hi;
  double n = nearbyint(e.hi * 1.4426950408889634);
  dd r = dd_sub(e, dd_ln2_times(n));
  double y = s.m.hi * exp_reduced(r.hi);
  y = fma(y, r.lo + s.m.lo / s.m.hi, y);
  return ldexp(y, static_cast<int>(n));
}

KK_FN bool is_integer(double v) { return floor(v) == v; }

// sin(pi v) with exact argument reduction to [-1/2, 1/2] (fmod and these differences are
// exact), so values near integers keep their relative accuracy.
KK_FN double sinpi(double v) {
  double r = fmod(v, 2.0);  // (-2, 2)
  if (r > 1.0) r -= 2.0;
  if (r < -1.0) r += 2.0;  // (-1, 1]
  if (r > 0.5) r = 1.0 - r;
  if (r < -0.5) r = -1.0 - r;
  return sin(kPi * r);
}

}  // namespace detail

// ---------------------------------------------------------------- public scalar functions

// log K_v(x). K is even in v; x < 0 -> NaN, x = 0 -> +inf, x = +inf -> -inf.
KK_FN double log_kv(double v, double x) {
  if (isnan(v) || isnan(x) || x < 0.0) return NAN;
  v = fabs(v);
  if (x == 0.0) return INFINITY;
  if (isinf(x)) return isinf(v) ? NAN : -INFINITY;
  if (isinf(v)) return INFINITY;
  if (v >= detail::kDebyeOrder && v <= 1e150 && x <= 1e150) return detail::debye_log(v, x, -1.0);
  return dd_round(detail::scaled_log(detail::bessel_k_scaled(v, x)));
}

// K_v(x) e^{shift * x}: kv (shift 0) and kve (shift 1).
KK_FN double kv_shifted(double v, double x, double shift) {
  if (isnan(v) || isnan(x) || x < 0.0) return NAN;
  v = fabs(v);
  if (x == 0.0) return INFINITY;
  if (isinf(x)) return isinf(v) ? NAN : 0.0;
  if (isinf(v)) return INFINITY;
  if (v >= detail::kDebyeOrder && v <= 1e150) {  // far out of range: no need for precision
    double e = detail::debye_exponent(v, x, -1.0) + (shift - 1.0) * x;  // ~ log(K_v e^{shift x})
    if (e > 800.0) return INFINITY;
    if (e < -800.0) return 0.0;
  }
  return detail::scaled_value(detail::bessel_k_scaled(v, x), shift * x);
}

// I_v(x) e^{-shift |x|}: iv (shift 0) and ive (shift 1). Negative non-integer order by
// reflection I_{-v} = I_v + (2/pi) sin(pi v) K_v; negative x only for integer order.
KK_FN double iv_shifted(double v, double x, double shift) {
  if (isnan(v) || isnan(x)) return NAN;
  bool vint = detail::is_integer(v);
  double sgn = 1.0;
  if (x < 0.0) {
    if (!vint) return NAN;
    x = -x;
    if (fmod(v, 2.0) != 0.0) sgn = -1.0;
  }
  if (vint) v = fabs(v);
  if (isinf(v)) return v > 0 && !isinf(x) ? 0.0 : NAN;
  if (x == 0.0) {
    if (v == 0.0) return sgn;
    if (v > 0.0) return 0.0 * sgn;
    return detail::sinpi(-v) > 0 ? INFINITY : -INFINITY;
  }
  if (isinf(x)) return shift != 0.0 ? 0.0 * sgn : INFINITY * sgn;
  double off = -shift * x;
  if (v >= detail::kDebyeOrder && v <= 1e150) {  // far out of range: no need for precision
    double e = detail::debye_exponent(v, x, 1.0) + (1.0 - shift) * x;  // ~ log(I_v e^{-shift x})
    if (e > 800.0) return INFINITY * sgn;
    if (e < -800.0) return 0.0 * sgn;
  }
  if (v >= 0.0) return sgn * detail::scaled_value(detail::bessel_i_scaled(v, x), off);
  double a = -v;
  double iv_a = detail::scaled_value(detail::bessel_i_scaled(a, x), off);
  double kv_a = detail::scaled_value(detail::bessel_k_scaled(a, x), off);
  return iv_a + (2.0 / detail::kPi) * detail::sinpi(a) * kv_a;
}

// log I_v(x); NaN where I_v(x) < 0 or is not real.
KK_FN double log_iv(double v, double x) {
  if (isnan(v) || isnan(x)) return NAN;
  bool vint = detail::is_integer(v);
  if (x < 0.0) {
    if (!vint || fmod(v, 2.0) != 0.0) return NAN;
    x = -x;
  }
  if (vint) v = fabs(v);
  if (isinf(v)) return v > 0 && !isinf(x) ? -INFINITY : NAN;
  if (x == 0.0) {
    if (v == 0.0) return 0.0;
    if (v > 0.0) return -INFINITY;
    return detail::sinpi(-v) > 0 ? INFINITY : NAN;
  }
  if (isinf(x)) return INFINITY;
  if (v >= 0.0) {
    if (v >= detail::kDebyeOrder && v <= 1e150 && x <= 1e150) return detail::debye_log(v, x, 1.0);
    return dd_round(detail::scaled_log(detail::bessel_i_scaled(v, x)));
  }
  // I_{-a} = I_a + (2/pi) sin(pi a) K_a, combined in log space.
  double a = -v;
  double sp = detail::sinpi(a);
  dd li = detail::scaled_log(detail::bessel_i_scaled(a, x));
  dd lk = dd_add(detail::scaled_log(detail::bessel_k_scaled(a, x)), log((2.0 / detail::kPi) * fabs(sp)));
  double diff = dd_round(dd_sub(lk, li));  // log(|second term| / I_a)
  if (sp > 0) {
    return diff > 0 ? dd_round(dd_add(lk, log1p(exp(-diff)))) : dd_round(dd_add(li, log1p(exp(diff))));
  }
  if (diff >= 0) return NAN;  // I_{-a}(x) <= 0
  return dd_round(dd_add(li, log1p(-exp(diff))));
}

// I_v(x) / I_{v-1}(x) (want_complement = false) or 1 - that, for v >= 0 and x >= 0.
KK_FN double iv_ratio_impl(double v, double x, bool want_complement) {
  if (isnan(v) || isnan(x) || v < 0.0 || x < 0.0 || isinf(v)) return NAN;
  if (x == 0.0) return v == 0.0 ? (want_complement ? -INFINITY : INFINITY)
                                 : (want_complement ? 1.0 : 0.0);
  if (isinf(x)) return want_complement ? 0.0 : 1.0;
  if (x < 1e-150) {  // 2v/x would overflow in the recurrence; use the leading behaviour
    double r;
    if (v >= 1.0) {
      r = 0.5 * x / v;  // the next term is x^2 / (4 v (v + 1)) relative: below 1e-300
    } else if (v == 0.0) {
      r = 2.0 / x;  // I_0 / I_1
    } else {  // 0 < v < 1: I_{v-1} has a K_{1-v} part; both logs are accurate
      double d = log_iv(v, x) - log_iv(v - 1.0, x);
      return want_complement ? -expm1(d) : exp(d);
    }
    return want_complement ? 1.0 - r : r;
  }
  dd g = detail::bessel_g(v, x);
  double s = dd_add(g, 1.0).hi;  // 1 + g = I_{v-1} / I_v
  return want_complement ? g.hi / s : 1.0 / s;
}

KK_FN double iv_ratio(double v, double x) { return iv_ratio_impl(v, x, false); }
KK_FN double iv_ratio_c(double v, double x) { return iv_ratio_impl(v, x, true); }

}  // namespace kernelkit::special
