// Double-double arithmetic (value = hi + lo, |lo| <= ulp(hi)/2): just the operations the
// log-Bessel code needs to keep ~32 significant digits in large logs that cancel.
// Requires IEEE double without value-changing optimisations (no -ffast-math).
#pragma once
#include <string.h>

#include "kernelkit/config.hpp"
#include "kernelkit/special/bessel_coeffs.hpp"

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
// Error <= ~4 eps^2 max(|a|, |b|): an absolute bound relative to the larger operand, which is
// what the log-space code needs (it never relies on relative accuracy after cancellation).
KK_FN dd dd_add(dd a, dd b) {
  dd s = two_sum(a.hi, b.hi);
  return quick_two_sum(s.hi, s.lo + (a.lo + b.lo));
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
  return quick_two_sum(q1, r.hi / b.hi);
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

// IEEE bit patterns (memcpy on the host, intrinsics on the device).
KK_FN unsigned long long to_bits(double a) {
#ifdef __CUDA_ARCH__
  return static_cast<unsigned long long>(__double_as_longlong(a));
#else
  unsigned long long b;
  memcpy(&b, &a, sizeof b);
  return b;
#endif
}
KK_FN double from_bits(unsigned long long b) {
#ifdef __CUDA_ARCH__
  return __longlong_as_double(static_cast<long long>(b));
#else
  double a;
  memcpy(&a, &b, sizeof a);
  return a;
#endif
}

// Binary exponent of a positive normal double (ilogb without the library call).
KK_FN int exponent_of(double a) { return static_cast<int>((to_bits(a) >> 52) & 0x7ff) - 1023; }

namespace log_table {
#ifdef __CUDACC__
static __device__ const double dev_r[129] = {KK_LOG_TABLE_R};
static __device__ const double dev_hi[129] = {KK_LOG_TABLE_HI};
static __device__ const double dev_lo[129] = {KK_LOG_TABLE_LO};
#endif
static constexpr double host_r[129] = {KK_LOG_TABLE_R};
static constexpr double host_hi[129] = {KK_LOG_TABLE_HI};
static constexpr double host_lo[129] = {KK_LOG_TABLE_LO};
}  // namespace log_table

// Table reduction shared by the logs: a = 2^e f with f in [1, 2) (a positive normal double),
// k = round(128 f), r = 128/k rounded and -log r = lhi + llo from the table.
struct log_reduced {
  double e, f, r, lhi, llo;
};
KK_FN log_reduced log_reduce(double a) {
  unsigned long long b = to_bits(a);
  log_reduced q;
  q.e = static_cast<double>(static_cast<int>((b >> 52) & 0x7ff) - 1023);
  q.f = from_bits((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  int idx = static_cast<int>(q.f * 128.0 + 0.5) - 128;
#ifdef __CUDA_ARCH__
  q.r = log_table::dev_r[idx], q.lhi = log_table::dev_hi[idx], q.llo = log_table::dev_lo[idx];
#else
  q.r = log_table::host_r[idx], q.lhi = log_table::host_hi[idx], q.llo = log_table::host_lo[idx];
#endif
  return q;
}

// Natural log of a positive finite double, as a double-double with absolute error below
// ~2e-21 + 1e-32 |log a|: log f = -log r + log1p(u), u = f r - 1 exact in double-double and
// |u| <= 1/255, so the series tail beyond u (< 8e-6 of it) can be summed in double.
KK_FN dd dd_log(double a) {
  double shift = 0.0;
  if (a < 2.2250738585072014e-308) {  // subnormal: renormalise first
    a *= 18014398509481984.0;         // 2^54
    shift = -54.0;
  }
  log_reduced q = log_reduce(a);
  double de = q.e + shift;
  dd p = two_prod(q.f, q.r);
  dd u = two_sum(p.hi - 1.0, p.lo);  // p.hi - 1 is exact (Sterbenz)
  double t = u.hi;
  double tail = -t * t * (0.5 - t * (1.0 / 3 - t * (0.25 - t * (0.2 - t * (1.0 / 6 - t * (1.0 / 7 -
                t * (0.125 - t * (1.0 / 9 - t * 0.1))))))));
  // e log 2 + (lhi + llo) + u + tail with one error-free chain for the large parts.
  dd a0 = two_prod(de, ln2_hi);
  dd s1 = two_sum(a0.hi, q.lhi);
  dd s2 = two_sum(s1.hi, u.hi);
  double lo = (((a0.lo + de * ln2_lo) + (q.llo + s1.lo)) + (s2.lo + u.lo)) + tail;
  return quick_two_sum(s2.hi, lo);
}

// Natural log of a positive normal double, in double (about 0.6 ULP): the same reduction
// without the double-double bookkeeping, inlined where libm's log is a call.
KK_FN double log_d(double a) {
  log_reduced q = log_reduce(a);
  double u = fma(q.f, q.r, -1.0);  // |u| <= 1/255, rounded once
  double tail = u * u * fma(u, fma(u, fma(u, fma(u, -1.0 / 6, 0.2), -0.25), 1.0 / 3), -0.5);
  double big = fma(q.e, ln2_hi, q.lhi);  // one rounding
  return big + (u + (fma(q.e, ln2_lo, q.llo) + tail));
}

// exp(r) for |r| <= 0.35 by its Taylor series to r^13 (tail < 4e-18), and exp(a) for
// |a| <= 700 from a = n log 2 + r. Ours rather than libm's so that CPU and GPU (whose exp
// differs from glibc's by up to an ulp) compute bit-identical Bessel values.
KK_FN double exp_reduced(double r) {
  const double inv_fact[11] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                               1.0 / 362880.0,    1.0 / 40320.0,    1.0 / 5040.0,
                               1.0 / 720.0,       1.0 / 120.0,      1.0 / 24.0,
                               1.0 / 6.0,         0.5};
  double p = 1.0 / 6227020800.0;  // 1/13!
  for (int k = 0; k < 11; ++k) p = fma(p, r, inv_fact[k]);
  dd one_r = two_sum(1.0, r);  // 1 + r exactly: the result then rounds about once
  return one_r.hi + fma(r * r, p, one_r.lo);
}
KK_FN double exp_d(double a) {
  double n = nearbyint(a * 1.4426950408889634);
  double r = fma(-n, ln2_lo, fma(-n, ln2_hi, a));
  return ldexp(exp_reduced(r), static_cast<int>(n));
}
// sin(t) for |t| <= pi/2 and sinh(t)/t - 1 for |t| <= 1 by their Taylor series (to t^23 and
// t^18), for the same reason.
KK_FN double sin_small(double t) {
  double t2 = t * t, p = 0.0;
  for (int k = 23; k >= 3; k -= 2) p = (p + 1.0) * (-t2 / (k * (k - 1.0)));
  return fma(t, p, t);
}
KK_FN double sinhc_minus_1(double t) {
  double t2 = t * t, p = 0.0;
  for (int k = 19; k >= 3; k -= 2) p = (p + 1.0) * (t2 / (k * (k - 1.0)));
  return p;
}

// log(1 + t) for |t| <= 0.01 (the Debye tails), by its series to t^9.
KK_FN double log1p_small(double t) {
  double p = fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, 1.0 / 9, -0.125), 1.0 / 7),
                 -1.0 / 6), 0.2), -0.25), 1.0 / 3), -0.5);
  return fma(t * t, p, t);
}

// log(hi + lo) = log(hi) + lo/hi to 1e-32.
KK_FN dd dd_log(dd a) { return dd_add(dd_log(a.hi), a.lo / a.hi); }

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
