// CPU entry points of kernelkit.special: strided elementwise loops, no Python.
#pragma once
#include <cstddef>

namespace kernelkit::cpu {

enum class BesselFn { log_iv, log_kv, iv, ive, kv, kve, iv_ratio, iv_ratio_c };
constexpr int kBesselFnCount = 8;

// out[i] = f(v[i], x[i]) for i < n; strides in bytes; T is float or double.
template <class T>
void bessel_strided(BesselFn f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
                    char* out, std::ptrdiff_t so, std::ptrdiff_t n);

int max_threads();

// For the tests: log I_v(x) (kind = +1) or log K_v(x) (kind = -1) for v >= 20 by the
// streamlined Debye evaluation the log functions use, and by the general double-double path
// the drop-ins use, so that a dense scan can hold the two within 1 ULP of each other.
void debye_log_both_paths(const double* v, const double* x, double kind, double* streamlined,
                          double* general, std::ptrdiff_t n);

}  // namespace kernelkit::cpu
