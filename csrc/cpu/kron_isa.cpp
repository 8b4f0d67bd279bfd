// One Kronecker factor along one mode, compiled once per instruction set (kron.cpp picks one).
//
// out[l, i, s] = sum_j a[i, j] in[l, j, s]. Two register-blocked loops, so that no axis is ever
// transposed in memory:
//   wide   (R >= 2 W): vectors run along s; 4 rows of a x 2 vectors of s stay in registers
//                      while j sweeps the factor's columns (input rows come from L1);
//   narrow (R <  2 W): vectors run along the output index i, with a^T (c x r, zero-padded)
//                      loaded per j; 4 consecutive (l, s) positions share each a^T load.
#include <algorithm>
#include <vector>

#include "cpu/kron.hpp"
#include "cpu/simd.hpp"

namespace kernelkit::cpu::KK_ISA {

namespace {

constexpr int kRows = 4;  // rows of a (wide) or (l, s) positions (narrow) per register block

template <class T>
void wide(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R,
          bool parallel) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  const int64_t rp = (r + kRows - 1) / kRows * kRows;
  std::vector<T> ap(size_t(rp * c), T(0));  // rows padded to a multiple of kRows
  std::copy(a, a + r * c, ap.begin());
  const int64_t nsb = R / (2 * W);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t u = 0; u < L * (nsb + 1); ++u) {
    const int64_t l = u / (nsb + 1), sb = u % (nsb + 1);
    const T* x = in + l * c * R;
    T* y = out + l * r * R;
    if (sb == nsb) {  // the last R % (2 W) columns
      for (int64_t s = nsb * 2 * W; s < R; ++s)
        for (int64_t i = 0; i < r; ++i) {
          T acc = 0;
          for (int64_t j = 0; j < c; ++j) acc += a[i * c + j] * x[j * R + s];
          y[i * R + s] = acc;
        }
      continue;
    }
    const int64_t s = sb * 2 * W;
    for (int64_t i0 = 0; i0 < rp; i0 += kRows) {
      V acc[kRows][2] = {};
      const T* arow = ap.data() + i0 * c;
      for (int64_t j = 0; j < c; ++j) {
        V x0 = S::load(x + j * R + s), x1 = S::load(x + j * R + s + W);
        for (int q = 0; q < kRows; ++q) {
          V aq = S::splat(arow[q * c + j]);
          acc[q][0] += aq * x0;
          acc[q][1] += aq * x1;
        }
      }
      for (int q = 0; q < kRows && i0 + q < r; ++q) {
        S::store(y + (i0 + q) * R + s, acc[q][0]);
        S::store(y + (i0 + q) * R + s + W, acc[q][1]);
      }
    }
  }
}

template <class T>
void narrow(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R,
            bool parallel) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  const int64_t rp = (r + W - 1) / W * W;
  std::vector<T> at(size_t(c * rp), T(0));  // a^T, columns padded to a multiple of W
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) at[j * rp + i] = a[i * c + j];
  const int64_t P = L * R;  // (l, s) positions
  const int64_t nblocks = (P + kRows - 1) / kRows;
#pragma omp parallel if (parallel)
  {
    std::vector<T> tmp(size_t(kRows * rp));
#pragma omp for schedule(static)
    for (int64_t bk = 0; bk < nblocks; ++bk) {
      const int64_t p0 = bk * kRows, np = std::min<int64_t>(kRows, P - p0);
      const T* xp[kRows];
      for (int q = 0; q < kRows; ++q) {
        const int64_t p = p0 + std::min<int64_t>(q, np - 1);  // repeat the last position
        xp[q] = in + (p / R) * c * R + p % R;
      }
      for (int64_t i0 = 0; i0 < rp; i0 += W) {
        V acc[kRows] = {};
        for (int64_t j = 0; j < c; ++j) {
          V av = S::load(at.data() + j * rp + i0);
          for (int q = 0; q < kRows; ++q) acc[q] += S::splat(xp[q][j * R]) * av;
        }
        for (int q = 0; q < kRows; ++q) S::store(tmp.data() + q * rp + i0, acc[q]);
      }
      for (int q = 0; q < np; ++q) {
        const int64_t p = p0 + q, l = p / R, s = p % R;
        for (int64_t i = 0; i < r; ++i) out[(l * r + i) * R + s] = tmp[q * rp + i];
      }
    }
  }
}

template <class T>
void one_mode(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R,
              bool parallel) {
  if (L == 0 || R == 0 || r == 0) return;
  if (c == 0) {
    std::fill(out, out + L * r * R, T(0));
    return;
  }
  if (R >= 2 * Simd<T>::W) wide(a, r, c, in, out, L, R, parallel);
  else narrow(a, r, c, in, out, L, R, parallel);
}

}  // namespace

template <class T>
void mode_product(const T* a, int64_t r, int64_t c, const T* in, T* out, int64_t L, int64_t R) {
  one_mode(a, r, c, in, out, L, R, true);
}

template <class T>
void mode_chain(int nf, const T* const* a, const int64_t* r, const int64_t* c, const T* in,
                T* out, int64_t L, int64_t R, int64_t rt) {
  if (L == 0 || R == 0) return;
  rt = rt < 1 || rt > R ? R : rt;
  const bool tiled = rt < R;
  int64_t P = 1, Q = 1, big = 1;
  for (int f = 0; f < nf; ++f) P *= c[f], Q *= r[f];
  for (int f = 0; f <= nf; ++f) {  // largest intermediate: r_0..r_{f-1} x c_f..c_{nf-1} x rt
    int64_t size = rt;
    for (int g = 0; g < nf; ++g) size *= g < f ? r[g] : c[g];
    big = std::max(big, size);
  }
  const int64_t tiles = (R + rt - 1) / rt;
#pragma omp parallel
  {
    std::vector<T> buf[2] = {std::vector<T>(size_t(big)), std::vector<T>(size_t(big))};
    std::vector<T> tile_in(tiled ? size_t(P * rt) : 0), tile_out(tiled ? size_t(Q * rt) : 0);
#pragma omp for schedule(static)
    for (int64_t u = 0; u < L * tiles; ++u) {
      const int64_t l = u / tiles, s0 = u % tiles * rt, w = std::min(rt, R - s0);
      const T* src = in + l * P * R;
      if (tiled) {  // gather the P x w tile (runs of w values R apart)
        for (int64_t p = 0; p < P; ++p)
          std::copy(src + p * R + s0, src + p * R + s0 + w, tile_in.data() + p * w);
        src = tile_in.data();
      }
      for (int f = 0; f < nf; ++f) {
        int64_t lead = 1, trail = w;
        for (int g = 0; g < f; ++g) lead *= r[g];
        for (int g = f + 1; g < nf; ++g) trail *= c[g];
        T* dst = f < nf - 1 ? buf[f % 2].data() : tiled ? tile_out.data() : out + l * Q * R;
        one_mode(a[f], r[f], c[f], src, dst, lead, trail, false);
        src = dst;
      }
      if (tiled)
        for (int64_t q = 0; q < Q; ++q)
          std::copy(tile_out.data() + q * w, tile_out.data() + (q + 1) * w,
                    out + l * Q * R + q * R + s0);
    }
  }
}

template void mode_product<float>(const float*, int64_t, int64_t, const float*, float*, int64_t,
                                  int64_t);
template void mode_product<double>(const double*, int64_t, int64_t, const double*, double*,
                                   int64_t, int64_t);
template void mode_chain<float>(int, const float* const*, const int64_t*, const int64_t*,
                                const float*, float*, int64_t, int64_t, int64_t);
template void mode_chain<double>(int, const double* const*, const int64_t*, const int64_t*,
                                 const double*, double*, int64_t, int64_t, int64_t);

}  // namespace kernelkit::cpu::KK_ISA
