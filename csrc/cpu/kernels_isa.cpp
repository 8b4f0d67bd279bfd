// Batched kernel sums on the CPU, compiled once per instruction set (baseline x86-64 and
// AVX2+FMA; kernels.cpp picks one at run time).
//
// Structure: data points are packed once per problem into a transposed, centred and scaled
// layout (tile after tile, each d rows of kTile points). A work unit owns up to kChunk queries
// and a range of data points; it walks the data in tiles and, for each block of kQB queries,
// computes the kQB x tile distances into an L1 buffer (distance phase: direct differences, or
// the cross term for large d), then turns them into kernel values and reduces them against the
// weights (kernel phase). Partial sums are kept in T for one tile and added to double running
// sums, so float32 sums stay accurate. Small d fuses the two phases; compact kernels skip
// tiles beyond their support.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu/kernels.hpp"
#include "cpu/simd.hpp"
#include "cpu/special.hpp"

namespace kernelkit::cpu::KK_ISA {

namespace {

using kernels::Params;

template <class T>
struct VecMath {
  using V = typename Simd<T>::V;
  KK_INL V exp(V x) { return Simd<T>::exp(x); }
  KK_INL V log(V x) { return Simd<T>::log(x); }
  KK_INL V sqrt(V x) { return Simd<T>::sqrt(x); }
  KK_INL V cos_halfpi(V x) { return Simd<T>::cos_halfpi(x); }
};

template <class T>
KK_INL T hsum(typename Simd<T>::V v) {
  T s = 0;
  for (int l = 0; l < Simd<T>::W; ++l) s += v[l];
  return s;
}

// k (Log = false) or log k (Log = true) of a vector of scaled distances.
template <class T, int K, bool Sq, bool Log>
KK_INL typename Simd<T>::V kval(typename Simd<T>::V q, const Params& p) {
  using V = typename Simd<T>::V;
  if constexpr (K == kernels::kMaternGeneral) {
    V out;
    for (int l = 0; l < Simd<T>::W; ++l) {
      double r = Sq ? std::sqrt(double(q[l])) : double(q[l]);
      double lv = kernels::matern_log(r, p);
      out[l] = T(Log ? lv : std::exp(lv));
    }
    return out;
  } else if constexpr (Log) {
    return kernels::log_value<K, Sq, VecMath<T>, V, T>(q, p);
  } else {
    return kernels::value<K, Sq, VecMath<T>, V, T>(q, p);
  }
}

constexpr int kQB = 4;         // queries per register block
constexpr int64_t kChunk = 64; // queries per work unit
constexpr int64_t kTile = 256; // data points per tile (a multiple of 2 W)
constexpr int64_t kSub = 64;   // points per T-precision partial sum in the multi-column phase

template <class T>
using DistanceFn = void (*)(const T* xs, const T* xn, int64_t tl, const T* yq, const T* yn,
                            int64_t d, T* buf);

enum Form { kL2, kL1, kDot };

// buf[q * kTile + i] for q < kQB, i < tl, xs pointing at one packed tile (d rows of kTile):
// kL2 |x_i - y_q|^2 by direct differences; kL1 the L1 distance; kDot the same squared distance
// through the cross term |x|^2 + |y|^2 - 2 x.y (norms xn, yn; coordinates are centred, so the
// cancellation is mild), clamped at 0: one FMA per coordinate pair instead of two operations.
// Two vectors of points per query give 2 kQB independent accumulation chains, enough to hide
// the FMA latency over a long k loop.
template <class T, int D, int F>
void distances(const T* xs, const T* xn, int64_t tl, const T* yq, const T* yn, int64_t dd,
               T* buf) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  const int64_t d = D > 0 ? D : dd;
  for (int64_t i = 0; i < tl; i += 2 * W) {
    V acc[kQB][2] = {};
    for (int64_t k = 0; k < d; ++k) {
      const T* xr = xs + k * kTile + i;
      V x[2] = {S::load(xr), S::load(xr + W)};
      for (int q = 0; q < kQB; ++q) {
        V yk = S::splat(yq[q * d + k]);
        for (int v = 0; v < 2; ++v) {
          V diff = x[v] - yk;
          acc[q][v] += F == kDot ? x[v] * yk : F == kL1 ? S::abs(diff) : diff * diff;
        }
      }
    }
    for (int q = 0; q < kQB; ++q)
      for (int v = 0; v < 2; ++v) {
        V r = acc[q][v];
        if constexpr (F == kDot) {
          r = (S::load(xn + i + v * W) + S::splat(yn[q])) - (r + r);
          r = r < T(0) ? V{} : r;
        }
        S::store(buf + q * kTile + i + v * W, r);
      }
  }
}

// The cross-term form pays from this dimension on (measured while building it).
constexpr int64_t kDotMinD = 16;

// Its error in r^2 is about 3 eps (|x|^2 + |y|^2) in bandwidth units, against eps r^2 for direct
// differences, so it is used only while every centred point and query lies within this many
// squared bandwidths of the centre (error < 3e-14 in float64, < 4e-7 in float32).
template <class T>
constexpr double kDotMaxNorm = sizeof(T) == 8 ? 64.0 : 2.0;

template <class T>
DistanceFn<T> pick_distances(int64_t d, bool l1) {
  if (l1) return &distances<T, 0, kL1>;
  switch (d) {
    case 1: return &distances<T, 1, kL2>;
    case 2: return &distances<T, 2, kL2>;
    case 3: return &distances<T, 3, kL2>;
    case 4: return &distances<T, 4, kL2>;
    default: return &distances<T, 0, kL2>;
  }
}

// One problem's data, packed: xs holds the centred, scaled coordinates tile by tile (each tile
// d rows of kTile points, contiguous, so a tile's rows share few pages); w holds
// the weights padded to n_pad rows (and, for c > 1, cp columns). Padding points have weight 0
// (log-weight -inf), so they add nothing.
template <class T>
struct Packed {
  int64_t n_pad = 0, cp = 1;
  std::vector<T> xs, w;
  std::vector<T> xn;     // |x_i|^2 of the packed points (d >= kDotMinD)
  bool dot_ok = false;   // every |x_i|^2 <= kDotMaxNorm
  std::vector<double> wmax;  // logsumexp, c > 1: per-column max of the log-weights
  std::vector<T> box;        // compact kernels: per tile, d (lo, hi) pairs of its points
};

// Compact kernels vanish for r >= 1 (in bandwidth units), so a tile whose bounding box is at
// least that far from a block of queries' box is skipped: exact, and with the data and the
// queries in spatial order (kernels.py sorts them) most tiles go for a small bandwidth.
KK_INL bool compact(int kind) {
  return kind == kernels::kTophat || kind == kernels::kEpanechnikov ||
         kind == kernels::kLinear || kind == kernels::kCosine;
}

// Squared gap between two boxes given as d (lo, hi) pairs; NaN boxes never count as far.
template <class T>
double box_gap2(const T* a, const T* b, int64_t d) {
  double g2 = 0;
  for (int64_t k = 0; k < d; ++k) {
    const double g = std::max({0.0, double(a[2 * k]) - double(b[2 * k + 1]),
                               double(b[2 * k]) - double(a[2 * k + 1])});
    g2 += g * g;
  }
  return g2;
}

// d (lo, hi) pairs over rows [0, len) of points stored with the given strides; a NaN
// coordinate makes the box infinite.
template <class T>
void bounding_box(const T* p, int64_t len, int64_t point_stride, int64_t dim_stride, int64_t d,
                  T* box) {
  for (int64_t k = 0; k < d; ++k) {
    T lo = INFINITY, hi = -INFINITY;
    bool nan = false;
    for (int64_t i = 0; i < len; ++i) {
      const T v = p[i * point_stride + k * dim_stride];
      nan |= v != v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    box[2 * k] = nan ? T(-INFINITY) : lo;
    box[2 * k + 1] = nan ? T(INFINITY) : hi;
  }
}

template <class T>
void pack(const KernelSumArgs<T>& a, int64_t b, Packed<T>& pk, bool parallel) {
  const int64_t W2 = 2 * Simd<T>::W;
  const int64_t n = a.n, d = a.d, c = a.c;
  const bool lse = a.reduction == Reduction::logsumexp;
  pk.n_pad = (n + W2 - 1) / W2 * W2;
  pk.cp = c == 1 ? 1 : (c + Simd<T>::W - 1) / Simd<T>::W * Simd<T>::W;
  const int64_t np = pk.n_pad, cp = pk.cp;
  pk.xs.assign(size_t((np + kTile - 1) / kTile * kTile * d), T(0));
  pk.xn.assign(!a.l1 && d >= kDotMinD ? size_t(np) : 0, T(0));
  pk.w.assign(size_t(np * cp), (lse && c == 1) ? -std::numeric_limits<T>::infinity() : T(0));
  const T* x = a.x + a.x_index[b] * n * d;
  const T* w = a.w + a.w_index[b] * n * c;
  const double* ctr = a.center + a.x_index[b] * d;
  const double* sc = a.scale + b * d;
  if (lse && c > 1) {
    pk.wmax.assign(size_t(c), -INFINITY);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch) pk.wmax[ch] = std::fmax(pk.wmax[ch], double(w[i * c + ch]));
    for (auto& v : pk.wmax) v = v == -INFINITY ? 0.0 : v;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i) {
    T* tile = pk.xs.data() + i / kTile * kTile * d + i % kTile;
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) {
      const T v = T((double(x[i * d + k]) - ctr[k]) * sc[k]);
      tile[k * kTile] = v;
      norm += double(v) * double(v);
    }
    if (!pk.xn.empty()) pk.xn[i] = T(norm);
    if (c == 1) {
      pk.w[i] = w[i];
    } else {
      for (int64_t ch = 0; ch < c; ++ch) {
        double v = w[i * c + ch];
        pk.w[i * cp + ch] = T(lse ? std::exp(v - pk.wmax[ch]) : v);
      }
    }
  }
  pk.box.clear();
  if (compact(a.kind) && !a.l1) {
    const int64_t ntiles = (n + kTile - 1) / kTile;
    pk.box.resize(size_t(ntiles * 2 * d));
    for (int64_t t = 0; t < ntiles; ++t)
      bounding_box(pk.xs.data() + t * kTile * d, std::min(kTile, n - t * kTile), 1, kTile, d,
                   pk.box.data() + t * 2 * d);
  }
  pk.dot_ok = !pk.xn.empty();
  for (int64_t i = 0; i < n && pk.dot_ok; ++i) pk.dot_ok = pk.xn[i] <= kDotMaxNorm<T>;  // NaN: no
}

// Running reduction state of a work unit's queries: per (query, scale[, column]).
struct State {
  std::vector<double> acc;  // sum, or the scaled logsumexp sum
  std::vector<double> mx;   // logsumexp: running max (per query and scale)
  std::vector<unsigned char> nan;
};

template <class T, int K, bool Sq, bool Lse, bool C1>
struct Unit {
  using S = Simd<T>;
  using V = typename S::V;
  static constexpr int W = S::W;

  // Reduces the distances of one block (kQB queries x tl points) for bandwidth scale s2 into
  // the state rows of queries q0 .. q0 + kQB - 1.
  static void kernel_phase(const KernelSumArgs<T>& a, const Packed<T>& pk, const T* buf, T* zbuf,
                           int64_t i0, int64_t tl, T s2, int64_t q0, int s, int64_t jself0,
                           State& st, std::vector<T>& tmp) {
    const int ns = a.nscales;
    const int64_t c = a.c, cp = pk.cp;
    const V vs2 = S::splat(s2);
    if constexpr (!Lse && C1) {
      V acc[kQB] = {};
      const T* w = pk.w.data() + i0;
      auto run = [&](auto scaled) {
        for (int64_t i = 0; i < tl; i += W) {
          V wv = S::load(w + i);
          for (int q = 0; q < kQB; ++q) {
            V dist = S::load(buf + q * kTile + i);
            if constexpr (decltype(scaled)::value) dist *= vs2;
            acc[q] += kval<T, K, Sq, false>(dist, a.params) * wv;
          }
        }
      };
      if (s2 == T(1)) run(std::false_type{});  // the common case: one bandwidth
      else run(std::true_type{});
      for (int q = 0; q < kQB; ++q) st.acc[(q0 + q) * ns + s] += double(hsum<T>(acc[q]));
      return;
    }
    // Kernel values (or log values, plus log-weights for c = 1) into zbuf; self pairs dropped.
    T tile_max[kQB];
    for (int q = 0; q < kQB; ++q) {
      const T* bq = buf + q * kTile;
      T* zq = zbuf + q * kTile;
      const int64_t jself = jself0 < 0 ? -1 : jself0 + q - i0;  // self index inside the tile
      V vmax = S::splat(-INFINITY);
      typename S::I nanm = {};
      for (int64_t i = 0; i < tl; i += W) {
        V z = kval<T, K, Sq, Lse>(S::load(bq + i) * vs2, a.params);
        if constexpr (Lse && C1) z += S::load(pk.w.data() + i0 + i);  // padding: -inf
        if constexpr (Lse) {
          if constexpr (!C1) {  // padding points must not set the tile max
            for (int64_t l = std::max<int64_t>(0, a.n - (i0 + i)); l < W; ++l) z[l] = -INFINITY;
          }
          if (jself >= i && jself < i + W) z[jself - i] = -INFINITY;
          vmax = z > vmax ? z : vmax;
          nanm |= z != z;
        }
        S::store(zq + i, z);
      }
      if constexpr (Lse) {
        T mval = -INFINITY;
        for (int l = 0; l < W; ++l) {
          mval = std::max(mval, vmax[l]);
          if (nanm[l]) st.nan[(q0 + q) * ns + s] = 1;
        }
        tile_max[q] = mval;
        if constexpr (C1) {
          if (mval == -INFINITY) continue;
          V sacc = {};
          const V vm = S::splat(mval);
          for (int64_t i = 0; i < tl; i += W) sacc += S::exp(S::load(zq + i) - vm);
          const T tsum = hsum<T>(sacc);
          combine_cols(st, (q0 + q) * ns + s, double(mval), &tsum, 1);
        } else {
          const V vm = S::splat(mval);
          for (int64_t i = 0; i < tl; i += W)
            S::store(zq + i, mval == -INFINITY ? V{} : S::exp(S::load(zq + i) - vm));
        }
      }
    }
    if constexpr (C1) return;
    else {
      // Multi-column: tmp[q][ch] = sum_i zbuf[q][i] w[i][ch], in T over kSub points at a time.
      for (int64_t sb = 0; sb < tl; sb += kSub) {
        const int64_t se = std::min(tl, sb + kSub);
        for (int64_t ch0 = 0; ch0 < cp; ch0 += W) {
          V acc[kQB] = {};
          for (int64_t i = sb; i < se; ++i) {
            V w0 = S::load(pk.w.data() + (i0 + i) * cp + ch0);
            for (int q = 0; q < kQB; ++q) acc[q] += S::splat(zbuf[q * kTile + i]) * w0;
          }
          for (int q = 0; q < kQB; ++q) S::store(tmp.data() + q * cp + ch0, acc[q]);
        }
        for (int q = 0; q < kQB; ++q) {
          const int64_t row = (q0 + q) * ns + s;
          if constexpr (Lse) {
            if (tile_max[q] == -INFINITY) continue;
            combine_cols(st, row, double(tile_max[q]), tmp.data() + q * cp, c);
          } else {
            double* acc = st.acc.data() + row * c;
            for (int64_t ch = 0; ch < c; ++ch) acc[ch] += double(tmp[q * cp + ch]);
          }
        }
      }
    }
  }

  // Adds exp(m) * t[ch] into the row's columns (which share one running max).
  static void combine_cols(State& st, int64_t row, double m, const T* t, int64_t c) {
    double& mx = st.mx[row];
    double* acc = st.acc.data() + row * c;
    if (m > mx) {
      const double f = std::exp(mx - m);
      for (int64_t ch = 0; ch < c; ++ch) acc[ch] = acc[ch] * f + double(t[ch]);
      mx = m;
    } else {
      const double f = std::exp(m - mx);
      for (int64_t ch = 0; ch < c; ++ch) acc[ch] += double(t[ch]) * f;
    }
  }

  // Small d, one column, one bandwidth: distances stay in registers and go straight into the
  // kernel (no distance buffer).
  template <int D>
  static void fused_sum(const KernelSumArgs<T>& a, const Packed<T>& pk, const T* yq, int64_t i0,
                        int64_t tl, double* acc_out) {
    V acc[kQB] = {};
    const T* w = pk.w.data() + i0;
    const T* xs = pk.xs.data() + i0 * D;  // i0 is a tile start
    for (int64_t i = 0; i < tl; i += W) {
      V xv[D];
      for (int k = 0; k < D; ++k) xv[k] = S::load(xs + k * kTile + i);
      V wv = S::load(w + i);
      for (int q = 0; q < kQB; ++q) {
        V r2 = {};
        for (int k = 0; k < D; ++k) {
          V diff = xv[k] - S::splat(yq[q * D + k]);
          r2 += diff * diff;
        }
        acc[q] += kval<T, K, true, false>(r2, a.params) * wv;
      }
    }
    for (int q = 0; q < kQB; ++q) acc_out[q] += double(hsum<T>(acc[q]));
  }

  // Queries j0 .. j1 - 1 of problem b against data points [ib, ie) (multiples of 2 W); writes
  // the final-form values (sums, or logs of sums) to res[(j - j0) * ns * c + s * c + ch].
  static void run(const KernelSumArgs<T>& a, const Packed<T>& pk, DistanceFn<T> dist, int64_t b,
                  int64_t j0, int64_t j1, int64_t ib, int64_t ie, double* res) {
    const int64_t d = a.d, c = a.c, ns = a.nscales;
    const int64_t nq = j1 - j0, nqp = (nq + kQB - 1) / kQB * kQB;
    std::vector<T> yq(size_t(nqp * d), T(0));
    const T* y = a.y + a.y_index[b] * a.m * d;
    const double* ctr = a.center + a.x_index[b] * d;
    const double* sc = a.scale + b * d;
    std::vector<T> yn(size_t(nqp), T(0));
    for (int64_t j = 0; j < nq; ++j) {
      double norm = 0;
      for (int64_t k = 0; k < d; ++k) {
        const T v = T((double(y[(j0 + j) * d + k]) - ctr[k]) * sc[k]);
        yq[j * d + k] = v;
        norm += double(v) * double(v);
      }
      yn[j] = T(norm);
    }
    // Per block of queries: the cross-term form where data and queries allow it.
    std::vector<DistanceFn<T>> dist_block(size_t(nqp / kQB), dist);
    if (pk.dot_ok && d >= kDotMinD)
      for (int64_t q0 = 0; q0 < nqp; q0 += kQB) {
        bool ok = true;
        for (int q = 0; q < kQB; ++q) ok = ok && yn[q0 + q] <= kDotMaxNorm<T>;
        if (ok) dist_block[q0 / kQB] = &distances<T, 0, kDot>;
      }
    State st;
    st.acc.assign(size_t(nqp * ns * c), 0.0);
    if constexpr (Lse) {
      st.mx.assign(size_t(nqp * ns), -INFINITY);
      st.nan.assign(size_t(nqp * ns), 0);
    }
    std::vector<T> buf(size_t(kQB * kTile)), zbuf(C1 && !Lse ? 0 : size_t(kQB * kTile));
    std::vector<T> tmp(C1 ? 0 : size_t(kQB * pk.cp));
    const bool fused = !Lse && C1 && Sq && ns == 1 && a.scales2[0] == 1.0 && d <= 3;
    // Compact kernels: each query block's box, and the squared reach beyond which k = 0.
    std::vector<T> qbox(pk.box.empty() ? 0 : size_t(nqp / kQB * 2 * d));
    for (int64_t q0 = 0; q0 < nqp && !qbox.empty(); q0 += kQB)
      bounding_box(yq.data() + q0 * d, std::min<int64_t>(kQB, nq - q0), d, 1, d,
                   qbox.data() + q0 / kQB * 2 * d);
    double reach2 = 0;  // k = 0 for every bandwidth multiplier beyond it
    for (int s = 0; s < ns; ++s) reach2 = std::max(reach2, 1.0 / a.scales2[s]);
    for (int64_t i0 = ib; i0 < ie; i0 += kTile) {
      const int64_t tl = std::min(kTile, ie - i0);
      for (int64_t q0 = 0; q0 < nqp; q0 += kQB) {
        if (!qbox.empty() && i0 < a.n &&
            box_gap2(pk.box.data() + i0 / kTile * 2 * d, qbox.data() + q0 / kQB * 2 * d, d) >=
                reach2)
          continue;
        if constexpr (!Lse && C1 && Sq) {
          if (fused) {
            if (d == 1) fused_sum<1>(a, pk, yq.data() + q0, i0, tl, st.acc.data() + q0);
            if (d == 2) fused_sum<2>(a, pk, yq.data() + q0 * 2, i0, tl, st.acc.data() + q0);
            if (d == 3) fused_sum<3>(a, pk, yq.data() + q0 * 3, i0, tl, st.acc.data() + q0);
            continue;
          }
        }
        dist_block[q0 / kQB](pk.xs.data() + i0 * d, pk.xn.data() + i0, tl, yq.data() + q0 * d,
                             yn.data() + q0, d, buf.data());
        const int64_t jself0 = a.exclude_self ? j0 + q0 : -1;
        for (int s = 0; s < ns; ++s) {
          const double f = a.scales2[s];
          kernel_phase(a, pk, buf.data(), zbuf.data(), i0, tl, T(Sq ? f : std::sqrt(f)), q0, s,
                       jself0, st, tmp);
        }
      }
    }
    for (int64_t j = 0; j < nq; ++j)
      for (int64_t s = 0; s < ns; ++s) {
        const int64_t row = j * ns + s;
        for (int64_t ch = 0; ch < c; ++ch) {
          double v = st.acc[row * c + ch];
          if constexpr (Lse) {
            const double wm = C1 ? 0.0 : pk.wmax[ch];
            v = st.nan[row] ? NAN : (v > 0 ? st.mx[row] + wm + std::log(v) : (v == 0 ? -INFINITY : v));
          }
          res[row * c + ch] = v;
        }
      }
  }
};

template <class T>
using UnitFn = void (*)(const KernelSumArgs<T>&, const Packed<T>&, DistanceFn<T>, int64_t,
                        int64_t, int64_t, int64_t, int64_t, double*);

template <class T, int K, bool Sq>
UnitFn<T> pick_unit_k(bool lse, bool c1) {
  if (lse) return c1 ? &Unit<T, K, Sq, true, true>::run : &Unit<T, K, Sq, true, false>::run;
  return c1 ? &Unit<T, K, Sq, false, true>::run : &Unit<T, K, Sq, false, false>::run;
}

template <class T, int... K>
UnitFn<T> pick_unit(int kind, bool l1, bool lse, bool c1, std::integer_sequence<int, K...>) {
  if (l1) return pick_unit_k<T, kernels::kDistance, false>(lse, c1);
  UnitFn<T> f = nullptr;
  ((kind == K ? (f = pick_unit_k<T, K, true>(lse, c1), true) : false) || ...);
  return f;
}


}  // namespace

template <class T>
void kernel_sum(const KernelSumArgs<T>& a) {
  const bool lse = a.reduction == Reduction::logsumexp;
  UnitFn<T> unit = pick_unit<T>(a.kind, a.l1, lse, a.c == 1,
                                std::make_integer_sequence<int, kernels::kKindCount>{});
  DistanceFn<T> dist = pick_distances<T>(a.d, a.l1);
  const int64_t m = a.m, row = int64_t(a.nscales) * a.c;
  const int64_t nchunks = (m + kChunk - 1) / kChunk;
  const int P = max_threads();  // special.cpp: OpenMP threads a region would use
  if (m == 0 || a.batch == 0) return;

  if (a.batch >= 2 * P) {
    // Many problems: one thread per problem, each packing its own data.
#pragma omp parallel
    {
      Packed<T> pk;
      std::vector<double> res(size_t(kChunk * row));
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < a.batch; ++b) {
        pack(a, b, pk, false);
        for (int64_t ch = 0; ch < nchunks; ++ch) {
          const int64_t j0 = ch * kChunk, j1 = std::min(m, j0 + kChunk);
          unit(a, pk, dist, b, j0, j1, 0, pk.n_pad, res.data());
          T* out = a.out + (b * m + j0) * row;
          for (int64_t t = 0; t < (j1 - j0) * row; ++t) out[t] = T(res[t]);
        }
      }
    }
    return;
  }

  // Few problems: pack each once, then split its queries (and, when they are few, its data)
  // over the threads; split partial results are combined at the end.
  Packed<T> pk;
  for (int64_t b = 0; b < a.batch; ++b) {
    pack(a, b, pk, true);
    const int64_t ntiles = (pk.n_pad + kTile - 1) / kTile;
    int64_t splits = 1;
    // (4 units per thread when queries are few: chunks of unequal size then still balance)
    if (nchunks < 4 * P) splits = std::max<int64_t>(1, std::min<int64_t>((4 * P + nchunks - 1) / nchunks, ntiles));
    const int64_t tiles_per = (ntiles + splits - 1) / std::max<int64_t>(splits, 1);
    std::vector<double> part(splits > 1 ? size_t(splits * m * row) : 0);
    T* out = a.out + b * m * row;
#pragma omp parallel
    {
      std::vector<double> res(size_t(kChunk * row));
#pragma omp for schedule(dynamic, 1)
      for (int64_t u = 0; u < nchunks * splits; ++u) {
        const int64_t ch = u / splits, sp = u % splits;
        const int64_t j0 = ch * kChunk, j1 = std::min(m, j0 + kChunk);
        const int64_t ib = std::min(pk.n_pad, sp * tiles_per * kTile);
        const int64_t ie = std::min(pk.n_pad, ib + tiles_per * kTile);
        unit(a, pk, dist, b, j0, j1, ib, ie, res.data());
        const int64_t len = (j1 - j0) * row;
        if (splits == 1) {
          for (int64_t t = 0; t < len; ++t) out[j0 * row + t] = T(res[t]);
        } else {
          std::copy(res.begin(), res.begin() + len, part.begin() + sp * m * row + j0 * row);
        }
      }
      if (splits > 1) {
#pragma omp for schedule(static)
        for (int64_t t = 0; t < m * row; ++t) {
          double v;
          if (lse) {
            double mx = -INFINITY;
            bool nan = false;
            for (int64_t sp = 0; sp < splits; ++sp) {
              double l = part[sp * m * row + t];
              nan |= l != l;
              mx = std::max(mx, l);
            }
            double s = 0;
            if (mx > -INFINITY && mx < INFINITY)
              for (int64_t sp = 0; sp < splits; ++sp) s += std::exp(part[sp * m * row + t] - mx);
            v = nan ? NAN : (mx > -INFINITY && mx < INFINITY ? mx + std::log(s) : mx);
          } else {
            v = 0;
            for (int64_t sp = 0; sp < splits; ++sp) v += part[sp * m * row + t];
          }
          out[t] = T(v);
        }
      }
    }
  }
}

template void kernel_sum<float>(const KernelSumArgs<float>&);
template void kernel_sum<double>(const KernelSumArgs<double>&);

}  // namespace kernelkit::cpu::KK_ISA
