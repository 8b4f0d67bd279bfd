// Pieces of row-wise (Gustavson) SpGEMM shared by the CPU and CUDA builds: semirings, the
// hash function and table sizing, per-row product counts. No threads, no atomics here: the CPU
// code adds OpenMP and __atomic builtins, the CUDA code atomicCAS/atomicAdd.
#pragma once
#include <stdint.h>

#include <complex>

#include "kernelkit/config.hpp"

namespace kernelkit::sparse {

// ---- semirings: C_ij = add_k mul(A_ik, B_kj) over the stored k ------------------------------
// `identity` is add's neutral element; tables start from it, so the first product lands
// exactly (0 + p = p, min(inf, p) = p, ...). min/max propagate NaN, like np.minimum.

KK_FN float sr_mul(float a, float b) { return a * b; }
KK_FN double sr_mul(double a, double b) { return a * b; }
KK_FN uint8_t sr_mul(uint8_t a, uint8_t b) { return a & b; }
// Plain formula (SciPy's too): std::complex's operator* calls __muldc3 for inf/NaN recovery.
template <class T>
KK_FN std::complex<T> sr_mul(std::complex<T> a, std::complex<T> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}
template <class V>
KK_FN V sr_plus(V a, V b) { return a + b; }
KK_FN uint8_t sr_plus(uint8_t a, uint8_t b) { return a | b; }  // bool: + saturates (OR)

template <class V>
KK_FN V sr_min(V a, V b) { return (b < a || b != b) ? b : a; }
template <class V>
KK_FN V sr_max(V a, V b) { return (b > a || b != b) ? b : a; }

template <class V>
KK_FN V sr_inf() { return V(INFINITY); }

template <class V>
struct PlusTimes {
  static constexpr bool drop_zeros = true;  // as SciPy: entries summing to exactly 0 vanish
  KK_FN V identity() { return V(0); }
  KK_FN V add(V a, V b) { return sr_plus(a, b); }
  KK_FN V mul(V a, V b) { return sr_mul(a, b); }
};
template <class V>
struct MinPlus {
  static constexpr bool drop_zeros = false;
  KK_FN V identity() { return sr_inf<V>(); }
  KK_FN V add(V a, V b) { return sr_min(a, b); }
  KK_FN V mul(V a, V b) { return a + b; }
};
template <class V>
struct MaxPlus {
  static constexpr bool drop_zeros = false;
  KK_FN V identity() { return -sr_inf<V>(); }
  KK_FN V add(V a, V b) { return sr_max(a, b); }
  KK_FN V mul(V a, V b) { return a + b; }
};
template <class V>
struct MinTimes {
  static constexpr bool drop_zeros = false;
  KK_FN V identity() { return sr_inf<V>(); }
  KK_FN V add(V a, V b) { return sr_min(a, b); }
  KK_FN V mul(V a, V b) { return a * b; }
};
template <class V>
struct MaxTimes {
  static constexpr bool drop_zeros = false;
  KK_FN V identity() { return -sr_inf<V>(); }
  KK_FN V add(V a, V b) { return sr_max(a, b); }
  KK_FN V mul(V a, V b) { return a * b; }
};
struct OrAnd {  // on bool (uint8 0/1); structural: entries whose value is false are kept
  static constexpr bool drop_zeros = false;
  KK_FN uint8_t identity() { return 0; }
  KK_FN uint8_t add(uint8_t a, uint8_t b) { return a | b; }
  KK_FN uint8_t mul(uint8_t a, uint8_t b) { return a & b; }
};

enum class Semiring : int { plus_times, min_plus, max_plus, max_times, min_times, or_and };

// ---- hash tables --------------------------------------------------------------------------
// Open addressing with linear probing over a power-of-two table, load factor <= 1/2.
// Slot states (one byte each, next to the key):
enum SlotState : uint8_t {
  kEmpty = 0,      // key = -1
  kAllowed = 1,    // a column of the mask (not complemented) not yet produced
  kHit = 2,        // produced: the slot holds a value of C
  kForbidden = 3,  // a column of the complemented mask: products here are discarded
};

// Fibonacci hashing: the top `bits` bits of col * 2^64 / phi.
KK_FN uint64_t hash_slot(int64_t col, int bits) {
  return (static_cast<uint64_t>(col) * 0x9E3779B97F4A7C15ull) >> (64 - bits);
}

// log2 of the smallest power-of-two table holding `keys` keys at load <= 1/2 (at least 8 slots).
KK_FN int table_bits(int64_t keys) {
  int bits = 3;
  while ((int64_t(1) << bits) < 2 * keys) ++bits;
  return bits;
}

// Products of row i of A times B: sum over A's row of B's row lengths.
template <class I>
KK_FN int64_t row_products(const I* a_indptr, const I* a_indices, const I* b_indptr, int64_t i) {
  int64_t total = 0;
  for (I p = a_indptr[i]; p < a_indptr[i + 1]; ++p) {
    I k = a_indices[p];
    total += b_indptr[k + 1] - b_indptr[k];
  }
  return total;
}

}  // namespace kernelkit::sparse
