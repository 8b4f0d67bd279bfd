// CPU entry point of kernelkit.kron: one Kronecker factor applied along one mode, no Python.
#pragma once
#include <cstdint>

namespace kernelkit::cpu {

// out[l, i, s] = sum_j a[i, j] in[l, j, s] for l < L, i < r, s < R (all row-major, contiguous):
// the factor a (r x c) applied along the middle axis of a (L, c, R) array, without moving the
// other axes. Threads over l and blocks of s.
template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R);

namespace base {
template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R);
}
namespace avx2 {
template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R);
}

}  // namespace kernelkit::cpu
