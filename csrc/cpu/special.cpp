// Strided CPU loops for the Bessel ufuncs: OpenMP over blocks of elements, each block run by
// the copy of the loop compiled for the best instruction set this CPU has (special_isa.cpp).
#include "cpu/special.hpp"

#include "kernelkit/special/log_bessel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernelkit::cpu {

#define KK_DECLARE_CHUNK(isa)                                                                \
  namespace isa {                                                                            \
  template <class T>                                                                         \
  void bessel_chunk(int f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx, \
                    char* out, std::ptrdiff_t so, std::ptrdiff_t n);                         \
  }
KK_DECLARE_CHUNK(base)
#ifdef KK_HAVE_AVX2
KK_DECLARE_CHUNK(avx2)
#endif

namespace {
using chunk_fn = void (*)(int, const char*, std::ptrdiff_t, const char*, std::ptrdiff_t, char*,
                          std::ptrdiff_t, std::ptrdiff_t);

template <class T>
chunk_fn best_chunk() {
#ifdef KK_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2::bessel_chunk<T>;
#endif
  return &base::bessel_chunk<T>;
}
}  // namespace

template <class T>
void bessel_strided(BesselFn f, const char* v, std::ptrdiff_t sv, const char* x, std::ptrdiff_t sx,
                    char* out, std::ptrdiff_t so, std::ptrdiff_t n) {
  int code = static_cast<int>(f);
  static const chunk_fn chunk = best_chunk<T>();
  constexpr std::ptrdiff_t kBlock = 1024;
  std::ptrdiff_t nblocks = (n + kBlock - 1) / kBlock;
#ifdef _OPENMP
  // Dynamic schedule: the cost per element differs more than 10x between regions.
#pragma omp parallel for schedule(dynamic, 1) if (nblocks > 1)
#endif
  for (std::ptrdiff_t b = 0; b < nblocks; ++b) {
    std::ptrdiff_t begin = b * kBlock;
    std::ptrdiff_t len = begin + kBlock < n ? kBlock : n - begin;
    chunk(code, v + begin * sv, sv, x + begin * sx, sx, out + begin * so, so, len);
  }
}

template void bessel_strided<float>(BesselFn, const char*, std::ptrdiff_t, const char*,
                                    std::ptrdiff_t, char*, std::ptrdiff_t, std::ptrdiff_t);
template void bessel_strided<double>(BesselFn, const char*, std::ptrdiff_t, const char*,
                                     std::ptrdiff_t, char*, std::ptrdiff_t, std::ptrdiff_t);

void debye_log_both_paths(const double* v, const double* x, double kind, double* streamlined,
                          double* general, std::ptrdiff_t n) {
  namespace sd = special::detail;
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    streamlined[i] = sd::debye_log(v[i], x[i], kind);
    sd::scaled s = kind > 0 ? sd::bessel_i_scaled(v[i], x[i]) : sd::bessel_k_scaled(v[i], x[i]);
    general[i] = special::dd_round(sd::scaled_log(s));
  }
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace kernelkit::cpu
