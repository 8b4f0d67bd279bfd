// Kernel sums as GPU thread-block programs, shared by the CUDA kernel and the CPU block
// emulator (see kernelkit/sparse/spgemm_blocks.hpp for the Runner convention: run(f) is "every
// thread calls f(tid), then a barrier"; Runner::Local<S> is one S per thread).
//
// A block owns `threads` queries of one problem and up to kChunk weight columns. It keeps its
// queries (centred and scaled in double, then rounded to T, as on the CPU) in shared memory
// and walks the data in tiles staged through shared memory; every thread keeps the running
// reduction of its query in registers: a compensated sum (float) or a plain one (double), or
// an online logsumexp (running maximum and the sum scaled by it).
#pragma once
#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "kernelkit/config.hpp"
#include "kernelkit/kernels/kernel_functions.hpp"

namespace kernelkit::kernels::blocks {

constexpr int kChunk = 8;  // weight columns per block (more columns: more blocks)

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

// Block (query tile qt, problem b, column chunk cb): out[b, qt*threads + tid, cb*kChunk + col].
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
