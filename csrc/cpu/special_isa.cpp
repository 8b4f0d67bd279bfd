// The Bessel loop body, compiled once per instruction set (CMake builds this file twice:
// baseline x86-64 and -mavx2 -mfma, where fma() becomes one instruction instead of a
// library call). special.cpp picks the copy at run time.
#include <utility>

#include "cpu/special.hpp"
#include "kernelkit/special/bessel_api.hpp"

#ifndef KK_ISA
#error "KK_ISA must name the instruction-set namespace"
#endif

namespace kernelkit::cpu::KK_ISA {

namespace {
template <class T, int F>
void loop(const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx, char* out,
          std::ptrdiff_t so, std::ptrdiff_t n) {
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    double vi = static_cast<double>(*reinterpret_cast<const T*>(v + i * sv));
    double xi = static_cast<double>(*reinterpret_cast<const T*>(x + i * sx));
    *reinterpret_cast<T*>(out + i * so) = static_cast<T>(special::bessel_eval<F>(vi, xi));
  }
}

template <class T, int... F>
void dispatch(int f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
              char* out, std::ptrdiff_t so, std::ptrdiff_t n, std::integer_sequence<int, F...>) {
  ((f == F ? (loop<T, F>(v, sv, x, sx, out, so, n), true) : false) || ...);
}
}  // namespace

template <class T>
void bessel_chunk(int f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
                  char* out, std::ptrdiff_t so, std::ptrdiff_t n) {
  dispatch<T>(f, v, sv, x, sx, out, so, n, std::make_integer_sequence<int, kBesselFnCount>{});
}

template void bessel_chunk<float>(int, const char*, std::ptrdiff_t, const char*, std::ptrdiff_t,
                                  char*, std::ptrdiff_t, std::ptrdiff_t);
template void bessel_chunk<double>(int, const char*, std::ptrdiff_t, const char*, std::ptrdiff_t,
                                   char*, std::ptrdiff_t, std::ptrdiff_t);

}  // namespace kernelkit::cpu::KK_ISA
