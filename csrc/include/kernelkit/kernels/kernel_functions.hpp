// Kernel functions of the scaled distance, shared by the CPU (scalar and SIMD) and CUDA builds.
//
// Every kernel is written once as a template over the value type V (a scalar, or a SIMD vector
// on the CPU) and a math policy M that supplies exp, log, sqrt and cos(pi/2 u). The input q is
// the squared Euclidean distance in bandwidth units (Sq = true) or an L1 distance (Sq = false).
// value() is k, log_value() is log k (-inf where k = 0). NaN in gives NaN out: compact kernels
// test `!(r2 >= 1)` so a NaN distance takes the NaN-propagating branch.
#pragma once
#include <math.h>

#include "kernelkit/config.hpp"
#include "kernelkit/special/log_bessel.hpp"

namespace kernelkit::kernels {

enum Kind : int {
  kGaussian = 0,        // exp(-r^2/2)
  kExponential,         // exp(-r)              (laplacian, matern nu = 1/2)
  kMatern15,            // (1 + a) exp(-a), a = sqrt(3) r
  kMatern25,            // (1 + a + a^2/3) exp(-a), a = sqrt(5) r
  kMaternGeneral,       // 2^(1-nu)/Gamma(nu) a^nu K_nu(a), a = sqrt(2 nu) r (scalar path only)
  kCauchy,              // 1 / (1 + r^2)
  kRationalQuadratic,   // (1 + r^2 / (2 alpha))^(-alpha)
  kInverseMultiquadric, // 1 / sqrt(1 + r^2)
  kTophat,              // 1 for r < 1
  kEpanechnikov,        // 1 - r^2 for r < 1
  kLinear,              // 1 - r for r < 1
  kCosine,              // cos(pi r / 2) for r < 1
  kDistance,            // r itself (euclidean or manhattan distance sums)
  kKindCount
};

struct Params {
  double alpha = 1.0;   // rational quadratic
  double nu = 0.5;      // general Matern order
  double log_c = 0.0;   // general Matern: (1 - nu) log 2 - lgamma(nu)
};

// True where the kernel is a function of r rather than r^2 (those need a sqrt for Sq inputs).
KK_HD constexpr bool uses_r(int kind) {
  return kind == kExponential || kind == kMatern15 || kind == kMatern25 ||
         kind == kMaternGeneral || kind == kLinear || kind == kCosine || kind == kDistance;
}

template <int K, bool Sq, class M, class V, class T>
KK_FN V value(V q, const Params& p) {
  const V one = V{} + T(1);
  const V zero = V{};
  V r2 = q, r = q;
  if constexpr (Sq) {
    if constexpr (uses_r(K)) r = M::sqrt(q);
  } else {
    r2 = q * q;
  }
  if constexpr (K == kGaussian) return M::exp(r2 * T(-0.5));
  if constexpr (K == kExponential) return M::exp(-r);
  if constexpr (K == kMatern15) {
    V a = r * T(1.7320508075688772);
    return (one + a) * M::exp(-a);
  }
  if constexpr (K == kMatern25) {
    V a = r * T(2.23606797749979);
    return (one + a + a * a * T(1.0 / 3.0)) * M::exp(-a);
  }
  if constexpr (K == kCauchy) return one / (one + r2);
  if constexpr (K == kRationalQuadratic)
    return M::exp(M::log(one + r2 * T(0.5 / p.alpha)) * T(-p.alpha));
  if constexpr (K == kInverseMultiquadric) return one / M::sqrt(one + r2);
  if constexpr (K == kTophat) return !(r2 >= one) ? one + r2 * T(0) : zero;
  if constexpr (K == kEpanechnikov) return !(r2 >= one) ? one - r2 : zero;
  if constexpr (K == kLinear) return !(r >= one) ? one - r : zero;
  if constexpr (K == kCosine) return !(r >= one) ? M::cos_halfpi(r) : zero;
  if constexpr (K == kDistance) return r;
  return zero;
}

template <int K, bool Sq, class M, class V, class T>
KK_FN V log_value(V q, const Params& p) {
  const V one = V{} + T(1);
  const V ninf = V{} - T(INFINITY);
  V r2 = q, r = q;
  if constexpr (Sq) {
    if constexpr (uses_r(K)) r = M::sqrt(q);
  } else {
    r2 = q * q;
  }
  if constexpr (K == kGaussian) return r2 * T(-0.5);
  if constexpr (K == kExponential) return -r;
  if constexpr (K == kMatern15) {
    V a = r * T(1.7320508075688772);
    return M::log(one + a) - a;
  }
  if constexpr (K == kMatern25) {
    V a = r * T(2.23606797749979);
    return M::log(one + a + a * a * T(1.0 / 3.0)) - a;
  }
  if constexpr (K == kCauchy) return -M::log(one + r2);
  if constexpr (K == kRationalQuadratic) return M::log(one + r2 * T(0.5 / p.alpha)) * T(-p.alpha);
  if constexpr (K == kInverseMultiquadric) return M::log(one + r2) * T(-0.5);
  if constexpr (K == kTophat) return !(r2 >= one) ? r2 * T(0) : ninf;
  if constexpr (K == kEpanechnikov) return !(r2 >= one) ? M::log(one - r2) : ninf;
  if constexpr (K == kLinear) return !(r >= one) ? M::log(one - r) : ninf;
  if constexpr (K == kCosine) return !(r >= one) ? M::log(M::cos_halfpi(r)) : ninf;
  if constexpr (K == kDistance) return M::log(r);
  return ninf;
}

// General Matern, log form: log_c + nu log a + log K_nu(a) with a = sqrt(2 nu) r (0 at r = 0).
KK_FN double matern_log(double r, const Params& p) {
  double a = ::sqrt(2.0 * p.nu) * r;
  if (a == 0.0) return 0.0;
  if (a == INFINITY) return -INFINITY;
  if (!(a == a)) return a;
  return p.log_c + p.nu * ::log(a) + special::log_kv(p.nu, a);
}

// Scalar math policy (host and device).
struct ScalarMath {
  template <class T> KK_HD static T exp(T x) { return ::exp(x); }
  template <class T> KK_HD static T log(T x) { return ::log(x); }
  template <class T> KK_HD static T sqrt(T x) { return ::sqrt(x); }
  template <class T> KK_HD static T cos_halfpi(T u) { return ::cos(T(1.5707963267948966) * u); }
};

}  // namespace kernelkit::kernels
