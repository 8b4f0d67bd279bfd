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

}  // namespace kernelkit::cpu
