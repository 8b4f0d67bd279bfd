// Row-wise hash SpGEMM as GPU thread-block programs, shared by the CUDA kernels and the CPU
// block emulator (tests run the same code without a GPU; see DESIGN.md).
//
// A block program is a sequence of phases separated by barriers: a Runner executes run(f) as
// "every thread t of the block calls f(t), then barrier" (CUDA: f(threadIdx.x);
// __syncthreads(); the emulator: a loop over t). Phases share data only through shared or
// global memory and the atomics below, which are plain operations on the host.
//
// Rows are binned by table size (symbolic: from the product count; numeric: from the exact
// row nnz) so a launch has one shape; see plan_launches for the three programs (small rows
// many to a block in shared hash tables, sorted by rank; larger rows a block each, bitonic
// sort; heavy rows a dense bitmap over the columns, or a global-memory table when n is too
// wide for shared memory). Hash tables: power-of-two open addressing, load <= 1/2, keys by
// atomicCAS, values by the semiring's atomic.
#pragma once
#include <stdint.h>

#include <stdexcept>
#include <string>
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

// Thread-per-row phase: log2 of row i's table size (0 for a row with nothing to compute).
// Symbolic (c_indptr null): from the row's product count, capped by the distinct columns it
// can have: n, the mask row, and the span of its columns (B's rows are sorted, so a B row
// spans its first to its last column; a banded row's span is far below its products).
// Numeric: from the row's exact nnz, the symbolic phase's result in c_indptr.
template <class I>
KK_FN int row_table_bits(const Problem<I>& p, int64_t i, const int64_t* c_indptr) {
  int64_t keys;
  if (c_indptr) {
    keys = c_indptr[i + 1] - c_indptr[i];
  } else {
    int64_t prod = 0, lo = p.n, hi = -1;
    for (int64_t pa = p.a_indptr[i]; pa < p.a_indptr[i + 1]; ++pa) {
      I k = p.a_indices[pa];
      int64_t b0 = p.b_indptr[k], b1 = p.b_indptr[k + 1];
      if (b1 == b0) continue;
      prod += b1 - b0;
      lo = p.b_indices[b0] < lo ? int64_t(p.b_indices[b0]) : lo;
      hi = p.b_indices[b1 - 1] > hi ? int64_t(p.b_indices[b1 - 1]) : hi;
    }
    keys = prod < hi - lo + 1 ? prod : hi - lo + 1;
    if (p.mask_indptr && !p.complement) {
      int64_t mk = p.mask_indptr[i + 1] - p.mask_indptr[i];
      keys = mk < keys ? mk : keys;
    }
  }
  return keys <= 0 ? 0 : table_bits(keys);
}
KK_FN int bin_of_bits(int bits) { return bits == 0 ? -1 : bits - kMinBits; }

// ---- binning ---------------------------------------------------------------------------------
// Two block programs over chunks of kBinChunk rows. Every row counts towards one of a few bins,
// so one global atomic per row would be a million same-address atomics on a 1M-row matrix
// (2.9 of 4.6 GPU ms on poisson2d on an H200): rows are counted and ranked in shared memory,
// and a block does one global atomic per bin.
constexpr int kBinThreads = 256;
constexpr int kBinRowsPerThread = 8;
constexpr int64_t kBinChunk = int64_t(kBinThreads) * kBinRowsPerThread;

KK_FN unsigned fetch_add(unsigned* p, unsigned v) {  // shared or global memory
#ifdef __CUDA_ARCH__
  return atomicAdd(p, v);
#else
  unsigned old = *p;
  *p += v;
  return old;
#endif
}
KK_FN unsigned long long fetch_add(unsigned long long* p, unsigned long long v) {
#ifdef __CUDA_ARCH__
  return atomicAdd(p, v);
#else
  unsigned long long old = *p;
  *p += v;
  return old;
#endif
}

// Rows of block blk: first + tid + k * threads for k < kBinRowsPerThread, below m.
KK_FN int64_t bin_chunk_row(int64_t blk, int tid, int k, int nth, int64_t m) {
  int64_t i = blk * kBinChunk + tid + int64_t(k) * nth;
  return i < m ? i : -1;
}

// ---- input validation ----------------------------------------------------------------------
// Malformed CSR must be rejected before any kernel follows its indptr or indices, without a
// host round trip per check: validate_block counts the problems of one matrix on the device,
// count_block (launched next) does nothing unless they are all zero, and the host reads the
// counters with the symbolic bin counts, in the one copy it needs anyway.
struct CsrCheck {
  unsigned long long decreasing;         // rows i with indptr[i + 1] < indptr[i]
  unsigned long long out_of_range;       // column indices outside [0, cols)
  unsigned long long unsorted;           // entries j > 0 with indices[j] <= indices[j - 1] ...
  unsigned long long unsorted_at_start;  // ... of which at the start of a row (allowed)
  long long first, last;                 // indptr[0], indptr[rows]
};
template <class I>
struct CsrView {
  int64_t rows = 0, cols = 0, nnz = 0;
  const I* indptr = nullptr;
  const I* indices = nullptr;
};
KK_FN bool csr_valid(const CsrCheck& c, int64_t nnz) {
  return c.first == 0 && c.last == nnz && c.decreasing == 0 && c.out_of_range == 0;
}
// Sorted rows without duplicates (what the kernels assume of A, B and the mask).
KK_FN bool csr_canonical(const CsrCheck& c) { return c.unsorted == c.unsorted_at_start; }

// What count_block waits for: `count` matrices' checks (count 0: nothing to wait for).
struct InputGate {
  const CsrCheck* checks = nullptr;
  int count = 0;
  int64_t nnz[3] = {0, 0, 0};
};
KK_FN bool inputs_valid(const InputGate& g) {
  for (int i = 0; i < g.count; ++i)
    if (!csr_valid(g.checks[i], g.nnz[i])) return false;
  return true;
}

// Items blk * kBinChunk + tid + k * threads (k < kBinRowsPerThread) of one matrix: item i is
// both indptr position i (<= rows) and entry i (< nnz). Every read is in bounds whatever the
// values (row starts are clamped to [1, nnz)). local: 4 counters in shared memory.
template <class Runner, class I>
KK_FN void validate_block(Runner& r, const CsrView<I>& a, CsrCheck* out, int64_t blk,
                          unsigned long long* local) {
  const int nth = r.threads();
  r.run([&](int tid) {
    if (tid < 4) local[tid] = 0;
  });
  r.run([&](int tid) {
    unsigned long long c[4] = {0, 0, 0, 0};
    for (int k = 0; k < kBinRowsPerThread; ++k) {
      int64_t i = blk * kBinChunk + tid + int64_t(k) * nth;
      if (i <= a.rows) {
        int64_t v = a.indptr[i];
        if (i == 0) out->first = v;
        if (i == a.rows) out->last = v;
        if (i < a.rows) {
          int64_t w = a.indptr[i + 1];
          c[0] += w < v;
          if (v < w && v > 0 && v < a.nnz) c[3] += a.indices[v] <= a.indices[v - 1];
        }
      }
      if (i < a.nnz) {
        I col = a.indices[i];
        c[1] += col < 0 || col >= a.cols;
        if (i > 0) c[2] += col <= a.indices[i - 1];
      }
    }
    for (int q = 0; q < 4; ++q)
      if (c[q]) fetch_add(&local[q], c[q]);
  });
  r.run([&](int tid) {
    if (tid == 0) {
      if (local[0]) atomic_count(&out->decreasing, local[0]);
      if (local[1]) atomic_count(&out->out_of_range, local[1]);
      if (local[2]) atomic_count(&out->unsorted, local[2]);
      if (local[3]) atomic_count(&out->unsorted_at_start, local[3]);
    }
  });
}

// Each row's table bits (row_table_bits), and the bin counts added into bin_count; nothing
// when the gate's inputs are malformed (the host then reports them). local: kMaxBins
// counters in shared memory.
template <class Runner, class I>
KK_FN void count_block(Runner& r, const Problem<I>& p, const InputGate& gate,
                       const int64_t* c_indptr, int32_t* bits, unsigned long long* bin_count,
                       int64_t blk, unsigned* local) {
  if (!inputs_valid(gate)) return;  // the same for every thread of the block
  const int nth = r.threads();
  r.run([&](int tid) {
    for (int b = tid; b < kMaxBins; b += nth) local[b] = 0;
  });
  r.run([&](int tid) {
    for (int k = 0; k < kBinRowsPerThread; ++k) {
      int64_t i = bin_chunk_row(blk, tid, k, nth, p.m);
      if (i < 0) break;
      int bt = row_table_bits(p, i, c_indptr);
      bits[i] = bt;
      if (bt) fetch_add(&local[bin_of_bits(bt)], 1u);
    }
  });
  r.run([&](int tid) {
    for (int b = tid; b < kMaxBins; b += nth)
      if (local[b]) atomic_count(&bin_count[b], local[b]);
  });
}

// After count_block: each row's place in the row order (rows grouped by bin; the order within
// a bin is arbitrary on the GPU). The rows take ranks within their bin in the block, the block
// reserves one range per bin in bin_fill (after the bin's start, the sum of the counts of the
// bins before it: computed here, so the counts need not visit the host), and writes its rows
// there. local: kMaxBins counters, base: kMaxBins offsets, both in shared memory.
struct BinRanks {
  unsigned rank[kBinRowsPerThread];
};
template <class Runner, class I>
KK_FN void place_block(Runner& r, int64_t m, const int32_t* bits,
                       const unsigned long long* bin_count, unsigned long long* bin_fill,
                       I* order, int64_t blk, unsigned* local, unsigned long long* base) {
  const int nth = r.threads();
  typename Runner::template Local<BinRanks> st(r);
  r.run([&](int tid) {
    for (int b = tid; b < kMaxBins; b += nth) local[b] = 0;
  });
  r.run([&](int tid) {
    for (int k = 0; k < kBinRowsPerThread; ++k) {
      int64_t i = bin_chunk_row(blk, tid, k, nth, m);
      if (i < 0) break;
      int b = bin_of_bits(bits[i]);
      if (b >= 0) st[tid].rank[k] = fetch_add(&local[b], 1u);
    }
  });
  r.run([&](int tid) {
    for (int b = tid; b < kMaxBins; b += nth) {
      if (!local[b]) continue;
      unsigned long long start = 0;
      for (int c = 0; c < b; ++c) start += bin_count[c];
      base[b] = start + fetch_add(&bin_fill[b], (unsigned long long)local[b]);
    }
  });
  r.run([&](int tid) {
    for (int k = 0; k < kBinRowsPerThread; ++k) {
      int64_t i = bin_chunk_row(blk, tid, k, nth, m);
      if (i < 0) break;
      int b = bin_of_bits(bits[i]);
      if (b >= 0) order[static_cast<int64_t>(base[b] + st[tid].rank[k])] = static_cast<I>(i);
    }
  });
}

// ---- launch plan ---------------------------------------------------------------------------
// Three block programs, one per launch:
//  kShared  hash tables in shared memory; tables of up to 2^kGroupBits slots take `group`
//           threads per row and several rows per block (a block per small row would spend
//           its time on barriers) and are sorted by rank; larger ones take a block per row
//           and a bitonic sort;
//  kDense   a bitmap over all n columns in shared memory, for rows whose table would be as
//           large as the bitmap or not fit in shared memory (no hashing, no sort);
//  kGlobal  a hash table per row in the global workspace, `batch` rows per launch (rows too
//           large for shared memory when n is too wide for the bitmap).
enum Kind : int { kShared = 0, kGlobal = 1, kDense = 2 };
constexpr int kGroupBits = 10;  // up to 512 keys: ranking beats a 55-phase bitonic network
constexpr int kGroupThreads = 256;
constexpr int kDenseMaxThreads = 512;  // ~62 registers a thread: two such blocks per SM

KK_FN int64_t counter_bytes(int64_t rows) { return (rows * 8 + 15) / 16 * 16; }
KK_FN int64_t dense_words(int64_t n) { return (n + 31) / 32; }
// Counter, bitmap, word offsets, per-thread sums, 32 run sums.
KK_FN int64_t dense_bytes(int64_t n) {
  return 16 + 8 * dense_words(n) + 4 * (kDenseMaxThreads + 32);
}

// One launch: `count` rows of one bin from position `first` of the row order, in `blocks`
// blocks of `threads` threads, `group` threads per row (threads / group rows per block),
// `smem` bytes of dynamic shared memory.
struct Launch {
  int bits = 0, threads = 0, group = 0, kind = kShared;
  int64_t smem = 0;
  int64_t first = 0, count = 0, blocks = 0;
};

// Launches for the bins (bin_count[b] rows with 2^(b + kMinBits)-slot tables), tables of
// slot_bytes per slot, at most shared_bytes of shared memory per block, n columns, rows of
// the global bins `batch` at a time so that a batch's tables fit in workspace_bytes (at least
// one row). Returns the number of launches written to out; with out == nullptr only counts
// them. *workspace_needed gets the workspace the launches use.
KK_FN int64_t plan_launches(const int64_t* bin_count, int64_t slot_bytes, int64_t shared_bytes,
                            int64_t workspace_bytes, int64_t n, Launch* out,
                            int64_t* workspace_needed) {
  int64_t nl = 0, first = 0, need = 0;
  for (int b = 0; b < kMaxBins; ++b) {
    int64_t rows = bin_count[b];
    if (rows == 0) continue;
    Launch L;
    L.bits = b + kMinBits;
    int64_t size = int64_t(1) << L.bits, table = size * slot_bytes;
    int64_t per = 1, batch = rows < 2147483647 ? rows : 2147483647;
    // grouped rows: the table and half a table for the compacted row
    int64_t row_bytes = L.bits <= kGroupBits ? table + table / 2 : table;
    bool fits = counter_bytes(1) + row_bytes <= shared_bytes;
    if (dense_bytes(n) <= shared_bytes && (dense_words(n) <= size || !fits)) {
      L.kind = kDense;
      int64_t t = size / 2 < 256 ? 256 : size / 2 > kDenseMaxThreads ? kDenseMaxThreads : size / 2;
      L.threads = L.group = static_cast<int>(t);
      L.smem = dense_bytes(n);
    } else if (fits) {
      L.kind = kShared;
      if (L.bits <= kGroupBits) {
        L.group = L.bits - 2 < 2 ? 4 : 1 << (L.bits - 2);
        per = kGroupThreads / L.group;
        while (per > 1 && counter_bytes(per) + per * row_bytes > shared_bytes) per /= 2;
      } else {
        L.group = 256;
      }
      L.threads = static_cast<int>(per) * L.group;
      L.smem = counter_bytes(per) + per * row_bytes;
    } else {
      L.kind = kGlobal;
      L.threads = L.group = 1024;
      L.smem = counter_bytes(1);
      batch = workspace_bytes / table;
      if (batch < 1) batch = 1;
      if (batch > rows) batch = rows;
      if (batch > 65535) batch = 65535;
      need = need > batch * table ? need : batch * table;
    }
    for (int64_t done = 0; done < rows; done += batch, ++nl) {
      if (!out) continue;
      out[nl] = L;
      out[nl].first = first + done;
      out[nl].count = rows - done < batch ? rows - done : batch;
      out[nl].blocks = (out[nl].count + per - 1) / per;
    }
    first += rows;
  }
  if (workspace_needed) *workspace_needed = need;
  return nl;
}

// Row of group g of block blk; -1 past the launch's rows (that group idles through the phases,
// still reaching every barrier).
template <class I>
KK_FN int64_t block_row(const I* order, const Launch& L, int64_t blk, int g) {
  int64_t at = blk * (L.threads / L.group) + g;
  return at < L.count ? static_cast<int64_t>(order[L.first + at]) : -1;
}

// Lanes that walk one B row together: rows of at most 128 keys have short B rows.
KK_FN int walk_width(const Launch& L) {
  int w = L.bits <= 8 ? 8 : 32;
  return L.group < w ? L.group : w;
}

// ---- hash tables ---------------------------------------------------------------------------
// A table: 2^bits keys (I, -1 = empty) and, in the numeric phase, 2^bits slots.
template <class I, class S>
struct Table {
  I* keys;
  S* vals;  // null in the symbolic phase
  int bits;
};

// Group g's table: in shared memory after the block's counters (all groups' values first,
// then all keys), or for kGlobal the block's slice of the workspace.
template <class I, class S>
KK_FN Table<I, S> group_table(const Launch& L, int64_t blk, int g, char* smem, char* work,
                              bool values) {
  int64_t per = L.threads / L.group, size = int64_t(1) << L.bits;
  int64_t vbytes = values ? int64_t(sizeof(S)) : 0;
  char* base = L.kind == kGlobal ? work + blk * size * (int64_t(sizeof(I)) + vbytes)
                                 : smem + counter_bytes(per);
  S* vals = values ? reinterpret_cast<S*>(base) + g * size : nullptr;
  I* keys = reinterpret_cast<I*>(base + per * size * vbytes) + g * size;
  return {keys, vals, L.bits};
}

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
// -1 when the table is full, which sorted input rows rule out (the bound stays a bound).
template <class I, class S>
KK_FN int64_t table_insert_key(Table<I, S> t, I col) {
  uint64_t mask = (uint64_t(1) << t.bits) - 1;
  uint64_t h = hash_slot(col, t.bits);
  for (uint64_t probe = 0; probe <= mask; ++probe) {
    I k = atomic_cas(&t.keys[h], I(-1), col);
    if (k == I(-1) || k == col) return static_cast<int64_t>(h);
    h = (h + 1) & mask;
  }
  return -1;
}

// f(col, pa, pb) for every product of row `row` (mask applied) taken by lane `lane` of the
// row's `nth` threads: runs of `walk` lanes take A's entries in turn, the lanes of a run walk
// the B row (coalesced), so a long B row is shared, not one thread's.
template <class I, class F>
KK_FN void for_each_product(const Problem<I>& p, int64_t row, int lane, int nth, int walk,
                            F&& f) {
  int sub = lane % walk, g = lane / walk, groups = nth / walk;
  // int64 positions: with int32 indices, pa + groups could pass INT32_MAX near the end
  for (int64_t pa = int64_t(p.a_indptr[row]) + g; pa < p.a_indptr[row + 1]; pa += groups) {
    I k = p.a_indices[pa];
    for (int64_t pb = int64_t(p.b_indptr[k]) + sub; pb < p.b_indptr[k + 1]; pb += walk) {
      I col = p.b_indices[pb];
      if (p.mask_indptr && in_mask_row(p, row, col) == p.complement) continue;
      f(col, pa, pb);
    }
  }
}

// Every product of row `row` into its table (only the column when !Values).
template <bool Values, class SR, class I, class V, class S>
KK_FN void insert_products(const Problem<I>& p, int64_t row, Table<I, S> t, int lane, int nth,
                           int walk) {
  const V* ad = static_cast<const V*>(p.a_data);
  const V* bd = static_cast<const V*>(p.b_data);
  SR sr;
  for_each_product(p, row, lane, nth, walk, [&](I col, int64_t pa, int64_t pb) {
    int64_t s = table_insert_key(t, col);
    if constexpr (Values) {
      if (s >= 0) sr.accumulate(&t.vals[s], sr.mul(ad[pa], bd[pb]));
    }
  });
}

// Symbolic: add this thread's occupied slots to *count.
template <class I, class S>
KK_FN void count_keys(Table<I, S> t, unsigned long long* count, int tid, int nth) {
  int64_t size = int64_t(1) << t.bits;
  unsigned long long local = 0;
  for (int64_t s = tid; s < size; s += nth) local += t.keys[s] != I(-1);
  if (local) atomic_count(count, local);
}

// Grouped rows (kShared, bits <= kGroupBits): group g's compacted row, half a table of keys
// and values after all the tables (a table holds at most half its size in keys).
template <class I, class S>
struct Packed {
  I* keys;
  S* vals;
  int64_t cap;
};
template <class I, class S>
KK_FN Packed<I, S> packed_row(const Launch& L, int g, char* smem) {
  int64_t per = L.threads / L.group, half = (int64_t(1) << L.bits) / 2;
  char* base = smem + counter_bytes(per) + 2 * per * half * int64_t(sizeof(I) + sizeof(S));
  return {reinterpret_cast<I*>(base + per * half * int64_t(sizeof(S))) + g * half,
          reinterpret_cast<S*>(base) + g * half, half};
}

// Pack the table's entries (any order; *fill counts them).
template <class I, class S>
KK_FN void pack_row(Table<I, S> t, Packed<I, S> c, unsigned long long* fill, int lane, int nth) {
  int64_t size = int64_t(1) << t.bits;
  for (int64_t s = lane; s < size; s += nth) {
    if (t.keys[s] == I(-1)) continue;
    int64_t pos = static_cast<int64_t>(fetch_add(fill, 1ull));
    if (pos >= c.cap) continue;
    c.keys[pos] = t.keys[s];
    c.vals[pos] = t.vals[s];
  }
}

// Small rows, sorted without a sorting network: a packed entry's place in the row is the
// number of smaller keys (keys are distinct).
template <class I, class S, class V>
KK_FN void write_ranked(Packed<I, S> c, int64_t count, int64_t nnz, I* out_indices, V* out_data,
                        int lane, int nth) {
  if (count > c.cap) count = c.cap;
  for (int64_t e = lane; e < count; e += nth) {
    I key = c.keys[e];
    int64_t rank = 0;
    for (int64_t q = 0; q < count; ++q) rank += c.keys[q] < key;
    if (rank < nnz) {
      out_indices[rank] = key;
      store(&out_data[rank], c.vals[e]);
    }
  }
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
KK_FN void write_unsorted(Table<I, S> t, unsigned long long* fill, int64_t nnz, I* out_indices,
                          V* out_data, int tid, int nth) {
  int64_t size = int64_t(1) << t.bits;
  for (int64_t s = tid; s < size; s += nth) {
    if (t.keys[s] == I(-1)) continue;
#ifdef __CUDA_ARCH__
    unsigned long long pos = atomicAdd(fill, 1ull);
#else
    unsigned long long pos = (*fill)++;
#endif
    if (static_cast<int64_t>(pos) >= nnz) continue;
    out_indices[pos] = t.keys[s];
    store(&out_data[pos], t.vals[s]);
  }
}

// ---- dense rows ----------------------------------------------------------------------------
// A bitmap of the row's columns over all n columns (atomicOr per product); a block-wide
// prefix sum of its words' popcounts gives every column its place in the sorted row, so the
// numeric phase accumulates straight into C: no table, no sort.
KK_FN int popcount(uint32_t x) {
#ifdef __CUDA_ARCH__
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}
KK_FN int lowest_bit(uint32_t x) {  // x != 0
#ifdef __CUDA_ARCH__
  return __ffs(x) - 1;
#else
  return __builtin_ctz(x);
#endif
}

struct DenseRow {
  unsigned long long* count;
  uint32_t* words;  // the bitmap
  int32_t* off;     // set bits before each word
  int32_t* part;    // per-thread sums, then their exclusive prefix within runs of threads
  int32_t* tot;     // 32 run sums, then their exclusive prefix
  int64_t nw;
};
KK_FN DenseRow dense_row(char* smem, int64_t n) {
  DenseRow d;
  d.count = reinterpret_cast<unsigned long long*>(smem);
  d.nw = dense_words(n);
  d.words = reinterpret_cast<uint32_t*>(smem + 16);
  d.off = reinterpret_cast<int32_t*>(d.words + d.nw);
  d.part = d.off + d.nw;
  d.tot = d.part + kDenseMaxThreads;
  return d;
}

// Phases: clear the bitmap, then set every product's column.
template <class Runner, class I>
KK_FN void dense_mark(Runner& r, const Problem<I>& p, int64_t row, DenseRow d, int walk) {
  int nth = r.threads();
  r.run([&](int tid) {
    for (int64_t w = tid; w < d.nw; w += nth) d.words[w] = 0;
    if (tid == 0) *d.count = 0;
  });
  r.run([&](int tid) {
    for_each_product(p, row, tid, nth, walk, [&](I col, int64_t, int64_t) {
      atomic_plus(&d.words[col >> 5], uint32_t(1) << (col & 31));  // uint32 "+" is OR
    });
  });
}

// Phases: d.off[w] = set bits in words before w. Each thread sums a run of words; 32 threads
// scan the thread sums in runs, one thread the 32 run sums; each thread then walks its words.
// Needs a multiple of 32 threads (the plan gives 256 .. kDenseMaxThreads).
template <class Runner>
KK_FN void dense_offsets(Runner& r, DenseRow d) {
  int nth = r.threads(), run = nth / 32;
  int64_t chunk = (d.nw + nth - 1) / nth;
  r.run([&](int tid) {
    int32_t s = 0;
    for (int64_t w = tid * chunk; w < (tid + 1) * chunk && w < d.nw; ++w) s += popcount(d.words[w]);
    d.part[tid] = s;
  });
  r.run([&](int tid) {
    if (tid >= 32) return;
    int32_t s = 0;
    for (int i = tid * run; i < (tid + 1) * run; ++i) {
      int32_t v = d.part[i];
      d.part[i] = s;
      s += v;
    }
    d.tot[tid] = s;
  });
  r.run([&](int tid) {
    if (tid != 0) return;
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) {
      int32_t v = d.tot[i];
      d.tot[i] = s;
      s += v;
    }
  });
  r.run([&](int tid) {
    int32_t s = d.part[tid] + d.tot[tid / run];
    for (int64_t w = tid * chunk; w < (tid + 1) * chunk && w < d.nw; ++w) {
      d.off[w] = s;
      s += popcount(d.words[w]);
    }
  });
}

// Accumulate into C's value itself (dense rows): the semiring's atomic, or for bool's 8-bit
// values (slots are 32-bit for atomicOr) a plain store of true, the same from every writer.
template <class SR, class V>
KK_FN void accumulate_out(SR& sr, V* out, typename SR::S v) {
  if constexpr (std::is_same<V, typename SR::S>::value) sr.accumulate(out, v);
  else if (v) *out = V(1);
}

// ---- block programs ------------------------------------------------------------------------
// Symbolic: the number of distinct columns of each of the block's rows into row_nnz[row].
template <class Runner, class I>
KK_FN void symbolic_block(Runner& r, const Problem<I>& p, const I* order, const Launch& L,
                          int64_t blk, char* smem, char* work, int64_t* row_nnz) {
  int nth = r.threads(), G = L.group, walk = walk_width(L);
  if (L.kind == kDense) {
    int64_t row = block_row(order, L, blk, 0);
    DenseRow d = dense_row(smem, p.n);
    dense_mark(r, p, row, d, walk);
    r.run([&](int tid) {
      unsigned long long local = 0;
      for (int64_t w = tid; w < d.nw; w += nth) local += popcount(d.words[w]);
      if (local) atomic_count(d.count, local);
    });
    r.run([&](int tid) {
      if (tid == 0) row_nnz[row] = static_cast<int64_t>(*d.count);
    });
    return;
  }
  auto* count = reinterpret_cast<unsigned long long*>(smem);
  auto table = [&](int g) { return group_table<I, char>(L, blk, g, smem, work, false); };
  r.run([&](int tid) {
    table_clear(table(tid / G), char(0), tid % G, G);
    if (tid % G == 0) count[tid / G] = 0;
  });
  r.run([&](int tid) {
    int64_t row = block_row(order, L, blk, tid / G);
    if (row >= 0)
      insert_products<false, GOrAnd, I, uint8_t>(p, row, table(tid / G), tid % G, G, walk);
  });
  r.run([&](int tid) { count_keys(table(tid / G), &count[tid / G], tid % G, G); });
  r.run([&](int tid) {
    int64_t row = block_row(order, L, blk, tid / G);
    if (tid % G == 0 && row >= 0) row_nnz[row] = static_cast<int64_t>(count[tid / G]);
  });
}

// Numeric: each of the block's rows of C at its offset indptr[row] (nnz from the symbolic
// phase). Output rows are sorted except for large hash rows when !sort.
template <class SR, class Runner, class I, class V>
KK_FN void numeric_block(Runner& r, const Problem<I>& p, const I* order, const Launch& L,
                         int64_t blk, char* smem, char* work, const int64_t* indptr, bool sort,
                         I* out_indices, V* out_data) {
  using S = typename SR::S;
  int nth = r.threads(), G = L.group, walk = walk_width(L);
  SR sr;
  if (L.kind == kDense) {
    int64_t row = block_row(order, L, blk, 0);
    int64_t at = indptr[row], nnz = indptr[row + 1] - at;
    I* oi = out_indices + at;
    V* od = out_data + at;
    DenseRow d = dense_row(smem, p.n);
    dense_mark(r, p, row, d, walk);
    dense_offsets(r, d);
    r.run([&](int tid) {  // C's columns, values at the identity (adjacent words: coalesced)
      for (int64_t w = tid; w < d.nw; w += nth) {
        int64_t pos = d.off[w];
        for (uint32_t x = d.words[w]; x; x &= x - 1, ++pos) {
          if (pos >= nnz) break;
          oi[pos] = static_cast<I>(w * 32 + lowest_bit(x));
          store(&od[pos], sr.identity());
        }
      }
    });
    const V* ad = static_cast<const V*>(p.a_data);
    const V* bd = static_cast<const V*>(p.b_data);
    r.run([&](int tid) {
      for_each_product(p, row, tid, nth, walk, [&](I col, int64_t pa, int64_t pb) {
        int64_t w = col >> 5;
        uint32_t below = d.words[w] & ((uint32_t(1) << (col & 31)) - 1);
        int64_t pos = d.off[w] + popcount(below);
        if (pos < nnz) accumulate_out(sr, &od[pos], sr.mul(ad[pa], bd[pb]));
      });
    });
    return;
  }
  auto* fill = reinterpret_cast<unsigned long long*>(smem);
  auto table = [&](int g) { return group_table<I, S>(L, blk, g, smem, work, true); };
  r.run([&](int tid) {
    table_clear(table(tid / G), sr.identity(), tid % G, G);
    if (tid % G == 0) fill[tid / G] = 0;
  });
  r.run([&](int tid) {
    int64_t row = block_row(order, L, blk, tid / G);
    if (row >= 0) insert_products<true, SR, I, V>(p, row, table(tid / G), tid % G, G, walk);
  });
  if (L.kind == kShared && L.bits <= kGroupBits) {  // pack, then rank
    r.run([&](int tid) {
      int g = tid / G;
      if (block_row(order, L, blk, g) >= 0)
        pack_row(table(g), packed_row<I, S>(L, g, smem), &fill[g], tid % G, G);
    });
    r.run([&](int tid) {
      int g = tid / G;
      int64_t row = block_row(order, L, blk, g);
      if (row < 0) return;
      int64_t at = indptr[row];
      write_ranked(packed_row<I, S>(L, g, smem), static_cast<int64_t>(fill[g]),
                   indptr[row + 1] - at, out_indices + at, out_data + at, tid % G, G);
    });
    return;
  }
  // Larger tables, and all global ones: one row per block (G == nth), a bitonic sort of the
  // whole table.
  int64_t row = block_row(order, L, blk, 0);
  int64_t at = indptr[row], nnz = indptr[row + 1] - at;
  Table<I, S> t = table(0);
  if (!sort) {
    r.run([&](int tid) { write_unsorted(t, fill, nnz, out_indices + at, out_data + at, tid, nth); });
    return;
  }
  int64_t size = int64_t(1) << t.bits;
  for (int64_t k = 2; k <= size; k <<= 1)
    for (int64_t j = k >> 1; j > 0; j >>= 1) r.run([&](int tid) { bitonic_step(t, k, j, tid, nth); });
  r.run([&](int tid) { write_sorted(t, nnz, out_indices + at, out_data + at, tid, nth); });
}

}  // namespace kernelkit::sparse::blocks

namespace kernelkit::sparse::blocks {

// plan_launches as a list (host only: the CUDA launcher and the emulator walk the same one).
inline std::vector<Launch> launch_list(const int64_t* bin_count, int64_t slot_bytes,
                                       int64_t shared_bytes, int64_t workspace_bytes, int64_t n,
                                       int64_t* workspace_needed) {
  std::vector<Launch> out(plan_launches(bin_count, slot_bytes, shared_bytes, workspace_bytes, n,
                                        nullptr, workspace_needed));
  plan_launches(bin_count, slot_bytes, shared_bytes, workspace_bytes, n, out.data(),
                workspace_needed);
  return out;
}

// After validate_block: ValueError (std::invalid_argument) "<name>: malformed CSR: <what>"
// for the first malformed matrix, worded as Python's own checks; else a bit per matrix that
// is not canonical (the caller sums its duplicates and starts again).
inline int check_inputs(const CsrCheck* checks, const char* const* names, const int64_t* nnz,
                        const int64_t* cols, int count) {
  int noncanonical = 0;
  for (int i = 0; i < count; ++i) {
    const CsrCheck& c = checks[i];
    std::string bad;
    if (c.first != 0 || c.last != nnz[i])
      bad = "indptr runs from " + std::to_string(c.first) + " to " + std::to_string(c.last) +
            ", expected 0 to nnz = " + std::to_string(nnz[i]);
    else if (c.decreasing)
      bad = "indptr decreases";
    else if (c.out_of_range)
      bad = "column indices outside [0, " + std::to_string(cols[i]) + ")";
    if (!bad.empty())
      throw std::invalid_argument(std::string(names[i]) + ": malformed CSR: " + bad);
    if (!csr_canonical(c)) noncanonical |= 1 << i;
  }
  return noncanonical;
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
