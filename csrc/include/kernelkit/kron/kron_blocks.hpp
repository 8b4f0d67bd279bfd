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

// n / d for 0 <= n < 2^22 by a float reciprocal, exactly: (n + 0.5) / d lies at least 0.5 / d
// from the integers around it, more than the < 2^-22 relative error of the float product.
// An integer division is about 20 instructions on the GPU; the index arithmetic of a mode's
// column tiles, mostly such divisions, bounded these passes (about 85 us a mode on the H200
// whatever the factor size).
struct SmallDiv {
  int d;
  float inv;
  KK_HD explicit SmallDiv(int divisor) : d(divisor), inv(1.0f / float(divisor)) {}
  KK_HD int operator()(int n) const { return int((float(n) + 0.5f) * inv); }
};

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
  const SmallDiv by_after(after);
  r.run([&](int tid) {
    for (int e = tid; e < columns; e += nth) {
      const int b = by_after(e), ai = e - b * after;
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
// The lane-level steps below are shared by the device and the emulator, which runs a warp's
// 32 lanes in lock step around a software DMMA, so the CPU tests check the fragment layout.
constexpr int kMmaMax = kColumnMax;  // square modes in place, as above

struct MmaLanes {
  double fa[2][4];   // factor rows g and 8 + g, columns 4 ks + t
  double fb[4];      // column tile * 8 + g of src, rows 4 ks + t
  double acc[2][2];  // C rows g and 8 + g, columns tile * 8 + 2 t + {0, 1}
};

template <class T>
KK_FN void mma_load_factor(MmaLanes& w, const T* a, int c, int rows, int lane) {
  const int g = lane >> 2, t = lane & 3;
  for (int mt = 0; mt < 2; ++mt)
    for (int ks = 0; ks < 4; ++ks) {
      const int m = mt * 8 + g, k = ks * 4 + t;
      w.fa[mt][ks] = m < rows && k < c ? double(a[m * c + k]) : 0.0;
    }
}

template <class T>
KK_FN void mma_load_columns(MmaLanes& w, const T* src, int c, const SmallDiv& after,
                            int columns, int tile, int lane) {
  const int g = lane >> 2, t = lane & 3;
  const int n = tile * 8 + g;
  for (int ks = 0; ks < 4; ++ks) w.fb[ks] = 0.0;
  if (n < columns) {
    const int b = after(n), ai = n - b * after.d;
    const T* s = src + b * c * after.d + ai;
    for (int ks = 0; ks < 4; ++ks) {
      const int k = ks * 4 + t;
      if (k < c) w.fb[ks] = s[k * after.d];
    }
  }
  w.acc[0][0] = w.acc[0][1] = w.acc[1][0] = w.acc[1][1] = 0.0;
}

template <class T>
KK_FN void mma_store(const MmaLanes& w, T* dst, int rows, const SmallDiv& after, int columns,
                     int tile, int lane) {
  const int g = lane >> 2, t = lane & 3;
  const int n = tile * 8 + 2 * t;
  int b = after(n), ai = n - b * after.d;  // column n; n + 1 is the next ai, or the next b
  for (int j = 0; j < 2 && n + j < columns; ++j) {
    if (j == 1 && ++ai == after.d) ai = 0, ++b;
    T* o = dst + b * rows * after.d + ai;
    if (g < rows) o[g * after.d] = T(w.acc[0][j]);
    if (8 + g < rows) o[(8 + g) * after.d] = T(w.acc[1][j]);
  }
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
__device__ inline void dmma_m8n8k4(double (&acc)[2], double a, double b) {
  asm("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0, %1}, {%2}, {%3}, {%0, %1};"
      : "+d"(acc[0]), "+d"(acc[1])
      : "d"(a), "d"(b));
}
#else
// The same product for the emulator, over the 32 lanes' registers: C[g][n] += sum_t A[g][t]
// B[t][n], A[g][t] held by lane 4 g + t, B[t][n] by lane 4 n + t.
inline void dmma_lanes(MmaLanes* w, int mt, int ks) {
  double c[32][2];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int j = 0; j < 2; ++j) {
      const int n = 2 * t + j;
      double sum = w[lane].acc[mt][j];
      for (int k = 0; k < 4; ++k) sum += w[4 * g + k].fa[mt][ks] * w[4 * n + k].fb[ks];
      c[lane][j] = sum;
    }
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int j = 0; j < 2; ++j) w[lane].acc[mt][j] = c[lane][j];
}
#endif

template <class Runner, class T>
KK_FN void mode_mma(Runner& r, const T* a, int c, int rows, int before, int after,
                    const T* src, T* dst) {
  const int warps = r.threads() >= 32 ? r.threads() / 32 : 1;
  const int columns = before * after;
  const int tiles = (columns + 7) / 8;
  const int ksteps = (c + 3) / 4, mtiles = rows > 8 ? 2 : 1;
  const SmallDiv by_after(after);
  r.run([&](int tid) {
    const int warp = tid / 32, lane = tid % 32;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    MmaLanes w;
    mma_load_factor(w, a, c, rows, lane);
    for (int tile = warp; tile < tiles; tile += warps) {
      mma_load_columns(w, src, c, by_after, columns, tile, lane);
#pragma unroll
      for (int ks = 0; ks < 4; ++ks)
        if (ks < ksteps) {
          dmma_m8n8k4(w.acc[0], w.fa[0][ks], w.fb[ks]);
          if (mtiles == 2) dmma_m8n8k4(w.acc[1], w.fa[1][ks], w.fb[ks]);
        }
      mma_store(w, dst, rows, by_after, columns, tile, lane);
    }
#else
    if (lane != 0) return;  // lane 0 runs its warp (a block of fewer than 32 threads: one warp)
    MmaLanes w[32];
    for (int ln = 0; ln < 32; ++ln) mma_load_factor(w[ln], a, c, rows, ln);
    for (int tile = warp; tile < tiles; tile += warps) {
      for (int ln = 0; ln < 32; ++ln)
        mma_load_columns(w[ln], src, c, by_after, columns, tile, ln);
      for (int ks = 0; ks < ksteps; ++ks)
        for (int mt = 0; mt < mtiles; ++mt) dmma_lanes(w, mt, ks);
      for (int ln = 0; ln < 32; ++ln) mma_store(w[ln], dst, rows, by_after, columns, tile, ln);
    }
#endif
  });
}

constexpr int kLoadBatch = 8;

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
  const SmallDiv by_rt(rt);
  r.run([&](int tid) {
    for (int j = 0; j < p.q; ++j)
      for (int e = tid; e < p.rows[j] * p.cols[j]; e += nth) fs[j][e] = p.factors[j][e];
    // kLoadBatch independent loads in flight per thread: one at a time left the H200 at about
    // 1 TB/s in these passes (latency-bound, few threads per SM with large tiles).
    for (int e0 = tid; e0 < P * rt; e0 += kLoadBatch * nth) {
      T v[kLoadBatch];
      for (int u = 0; u < kLoadBatch; ++u) {
        const int e = e0 + u * nth, pi = by_rt(e), ri = e - pi * rt;
        v[u] = e < P * rt && ri < rn ? in[pi * p.R + ri] : T(0);
      }
      for (int u = 0; u < kLoadBatch; ++u)
        if (e0 + u * nth < P * rt) buf[0][e0 + u * nth] = v[u];
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
      int qi = by_rt(e), ri = e - qi * rt;
      if (ri < rn) out[qi * p.R + ri] = buf[cur][e];
    }
  });
}

}  // namespace kernelkit::kron::blocks
