// Kronecker mode products as a GPU thread-block program, shared by the CUDA kernel and the CPU
// block emulator (Runner convention: kernelkit/sparse/spgemm_blocks.hpp).
//
// A pass applies a chain of q small factors to q consecutive modes of a tensor viewed as
// (L, P, R): P = prod of the chain's column counts, R = everything after the chain. A block
// owns one l and Rt consecutive r (so global loads and stores are coalesced along r), stages
// the P x Rt slice in shared memory and applies the factors one mode at a time (in place for
// square factors, else between two shared buffers), then writes the Q x Rt result (Q = prod of
// the chain's row counts). The factors are staged in shared memory too.
// Shared-memory offsets fit in int (the tile fits in shared memory).
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

constexpr int kColumnMax = 16;  // factors with at most this many columns keep one in registers
constexpr int kRowBlock = 8;    // outputs a thread accumulates at once (16 spilled)

// Square factors of at most kColumnMax columns are applied in place (a thread, or in float64
// a warp, owns whole columns: it reads them into registers and writes the same positions), so
// such a chain needs one buffer, any other chain two.
template <class T>
KK_FN bool chain_square(const ChainProblem<T>& p) {
  for (int j = 0; j < p.q; ++j)
    if (p.rows[j] != p.cols[j] || p.cols[j] > kColumnMax) return false;
  return true;
}
// Shared memory of a block: the chain's factors (staged once: the rotated reads below would hit
// a different cache line per thread in global memory, but no bank twice in shared memory),
// then the buffer(s).
template <class T>
KK_FN int64_t chain_factor_elements(const ChainProblem<T>& p) {
  int64_t n = 0;
  for (int j = 0; j < p.q; ++j) n += int64_t(p.rows[j]) * p.cols[j];
  return n;
}
template <class T>
KK_FN int64_t chain_smem_elements(const ChainProblem<T>& p) {
  return chain_factor_elements(p) + (chain_square(p) ? 1 : 2) * chain_max_elements(p) * p.rt;
}

// One mode product inside shared memory, src viewed as (before, c, after) and dst as
// (before, rows, after). A thread takes whole columns (b, a): it loads the column's c values
// into registers once and accumulates kRowBlock outputs at a time, k outer and rows inner, so
// the multiply-adds are independent (a row-by-row dot product is one dependent chain of
// latencies). Consecutive threads take consecutive a, which is conflict-free when after >= 16;
// for short `after` (the last modes of a vector) the threads of a half-warp differ in b
// instead, so each walks k rotated by b, which spreads its reads of the column and of the
// factor rows over the banks (the sums then add in a rotated order).
template <class Runner, class T>
KK_FN void mode_columns(Runner& r, const T* a, int c, int rows, int before, int after,
                        const T* src, T* dst) {
  const int nth = r.threads();
  const int columns = before * after;
  r.run([&](int tid) {
    for (int e = tid; e < columns; e += nth) {
      const int b = e / after, ai = e - b * after;
      const int k0 = after >= 16 ? 0 : b % c;
      const T* s = src + b * c * after + ai;
      T col[kColumnMax];
      int kk[kColumnMax];
#pragma unroll
      for (int k = 0; k < kColumnMax; ++k) {
        kk[k] = k0 + k < c ? k0 + k : k0 + k - c;
        if (k < c) col[k] = s[kk[k] * after];
      }
      T* o = dst + b * rows * after + ai;
      for (int i0 = 0; i0 < rows; i0 += kRowBlock) {
        const T* arows = a + i0 * c;
        T acc[kRowBlock];
#pragma unroll
        for (int i = 0; i < kRowBlock; ++i) acc[i] = 0;
#pragma unroll
        for (int k = 0; k < kColumnMax; ++k) {
          if (k < c) {
#pragma unroll
            for (int i = 0; i < kRowBlock; ++i)
              if (i0 + i < rows) acc[i] += arows[i * c + kk[k]] * col[k];
          }
        }
#pragma unroll
        for (int i = 0; i < kRowBlock; ++i)
          if (i0 + i < rows) o[(i0 + i) * after] = acc[i];
      }
    }
  });
}

// The same for wider factors: one output element per thread step, the sum read from shared.
template <class Runner, class T>
KK_FN void mode_elements(Runner& r, const T* a, int c, int rows, int before, int after,
                         const T* src, T* dst) {
  const int nth = r.threads();
  const int total = before * rows * after;
  r.run([&](int tid) {
    for (int e = tid; e < total; e += nth) {
      const int ai = e % after, rest = e / after;
      const int ri = rest % rows, bi = rest / rows;
      const T* arow = a + ri * c;
      const T* s = src + bi * c * after + ai;
      T acc = 0;
      for (int k = 0; k < c; ++k) acc += arow[k] * s[k * after];
      dst[e] = acc;
    }
  });
}

// float64 factors of at most 16 x 16 go to the tensor cores (DMMA m8n8k4): the mode is the
// product of the factor (rows x c, padded to 16 x 16 with zeros) and src viewed as c x columns,
// 8 columns per warp step. A lane holds its factor fragments in registers for the whole mode
// and loads one value per k step, so shared memory serves ~8x fewer loads per multiply-add
// than mode_columns (which reads a factor value from shared memory for each one; it was
// shared-memory bound at ~2.5 TFLOP/s on the H200). Fragment layout (PTX ISA, m8n8k4 f64):
// lane = 4 g + t holds A[g][t], B[t][g] and C[g][2 t + {0, 1}]. A warp loads all of its 8
// columns before it stores them, so a square mode may run in place as in mode_columns.
constexpr int kMmaMax = kColumnMax;  // square modes in place, as above

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
__device__ inline void dmma_m8n8k4(double (&acc)[2], double a, double b) {
  asm("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0, %1}, {%2}, {%3}, {%0, %1};"
      : "+d"(acc[0]), "+d"(acc[1])
      : "d"(a), "d"(b));
}
#endif

template <class Runner, class T>
KK_FN void mode_mma(Runner& r, const T* a, int c, int rows, int before, int after,
                    const T* src, T* dst) {
  const int warps = r.threads() >= 32 ? r.threads() / 32 : 1;
  const int columns = before * after;
  const int tiles = (columns + 7) / 8;
  r.run([&](int tid) {
    const int warp = tid / 32, lane = tid % 32;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const int g = lane >> 2, t4 = lane & 3;
    const bool two_m = rows > 8;
    const int ksteps = (c + 3) / 4;
    double fa[2][4];
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
      for (int ks = 0; ks < 4; ++ks) {
        const int m = mt * 8 + g, k = ks * 4 + t4;
        fa[mt][ks] = m < rows && k < c ? a[m * c + k] : 0.0;
      }
    for (int tile = warp; tile < tiles; tile += warps) {
      const int n = tile * 8 + g;  // this lane's column of B
      double fb[4] = {0.0, 0.0, 0.0, 0.0};
      if (n < columns) {
        const int b = n / after, ai = n - b * after;
        const T* s = src + b * c * after + ai;
#pragma unroll
        for (int ks = 0; ks < 4; ++ks) {
          const int k = ks * 4 + t4;
          if (k < c) fb[ks] = s[k * after];
        }
      }
      double acc[2][2] = {{0.0, 0.0}, {0.0, 0.0}};
#pragma unroll
      for (int ks = 0; ks < 4; ++ks)
        if (ks < ksteps) {
          dmma_m8n8k4(acc[0], fa[0][ks], fb[ks]);
          if (two_m) dmma_m8n8k4(acc[1], fa[1][ks], fb[ks]);
        }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int n2 = tile * 8 + 2 * t4 + j;  // this lane's columns of C
        if (n2 >= columns) continue;
        const int b = n2 / after, ai = n2 - b * after;
        T* o = dst + b * rows * after + ai;
        if (g < rows) o[g * after] = acc[0][j];
        if (8 + g < rows) o[(8 + g) * after] = acc[1][j];
      }
    }
#else
    // The emulator: lane 0 does its warp's work, a column at a time (load it, then store).
    if (lane != 0) return;
    for (int tile = warp; tile < tiles; tile += warps)
      for (int n = tile * 8; n < tile * 8 + 8 && n < columns; ++n) {
        const int b = n / after, ai = n - b * after;
        const T* s = src + b * c * after + ai;
        T col[kMmaMax];
        for (int k = 0; k < c; ++k) col[k] = s[k * after];
        T* o = dst + b * rows * after + ai;
        for (int m = 0; m < rows; ++m) {
          T acc = 0;
          for (int k = 0; k < c; ++k) acc += a[m * c + k] * col[k];
          o[m * after] = acc;
        }
      }
#endif
  });
}

// Block (l, r tile rb); smem holds chain_smem_elements(p) values (factors, buffers).
template <class Runner, class T>
KK_FN void kron_chain_block(Runner& r, const ChainProblem<T>& p, int64_t l, int64_t rb, T* smem) {
  const int nth = r.threads();
  const int rt = static_cast<int>(p.rt);
  const int64_t r0 = rb * p.rt;
  const int rn = static_cast<int>(p.R - r0 < p.rt ? p.R - r0 : p.rt);  // r values this block has
  const bool square = chain_square(p);
  const int64_t cap = chain_max_elements(p) * p.rt;
  T* fs[kMaxChain];
  T* next = smem;
  for (int j = 0; j < p.q; ++j) {
    fs[j] = next;
    next += p.rows[j] * p.cols[j];
  }
  T* buf[2] = {next, square ? next : next + cap};
  int dims[kMaxChain];
  int size = 1;
  for (int j = 0; j < p.q; ++j) size *= dims[j] = p.cols[j];
  const int P = size;
  const T* in = p.in + l * P * p.R + r0;
  r.run([&](int tid) {
    for (int j = 0; j < p.q; ++j)
      for (int e = tid; e < p.rows[j] * p.cols[j]; e += nth) fs[j][e] = p.factors[j][e];
    for (int e = tid; e < P * rt; e += nth) {
      int pi = e / rt, ri = e - pi * rt;
      buf[0][e] = ri < rn ? in[pi * p.R + ri] : T(0);
    }
  });
  int cur = 0;
  for (int j = 0; j < p.q; ++j) {
    int before = 1, after = rt;
    for (int i = 0; i < j; ++i) before *= dims[i];
    for (int i = j + 1; i < p.q; ++i) after *= dims[i];
    const int c = p.cols[j], rows = p.rows[j];
    // float64 never instantiates mode_columns, whose registers would cap the occupancy of
    // every float64 pass (166 registers a thread with it, one block per SM).
    bool done = false;
    if constexpr (sizeof(T) == 8) {
      if (rows <= kMmaMax && c <= kMmaMax) {
        mode_mma(r, fs[j], c, rows, before, after, buf[cur], buf[1 - cur]);
        done = true;
      }
    } else if (c <= kColumnMax) {
      mode_columns(r, fs[j], c, rows, before, after, buf[cur], buf[1 - cur]);
      done = true;
    }
    if (!done) mode_elements(r, fs[j], c, rows, before, after, buf[cur], buf[1 - cur]);
    dims[j] = rows;
    cur = 1 - cur;
  }
  int Q = 1;
  for (int j = 0; j < p.q; ++j) Q *= p.rows[j];
  T* out = p.out + l * Q * p.R + r0;
  r.run([&](int tid) {
    for (int e = tid; e < Q * rt; e += nth) {
      int qi = e / rt, ri = e - qi * rt;
      if (ri < rn) out[qi * p.R + ri] = buf[cur][e];
    }
  });
}

}  // namespace kernelkit::kron::blocks
