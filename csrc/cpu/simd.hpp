// SIMD vectors for the per-instruction-set CPU loops (kernels_isa.cpp, kron_isa.cpp): GCC
// vector types with loads, stores, broadcasts and the elementwise functions the kernels need.
// Included only by files that CMake compiles once per instruction set (KK_ISA names it).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef KK_ISA
#error "KK_ISA must name the instruction-set namespace"
#endif

namespace kernelkit::cpu::KK_ISA {
namespace {

#define KK_INL static inline __attribute__((always_inline))

template <class T>
struct Simd;

// 32-byte vectors (GCC vector extensions): one AVX register, or two SSE registers in the
// baseline build. (Wider vectors would interleave more chains, but GCC scalarises their
// comparisons and selects.)
template <>
struct Simd<double> {
  typedef double V __attribute__((vector_size(32)));
  typedef int64_t I __attribute__((vector_size(32)));
  typedef uint64_t U __attribute__((vector_size(32)));
  static constexpr int W = 4;
  using T = double;

  KK_INL V splat(double a) { return V{a, a, a, a}; }  // (V{} + a would add 0.0 first)
  KK_INL V load(const double* p) { V v; std::memcpy(&v, p, sizeof v); return v; }
  KK_INL void store(double* p, V v) { std::memcpy(p, &v, sizeof v); }
  KK_INL V abs(V v) { return (V)((U)v & 0x7fffffffffffffffULL); }
  KK_INL V sqrt(V v) {
    for (int l = 0; l < W; ++l) v[l] = __builtin_sqrt(v[l]);
    return v;
  }

  // exp(x) for x <= 0 (all the engine needs), within 1-2 ULP: x = n ln2 + r, |r| <= ln2/2,
  // near-minimax (Chebyshev) polynomial of degree 11 (3e-18). Results below the normal range
  // (x < -708) are returned as 0.
  KK_INL V exp(V x) {
    const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
    V t = x * 1.4426950408889634 + magic;
    V n = t - magic;
    V r = x - n * 0.693147180369123816490 - n * 1.90821492927058770002e-10;
    // Estrin's scheme: the dependency chain is 4 deep instead of 11 (latency, not throughput,
    // limits this loop).
    V r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    V p01 = r + 1.0, p23 = r * 0.1666666666666668 + 0.5000000000000019;
    V p45 = r * 0.008333333333319601 + 0.0416666666664881;
    V p67 = r * 0.00019841269890047113 + 0.0013888888952314775;
    V p89 = r * 2.755724091857897e-06 + 2.4801485482328494e-05;
    V p1011 = r * 2.5110037605963777e-08 + 2.763263963904103e-07;
    V p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67) + r8 * (p89 + r2 * p1011);
    V e = p * (V)(((I)t + 1023) << 52);  // (I)t holds n in its low bits
    return x < -708.0 ? V{} : e;
  }

  // log(x): x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with s = (m-1)/(m+1).
  KK_INL V log(V x) {
    auto tiny = x < 2.2250738585072014e-308;
    V xs = tiny ? x * 4503599627370496.0 : x;
    U xi = (U)xs;
    V m = (V)((xi & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    V e = (V)((xi >> 52) | 0x4330000000000000ULL) - (4503599627370496.0 + 1023.0);
    auto big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1.0 : e;
    e = tiny ? e - 52.0 : e;
    V s = (m - 1.0) / (m + 1.0);
    V s2 = s * s;
    V p = splat(1.0 / 21);
    p = p * s2 + 1.0 / 19;
    p = p * s2 + 1.0 / 17;
    p = p * s2 + 1.0 / 15;
    p = p * s2 + 1.0 / 13;
    p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;
    p = p * s2 + 1.0 / 7;
    p = p * s2 + 1.0 / 5;
    p = p * s2 + 1.0 / 3;
    V lm = (s + s) + (s + s) * s2 * p;
    V res = e * 0.693147180369123816490 + (e * 1.90821492927058770002e-10 + lm);
    res = x == 0.0 ? splat(-INFINITY) : res;
    res = x == INFINITY ? splat(INFINITY) : res;
    res = x < 0.0 ? splat(NAN) : res;
    return x != x ? x : res;
  }

  // cos(pi u / 2) for u in [0, 1]; near u = 1 as sin(pi (1 - u) / 2) for relative accuracy.
  KK_INL V cos_halfpi(V u) {
    auto hi = u > 0.5;
    V t = (hi ? 1.0 - u : u) * 1.5707963267948966;
    V t2 = t * t;
    V c = splat(1.0 / 6402373705728000.0);  // cos, Taylor to t^18 (|t| <= pi/4)
    c = c * t2 - 1.0 / 20922789888000.0;
    c = c * t2 + 1.0 / 87178291200.0;
    c = c * t2 - 1.0 / 479001600.0;
    c = c * t2 + 1.0 / 3628800.0;
    c = c * t2 - 1.0 / 40320.0;
    c = c * t2 + 1.0 / 720.0;
    c = c * t2 - 1.0 / 24.0;
    c = c * t2 + 0.5;
    c = 1.0 - c * t2;
    V s = splat(1.0 / 121645100408832000.0);  // sin, Taylor to t^19
    s = s * t2 - 1.0 / 355687428096000.0;
    s = s * t2 + 1.0 / 1307674368000.0;
    s = s * t2 - 1.0 / 6227020800.0;
    s = s * t2 + 1.0 / 39916800.0;
    s = s * t2 - 1.0 / 362880.0;
    s = s * t2 + 1.0 / 5040.0;
    s = s * t2 - 1.0 / 120.0;
    s = s * t2 + 1.0 / 6.0;
    s = t - s * t2 * t;
    return hi ? s : c;
  }
};

template <>
struct Simd<float> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
  typedef uint32_t U __attribute__((vector_size(32)));
  static constexpr int W = 8;
  using T = float;

  KK_INL V splat(float a) { return V{a, a, a, a, a, a, a, a}; }
  KK_INL V load(const float* p) { V v; std::memcpy(&v, p, sizeof v); return v; }
  KK_INL void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
  KK_INL V abs(V v) { return (V)((U)v & 0x7fffffffu); }
  KK_INL V sqrt(V v) {
    for (int l = 0; l < W; ++l) v[l] = __builtin_sqrtf(v[l]);
    return v;
  }

  KK_INL V exp(V x) {  // x <= 0; degree-6 near-minimax polynomial (2e-9)
    const float magic = 12582912.0f;  // 1.5 * 2^23
    V t = x * 1.44269504f + magic;
    V n = t - magic;
    V r = x - n * 0.693359375f - n * -2.12194440e-4f;
    V r2 = r * r, r4 = r2 * r2;
    V p01 = r * 1.000000037716214f + 1.0f, p23 = r * 0.16666415514653277f + 0.5000000047117757f;
    V p45 = r * 0.008375126398153335f + 0.04166635289677516f;
    V p = (p01 + r2 * p23) + r4 * (p45 + r2 * 0.0013941108433972674f);
    V e = p * (V)(((I)t + 127) << 23);
    return x < -87.0f ? V{} : e;
  }

  KK_INL V log(V x) {
    auto tiny = x < 1.17549435e-38f;
    V xs = tiny ? x * 8388608.0f : x;
    U xi = (U)xs;
    V m = (V)((xi & 0x007fffffu) | 0x3f800000u);
    V e = (V)((xi >> 23) | 0x4b000000u) - (8388608.0f + 127.0f);
    auto big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1.0f : e;
    e = tiny ? e - 23.0f : e;
    V s = (m - 1.0f) / (m + 1.0f);
    V s2 = s * s;
    V p = splat(1.0f / 11);
    p = p * s2 + 1.0f / 9;
    p = p * s2 + 1.0f / 7;
    p = p * s2 + 1.0f / 5;
    p = p * s2 + 1.0f / 3;
    V lm = (s + s) + (s + s) * s2 * p;
    V res = e * 0.693359375f + (e * -2.12194440e-4f + lm);
    res = x == 0.0f ? splat(-INFINITY) : res;
    res = x == INFINITY ? splat(INFINITY) : res;
    res = x < 0.0f ? splat(NAN) : res;
    return x != x ? x : res;
  }

  KK_INL V cos_halfpi(V u) {
    auto hi = u > 0.5f;
    V t = (hi ? 1.0f - u : u) * 1.57079633f;
    V t2 = t * t;
    V c = splat(1.0f / 3628800);
    c = c * t2 - 1.0f / 40320;
    c = c * t2 + 1.0f / 720;
    c = c * t2 - 1.0f / 24;
    c = c * t2 + 0.5f;
    c = 1.0f - c * t2;
    V s = splat(1.0f / 39916800);
    s = s * t2 - 1.0f / 362880;
    s = s * t2 + 1.0f / 5040;
    s = s * t2 - 1.0f / 120;
    s = s * t2 + 1.0f / 6;
    s = t - s * t2 * t;
    return hi ? s : c;
  }
};

}  // namespace
}  // namespace kernelkit::cpu::KK_ISA
