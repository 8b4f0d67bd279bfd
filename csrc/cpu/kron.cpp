// Picks the Kronecker mode-product loop compiled for the best instruction set this CPU has.
#include "cpu/kron.hpp"

namespace kernelkit::cpu {

template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R) {
#ifdef KK_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return avx2::mode_product(a, r, c, in, out, L, R);
#endif
  base::mode_product(a, r, c, in, out, L, R);
}

template <class T>
void mode_chain(int nf, const T* const* a, const int64_t* r, const int64_t* c, const T* in,
                T* out, int64_t L, int64_t R, int64_t rt) {
#ifdef KK_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return avx2::mode_chain(nf, a, r, c, in, out, L, R, rt);
#endif
  base::mode_chain(nf, a, r, c, in, out, L, R, rt);
}

template void mode_chain<float>(int, const float* const*, const int64_t*, const int64_t*,
                                const float*, float*, int64_t, int64_t, int64_t);
template void mode_chain<double>(int, const double* const*, const int64_t*, const int64_t*,
                                 const double*, double*, int64_t, int64_t, int64_t);
template void mode_product<float>(const float*, int64_t, int64_t, const float*, float*, int64_t,
                                  int64_t);
template void mode_product<double>(const double*, int64_t, int64_t, const double*, double*,
                                   int64_t, int64_t);

}  // namespace kernelkit::cpu
