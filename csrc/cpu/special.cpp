// Strided CPU loops for the Bessel ufuncs: OpenMP over chunks, and an AVX2+FMA copy of the
// loop body chosen at run time (fma() is a library call in the baseline x86-64 build).
#include "cpu/special.hpp"

#include <stdexcept>
#include <utility>

#include "kernelkit/special/bessel_api.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernelkit::cpu {
namespace {

template <class T, int F>
inline void chunk_body(const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
                       char* out, std::ptrdiff_t so, std::ptrdiff_t begin, std::ptrdiff_t end) {
  for (std::ptrdiff_t i = begin; i < end; ++i) {
    double vi = static_cast<double>(*reinterpret_cast<const T*>(v + i * sv));
    double xi = static_cast<double>(*reinterpret_cast<const T*>(x + i * sx));
    *reinterpret_cast<T*>(out + i * so) = static_cast<T>(special::bessel_eval<F>(vi, xi));
  }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KK_HAVE_X86_DISPATCH 1
template <class T, int F>
__attribute__((target("avx2,fma"), flatten)) void chunk_avx2(
    const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx, char* out,
    std::ptrdiff_t so, std::ptrdiff_t begin, std::ptrdiff_t end) {
  chunk_body<T, F>(v, sv, x, sx, out, so, begin, end);
}
bool cpu_has_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
#endif

template <class T, int F>
__attribute__((flatten)) void chunk_default(const char* v, std::ptrdiff_t sv, const char* x,
                                            std::ptrdiff_t sx, char* out, std::ptrdiff_t so,
                                            std::ptrdiff_t begin, std::ptrdiff_t end) {
  chunk_body<T, F>(v, sv, x, sx, out, so, begin, end);
}

template <class T, int F>
void run(const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx, char* out,
         std::ptrdiff_t so, std::ptrdiff_t n) {
  auto chunk = &chunk_default<T, F>;
#ifdef KK_HAVE_X86_DISPATCH
  if (cpu_has_avx2_fma()) chunk = &chunk_avx2<T, F>;
#endif
  constexpr std::ptrdiff_t kBlock = 1024;
  std::ptrdiff_t nblocks = (n + kBlock - 1) / kBlock;
#ifdef _OPENMP
  // Dynamic schedule: the cost per element varies by region more than 10x.
#pragma omp parallel for schedule(dynamic, 1) if (nblocks > 1)
#endif
  for (std::ptrdiff_t b = 0; b < nblocks; ++b) {
    std::ptrdiff_t begin = b * kBlock;
    std::ptrdiff_t end = begin + kBlock < n ? begin + kBlock : n;
    chunk(v, sv, x, sx, out, so, begin, end);
  }
}

template <class T, int... F>
void dispatch(int f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
              char* out, std::ptrdiff_t so, std::ptrdiff_t n, std::integer_sequence<int, F...>) {
  bool found = ((f == F ? (run<T, F>(v, sv, x, sx, out, so, n), true) : false) || ...);
  if (!found) throw std::invalid_argument("unknown Bessel function code");
}

}  // namespace

template <class T>
void bessel_strided(BesselFn f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
                    char* out, std::ptrdiff_t so, std::ptrdiff_t n) {
  dispatch<T>(static_cast<int>(f), v, sv, x, sx, out, so, n,
              std::make_integer_sequence<int, kBesselFnCount>{});
}

template void bessel_strided<float>(BesselFn, const char*, std::ptrdiff_t, const char*,
                                    std::ptrdiff_t, char*, std::ptrdiff_t, std::ptrdiff_t);
template void bessel_strided<double>(BesselFn, const char*, std::ptrdiff_t, const char*,
                                     std::ptrdiff_t, char*, std::ptrdiff_t, std::ptrdiff_t);

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace kernelkit::cpu
