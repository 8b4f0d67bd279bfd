// Row-wise hash SpGEMM as GPU thread-block programs, shared by the CUDA kernels and the CPU
// block emulator (tests run the same code without a GPU; see DESIGN.md).
//
// One block per row of C. A block program is a sequence of phases separated by barriers: a
// Runner executes run(f) as "every thread t of the block calls f(t), then barrier" (CUDA: f
// (threadIdx.x); __syncthreads(); the emulator: a loop over t). Phases touch the row's table
// only through the atomics below, which are plain operations on the host.
//
// Per row: clear a power-of-two open-addressing table (load <= 1/2, sized from the row's
// product count), insert every product (key by atomicCAS, value by the semiring's atomic),
// then either count the keys (symbolic phase) or sort the table by key with a bitonic network
// and write the row (numeric phase). Tables live in shared memory, or for rows too large for it
// in a global-memory workspace. Rows are binned by table size so a launch has one shape.
#pragma once
#include <stdint.h>

#include <type_traits>
#include <vector>

#include "kernelkit/config.hpp"
#include "kernelkit/sparse/spgemm.hpp"

namespace kernelkit::sparse::blocks {

// ---- value types: what the kernels load (input) and accumulate (slot) ----------------------
template <class T>
struct c2 {  // complex<T> with std::complex's layout, usable in device code
  T re, im;
};
template <class V>
struct slot_of {
  using type = V;
};
template <>
struct slot_of<uint8_t> {  // bool: 32-bit slots so that atomicOr applies
  using type = uint32_t;
};

// ---- atomics (device) / plain operations (host emulator) ------------------------------------
KK_FN int32_t atomic_cas(int32_t* p, int32_t expected, int32_t desired) {
#ifdef __CUDA_ARCH__
  return atomicCAS(reinterpret_cast<int*>(p), expected, desired);
#else
  int32_t old = *p;
  if (old == expected) *p = desired;
  return old;
#endif
}
KK_FN int64_t atomic_cas(int64_t* p, int64_t expected, int64_t desired) {
#ifdef __CUDA_ARCH__
  return static_cast<int64_t>(atomicCAS(reinterpret_cast<unsigned long long*>(p),
                                        static_cast<unsigned long long>(expected),
                                        static_cast<unsigned long long>(desired)));
#else
  int64_t old = *p;
  if (old == expected) *p = desired;
  return old;
#endif
}
KK_FN void atomic_count(unsigned long long* p, unsigned long long v) {
#ifdef __CUDA_ARCH__
  atomicAdd(p, v);
#else
  *p += v;
#endif
}
KK_FN void atomic_plus(float* p, float v) {
#ifdef __CUDA_ARCH__
  atomicAdd(p, v);
#else
  *p += v;
#endif
}
KK_FN void atomic_plus(double* p, double v) {
#ifdef __CUDA_ARCH__
  atomicAdd(p, v);
#else
  *p += v;
#endif
}
template <class T>
KK_FN void atomic_plus(c2<T>* p, c2<T> v) {
  atomic_plus(&p->re, v.re);
  atomic_plus(&p->im, v.im);
}
KK_FN void atomic_plus(uint32_t* p, uint32_t v) {  // bool "+" is OR
#ifdef __CUDA_ARCH__
  atomicOr(reinterpret_cast<unsigned int*>(p), v);
#else
  *p |= v;
#endif
}
// *p = op(*p, v) for min/max: a compare-and-swap loop on the bit pattern.
template <class Op>
KK_FN void atomic_update(float* p, float v, Op op) {
#ifdef __CUDA_ARCH__
  int* ip = reinterpret_cast<int*>(p);
  int old = atomicOr(ip, 0), assumed;  // an atomic read: other threads update this slot
  do {
    assumed = old;
    int next = __float_as_int(op(__int_as_float(assumed), v));
    if (next == assumed) return;
    old = atomicCAS(ip, assumed, next);
  } while (old != assumed);
#else
  *p = op(*p, v);
#endif
}
template <class Op>
KK_FN void atomic_update(double* p, double v, Op op) {
#ifdef __CUDA_ARCH__
  auto* ip = reinterpret_cast<unsigned long long*>(p);
  unsigned long long old = atomicOr(ip, 0ull), assumed;
  do {
    assumed = old;
    auto next = static_cast<unsigned long long>(
        __double_as_longlong(op(__longlong_as_double(static_cast<long long>(assumed)), v)));
    if (next == assumed) return;
    old = atomicCAS(ip, assumed, next);
  } while (old != assumed);
#else
  *p = op(*p, v);
#endif
}

// ---- semirings on the slot types --------------------------------------------------------------
KK_FN float times(float a, float b) { return a * b; }
KK_FN double times(double a, double b) { return a * b; }
template <class T>
KK_FN c2<T> times(c2<T> a, c2<T> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
KK_FN uint32_t times(uint8_t a, uint8_t b) { return static_cast<uint32_t>(a & b); }

struct MinOp {
  template <class V>
  KK_HD V operator()(V a, V b) const { return sr_min(a, b); }
  template <class V>
  KK_FN V identity() { return V(INFINITY); }
};
struct MaxOp {
  template <class V>
  KK_HD V operator()(V a, V b) const { return sr_max(a, b); }
  template <class V>
  KK_FN V identity() { return V(-INFINITY); }
};

template <class V>
struct GPlusTimes {
  using S = typename slot_of<V>::type;
  KK_FN S identity() { return S{}; }
  KK_FN S mul(V a, V b) { return times(a, b); }
  KK_FN void accumulate(S* slot, S p) { atomic_plus(slot, p); }
};
template <class V, class Op, bool kAdd>
struct GMinMax {  // min_plus, max_plus (kAdd) and min_times, max_times; float and double only
  using S = V;
  KK_FN S identity() { return Op::template identity<V>(); }
  KK_FN S mul(V a, V b) { return kAdd ? a + b : a * b; }
  KK_FN void accumulate(S* slot, S p) { atomic_update(slot, p, Op()); }
};
struct GOrAnd {  // structural: an entry whose value is false is still an entry
  using S = uint32_t;
  KK_FN S identity() { return 0; }
  KK_FN S mul(uint8_t a, uint8_t b) { return times(a, b); }
  KK_FN void accumulate(S* slot, S p) { atomic_plus(slot, p); }
};

template <class S>
KK_FN void store(S* out, S v) { *out = v; }
KK_FN void store(uint8_t* out, uint32_t v) { *out = static_cast<uint8_t>(v != 0); }

// ---- the problem ---------------------------------------------------------------------------
template <class I>
struct Problem {
  int64_t m = 0, n = 0;
  const I* a_indptr = nullptr;
  const I* a_indices = nullptr;
  const void* a_data = nullptr;
  const I* b_indptr = nullptr;
  const I* b_indices = nullptr;
  const void* b_data = nullptr;
  const I* mask_indptr = nullptr;  // null: no mask; columns sorted in every row
  const I* mask_indices = nullptr;
  bool complement = false;
};

// Column col present in the (sorted) mask row?
template <class I>
KK_FN bool in_mask_row(const Problem<I>& p, int64_t row, I col) {
  I lo = p.mask_indptr[row], hi = p.mask_indptr[row + 1];
  while (lo < hi) {
    I mid = lo + (hi - lo) / 2;
    if (p.mask_indices[mid] < col) lo = mid + 1;
    else hi = mid;
  }
  return lo < p.mask_indptr[row + 1] && p.mask_indices[lo] == col;
}

// ---- binning -------------------------------------------------------------------------------
constexpr int kMinBits = 3;   // tables of at least 8 slots
constexpr int kMaxBins = 40;  // bits 3 .. 42

// Thread-per-row phase: log2 of row i's table size (0 for a row with nothing to compute) from
// its product count, capped by the distinct columns it can have (n, or the mask row).
template <class I>
KK_FN int row_table_bits(const Problem<I>& p, int64_t i, int64_t* products) {
  int64_t prod = row_products(p.a_indptr, p.a_indices, p.b_indptr, i);
  *products = prod;
  int64_t keys = prod < p.n ? prod : p.n;
  if (p.mask_indptr && !p.complement) {
    int64_t mk = p.mask_indptr[i + 1] - p.mask_indptr[i];
    keys = mk < keys ? mk : keys;
  }
  return keys == 0 ? 0 : table_bits(keys);
}
KK_FN int bin_of_bits(int bits) { return bits == 0 ? -1 : bits - kMinBits; }

// Threads per block for a table of 2^bits slots (power of two, 32..256; 1024 for the global
// workspace, where rows are few and large).
KK_FN int block_threads(int bits, bool global) {
  if (global) return 1024;
  int t = bits > 1 ? 1 << (bits - 1) : 1;
  return t < 32 ? 32 : t > 256 ? 256 : t;
}

// Thread-per-row phase after the bin counts are scanned into bin_start: row i's place in the
// row order (rows grouped by bin; order within a bin is arbitrary on the GPU).
template <class I>
KK_FN void scatter_row(const int32_t* bits, int64_t i, const int64_t* bin_start,
                       unsigned long long* bin_fill, I* order) {
  int b = bin_of_bits(bits[i]);
  if (b < 0) return;
#ifdef __CUDA_ARCH__
  unsigned long long pos = atomicAdd(&bin_fill[b], 1ull);
#else
  unsigned long long pos = bin_fill[b]++;
#endif
  order[bin_start[b] + static_cast<int64_t>(pos)] = static_cast<I>(i);
}

// One launch: `count` rows of one bin from position `first` of the row order, tables of 2^bits
// slots in shared memory or, when they do not fit, `batch` rows at a time in the workspace.
struct Launch {
  int bits = 0, threads = 0;
  bool global = false;
  int64_t first = 0, count = 0;
};

// Launches for the bins (bin_count[b] rows with 2^(b + kMinBits)-slot tables), tables of
// slot_bytes per slot, at most shared_bytes of shared memory per block, rows of the global
// bins `batch` at a time so that a batch's tables fit in workspace_bytes (at least one row).
// Returns the number of launches written to out (at most kMaxBins * ceil(rows / batch)); with
// out == nullptr only counts them. *workspace_needed gets the workspace the launches use.
KK_FN int64_t plan_launches(const int64_t* bin_count, int64_t slot_bytes, int64_t shared_bytes,
                            int64_t workspace_bytes, Launch* out, int64_t* workspace_needed) {
  int64_t n = 0, first = 0, need = 0;
  for (int b = 0; b < kMaxBins; ++b) {
    int64_t rows = bin_count[b];
    if (rows == 0) continue;
    int bits = b + kMinBits;
    int64_t table = (int64_t(1) << bits) * slot_bytes;
    bool global = table > shared_bytes;
    int64_t batch = rows;
    if (global) {
      batch = workspace_bytes / table;
      if (batch < 1) batch = 1;
      if (batch > rows) batch = rows;
      if (batch > 65535) batch = 65535;
      need = need > batch * table ? need : batch * table;
    } else if (batch > 2147483647) {
      batch = 2147483647;
    }
    for (int64_t done = 0; done < rows; done += batch, ++n) {
      if (out) {
        out[n].bits = bits;
        out[n].threads = block_threads(bits, global);
        out[n].global = global;
        out[n].first = first + done;
        out[n].count = rows - done < batch ? rows - done : batch;
      }
    }
    first += rows;
  }
  if (workspace_needed) *workspace_needed = need;
  return n;
}

// ---- block programs ------------------------------------------------------------------------
// The table: `size` keys (I, -1 = empty) and, in the numeric phase, `size` slots.
template <class I, class S>
struct Table {
  I* keys;
  S* vals;  // null in the symbolic phase
  int bits;
};

template <class I, class S>
KK_FN void table_clear(Table<I, S> t, S identity, int tid, int nth) {  // vals may be null
  int64_t size = int64_t(1) << t.bits;
  for (int64_t s = tid; s < size; s += nth) {
    t.keys[s] = I(-1);
    if (t.vals) t.vals[s] = identity;
  }
}

// Insert key col; returns its slot. Every probe is an atomicCAS (no plain read of a slot
// another thread may be claiming): it claims an empty slot or returns the key already there.
template <class I, class S>
KK_FN int64_t table_insert_key(Table<I, S> t, I col) {
  uint64_t mask = (uint64_t(1) << t.bits) - 1;
  uint64_t h = hash_slot(col, t.bits);
  for (;;) {
    I k = atomic_cas(&t.keys[h], I(-1), col);
    if (k == I(-1) || k == col) return static_cast<int64_t>(h);
    h = (h + 1) & mask;
  }
}

// Every product of row `row` (only its column when !Values): thread groups of up to 32 take A's
// entries in turn, the lanes of a group walk the B row (coalesced), so a long B row is shared
// by a group, not one thread.
template <bool Values, class SR, class I, class V, class S>
KK_FN void insert_products(const Problem<I>& p, int64_t row, Table<I, S> t, int tid, int nth) {
  int group = nth < 32 ? nth : 32;
  int lane = tid % group, g = tid / group, groups = nth / group;
  const V* ad = static_cast<const V*>(p.a_data);
  const V* bd = static_cast<const V*>(p.b_data);
  SR sr;
  // int64 positions: with int32 indices, pa + groups could pass INT32_MAX near the end
  for (int64_t pa = int64_t(p.a_indptr[row]) + g; pa < p.a_indptr[row + 1]; pa += groups) {
    I k = p.a_indices[pa];
    for (int64_t pb = int64_t(p.b_indptr[k]) + lane; pb < p.b_indptr[k + 1]; pb += group) {
      I col = p.b_indices[pb];
      if (p.mask_indptr && in_mask_row(p, row, col) == p.complement) continue;
      int64_t s = table_insert_key(t, col);
      if constexpr (Values) sr.accumulate(&t.vals[s], sr.mul(ad[pa], bd[pb]));
    }
  }
}

// Symbolic: add this thread's occupied slots to *count.
template <class I, class S>
KK_FN void count_keys(Table<I, S> t, unsigned long long* count, int tid, int nth) {
  int64_t size = int64_t(1) << t.bits;
  unsigned long long local = 0;
  for (int64_t s = tid; s < size; s += nth) local += t.keys[s] != I(-1);
  if (local) atomic_count(count, local);
}

// One compare-exchange step (k, j) of a bitonic sort of the whole table by key, empty slots
// (-1) ordered last; after all steps the row's keys occupy slots 0 .. nnz-1 in order.
template <class I, class S>
KK_FN void bitonic_step(Table<I, S> t, int64_t k, int64_t j, int tid, int nth) {
  int64_t half = (int64_t(1) << t.bits) / 2;
  for (int64_t e = tid; e < half; e += nth) {
    int64_t i = 2 * j * (e / j) + (e % j);  // lower index of the pair (i, i + j)
    int64_t l = i + j;
    uint64_t ki = static_cast<uint64_t>(static_cast<int64_t>(t.keys[i]));  // -1 -> max
    uint64_t kl = static_cast<uint64_t>(static_cast<int64_t>(t.keys[l]));
    bool ascending = (i & k) == 0;
    if ((ki > kl) == ascending) {
      I tk = t.keys[i];
      t.keys[i] = t.keys[l];
      t.keys[l] = tk;
      S tv = t.vals[i];
      t.vals[i] = t.vals[l];
      t.vals[l] = tv;
    }
  }
}

// Write the sorted row (slots 0 .. nnz-1) at out_indices / out_data.
template <class I, class S, class V>
KK_FN void write_sorted(Table<I, S> t, int64_t nnz, I* out_indices, V* out_data, int tid,
                        int nth) {
  for (int64_t s = tid; s < nnz; s += nth) {
    out_indices[s] = t.keys[s];
    store(&out_data[s], t.vals[s]);
  }
}

// Write the row in table order (sort_indices=False): positions from a block counter.
template <class I, class S, class V>
KK_FN void write_unsorted(Table<I, S> t, unsigned long long* fill, I* out_indices, V* out_data,
                          int tid, int nth) {
  int64_t size = int64_t(1) << t.bits;
  for (int64_t s = tid; s < size; s += nth) {
    if (t.keys[s] == I(-1)) continue;
#ifdef __CUDA_ARCH__
    unsigned long long pos = atomicAdd(fill, 1ull);
#else
    unsigned long long pos = (*fill)++;
#endif
    out_indices[pos] = t.keys[s];
    store(&out_data[pos], t.vals[s]);
  }
}

// Symbolic block program: the number of distinct columns of row `row` into *row_nnz.
template <class Runner, class I>
KK_FN void symbolic_block(Runner& r, const Problem<I>& p, int64_t row, Table<I, char> t,
                          unsigned long long* count, int64_t* row_nnz) {
  int nth = r.threads();
  r.run([&](int tid) {
    table_clear(t, char(0), tid, nth);
    if (tid == 0) *count = 0;
  });
  r.run([&](int tid) { insert_products<false, GOrAnd, I, uint8_t>(p, row, t, tid, nth); });
  r.run([&](int tid) { count_keys(t, count, tid, nth); });
  r.run([&](int tid) {
    if (tid == 0) *row_nnz = static_cast<int64_t>(*count);
  });
}

// Numeric block program: row `row` of C (nnz entries, from the symbolic phase) at its offset.
template <class SR, class Runner, class I, class V>
KK_FN void numeric_block(Runner& r, const Problem<I>& p, int64_t row,
                         Table<I, typename SR::S> t, bool sort, unsigned long long* fill,
                         int64_t nnz, I* out_indices, V* out_data) {
  int nth = r.threads();
  SR sr;
  r.run([&](int tid) {
    table_clear(t, sr.identity(), tid, nth);
    if (tid == 0) *fill = 0;
  });
  r.run([&](int tid) { insert_products<true, SR, I, V>(p, row, t, tid, nth); });
  if (!sort) {
    r.run([&](int tid) { write_unsorted(t, fill, out_indices, out_data, tid, nth); });
    return;
  }
  int64_t size = int64_t(1) << t.bits;
  for (int64_t k = 2; k <= size; k <<= 1)
    for (int64_t j = k >> 1; j > 0; j >>= 1) r.run([&](int tid) { bitonic_step(t, k, j, tid, nth); });
  r.run([&](int tid) { write_sorted(t, nnz, out_indices, out_data, tid, nth); });
}

}  // namespace kernelkit::sparse::blocks

namespace kernelkit::sparse::blocks {

// plan_launches as a list (host only: the CUDA launcher and the emulator walk the same one).
inline std::vector<Launch> launch_list(const int64_t* bin_count, int64_t slot_bytes,
                                       int64_t shared_bytes, int64_t workspace_bytes,
                                       int64_t* workspace_needed) {
  std::vector<Launch> out(plan_launches(bin_count, slot_bytes, shared_bytes, workspace_bytes,
                                        nullptr, workspace_needed));
  plan_launches(bin_count, slot_bytes, shared_bytes, workspace_bytes, out.data(),
                workspace_needed);
  return out;
}

// Value type codes shared by the launchers and the emulator (what Python passes).
enum ValueCode : int { kF32 = 0, kF64 = 1, kC64 = 2, kC128 = 3, kBool = 4 };

template <class T>
struct type_tag {
  using type = T;
};

// Calls f(type_tag<SR>{}, type_tag<V>{}) for the block semiring and input value type of
// (semiring, value code); false when the pair does not exist (e.g. min_plus on complex).
template <class F>
bool dispatch_semiring(Semiring sr, int value, F&& f) {
  auto minmax = [&](auto op, auto add) {
    using Op = decltype(op);
    constexpr bool kAdd = decltype(add)::value;
    if (value == kF32) return f(type_tag<GMinMax<float, Op, kAdd>>{}, type_tag<float>{}), true;
    if (value == kF64) return f(type_tag<GMinMax<double, Op, kAdd>>{}, type_tag<double>{}), true;
    return false;
  };
  using yes = std::true_type;
  using no = std::false_type;
  switch (sr) {
    case Semiring::plus_times:
      switch (value) {
        case kF32: return f(type_tag<GPlusTimes<float>>{}, type_tag<float>{}), true;
        case kF64: return f(type_tag<GPlusTimes<double>>{}, type_tag<double>{}), true;
        case kC64: return f(type_tag<GPlusTimes<c2<float>>>{}, type_tag<c2<float>>{}), true;
        case kC128: return f(type_tag<GPlusTimes<c2<double>>>{}, type_tag<c2<double>>{}), true;
        case kBool: return f(type_tag<GPlusTimes<uint8_t>>{}, type_tag<uint8_t>{}), true;
        default: return false;
      }
    case Semiring::min_plus: return minmax(MinOp{}, yes{});
    case Semiring::max_plus: return minmax(MaxOp{}, yes{});
    case Semiring::min_times: return minmax(MinOp{}, no{});
    case Semiring::max_times: return minmax(MaxOp{}, no{});
    case Semiring::or_and:
      if (value == kBool) return f(type_tag<GOrAnd>{}, type_tag<uint8_t>{}), true;
      return false;
  }
  return false;
}

}  // namespace kernelkit::sparse::blocks
