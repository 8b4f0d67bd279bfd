// CPU entry point of kernelkit.kron: one Kronecker factor applied along one mode, no Python.
#pragma once
#include <cstdint>

#include "kernelkit/kron/kron_blocks.hpp"

namespace kernelkit::cpu {

// out[l, i, s] = sum_j a[i, j] in[l, j, s] for l < L, i < r, s < R (all row-major, contiguous):
// the factor a (r x c) applied along the middle axis of a (L, c, R) array, without moving the
// other axes. Threads over l and blocks of s.
template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R);

// Several consecutive modes at once: in (L, c_0, ..., c_{nf-1}, R) -> out (L, r_0, ...,
// r_{nf-1}, R), factor f (r_f x c_f) along axis f + 1, one block (l and rt consecutive s) per
// thread at a time with the intermediates in per-thread buffers, so small factors cost one
// memory pass together. rt = R: whole contiguous l-blocks; rt < R: a tile is gathered into a
// buffer first (strided runs of rt values) and scattered back after.
template <class T>
void mode_chain(int nf, const T* const* a, const int64_t* r, const int64_t* c, const T* in,
                T* out, int64_t L, int64_t R, int64_t rt);

namespace base {
template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R);
template <class T>
void mode_chain(int nf, const T* const* a, const int64_t* r, const int64_t* c, const T* in,
                T* out, int64_t L, int64_t R, int64_t rt);
}
namespace avx2 {
template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R);
template <class T>
void mode_chain(int nf, const T* const* a, const int64_t* r, const int64_t* c, const T* in,
                T* out, int64_t L, int64_t R, int64_t rt);
}

// The CUDA chain kernel's grid run by the block emulator (tests), `threads` per block.
template <class T>
void kron_chain_emulate(const kron::blocks::ChainProblem<T>& p, int threads);

}  // namespace kernelkit::cpu
