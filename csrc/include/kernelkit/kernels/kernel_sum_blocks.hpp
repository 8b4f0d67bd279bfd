// Kernel sums as GPU thread-block programs, shared by the CUDA kernel and the CPU block
// emulator (see kernelkit/sparse/spgemm_blocks.hpp for the Runner convention: run(f) is "every
// thread calls f(tid), then a barrier"; Runner::Local<S> is one S per thread).
//
// Three block programs; plan_sum picks one for (d, c, dtype, shared memory), for the CUDA
// launcher and the emulator alike:
// - small d (<= 8): d is a compile-time D (1, 2, 3, 4, or 8 with zero padding); each thread
//   keeps a few queries in registers and walks one lane of every data tile (a warp reads two
//   points: shared-memory broadcasts that feed several pairs each); plain sums over a tile,
//   added into running sums. A block takes NC = 1, 4, 8 or 16 weight columns (small_cols),
//   all accumulated from one kernel value per pair (chunks of kChunk columns would recompute
//   the distances and exps once per chunk). Small blocks (32 or 64 queries) keep the last wave
//   of blocks short.
// - tiled (larger d while a block's queries and a data tile fit): GEMM-like register tiles of
//   kTileQ queries x tile_p<T> points per thread, the distances through the cross term
//   |x|^2 + |y|^2 - 2 x.y (one FMA per coordinate) where the norms keep it accurate (the CPU
//   engine's rule), by direct differences otherwise; kernel values go through shared memory
//   and are reduced against the weights per (query, column).
// - generic: one query per thread, runtime d (any d that fits; rare shapes).
// Queries and data are centred and scaled in double, then rounded to T, as on the CPU.
#pragma once
#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "kernelkit/config.hpp"
#include "kernelkit/kernels/kernel_functions.hpp"

// Loops over per-thread arrays must unroll on the GPU, or the arrays go to local memory.
#if defined(__CUDA_ARCH__)
#define KK_SUM_UNROLL _Pragma("unroll")
#else
#define KK_SUM_UNROLL
#endif

namespace kernelkit::kernels::blocks {

constexpr int kChunk = 8;  // weight columns per block (more columns: more blocks)

template <class T, int N>
struct alignas(16) Vec {
  T v[N];
};

template <class T>
struct SumProblem {
  int64_t n = 0, m = 0, d = 1, c = 1;
  const T* x = nullptr;  // (.., n, d); problem b reads block x_index[b]
  const int64_t* x_index = nullptr;
  const T* y = nullptr;  // (.., m, d)
  const int64_t* y_index = nullptr;
  const T* w = nullptr;  // (.., n, c): weights, or log-weights for logsumexp
  const int64_t* w_index = nullptr;
  const double* center = nullptr;  // (.., d) per x block
  const double* scale = nullptr;   // (batch, d): inverse bandwidths
  Params params;
  bool exclude_self = false;  // logsumexp with x = y: skip i == j
  T* out = nullptr;           // (batch, m, c)
};

// Running sums: compensated in float (n terms add ~1 ulp, not ~n), plain in double.
template <class T>
struct RunningSum {
  T sum = 0;
  KK_HD void add(T v) { sum += v; }
  KK_HD T value() const { return sum; }
};
template <>
struct RunningSum<float> {
  float sum = 0, comp = 0;
  KK_HD void add(float v) {
    float y = v - comp;
    float t = sum + y;
    comp = (t - sum) - y;
    sum = t;
  }
  KK_HD float value() const { return sum; }
};

// log sum exp(t_i), online: sum = sum_i exp(t_i - max).
template <class T>
struct RunningLse {
  T max = -INFINITY, sum = 0;
  KK_HD void add(T t) {
    if (t != t) {
      max = t;  // NaN sticks
    } else if (t > max) {
      sum = sum * exp(max - t) + T(1);
      max = t;
    } else if (t > T(-INFINITY)) {
      sum += exp(t - max);
    }
  }
  KK_HD T value() const { return max == T(-INFINITY) || max != max ? max : max + log(sum); }
};

template <class T, bool Lse>
struct QueryState {
  std::conditional_t<Lse, RunningLse<T>, RunningSum<T>> acc[kChunk];
};

// Queries per block and data points per tile for dimension d, cc weight columns, element size
// sz, within shared_bytes of shared memory (0 tile: does not fit).
KK_FN void block_shape(int64_t d, int64_t cc, int64_t sz, int64_t shared_bytes, int* threads,
                       int64_t* tile) {
  int t = 128;
  while (t > 32 && t * d * sz > shared_bytes / 2) t /= 2;
  int64_t rest = shared_bytes - t * d * sz;
  int64_t per_point = (d + cc) * sz;
  int64_t tl = rest > 0 ? rest / per_point : 0;
  *threads = t;
  *tile = tl > 256 ? 256 : tl;
}

template <int K, bool L1, class T>
KK_FN T pair_distance(const T* a, const T* b, int64_t d) {
  T q = 0;
  for (int64_t k = 0; k < d; ++k) {
    T diff = a[k] - b[k];
    q = L1 ? q + (diff < T(0) ? -diff : diff) : q + diff * diff;
  }
  return q;
}

// The kernel of q (squared distance, or L1 distance when L1) and its log.
template <int K, bool L1, class T>
KK_FN T kernel_value(T q, const Params& p) {
  if constexpr (K == kMaternGeneral) return exp(T(matern_log(double(sqrt(q)), p)));
  else return value<K, !L1, ScalarMath, T, T>(q, p);
}
template <int K, bool L1, class T>
KK_FN T kernel_log_value(T q, const Params& p) {
  if constexpr (K == kMaternGeneral) return T(matern_log(double(sqrt(q)), p));
  else return log_value<K, !L1, ScalarMath, T, T>(q, p);
}

// Generic block (query tile qt, problem b, column chunk cb): out[b, qt*threads + tid,
// cb*kChunk + col].
// smem: threads * d + tile * (d + cc) elements of T.
template <int K, bool L1, bool Lse, class Runner, class T>
KK_FN void kernel_sum_block(Runner& r, const SumProblem<T>& p, int64_t b, int64_t qt, int64_t cb,
                            int64_t tile, T* smem) {
  const int nth = r.threads();
  const int64_t d = p.d;
  const int64_t c0 = cb * kChunk;
  const int64_t cc = p.c - c0 < kChunk ? p.c - c0 : kChunk;
  T* ys = smem;
  T* xs = ys + nth * d;
  T* ws = xs + tile * d;
  const T* x = p.x + p.x_index[b] * p.n * d;
  const T* y = p.y + p.y_index[b] * p.m * d;
  const T* w = p.w + p.w_index[b] * p.n * p.c;
  const double* center = p.center + p.x_index[b] * d;
  const double* scale = p.scale + b * d;
  typename Runner::template Local<QueryState<T, Lse>> st(r);
  r.run([&](int tid) {
    int64_t j = qt * nth + tid;
    for (int64_t k = 0; k < d; ++k)
      ys[tid * d + k] = j < p.m ? T((double(y[j * d + k]) - center[k]) * scale[k]) : T(0);
    st[tid] = QueryState<T, Lse>{};
  });
  for (int64_t i0 = 0; i0 < p.n; i0 += tile) {
    int64_t tn = p.n - i0 < tile ? p.n - i0 : tile;
    r.run([&](int tid) {
      for (int64_t e = tid; e < tn * d; e += nth) {
        int64_t k = e % d;
        xs[e] = T((double(x[i0 * d + e]) - center[k]) * scale[k]);
      }
      for (int64_t e = tid; e < tn * cc; e += nth)
        ws[e] = w[(i0 + e / cc) * p.c + c0 + e % cc];
    });
    r.run([&](int tid) {
      int64_t j = qt * nth + tid;
      if (j >= p.m) return;
      QueryState<T, Lse>& s = st[tid];
      const T* yq = ys + tid * d;
      for (int64_t i = 0; i < tn; ++i) {
        if (Lse && p.exclude_self && i0 + i == j) continue;
        T q = pair_distance<K, L1>(xs + i * d, yq, d);
        if constexpr (Lse) {
          T lk = kernel_log_value<K, L1>(q, p.params);
          for (int64_t col = 0; col < cc; ++col) s.acc[col].add(lk + ws[i * cc + col]);
        } else {
          T k = kernel_value<K, L1>(q, p.params);
          for (int64_t col = 0; col < cc; ++col) s.acc[col].add(k * ws[i * cc + col]);
        }
      }
    });
  }
  r.run([&](int tid) {
    int64_t j = qt * nth + tid;
    if (j >= p.m) return;
    T* o = p.out + (b * p.m + j) * p.c + c0;
    for (int64_t col = 0; col < cc; ++col) o[col] = st[tid].acc[col].value();
  });
}


// ---- small d ---------------------------------------------------------------------------------

constexpr int kThreads = 256;                       // threads of the small and tiled blocks
constexpr int kSmallLanes = 16;                     // threads sharing a query, splitting a tile
constexpr int kSmallGroups = kThreads / kSmallLanes;
constexpr int kSmallMaxTile = 512;                  // a lane's plain tile sum: <= 32 terms
constexpr int kSmallStage = 8;                      // weight loads per thread in flight

// Compile-time dimension for d (0: not small).
KK_FN int small_dim(int64_t d) { return d <= 4 ? int(d) : d <= 8 ? 8 : 0; }
// Weight columns per small block for c columns: 1 (stored in the point record), else a
// multiple of 4 (whole 16-byte weight vectors; the columns past c are zero and discarded).
KK_FN int small_cols(int64_t c) { return c == 1 ? 1 : c <= 4 ? 4 : c <= 8 ? 8 : 16; }
// Queries per thread: with several float columns 4, so that one weight loaded from shared
// memory feeds 4 FMAs (at 2, shared-memory bandwidth bounded the loop); double: 2 (registers).
KK_HD constexpr int small_qpt(int nc, int64_t sz) { return nc == 1 || sz == 8 ? 2 : 4; }

// A data point in shared memory: D coordinates, the weight after them when there is one weight
// column (One), padded to a power of two so one vector load reads it.
KK_HD constexpr int small_stride(int D, bool one) {
  int s = 1;
  while (s < D + (one ? 1 : 0)) s *= 2;
  return s;
}
template <class T, int S>
struct alignas(S * sizeof(T) < 16 ? S * sizeof(T) : 16) Rec {
  T v[S];
};

template <class T, bool Lse>
using Running = std::conditional_t<Lse, RunningLse<T>, RunningSum<T>>;

// a[0] + ... + a[N - 1], pairwise (constant indices: the array stays in registers).
template <int N, class T>
KK_FN T pairwise_sum(T* a) {
  if constexpr (N == 1) {
    return a[0];
  } else {
    KK_SUM_UNROLL
    for (int l = 0; l < N / 2; ++l) a[l] += a[l + N / 2];
    return pairwise_sum<N / 2>(a);
  }
}

// Per thread: its queries, and
// - NC == 1: compensated sums of its queries over its lane (the lanes are combined at the end);
// - NC > 1: the plain sums over the current tile (part), and the running sums, in double, of
//   NA outputs (query, column) of the block over all lanes (the lanes are combined per tile,
//   so the running sums take about Q * NC / kSmallLanes registers per thread, not Q * NC).
template <class T, int D, int NC>
struct SmallState {
  static constexpr int Q = small_qpt(NC, sizeof(T));
  static constexpr int NA = NC == 1 ? Q : (kSmallGroups * Q * NC + kThreads - 1) / kThreads;
  T y[Q][D];
  T part[NC == 1 ? 1 : Q][NC];
  std::conditional_t<NC == 1, RunningSum<T>, double> acc[NA];
};

// Thread tid = lane * kSmallGroups + g owns queries qt * BQ + g + kSmallGroups * i (i < Q,
// BQ = kSmallGroups * Q) and points lane, lane + kSmallLanes, ... of every tile; a warp is two
// lanes. Block cb takes weight columns cb * NC + [0, NC). Sums only (logsumexp takes the
// generic program, see plan_sum).
// smem: tile records Rec<T, small_stride(D, One)>, then (NC > 1) tile rows of NC weights (tile
// is a multiple of 16, so the rows stay 16-byte aligned); reused for the lane results
// (small_red_bytes).
template <int K, bool L1, bool Lse, int D, int NC, class Runner, class T>
KK_FN void small_sum_block(Runner& r, const SumProblem<T>& p, int64_t b, int64_t qt, int64_t cb,
                           int64_t tile, void* smem) {
  static_assert(!Lse, "logsumexp takes the generic program");
  constexpr bool One = NC == 1;
  static_assert(One || NC % 4 == 0, "weight rows are read as vectors of 4");
  constexpr int S = small_stride(D, One);
  using R = Rec<T, S>;
  using State = SmallState<T, D, NC>;
  constexpr int Q = State::Q, BQ = kSmallGroups * Q;
  const int nth = r.threads();
  const int d = int(p.d);
  const int64_t c0 = cb * NC;
  const int cc = int(p.c - c0 < NC ? p.c - c0 : NC);
  R* recs = static_cast<R*>(smem);
  T* ws = reinterpret_cast<T*>(recs + tile);
  T* red = static_cast<T*>(smem);
  const T* x = p.x + p.x_index[b] * p.n * d;
  const T* y = p.y + p.y_index[b] * p.m * d;
  const T* w = p.w + p.w_index[b] * p.n * p.c + c0;
  const double* center = p.center + p.x_index[b] * d;
  const double* scale = p.scale + b * d;
  const int64_t j0 = qt * BQ;
  typename Runner::template Local<State> st(r);
  r.run([&](int tid) {
    State& s = st[tid];
    s = State{};
    KK_SUM_UNROLL
    for (int i = 0; i < Q; ++i) {
      int64_t j = j0 + tid % kSmallGroups + kSmallGroups * i;
      KK_SUM_UNROLL
      for (int k = 0; k < D; ++k)
        s.y[i][k] = j < p.m && k < d ? T((double(y[j * d + k]) - center[k]) * scale[k]) : T(0);
    }
  });
  for (int64_t i0 = 0; i0 < p.n; i0 += tile) {
    const int tn = int(p.n - i0 < tile ? p.n - i0 : tile);
    r.run([&](int tid) {
      for (int pi = tid; pi < tn; pi += nth) {
        const T* xp = x + (i0 + pi) * d;
        R rec;
        KK_SUM_UNROLL
        for (int k = 0; k < S; ++k)
          rec.v[k] = k < d ? T((double(xp[k]) - center[k]) * scale[k]) : T(0);
        if constexpr (One) rec.v[D] = w[(i0 + pi) * p.c];
        recs[pi] = rec;
      }
      if constexpr (!One) {
        // Consecutive threads, consecutive words (no bank conflicts); kSmallStage loads in
        // flight per thread before their stores, or the tile waits on one load at a time.
        const int ne = tn * NC;
        const T* wt = w + i0 * p.c;
        for (int e0 = tid; e0 < ne; e0 += nth * kSmallStage) {
          T v[kSmallStage];
          KK_SUM_UNROLL
          for (int u = 0; u < kSmallStage; ++u) {
            const int e = e0 + nth * u, pi = e / NC, col = e % NC;
            v[u] = e < ne && col < cc ? wt[pi * p.c + col] : T(0);
          }
          KK_SUM_UNROLL
          for (int u = 0; u < kSmallStage; ++u)
            if (e0 + nth * u < ne) ws[e0 + nth * u] = v[u];
        }
      }
    });
    r.run([&](int tid) {
      State& s = st[tid];
      T part[Q][NC] = {};  // plain sums over this tile
      for (int pi = tid / kSmallGroups; pi < tn; pi += kSmallLanes) {
        const R rec = recs[pi];
        T kv[Q];  // one kernel value per pair, for all NC columns
        KK_SUM_UNROLL
        for (int i = 0; i < Q; ++i) {
          T q = 0;
          KK_SUM_UNROLL
          for (int k = 0; k < D; ++k) {
            T diff = rec.v[k] - s.y[i][k];
            q = L1 ? q + (diff < T(0) ? -diff : diff) : q + diff * diff;
          }
          kv[i] = kernel_value<K, L1>(q, p.params);
        }
        if constexpr (One) {
          KK_SUM_UNROLL
          for (int i = 0; i < Q; ++i) part[i][0] += kv[i] * rec.v[D];
        } else {
          const T* wr = ws + pi * NC;
          KK_SUM_UNROLL
          for (int c4 = 0; c4 < NC; c4 += 4) {  // one 16-byte (float) load feeds 4 * Q FMAs
            const Vec<T, 4> wv = *reinterpret_cast<const Vec<T, 4>*>(wr + c4);
            KK_SUM_UNROLL
            for (int i = 0; i < Q; ++i)
              KK_SUM_UNROLL
              for (int e = 0; e < 4; ++e) part[i][c4 + e] += kv[i] * wv.v[e];
          }
        }
      }
      KK_SUM_UNROLL
      for (int i = 0; i < Q; ++i) {
        if constexpr (One) {
          s.acc[i].add(part[i][0]);
        } else {
          KK_SUM_UNROLL
          for (int col = 0; col < NC; ++col) s.part[i][col] = part[i][col];
        }
      }
    });
    if constexpr (!One) {
      // The tile is read: its memory takes the lane sums, red[(lane * BQ + query) * NC + col].
      r.run([&](int tid) {
        const State& s = st[tid];
        T* o = red + (tid / kSmallGroups * BQ + tid % kSmallGroups) * NC;
        KK_SUM_UNROLL
        for (int i = 0; i < Q; ++i)
          KK_SUM_UNROLL
          for (int c4 = 0; c4 < NC; c4 += 4) {
            Vec<T, 4> v;
            KK_SUM_UNROLL
            for (int e = 0; e < 4; ++e) v.v[e] = s.part[i][c4 + e];
            *reinterpret_cast<Vec<T, 4>*>(o + kSmallGroups * i * NC + c4) = v;
          }
      });
      // Output e = query * NC + col of the block is thread e % nth's, sum e / nth: the lanes
      // added pairwise in T (converting each to double costs too many conversions), the tiles
      // in double.
      r.run([&](int tid) {
        State& s = st[tid];
        KK_SUM_UNROLL
        for (int h = 0; h < State::NA; ++h) {
          if (tid + nth * h >= BQ * NC) break;
          T a[kSmallLanes];
          KK_SUM_UNROLL
          for (int l = 0; l < kSmallLanes; ++l) a[l] = red[l * BQ * NC + tid + nth * h];
          s.acc[h] += double(pairwise_sum<kSmallLanes>(a));
        }
      });
    }
  }
  if constexpr (One) {
    // Combine the lanes of each query (the tile memory is free now).
    r.run([&](int tid) {
      KK_SUM_UNROLL
      for (int i = 0; i < Q; ++i) red[tid * Q + i] = st[tid].acc[i].value();
    });
    r.run([&](int tid) {
      if (tid >= kSmallGroups) return;
      KK_SUM_UNROLL
      for (int i = 0; i < Q; ++i) {
        int64_t j = j0 + tid + kSmallGroups * i;
        if (j >= p.m) continue;
        const T* lanes = red + tid * Q + i;  // lane l at l * kSmallGroups * Q
        double a = 0;
        for (int l = 0; l < kSmallLanes; ++l) a += double(lanes[l * kSmallGroups * Q]);
        p.out[(b * p.m + j) * p.c + c0] = T(a);
      }
    });
  } else {
    r.run([&](int tid) {
      KK_SUM_UNROLL
      for (int h = 0; h < State::NA; ++h) {
        const int e = tid + nth * h, col = e % NC;
        const int64_t j = j0 + e / NC;
        if (e < BQ * NC && j < p.m && col < cc)
          p.out[(b * p.m + j) * p.c + c0 + col] = T(st[tid].acc[h]);
      }
    });
  }
}

// Shared memory for the lane results of a small block.
KK_FN int64_t small_red_bytes(int nc, int64_t sz) {
  const int64_t q = small_qpt(nc, sz);
  return (nc == 1 ? kThreads * q : kSmallLanes * kSmallGroups * q * nc) * sz;
}

// ---- tiled (larger d) ------------------------------------------------------------------------

constexpr int kTileQ = 4;                          // queries per thread
template <class T>
constexpr int tile_p = sizeof(T) == 4 ? 4 : 2;     // points per thread (double: half the memory)
constexpr int kTiledQueries = 16 * kTileQ;         // the 256 threads are 16 x 16
template <class T>
constexpr int tiled_points = 16 * tile_p<T>;
// The cross term's error in r^2 is about 3 eps (|x|^2 + |y|^2) in bandwidth units: used from
// d = 16 on while both norms stay below this (as the CPU engine does).
constexpr int kDotMinD = 16;
template <class T>
constexpr double kDotMaxNorm = sizeof(T) == 8 ? 64.0 : 2.0;

// Shared memory of a tiled block, in elements of T; rows padded by 16 bytes so that rows stay
// 16-byte aligned and the transposing stores spread over the banks.
template <class T>
struct TiledLayout {
  static constexpr int pad = 16 / sizeof(T);
  static constexpr int qs = kTiledQueries + pad;     // row stride of the queries, d rows
  static constexpr int ps = tiled_points<T> + pad;   // row stride of the points, d rows
  static constexpr int ks = tiled_points<T> + 1;     // row stride of the kernel values
  static constexpr int parts = kThreads / tiled_points<T>;  // partial norms per point
  int64_t ys, xs, xn, yn, kv, ws, size;
  KK_HD TiledLayout(int64_t d, int64_t cc) {
    ys = 0;
    xs = ys + d * qs;
    xn = xs + d * ps;                               // double[parts * points]
    yn = xn + parts * tiled_points<T> * 8 / int64_t(sizeof(T));
    kv = yn + kTiledQueries;
    ws = kv + kTiledQueries * ks;
    size = ws + tiled_points<T> * cc;
  }
};

template <class T, bool Lse>
struct TiledState {
  Running<T, Lse> acc[kChunk / 4];  // columns cg, cg + 4 of query tid % 64 (cg = tid / 64)
};

// Thread (tq, tp) = (tid / 16, tid % 16) computes queries kTileQ * tq + i against points
// tile_p * tp + j of each tile; then thread tid reduces query tid % 64 for columns tid / 64 and
// tid / 64 + 4.
template <int K, bool L1, bool Lse, class Runner, class T>
KK_FN void tiled_sum_block(Runner& r, const SumProblem<T>& p, int64_t b, int64_t qt, int64_t cb,
                           T* smem) {
  constexpr int QM = kTileQ, PM = tile_p<T>, BQ = kTiledQueries, BP = tiled_points<T>;
  using L = TiledLayout<T>;
  static_assert(kThreads == 4 * BQ && kChunk == 8, "4 column groups of 2 per query");
  const int nth = r.threads();
  const int d = int(p.d);
  const int64_t c0 = cb * kChunk;
  const int cc = int(p.c - c0 < kChunk ? p.c - c0 : kChunk);
  const L lay(d, cc);
  T* ys = smem + lay.ys;
  T* xs = smem + lay.xs;
  double* xn = reinterpret_cast<double*>(smem + lay.xn);
  T* yn = smem + lay.yn;
  T* kv = smem + lay.kv;
  T* ws = smem + lay.ws;
  const T* x = p.x + p.x_index[b] * p.n * d;
  const T* y = p.y + p.y_index[b] * p.m * d;
  const T* w = p.w + p.w_index[b] * p.n * p.c + c0;
  const double* center = p.center + p.x_index[b] * d;
  const double* scale = p.scale + b * d;
  const int64_t j0 = qt * BQ;
  const bool may_dot = !L1 && d >= kDotMinD;
  typename Runner::template Local<TiledState<T, Lse>> st(r);
  // Transposed staging: element e = row * d + k of `rows` rows from src goes to dst[k * ld + row]
  // (rows >= valid are zero); the row and column advance without a division.
  auto stage = [&](int tid, const T* src, int valid, int rows, int ld, T* dst) {
    const int sr = nth / d, sk = nth - sr * d;
    int row = tid / d, k = tid - row * d;
    for (int e = tid; e < rows * d; e += nth) {
      dst[k * ld + row] = row < valid ? T((double(src[e]) - center[k]) * scale[k]) : T(0);
      row += sr;
      k += sk;
      if (k >= d) k -= d, ++row;
    }
  };
  const int qvalid = int(p.m - j0 < BQ ? p.m - j0 : BQ);
  r.run([&](int tid) {
    stage(tid, y + j0 * d, qvalid, BQ, L::qs, ys);
    st[tid] = TiledState<T, Lse>{};
  });
  r.run([&](int tid) {
    if (tid >= BQ) return;
    double a = 0;
    for (int k = 0; k < d; ++k) {
      const double v = ys[k * L::qs + tid];
      a += v * v;
    }
    yn[tid] = T(a);
  });
  for (int64_t i0 = 0; i0 < p.n; i0 += BP) {
    const int tn = int(p.n - i0 < BP ? p.n - i0 : BP);
    r.run([&](int tid) {
      stage(tid, x + i0 * d, tn, BP, L::ps, xs);
      for (int e = tid; e < BP * cc; e += nth) {
        int pi = e / cc;
        ws[e] = pi < tn ? w[(i0 + pi) * p.c + (e - pi * cc)] : T(0);
      }
    });
    r.run([&](int tid) {  // partial squared norms of the points, in double
      if (!may_dot) return;
      const int pi = tid % BP, part = tid / BP;
      double a = 0;
      for (int k = part; k < d; k += L::parts) {
        const double v = xs[k * L::ps + pi];
        a += v * v;
      }
      xn[part * BP + pi] = a;
    });
    r.run([&](int tid) {
      const int tq = tid / 16, tp = tid % 16;
      T qn[QM], pn[PM];
      bool dot = may_dot;
      KK_SUM_UNROLL
      for (int i = 0; i < QM; ++i) {
        qn[i] = yn[QM * tq + i];
        dot = dot && qn[i] <= T(kDotMaxNorm<T>);
      }
      KK_SUM_UNROLL
      for (int j = 0; j < PM; ++j) {
        double a = 0;
        if (may_dot)
          KK_SUM_UNROLL
          for (int part = 0; part < L::parts; ++part) a += xn[part * BP + PM * tp + j];
        pn[j] = T(a);
        dot = dot && pn[j] <= T(kDotMaxNorm<T>);  // NaN: no
      }
      T acc[QM][PM] = {};
      const T* yk = ys + QM * tq;
      const T* xk = xs + PM * tp;
      if (dot) {
        for (int k = 0; k < d; ++k, yk += L::qs, xk += L::ps) {
          const Vec<T, QM> a = *reinterpret_cast<const Vec<T, QM>*>(yk);
          const Vec<T, PM> c = *reinterpret_cast<const Vec<T, PM>*>(xk);
          KK_SUM_UNROLL
          for (int i = 0; i < QM; ++i)
            KK_SUM_UNROLL
            for (int j = 0; j < PM; ++j) acc[i][j] += a.v[i] * c.v[j];
        }
        KK_SUM_UNROLL
        for (int i = 0; i < QM; ++i)
          KK_SUM_UNROLL
          for (int j = 0; j < PM; ++j) {
            T q = (qn[i] + pn[j]) - (acc[i][j] + acc[i][j]);
            acc[i][j] = q < T(0) ? T(0) : q;  // NaN stays
          }
      } else {
        for (int k = 0; k < d; ++k, yk += L::qs, xk += L::ps) {
          const Vec<T, QM> a = *reinterpret_cast<const Vec<T, QM>*>(yk);
          const Vec<T, PM> c = *reinterpret_cast<const Vec<T, PM>*>(xk);
          KK_SUM_UNROLL
          for (int i = 0; i < QM; ++i)
            KK_SUM_UNROLL
            for (int j = 0; j < PM; ++j) {
              T diff = c.v[j] - a.v[i];
              acc[i][j] += L1 ? (diff < T(0) ? -diff : diff) : diff * diff;
            }
        }
      }
      KK_SUM_UNROLL
      for (int i = 0; i < QM; ++i)
        KK_SUM_UNROLL
        for (int j = 0; j < PM; ++j) {
          const int pi = PM * tp + j;
          T v;
          if constexpr (Lse) {
            v = pi < tn ? kernel_log_value<K, L1>(acc[i][j], p.params) : T(-INFINITY);
          } else {
            v = pi < tn ? kernel_value<K, L1>(acc[i][j], p.params) : T(0);
          }
          kv[(QM * tq + i) * L::ks + pi] = v;
        }
    });
    r.run([&](int tid) {
      const int qi = tid % BQ, cg = tid / BQ;
      TiledState<T, Lse>& s = st[tid];
      const T* kq = kv + qi * L::ks;
      KK_SUM_UNROLL
      for (int h = 0; h < kChunk / 4; ++h) {
        const int col = cg + 4 * h;
        if (col >= cc) break;
        if constexpr (Lse) {
          const int64_t self = p.exclude_self ? j0 + qi - i0 : -1;  // the pair to skip
          for (int pi = 0; pi < tn; ++pi)
            if (pi != self) s.acc[h].add(kq[pi] + ws[pi * cc + col]);
        } else {
          // plain over <= 64 terms, compensated across tiles; two chains halve the latency
          T part0 = 0, part1 = 0;
          int pi = 0;
          for (; pi + 1 < tn; pi += 2) {
            part0 += kq[pi] * ws[pi * cc + col];
            part1 += kq[pi + 1] * ws[(pi + 1) * cc + col];
          }
          if (pi < tn) part0 += kq[pi] * ws[pi * cc + col];
          s.acc[h].add(part0 + part1);
        }
      }
    });
  }
  r.run([&](int tid) {
    const int qi = tid % BQ, cg = tid / BQ;
    const int64_t j = j0 + qi;
    if (j >= p.m) return;
    KK_SUM_UNROLL
    for (int h = 0; h < kChunk / 4; ++h) {
      const int col = cg + 4 * h;
      if (col < cc) p.out[(b * p.m + j) * p.c + c0 + col] = st[tid].acc[h].value();
    }
  });
}

// ---- choosing the block program --------------------------------------------------------------

enum Path : int { kGeneric = 0, kSmall, kTiled };

struct Plan {
  int path = kGeneric;
  int dim = 0;         // small: compile-time D
  int cols = kChunk;   // weight columns per block (the grid's z: ceil(c / cols))
  int threads = 0;
  int64_t queries = 0; // per block
  int64_t tile = 0;    // data points per tile (small, generic); 0: does not fit
  int64_t bytes = 0;   // dynamic shared memory
};

// The block program, block shape and shared memory for kernel `kind`, dimension d, c weight
// columns, element size sz, within shared_bytes; the CUDA launcher and the emulator both
// follow it. has_fast_programs<K, Lse, T> says which instantiations can be picked.
KK_FN Plan plan_sum(int kind, int64_t d, int64_t c, int64_t sz, int64_t shared_bytes, bool lse) {
  Plan pl;
  const int64_t cc = c < kChunk ? c : kChunk;
  // the general Matern is dominated by its Bessel function: the generic program
  // Logsumexp takes the generic program too: on the H200 the small program's logsumexp gave
  // -inf for the second query of some threads in a partial block (far-out queries, m = 20),
  // which neither the emulator nor racecheck reproduced; the generic one matched the CPU.
  const int D = kind == kMaternGeneral || lse ? -1 : small_dim(d);
  if (D > 0) {
    const int nc = small_cols(c);
    const int64_t rec = small_stride(D, nc == 1) * sz + (nc == 1 ? 0 : nc * sz);
    const int64_t red = small_red_bytes(nc, sz);
    int64_t tile = shared_bytes / rec;
    tile = tile > kSmallMaxTile ? kSmallMaxTile : tile;
    if (nc > 1) tile = tile / 16 * 16;  // the weight rows stay 16-byte aligned
    if (tile >= 16 && shared_bytes >= red) {
      pl.path = kSmall, pl.dim = D, pl.cols = nc, pl.threads = kThreads;
      pl.queries = kSmallGroups * small_qpt(nc, sz), pl.tile = tile;
      pl.bytes = tile * rec > red ? tile * rec : red;
      return pl;
    }
  }
  const int64_t tiled =
      (sz == 4 ? TiledLayout<float>(d, cc).size : TiledLayout<double>(d, cc).size) * sz;
  if (D == 0 && !lse && tiled <= shared_bytes) {
    pl.path = kTiled, pl.threads = kThreads, pl.queries = kTiledQueries;
    pl.tile = sz == 4 ? tiled_points<float> : tiled_points<double>;
    pl.bytes = tiled;
    return pl;
  }
  block_shape(d, cc, sz, shared_bytes, &pl.threads, &pl.tile);
  pl.queries = pl.threads;
  pl.bytes = (pl.threads * d + pl.tile * (d + cc)) * sz;
  return pl;
}

template <int K, bool Lse, class T>
constexpr bool has_fast_programs = K != kMaternGeneral && !Lse;

// Calls f(integral_constant<int, D>, integral_constant<int, NC>) for a small plan.
template <class F>
void dispatch_small(int dim, int cols, F&& f) {
  auto go = [&](auto D) {
    switch (cols) {
      case 1: return f(D, std::integral_constant<int, 1>{});
      case 4: return f(D, std::integral_constant<int, 4>{});
      case 8: return f(D, std::integral_constant<int, 8>{});
      default: return f(D, std::integral_constant<int, 16>{});
    }
  };
  switch (dim) {
    case 1: return go(std::integral_constant<int, 1>{});
    case 2: return go(std::integral_constant<int, 2>{});
    case 3: return go(std::integral_constant<int, 3>{});
    case 4: return go(std::integral_constant<int, 4>{});
    default: return go(std::integral_constant<int, 8>{});
  }
}

}  // namespace kernelkit::kernels::blocks

namespace kernelkit::kernels::blocks {

// Calls f(integral_constant<int, K>, bool_constant<L1>, bool_constant<Lse>) for a kernel code;
// L1 (manhattan) exists only for the distance kernel, logsumexp only in double (kernel_sum
// computes it in double for float32 input too). False for anything else.
template <class T, int K = 0, class F>
bool dispatch_kernel(int kind, bool l1, bool lse, F&& f) {
  if constexpr (K == kKindCount) {
    return false;
  } else {
    if (kind != K) return dispatch_kernel<T, K + 1>(kind, l1, lse, f);
    if (lse && !std::is_same_v<T, double>) return false;
    if (l1 && K != kDistance) return false;
    auto k = std::integral_constant<int, K>{};
    if (l1) {
      if constexpr (K == kDistance) {
        lse ? f(k, std::true_type{}, std::true_type{}) : f(k, std::true_type{}, std::false_type{});
      }
    } else {
      lse ? f(k, std::false_type{}, std::true_type{}) : f(k, std::false_type{}, std::false_type{});
    }
    return true;
  }
}

}  // namespace kernelkit::kernels::blocks
