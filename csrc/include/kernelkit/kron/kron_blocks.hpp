// Kronecker mode products as a GPU thread-block program, shared by the CUDA kernel and the CPU
// block emulator (Runner convention: kernelkit/sparse/spgemm_blocks.hpp).
//
// A pass applies a chain of q small factors to q consecutive modes of a tensor viewed as
// (L, P, R): P = prod of the chain's column counts, R = everything after the chain. A block
// owns one l and Rt consecutive r (so global loads and stores are coalesced along r), stages
// the P x Rt slice in shared memory and applies the factors one mode at a time between two
// shared buffers, then writes the Q x Rt result (Q = prod of the chain's row counts). The
// factors stay in global memory (small, read through the cache).
#pragma once
#include <stdint.h>

#include "kernelkit/config.hpp"

namespace kernelkit::kron::blocks {

constexpr int kMaxChain = 16;

template <class T>
struct ChainProblem {
  int64_t L = 0, R = 0, rt = 1;  // rt: r values per block
  int q = 0;                     // modes in the chain
  int rows[kMaxChain] = {}, cols[kMaxChain] = {};
  const T* factors[kMaxChain] = {};  // row-major rows[j] x cols[j]
  const T* in = nullptr;             // (L, prod cols, R)
  T* out = nullptr;                  // (L, prod rows, R)
};

// Elements of the largest intermediate of the chain (per r), for the buffer size.
template <class T>
KK_FN int64_t chain_max_elements(const ChainProblem<T>& p) {
  int64_t best = 0;
  for (int done = 0; done <= p.q; ++done) {  // after `done` factors: rows then cols
    int64_t size = 1;
    for (int j = 0; j < p.q; ++j) size *= j < done ? p.rows[j] : p.cols[j];
    best = size > best ? size : best;
  }
  return best;
}

// Block (l, r tile rb); smem holds two buffers of chain_max_elements * rt values.
template <class Runner, class T>
KK_FN void kron_chain_block(Runner& r, const ChainProblem<T>& p, int64_t l, int64_t rb, T* smem) {
  const int nth = r.threads();
  const int64_t rt = p.rt;
  const int64_t r0 = rb * rt;
  const int64_t rn = p.R - r0 < rt ? p.R - r0 : rt;  // r values this block has
  const int64_t cap = chain_max_elements(p) * rt;
  T* buf[2] = {smem, smem + cap};
  int64_t dims[kMaxChain];
  int64_t size = 1;
  for (int j = 0; j < p.q; ++j) size *= dims[j] = p.cols[j];
  const int64_t P = size;
  r.run([&](int tid) {
    for (int64_t e = tid; e < P * rt; e += nth) {
      int64_t pi = e / rt, ri = e % rt;
      buf[0][e] = ri < rn ? p.in[(l * P + pi) * p.R + r0 + ri] : T(0);
    }
  });
  int cur = 0;
  for (int j = 0; j < p.q; ++j) {
    int64_t before = 1, after = rt;
    for (int i = 0; i < j; ++i) before *= dims[i];
    for (int i = j + 1; i < p.q; ++i) after *= dims[i];
    const int64_t c = p.cols[j], rows = p.rows[j];
    const T* a = p.factors[j];
    const T* src = buf[cur];
    T* dst = buf[1 - cur];
    r.run([&](int tid) {
      for (int64_t e = tid; e < before * rows * after; e += nth) {
        int64_t ai = e % after, rest = e / after;
        int64_t ri = rest % rows, bi = rest / rows;
        const T* arow = a + ri * c;
        const T* s = src + bi * c * after + ai;
        T acc = 0;
        for (int64_t k = 0; k < c; ++k) acc += arow[k] * s[k * after];
        dst[e] = acc;
      }
    });
    dims[j] = rows;
    cur = 1 - cur;
  }
  int64_t Q = 1;
  for (int j = 0; j < p.q; ++j) Q *= p.rows[j];
  r.run([&](int tid) {
    for (int64_t e = tid; e < Q * rt; e += nth) {
      int64_t qi = e / rt, ri = e % rt;
      if (ri < rn) p.out[(l * Q + qi) * p.R + r0 + ri] = buf[cur][e];
    }
  });
}

}  // namespace kernelkit::kron::blocks
