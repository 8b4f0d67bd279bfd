// Double-double arithmetic (value = hi + lo, |lo| <= ulp(hi)/2): just the operations the
// log-Bessel code needs to keep ~32 significant digits in large logs that cancel.
// Requires IEEE double without value-changing optimisations (no -ffast-math).
#pragma once
#include "kernelkit/config.hpp"

namespace kernelkit::special {

struct dd {
  double hi, lo;
};

KK_FN dd quick_two_sum(double a, double b) {  // needs |a| >= |b|
  double s = a + b;
  return {s, b - (s - a)};
}
KK_FN dd two_sum(double a, double b) {
  double s = a + b;
  double bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
KK_FN dd two_prod(double a, double b) {
  double p = a * b;
  return {p, fma(a, b, -p)};
}
KK_FN dd dd_add(dd a, dd b) {
  dd s = two_sum(a.hi, b.hi);
  dd t = two_sum(a.lo, b.lo);
  s.lo += t.hi;
  s = quick_two_sum(s.hi, s.lo);
  s.lo += t.lo;
  return quick_two_sum(s.hi, s.lo);
}
KK_FN dd dd_add(dd a, double b) {
  dd s = two_sum(a.hi, b);
  s.lo += a.lo;
  return quick_two_sum(s.hi, s.lo);
}
KK_FN dd dd_neg(dd a) { return {-a.hi, -a.lo}; }
KK_FN dd dd_sub(dd a, dd b) { return dd_add(a, dd_neg(b)); }
KK_FN dd dd_mul(dd a, dd b) {
  dd p = two_prod(a.hi, b.hi);
  p.lo += a.hi * b.lo + a.lo * b.hi;
  return quick_two_sum(p.hi, p.lo);
}
KK_FN dd dd_mul(dd a, double b) {
  dd p = two_prod(a.hi, b);
  p.lo += a.lo * b;
  return quick_two_sum(p.hi, p.lo);
}
KK_FN dd dd_scale(dd a, double pow2) { return {a.hi * pow2, a.lo * pow2}; }  // exact
KK_FN dd dd_div(dd a, dd b) {
  double q1 = a.hi / b.hi;
  dd r = dd_sub(a, dd_mul(b, q1));
  double q2 = r.hi / b.hi;
  r = dd_sub(r, dd_mul(b, q2));
  double q3 = r.hi / b.hi;
  dd q = quick_two_sum(q1, q2);
  return dd_add(q, q3);
}
KK_FN dd dd_sqrt(dd a) {
  double s = sqrt(a.hi);
  dd r = dd_sub(a, two_prod(s, s));
  return quick_two_sum(s, r.hi / (2.0 * s));
}
KK_FN double dd_round(dd a) { return a.hi + a.lo; }

// log 2 and log(2 pi), log(pi / 2) split into double-doubles.
constexpr double ln2_hi = 0.6931471805599453;
constexpr double ln2_lo = 2.3190468138462996e-17;
constexpr double ln_2pi_hi = 1.8378770664093456;
constexpr double ln_2pi_lo = -7.756588316134483e-17;
constexpr double ln_pi_2_hi = 0.4515827052894549;
constexpr double ln_pi_2_lo = -1.2924516975755169e-17;

KK_FN dd dd_ln2_times(double n) {  // n * log 2 for |n| < 2^52
  dd p = two_prod(n, ln2_hi);
  p.lo += n * ln2_lo;
  return quick_two_sum(p.hi, p.lo);
}

// Natural log of a positive finite double-double, to ~1e-30 relative (plus ~1e-32 absolute).
// a = 2^e f with f in [1/sqrt2, sqrt2); log f = 2 atanh(u), u = (f-1)/(f+1), |u| < 0.172:
// the leading 2u is kept in double-double, the tail 2u^3/3 + ... (< 1% of it) in double.
KK_FN dd dd_log(dd a) {
  int e;
  double f = frexp(a.hi, &e);
  if (f < 0.70710678118654752440) {
    f *= 2.0;
    e -= 1;
  }
  double lo = ldexp(a.lo, -e);
  dd num = dd_add(two_sum(f, -1.0), lo);
  dd den = dd_add(two_sum(f, 1.0), lo);
  dd u = dd_div(num, den);
  double w = u.hi * u.hi;
  double p = 1.0 / 3 + w * (1.0 / 5 + w * (1.0 / 7 + w * (1.0 / 9 + w * (1.0 / 11 + w * (1.0 / 13 +
             w * (1.0 / 15 + w * (1.0 / 17 + w * (1.0 / 19 + w * (1.0 / 21 + w * (1.0 / 23 +
             w * (1.0 / 25)))))))))));
  dd r = dd_add(dd_scale(u, 2.0), 2.0 * u.hi * w * p);
  return dd_add(r, dd_ln2_times(static_cast<double>(e)));
}
KK_FN dd dd_log(double a) { return dd_log(dd{a, 0.0}); }

// log Gamma(1 + v) for 0 <= v <= ~100 as a double-double: shift to y >= 13 with an exact
// double-double product, then Stirling's series (8 terms: error < 1e-18 at y = 13).
KK_FN dd dd_lgamma1p(double v) {
  dd y = two_sum(v, 1.0);
  dd prod{1.0, 0.0};
  while (y.hi < 13.0) {
    prod = dd_mul(prod, y);
    y = dd_add(y, 1.0);
  }
  dd ly = dd_log(y);
  dd res = dd_mul(dd_add(y, -0.5), ly);
  res = dd_sub(res, y);
  res = dd_add(res, dd{0.5 * ln_2pi_hi, 0.5 * ln_2pi_lo});
  double iy = 1.0 / y.hi;
  double iy2 = iy * iy;
  double series = iy * (1.0 / 12 + iy2 * (-1.0 / 360 + iy2 * (1.0 / 1260 + iy2 * (-1.0 / 1680 +
                  iy2 * (1.0 / 1188 + iy2 * (-691.0 / 360360 + iy2 * (1.0 / 156 +
                  iy2 * (-3617.0 / 122400))))))));
  res = dd_add(res, series);
  if (prod.hi != 1.0 || prod.lo != 0.0) res = dd_sub(res, dd_log(prod));
  return res;
}

}  // namespace kernelkit::special
