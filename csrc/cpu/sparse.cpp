// Row-wise SpGEMM on the CPU: C = A B over a semiring, Gustavson order, partial products merged
// into a per-row accumulator as they are generated: for short rows of A a merge of the sorted
// B rows, otherwise a dense array over the row's column window when it fits in cache, else a
// hash table sized from the row's product count.
//
// Usually one pass: C's arrays are reserved for the product count (an upper bound; the
// unwritten tail is never touched, so the memory used stays C's, as SciPy's), chunks of rows
// are computed into per-thread buffers, sorted while in cache, and copied behind each other
// in row order (1.2-1.8x faster than two phases: bench/bench_sparse.py phases). Otherwise two
// phases: a symbolic one counts each row's distinct columns so C is allocated exactly, then
// the numeric one fills each row at its offset. Rows are split into chunks of about equal
// work (products) handed out dynamically; a row holding a large share of all products is
// spread over all threads with one table updated by atomics (two phases only), so it never
// serialises the product.
#include "cpu/sparse.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernelkit::cpu {
namespace {
using namespace kernelkit::sparse;

int thread_count() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// ---- validation ----------------------------------------------------------------------------

// Throws std::invalid_argument naming the first problem found; returns whether every row's
// column indices are sorted.
template <class I>
bool check_csr(const CsrRef<I>& m, const char* name) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string(name) + ": malformed CSR: " + why);
  };
  if (m.indptr[0] != 0) fail("indptr[0] = " + std::to_string(m.indptr[0]) + ", expected 0");
  if (int64_t(m.indptr[m.rows]) != m.nnz)
    fail("indptr[-1] = " + std::to_string(m.indptr[m.rows]) + " but there are " +
         std::to_string(m.nnz) + " stored entries");
  int64_t bad_row = -1;
#pragma omp parallel for schedule(static) reduction(max : bad_row)
  for (int64_t i = 0; i < m.rows; ++i)
    if (m.indptr[i + 1] < m.indptr[i]) bad_row = std::max(bad_row, i);
  if (bad_row >= 0) fail("indptr decreases at row " + std::to_string(bad_row));
  int64_t bad_pos = -1;
  int unsorted = 0;
#pragma omp parallel for schedule(static) reduction(max : bad_pos, unsorted)
  for (int64_t i = 0; i < m.rows; ++i)
    for (I p = m.indptr[i]; p < m.indptr[i + 1]; ++p) {
      if (m.indices[p] < 0 || m.indices[p] >= m.cols) bad_pos = std::max<int64_t>(bad_pos, p);
      if (p > m.indptr[i] && m.indices[p] < m.indices[p - 1]) unsorted = 1;
    }
  if (bad_pos >= 0)
    fail("column index " + std::to_string(m.indices[bad_pos]) + " at position " +
         std::to_string(bad_pos) + " is outside [0, " + std::to_string(m.cols) + ")");
  return !unsorted;
}

// A row uses the dense accumulator when its arrays over the row's column window (a stamp, and
// a value in the numeric phase, per column) fit in this many bytes (a stencil's rows touch a
// few lines of it that slide along with the row: faster than hashing on Poisson-3D, measured),
// or when its hash table would be at least 1/16 of the window anyway.
constexpr int64_t kDenseBytes = 1 << 20;

// Products per chunk of rows (at least): a chunk's one-pass output (at most this many entries,
// ~100 KB) stays in L2 until it is copied to its place in C, and the buffers of chunks
// waiting for their predecessor (at most kMaxStaged per thread) add little to C's memory.
constexpr int64_t kChunkProducts = 1 << 13;
constexpr size_t kMaxStaged = 4;

// Small pages for [p, p + bytes) (from the first page boundary on).
inline void no_huge_pages(const void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGE_SIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_NOHUGEPAGE);
#else
  (void)p, (void)bytes;
#endif
}

// ---- per-thread accumulators ---------------------------------------------------------------

template <class I, class V>
struct Workspace {
  // Hash table: between rows every slot is empty (key -1, state kEmpty).
  std::vector<I> keys;
  std::vector<uint8_t> state;
  std::vector<V> vals;
  std::vector<int64_t> used;     // slots taken in the current row, so emit and reset skip the rest
  std::vector<uint64_t> packed;  // (column << 32 | slot) for sorting a row's entries
  std::vector<uint64_t> sort_tmp;
  std::vector<I> sort_tmp_cols;
  std::vector<uint32_t> sort_counts;
  // Dense accumulator over a window [lo, lo + width) of C's columns: stamp[j - lo] == i marks
  // column j as produced in row i. Stamps are row numbers, so entries left by earlier rows
  // (whatever their window) never match and nothing is ever cleared.
  // Numeric phase: stamp and value side by side, so a product touches one cache line.
  struct Cell {
    V value;
    I stamp;
  };
  std::vector<I> stamp, mask_stamp;
  std::vector<Cell> cells;
  std::vector<I> touched;
  void reserve_hash(int bits, bool values) {
    size_t t = size_t(1) << bits;
    if (keys.size() < t) {
      keys.assign(t, I(-1));
      state.assign(t, kEmpty);
      used.resize(t / 2 + 1);
      packed.resize(t / 2 + 1);
    }
    if (values && vals.size() < t) vals.resize(t);
  }
  void reserve_dense(int64_t width, int64_t touch, bool values, bool mask) {
    if (!values && int64_t(stamp.size()) < width) stamp.resize(width, I(-1));
    if (values && int64_t(cells.size()) < width) cells.resize(width, Cell{V{}, I(-1)});
    if (mask && int64_t(mask_stamp.size()) < width) mask_stamp.resize(width, I(-1));
    if (int64_t(touched.size()) < touch) touched.resize(touch);
  }
};

template <class I>
inline int64_t probe(const I* keys, uint64_t mask, int bits, I j) {
  uint64_t s = hash_slot(j, bits);
  while (keys[s] != j && keys[s] != I(-1)) s = (s + 1) & mask;
  return int64_t(s);
}

template <class T>
void insertion_sort(T* a, int64_t n) {
  for (int64_t t = 1; t < n; ++t) {
    T c = a[t];
    int64_t u = t - 1;
    while (u >= 0 && a[u] > c) {
      a[u + 1] = a[u];
      --u;
    }
    a[u + 1] = c;
  }
}

// Sorts a row's column keys (or packed column << 32 | slot words). Short rows: insertion sort.
// Longer ones: one counting pass into about n/2 buckets by value, then each bucket sorted on
// its own (insertion sort, or std::sort for a crowded bucket), so a row costs O(n) for
// spread-out columns and O(n log n) at worst, without std::sort's mispredicted branches.
template <class T>
void sort_keys(T* a, int64_t n, std::vector<T>& tmp, std::vector<uint32_t>& counts) {
  if (n <= 32) return insertion_sort(a, n);
  T lo = a[0], hi = a[0];
  for (int64_t t = 1; t < n; ++t) {
    lo = std::min(lo, a[t]);
    hi = std::max(hi, a[t]);
  }
  const uint64_t range = uint64_t(hi) - uint64_t(lo);
  int shift = 0;
  while ((range >> shift) >= uint64_t(n / 2)) ++shift;
  const size_t nb = size_t(range >> shift) + 1;
  counts.assign(nb + 1, 0);
  for (int64_t t = 0; t < n; ++t) ++counts[((uint64_t(a[t]) - uint64_t(lo)) >> shift) + 1];
  for (size_t b = 0; b < nb; ++b) counts[b + 1] += counts[b];
  if (int64_t(tmp.size()) < n) tmp.resize(n);
  for (int64_t t = 0; t < n; ++t)
    tmp[counts[(uint64_t(a[t]) - uint64_t(lo)) >> shift]++] = a[t];
  // counts[b] now ends bucket b; buckets start at counts[b - 1] (0 for the first).
  uint32_t begin = 0;
  for (size_t b = 0; b < nb; ++b) {
    const uint32_t end = counts[b];
    if (end - begin > 32) std::sort(tmp.data() + begin, tmp.data() + end);
    else insertion_sort(tmp.data() + begin, int64_t(end - begin));
    begin = end;
  }
  std::copy(tmp.data(), tmp.data() + n, a);
}

template <class V>
inline bool is_zero(V v) { return v == V(0); }

// Writes the produced entries of a finished hash table to (idx, val), sorted if asked, and
// returns how many (after dropping exact zeros when the semiring does); Num = false: only counts.
template <class I, class O, class V, class SR, bool Num>
int64_t emit_table(const I* keys, const uint8_t* state, const V* vals, int bits, bool sort,
                   O* idx, V* val) {
  const int64_t t = int64_t(1) << bits;
  int64_t c = 0;
  if constexpr (!Num) {
    for (int64_t s = 0; s < t; ++s) c += state[s] == kHit;
    return c;
  }
  if (!sort) {
    for (int64_t s = 0; s < t; ++s) {
      if (state[s] != kHit || (SR::drop_zeros && is_zero(vals[s]))) continue;
      idx[c] = O(keys[s]);
      val[c++] = vals[s];
    }
    return c;
  }
  for (int64_t s = 0; s < t; ++s)
    if (state[s] == kHit) idx[c++] = O(keys[s]);
  if (c <= 32) insertion_sort(idx, c);
  else std::sort(idx, idx + c);
  const uint64_t mask = uint64_t(t) - 1;
  int64_t w = 0;
  for (int64_t u = 0; u < c; ++u) {
    V v = vals[probe(keys, mask, bits, I(idx[u]))];
    if (SR::drop_zeros && is_zero(v)) continue;
    idx[w] = idx[u];
    val[w++] = v;
  }
  return w;
}

// Software prefetch of the B rows a few A entries ahead (A's entries are contiguous across
// rows, so the look-ahead runs on into the next rows): random B rows (Erdos-Renyi, R-MAT) are
// cache misses otherwise, each a chain of two dependent loads (indptr, then the row).
template <class I, class V, bool Num>
inline void prefetch_b_rows(const CsrRef<I>& a, const CsrRef<I>& b, int64_t p) {
  constexpr int64_t kFar = 16, kNear = 6;
  if (p + kFar < a.nnz) __builtin_prefetch(b.indptr + a.indices[p + kFar]);
  if (p + kNear < a.nnz) {
    const I q = b.indptr[a.indices[p + kNear]];
    __builtin_prefetch(b.indices + q);
    if constexpr (Num) __builtin_prefetch(static_cast<const V*>(b.data) + q);
  }
}

// Keys a row's table must hold: the mask's columns (not complemented), else every column the
// products can reach plus the complemented mask's.
template <class I>
int64_t table_keys(const CsrRef<I>& b, const CsrRef<I>& m, const SpgemmOptions& opt, int64_t i,
                   int64_t products) {
  int64_t mlen = opt.has_mask ? int64_t(m.indptr[i + 1] - m.indptr[i]) : 0;
  if (opt.has_mask && !opt.complement) return std::min(mlen, b.cols);
  return std::min(products, b.cols) + mlen;
}

// ---- one row, one thread -------------------------------------------------------------------

template <class I, class O, class V, class SR, bool Num>
int64_t row_hash(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                 const SpgemmOptions& opt, int64_t i, int bits, Workspace<I, V>& ws, O* idx,
                 V* val) {
  ws.reserve_hash(bits, Num);
  I* keys = ws.keys.data();
  uint8_t* st = ws.state.data();
  V* vals = ws.vals.data();
  int64_t* used = ws.used.data();
  int64_t nused = 0;
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  const V* ad = static_cast<const V*>(a.data);
  const V* bd = static_cast<const V*>(b.data);
  if (opt.has_mask) {
    const uint8_t mark = opt.complement ? kForbidden : kAllowed;
    for (I q = m.indptr[i]; q < m.indptr[i + 1]; ++q) {
      int64_t s = probe(keys, mask, bits, m.indices[q]);
      if (keys[s] != I(-1)) continue;  // duplicate in the mask
      keys[s] = m.indices[q];
      st[s] = mark;
      used[nused++] = s;
      if constexpr (Num) vals[s] = SR::identity();
    }
  }
  const bool open = !opt.has_mask || opt.complement;  // may products create keys?
  int64_t hits = 0;
  const I* __restrict bp = b.indptr;
  const I* __restrict bi = b.indices;
  for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
    prefetch_b_rows<I, V, Num>(a, b, p);
    const I k = a.indices[p];
    V av{};
    if constexpr (Num) av = ad[p];
    const I q_end = bp[k + 1];
    for (I q = bp[k]; q < q_end; ++q) {
      const I j = bi[q];
      int64_t s = probe(keys, mask, bits, j);
      if (keys[s] == I(-1)) {
        if (!open) continue;
        keys[s] = j;
        st[s] = kHit;
        used[nused++] = s;
        ++hits;
        if constexpr (Num) vals[s] = SR::add(SR::identity(), SR::mul(av, bd[q]));
        continue;
      }
      if (st[s] == kForbidden) continue;
      if (st[s] == kAllowed) {
        st[s] = kHit;
        ++hits;
      }
      if constexpr (Num) vals[s] = SR::add(vals[s], SR::mul(av, bd[q]));
    }
  }
  int64_t w = hits;
  if constexpr (Num) {
    // Gather the produced entries; sort them by column as packed (column << 32 | slot)
    // integers when columns fit 32 bits, so no second probe is needed for the values.
    w = 0;
    if (!opt.sort) {
      for (int64_t u = 0; u < nused; ++u) {
        int64_t s = used[u];
        if (st[s] != kHit || (SR::drop_zeros && is_zero(vals[s]))) continue;
        idx[w] = O(keys[s]);
        val[w++] = vals[s];
      }
    } else if (b.cols <= (int64_t(1) << 32)) {
      uint64_t* pk = ws.packed.data();
      int64_t c = 0;
      for (int64_t u = 0; u < nused; ++u) {
        int64_t s = used[u];
        if (st[s] == kHit) pk[c++] = (uint64_t(keys[s]) << 32) | uint64_t(s);
      }
      sort_keys(pk, c, ws.sort_tmp, ws.sort_counts);
      for (int64_t u = 0; u < c; ++u) {
        int64_t s = int64_t(pk[u] & 0xffffffffu);
        if (SR::drop_zeros && is_zero(vals[s])) continue;
        idx[w] = O(keys[s]);
        val[w++] = vals[s];
      }
    } else {
      w = emit_table<I, O, V, SR, true>(keys, st, vals, bits, true, idx, val);
    }
  }
  for (int64_t u = 0; u < nused; ++u) {
    keys[used[u]] = I(-1);
    st[used[u]] = kEmpty;
  }
  return w;
}

template <class I, class O, class V, class SR, bool Num>
int64_t row_dense(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                  const SpgemmOptions& opt, int64_t i, int64_t products, I lo, int64_t width,
                  Workspace<I, V>& ws, O* idx, V* val) {
  ws.reserve_dense(width, std::min(products, width), Num, opt.has_mask);
  I* __restrict stamp = ws.stamp.data();
  auto* __restrict cell = ws.cells.data();
  I* mstamp = ws.mask_stamp.data();
  I* touched = ws.touched.data();
  const I row = I(i);
  const V* ad = static_cast<const V*>(a.data);
  const V* bd = static_cast<const V*>(b.data);
  if (opt.has_mask)
    for (I q = m.indptr[i]; q < m.indptr[i + 1]; ++q) {
      const int64_t u = int64_t(m.indices[q]) - lo;
      if (u >= 0 && u < width) mstamp[u] = row;  // mask columns outside the window: no product
    }
  int64_t c = 0;
  // Locals (restrict) so the stores into the accumulator do not force reloads of B's arrays
  // and the options in the inner loop.
  const I* __restrict bp = b.indptr;
  const I* __restrict bi = b.indices;
  const bool has_mask = opt.has_mask, complement = opt.complement;
  for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
    prefetch_b_rows<I, V, Num>(a, b, p);
    const I k = a.indices[p];
    V av{};
    if constexpr (Num) av = ad[p];
    const I q_end = bp[k + 1];
    for (I q = bp[k]; q < q_end; ++q) {
      const I u = bi[q] - lo;
      if (has_mask && (mstamp[u] == row) == complement) continue;
      if constexpr (Num) {
        const V prod = SR::mul(av, bd[q]);
        if (cell[u].stamp != row) {
          cell[u].stamp = row;
          cell[u].value = SR::add(SR::identity(), prod);
          touched[c++] = u;
        } else {
          cell[u].value = SR::add(cell[u].value, prod);
        }
      } else if (stamp[u] != row) {
        stamp[u] = row;
        ++c;
      }
    }
  }
  if constexpr (!Num) return c;
  int64_t w = 0;
  auto put = [&](I u) {
    if (SR::drop_zeros && is_zero(cell[u].value)) return;
    idx[w] = O(u + lo);
    val[w++] = cell[u].value;
  };
  if (opt.sort && c > 64 && c * 8 > width) {
    for (int64_t u = 0; u < width; ++u)  // a dense row: a scan is cheaper than a sort
      if (cell[u].stamp == row) put(I(u));
  } else {
    if (opt.sort) sort_keys(touched, c, ws.sort_tmp_cols, ws.sort_counts);
    for (int64_t u = 0; u < c; ++u) put(touched[u]);
  }
  return w;
}

// Rows of A with at most kMergeShort entries (stencils, most rows of sparse graphs), or up to
// kMergeLists over heavily overlapping B rows (banded), B rows sorted, no mask: merge the scaled B rows like sorted lists. Each output column comes out in
// order, so there is no table, no sort and nothing to reset (1.4x faster than the dense
// accumulator on Poisson-2D, measured). A list that runs out is replaced by the last one, so a
// column's products may be summed in another order than A's (a rounding difference from
// SciPy; keeping the order by shifting the lists measured 1.5x slower).
constexpr int kMergeLists = 24;
constexpr int kMergeShort = 8;  // rows up to this long always merge

template <class I, class O, class V, class SR, bool Num>
int64_t row_merge(const CsrRef<I>& a, const CsrRef<I>& b, int64_t i, O* idx, V* val) {
  I pos[kMergeLists], end[kMergeLists];
  V scale[kMergeLists];
  int lists = 0;
  const V* ad = static_cast<const V*>(a.data);
  const V* bd = static_cast<const V*>(b.data);
  for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
    const I k = a.indices[p];
    if (b.indptr[k] == b.indptr[k + 1]) continue;
    pos[lists] = b.indptr[k];
    end[lists] = b.indptr[k + 1];
    if constexpr (Num) scale[lists] = ad[p];
    ++lists;
  }
  const I* bi = b.indices;
  int64_t w = 0;
  while (lists > 0) {
    I col = bi[pos[0]];
    for (int t = 1; t < lists; ++t) col = std::min(col, bi[pos[t]]);
    V acc = SR::identity();
    for (int t = 0; t < lists; ++t) {
      if (bi[pos[t]] != col) continue;
      if constexpr (Num) acc = SR::add(acc, SR::mul(scale[t], bd[pos[t]]));
      if (++pos[t] == end[t]) {  // list t is used up: the last list takes its place
        --lists;
        pos[t] = pos[lists];
        end[t] = end[lists];
        if constexpr (Num) scale[t] = scale[lists];
        --t;
      }
    }
    if constexpr (Num) {
      if (SR::drop_zeros && is_zero(acc)) continue;
      idx[w] = O(col);
      val[w] = acc;
    }
    ++w;
  }
  return w;
}

// One pass over A's row gives the row's product count and the window of columns it can
// reach (first and last column of each B row used, so only for B with sorted rows). Narrow
// windows (stencils, banded, small n: the
// touched part stays in cache) use the dense accumulator, others a hash table.
template <class I, class O, class V, class SR, bool Num>
int64_t row_one_thread(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                       const SpgemmOptions& opt, bool b_sorted, int64_t i, Workspace<I, V>& ws,
                       O* idx, V* val) {
  const int64_t row_len = a.indptr[i + 1] - a.indptr[i];
  const bool can_merge = b_sorted && !opt.has_mask && row_len <= kMergeLists;
  if (can_merge && row_len <= kMergeShort) return row_merge<I, O, V, SR, Num>(a, b, i, idx, val);
  int64_t products = 0;
  I lo = I(b.cols), hi = I(0);
  for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
    // This pass takes the cache misses on B's rows: start the next rows' (and the values')
    // loads now.
    if (p + 16 < a.nnz) __builtin_prefetch(b.indptr + a.indices[p + 16]);
    if (p + 4 < a.nnz) __builtin_prefetch(b.indices + b.indptr[a.indices[p + 4]]);
    const I k = a.indices[p];
    const I begin = b.indptr[k], end = b.indptr[k + 1];
    if constexpr (Num) __builtin_prefetch(static_cast<const V*>(b.data) + begin);
    if (begin == end) continue;
    products += end - begin;
    lo = std::min(lo, b.indices[begin]);
    hi = std::max(hi, b.indices[end - 1]);
  }
  if (products == 0) return 0;
  const int bits = table_bits(table_keys(b, m, opt, i, products));
  const int64_t width = int64_t(hi) - int64_t(lo) + 1;
  // Longer rows merge too when their B rows overlap heavily (banded): the merge costs about
  // 2 x row_len compares per output column, at most `width` of them.
  if (can_merge && width * row_len <= 2 * products)
    return row_merge<I, O, V, SR, Num>(a, b, i, idx, val);
  const int64_t bytes_per_column = Num ? sizeof(typename Workspace<I, V>::Cell) : sizeof(I);
  if (b_sorted && (width * bytes_per_column <= kDenseBytes || width <= 16 * (int64_t(1) << bits)))
    return row_dense<I, O, V, SR, Num>(a, b, m, opt, i, products, lo, width, ws, idx, val);
  return row_hash<I, O, V, SR, Num>(a, b, m, opt, i, bits, ws, idx, val);
}

// ---- one heavy row, all threads, one table with atomics ------------------------------------

template <class T, class F>
inline void atomic_update(T* p, T x, F op) {
  using U = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;
  U* bits = reinterpret_cast<U*>(p);
  U old = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    T cur, next;
    std::memcpy(&cur, &old, sizeof(T));
    next = op(cur, x);
    U want;
    std::memcpy(&want, &next, sizeof(T));
    if (__atomic_compare_exchange_n(bits, &old, want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return;
  }
}

template <class SR, class T>
inline void atomic_combine(T* p, T x) {
  atomic_update(p, x, [](T u, T v) { return SR::add(u, v); });
}
template <class SR, class T>
inline void atomic_combine(std::complex<T>* p, std::complex<T> x) {  // plus_times only
  T* parts = reinterpret_cast<T*>(p);
  atomic_update(parts, x.real(), [](T u, T v) { return u + v; });
  atomic_update(parts + 1, x.imag(), [](T u, T v) { return u + v; });
}
template <class SR>
inline void atomic_combine(uint8_t* p, uint8_t x) {  // or (bool plus and or_and)
  __atomic_fetch_or(p, x, __ATOMIC_RELAXED);
}

template <class I, class O, class V, class SR, bool Num>
int64_t row_shared(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                   const SpgemmOptions& opt, int64_t i, int64_t products, O* idx, V* val) {
  const int bits = table_bits(table_keys(b, m, opt, i, products));
  const size_t t = size_t(1) << bits;
  const uint64_t mask = t - 1;
  std::vector<I> keys(t, I(-1));
  std::vector<uint8_t> st(t, kEmpty);
  std::vector<V> vals(Num ? t : 0, SR::identity());
  const V* ad = static_cast<const V*>(a.data);
  const V* bd = static_cast<const V*>(b.data);
  if (opt.has_mask) {
    const uint8_t mark = opt.complement ? kForbidden : kAllowed;
    for (I q = m.indptr[i]; q < m.indptr[i + 1]; ++q) {
      int64_t s = probe(keys.data(), mask, bits, m.indices[q]);
      keys[s] = m.indices[q];
      st[s] = mark;
    }
  }
  const bool open = !opt.has_mask || opt.complement;
  I* kp = keys.data();
  uint8_t* sp = st.data();
  V* vp = vals.data();
#pragma omp parallel for schedule(dynamic, 16)
  for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
    const I k = a.indices[p];
    V av{};
    if constexpr (Num) av = ad[p];
    for (I q = b.indptr[k]; q < b.indptr[k + 1]; ++q) {
      const I j = b.indices[q];
      uint64_t s = hash_slot(j, bits);
      bool found = false;
      for (;;) {  // find j's slot, claiming an empty one with compare-and-swap if allowed
        I cur = __atomic_load_n(&kp[s], __ATOMIC_ACQUIRE);
        if (cur == j) { found = true; break; }
        if (cur == I(-1)) {
          if (!open) break;
          I expected = I(-1);
          if (__atomic_compare_exchange_n(&kp[s], &expected, j, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE) || expected == j) {
            found = true;
            break;
          }
        }
        s = (s + 1) & mask;
      }
      if (!found || __atomic_load_n(&sp[s], __ATOMIC_RELAXED) == kForbidden) continue;
      __atomic_store_n(&sp[s], uint8_t(kHit), __ATOMIC_RELAXED);
      if constexpr (Num) atomic_combine<SR>(&vp[s], SR::mul(av, bd[q]));
    }
  }
  return emit_table<I, O, V, SR, Num>(kp, sp, vp, bits, opt.sort, idx, val);
}

// ---- driver --------------------------------------------------------------------------------

// Runs row(i, ws) over all rows: heavy rows first, one at a time (each spread over all
// threads by heavy(i)), then the rest in chunks of about equal work, dynamically scheduled.
template <class I, class V, class RowFn, class HeavyFn>
void for_rows(const SpgemmPlan& plan, RowFn row, HeavyFn heavy) {
  for (int64_t i : plan.heavy_rows) heavy(i);
  const int64_t chunks = int64_t(plan.chunk_begin.size()) - 1;
  const auto& hv = plan.heavy_rows;
#pragma omp parallel
  {
    Workspace<I, V> ws;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      auto next_heavy = std::lower_bound(hv.begin(), hv.end(), plan.chunk_begin[c]);
      for (int64_t i = plan.chunk_begin[c]; i < plan.chunk_begin[c + 1]; ++i) {
        if (next_heavy != hv.end() && *next_heavy == i) {
          ++next_heavy;
          continue;
        }
        row(i, ws);
      }
    }
  }
}

}  // namespace

template <class I>
SpgemmPlan spgemm_plan(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                       const SpgemmOptions& opt) {
  if (a.cols != b.rows)
    throw std::invalid_argument("shape mismatch: A has " + std::to_string(a.cols) +
                                " columns, B has " + std::to_string(b.rows) + " rows");
  if (opt.has_mask && (m.rows != a.rows || m.cols != b.cols))
    throw std::invalid_argument("mask shape (" + std::to_string(m.rows) + ", " +
                                std::to_string(m.cols) + ") differs from the product's (" +
                                std::to_string(a.rows) + ", " + std::to_string(b.cols) + ")");
  check_csr(a, "A");
  SpgemmPlan plan;
  plan.b_sorted = check_csr(b, "B");
  if (opt.has_mask) check_csr(m, "mask");

  // Products per row in offsets[i + 1], then their prefix sums.
  const int64_t rows = a.rows;
  plan.offsets.assign(rows + 1, 0);
  int64_t* per_row = plan.offsets.data() + 1;
  int64_t total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
  for (int64_t i = 0; i < rows; ++i) {
    per_row[i] = row_products(a.indptr, a.indices, b.indptr, i);
    total += per_row[i];
  }

  // Heavy rows: a share of all products too large for one thread to carry alone.
  const int threads = thread_count();
  const int64_t heavy = opt.heavy_min_products > 0 ? opt.heavy_min_products
                        : threads > 1 ? std::max<int64_t>(int64_t(1) << 16, total / (4 * threads))
                                      : INT64_MAX;
  int64_t longest = 0;
  for (int64_t i = 0; i < rows; ++i) {
    if (per_row[i] >= heavy) plan.heavy_rows.push_back(i);
    longest = std::max(longest, per_row[i]);
  }
  // One pass: while one thread works on the longest row, the others compute at most
  // kMaxStaged chunks past it each and then wait; keep it below 1/64 of each thread's work.
  plan.one_pass_ok = plan.heavy_rows.empty() &&
                     (threads == 1 || longest <= std::max(kChunkProducts, total / (64 * threads)));

  // Chunks of about equal cost (products plus a small per-row overhead), small enough that a
  // chunk's one-pass output stays in cache until it is copied out.
  const int64_t nchunks = std::max<int64_t>(
      1, std::min<int64_t>(rows, std::max<int64_t>(16 * threads, total / kChunkProducts)));
  plan.chunk_begin.assign(1, 0);
  const double per_chunk = double(total + 4 * rows) / double(nchunks);
  double acc = 0;
  for (int64_t i = 0; i < rows; ++i) {
    acc += double(per_row[i] + 4);
    if (acc >= per_chunk * double(plan.chunk_begin.size()) && i + 1 < rows)
      plan.chunk_begin.push_back(i + 1);
  }
  plan.chunk_begin.push_back(rows);
  for (int64_t i = 0; i < rows; ++i) plan.offsets[i + 1] += plan.offsets[i];
  return plan;
}

template <class I>
void spgemm_count(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                  const SpgemmOptions& opt, SpgemmPlan& plan) {
  // Each row's products (for the heavy rows' tables), then its exact size (before dropping
  // zeros) in offsets[i + 1], then offsets.
  const int64_t rows = a.rows;
  int64_t* per_row = plan.offsets.data() + 1;
  for (int64_t i = rows - 1; i >= 0; --i) per_row[i] -= plan.offsets[i];
  using Sym = OrAnd;  // the semiring does not matter for the pattern
  const bool b_sorted = plan.b_sorted;
  for_rows<I, uint8_t>(
      plan,
      [&](int64_t i, Workspace<I, uint8_t>& ws) {
        per_row[i] = row_one_thread<I, I, uint8_t, Sym, false>(a, b, m, opt, b_sorted, i, ws,
                                                               nullptr, nullptr);
      },
      [&](int64_t i) {
        per_row[i] = row_shared<I, I, uint8_t, Sym, false>(a, b, m, opt, i, per_row[i],
                                                           nullptr, nullptr);
      });
  for (int64_t i = 0; i < rows; ++i) plan.offsets[i + 1] += plan.offsets[i];
  plan.exact = true;
}

namespace {
template <class I, class O, class V, class SR>
int64_t numeric_impl(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                     const SpgemmOptions& opt, const SpgemmPlan& plan, O* indptr, O* indices,
                     V* data) {
  const int64_t rows = a.rows;
  const int64_t* off = plan.offsets.data();
  // Row i's entry count lands in indptr[i + 1] first; the pass below turns counts into offsets.
  O* kept = indptr + 1;
  const bool b_sorted = plan.b_sorted;
  for_rows<I, V>(
      plan,
      [&](int64_t i, Workspace<I, V>& ws) {
        kept[i] = O(row_one_thread<I, O, V, SR, true>(a, b, m, opt, b_sorted, i, ws,
                                                      indices + off[i], data + off[i]));
      },
      [&](int64_t i) {
        const int64_t products = row_products(a.indptr, a.indices, b.indptr, i);
        kept[i] = O(row_shared<I, O, V, SR, true>(a, b, m, opt, i, products, indices + off[i],
                                                  data + off[i]));
      });
  // Rows that dropped exact zeros leave gaps: close them (moving left, in order).
  int64_t nnz = 0;
  indptr[0] = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t k = int64_t(kept[i]);
    if (nnz != off[i] && k > 0) {
      std::memmove(indices + nnz, indices + off[i], size_t(k) * sizeof(O));
      std::memmove(static_cast<void*>(data + nnz), data + off[i], size_t(k) * sizeof(V));
    }
    nnz += k;
    indptr[i + 1] = O(nnz);
  }
  return nnz;
}

// One chunk of rows computed before its place in C is known.
template <class O, class V>
struct StagedChunk {
  std::vector<O> idx;
  std::vector<V> val;
  std::vector<int64_t> ends;  // each row's end in idx/val
  int64_t first_row = 0, size = 0;
  std::atomic<bool> free{true};  // placed in C: the owner may reuse it
};

// One pass over the rows without the symbolic count (offsets: product bounds). Chunks are
// taken in row order and computed into per-thread buffers; a chunk is copied to C right
// behind the one before it by whichever thread gets there second: its own thread when the
// predecessor is already in place, else the thread that places the predecessor (which then
// goes on down the chain). Nobody waits for a single chunk, so a descheduled thread (an
// oversubscribed machine) stalls no one: the others compute on into fresh buffers, up to
// kMaxStaged each (the memory beyond C's stays a few MB).
template <class I, class O, class V, class SR>
int64_t one_pass_impl(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& m,
                      const SpgemmOptions& opt, const SpgemmPlan& plan, O* indptr, O* indices,
                      V* data) {
  using Chunk = StagedChunk<O, V>;
  constexpr int64_t kOpen = -1, kStaged = -2;
  const int64_t* off = plan.offsets.data();
  const int64_t chunks = int64_t(plan.chunk_begin.size()) - 1;
  // start[c]: where chunk c begins in C once chunk c - 1 is in place, or kOpen, or kStaged
  // (computed, waiting in staged[c] for its predecessor's placer)
  std::vector<std::atomic<int64_t>> start(size_t(chunks) + 1);
  for (auto& s : start) s.store(kOpen, std::memory_order_relaxed);
  start[0].store(0, std::memory_order_relaxed);
  std::vector<Chunk*> staged(size_t(chunks), nullptr);
  std::atomic<int64_t> next{0};
  indptr[0] = 0;
  const bool b_sorted = plan.b_sorted;

  // C's arrays are reserved for the product count. NumPy asks for huge pages; the one that
  // holds C's last entry would count up to 2 MB of the unwritten tail as used memory (83 MiB
  // against SciPy's 80 on banded), and small pages everywhere cost 15-25% (Poisson). So the
  // tail goes to small pages once the rest of C, estimated from the entries per product so
  // far, would fill less than two huge pages of the index array.
  const int64_t bound = off[a.rows];
  bool small_pages = false;
  auto tail_pages = [&](int64_t c, int64_t at) {
    const double done = double(off[plan.chunk_begin[c]]);
    const double rest = double(bound) - done;
    const double per_product = done > 0 ? double(at) / done : 1.0;
    if (rest * per_product * double(sizeof(O)) > double(4 << 20)) return;
    no_huge_pages(indices + at, size_t(bound - at) * sizeof(O));
    no_huge_pages(data + at, size_t(bound - at) * sizeof(V));
    small_pages = true;
  };

  // Copies chunk c (in s) to `at`, then each following chunk already computed. One chunk is
  // placed at a time, in order (the start[] exchanges order them), so small_pages needs no
  // atomic.
  auto place = [&](int64_t c, Chunk* s, int64_t at) {
    for (;;) {
      if (!small_pages) tail_pages(c, at);
      if (s->size > 0) {
        std::memcpy(indices + at, s->idx.data(), size_t(s->size) * sizeof(O));
        std::memcpy(static_cast<void*>(data + at), s->val.data(), size_t(s->size) * sizeof(V));
      }
      for (size_t r = 0; r < s->ends.size(); ++r)
        indptr[s->first_row + int64_t(r) + 1] = O(at + s->ends[r]);
      at += s->size;
      s->free.store(true, std::memory_order_release);
      if (++c == chunks) {
        start[chunks].store(at, std::memory_order_relaxed);
        return;
      }
      int64_t expect = kOpen;
      if (start[c].compare_exchange_strong(expect, at, std::memory_order_acq_rel)) return;
      s = staged[size_t(c)];  // kStaged: its thread left it to us
    }
  };
#pragma omp parallel
  {
    Workspace<I, V> ws;
    std::vector<std::unique_ptr<Chunk>> mine;
    for (;;) {
      // A free buffer first (a thread whose chunks all wait yields rather than stage more:
      // the chunks it waits for are being computed by threads that are not waiting)
      Chunk* s = nullptr;
      for (;;) {
        for (auto& u : mine)
          if (u->free.load(std::memory_order_acquire)) s = u.get();
        if (s || mine.size() < kMaxStaged) break;
        std::this_thread::yield();
      }
      const int64_t c = next++;
      if (c >= chunks) break;
      if (!s) s = mine.emplace_back(std::make_unique<Chunk>()).get();
      s->free.store(false, std::memory_order_relaxed);
      const int64_t r0 = plan.chunk_begin[c], r1 = plan.chunk_begin[c + 1];
      const size_t bound = size_t(off[r1] - off[r0]);
      if (s->idx.size() < bound) s->idx.resize(bound), s->val.resize(bound);
      s->ends.resize(size_t(r1 - r0));
      s->first_row = r0;
      int64_t w = 0;
      for (int64_t i = r0; i < r1; ++i) {
        w += row_one_thread<I, O, V, SR, true>(a, b, m, opt, b_sorted, i, ws,
                                               s->idx.data() + w, s->val.data() + w);
        s->ends[size_t(i - r0)] = w;
      }
      s->size = w;
      staged[size_t(c)] = s;
      int64_t at = kOpen;
      if (!start[c].compare_exchange_strong(at, kStaged, std::memory_order_acq_rel))
        place(c, s, at);  // the predecessor is in place: at is where this chunk starts
    }
    // Other threads may still be copying from this thread's buffers.
#pragma omp barrier
  }
  return start[chunks].load(std::memory_order_relaxed);
}
}  // namespace

template <class I, class O, class V>
int64_t spgemm_numeric(Semiring sr, const CsrRef<I>& a, const CsrRef<I>& b,
                       const CsrRef<I>& m, const SpgemmOptions& opt, const SpgemmPlan& plan,
                       O* indptr, O* indices, V* data) {
  constexpr bool is_real = std::is_same_v<V, float> || std::is_same_v<V, double>;
  auto run = [&](auto semiring) {
    using SR = decltype(semiring);
    if (!plan.exact) return one_pass_impl<I, O, V, SR>(a, b, m, opt, plan, indptr, indices, data);
    return numeric_impl<I, O, V, SR>(a, b, m, opt, plan, indptr, indices, data);
  };
  if (sr == Semiring::plus_times) return run(PlusTimes<V>{});
  if constexpr (std::is_same_v<V, uint8_t>)
    if (sr == Semiring::or_and) return run(OrAnd{});
  if constexpr (is_real) {
    switch (sr) {
      case Semiring::min_plus: return run(MinPlus<V>{});
      case Semiring::max_plus: return run(MaxPlus<V>{});
      case Semiring::max_times: return run(MaxTimes<V>{});
      case Semiring::min_times: return run(MinTimes<V>{});
      default: break;
    }
  }
  return -1;  // no such semiring for this value type
}

#define KK_SPGEMM_PLAN(I)                                                                   \
  template SpgemmPlan spgemm_plan<I>(const CsrRef<I>&, const CsrRef<I>&, const CsrRef<I>&,  \
                                     const SpgemmOptions&);                                 \
  template void spgemm_count<I>(const CsrRef<I>&, const CsrRef<I>&, const CsrRef<I>&,       \
                                const SpgemmOptions&, SpgemmPlan&);
KK_SPGEMM_PLAN(int32_t)
KK_SPGEMM_PLAN(int64_t)

#define KK_SPGEMM_NUMERIC(I, O, V)                                                              \
  template int64_t spgemm_numeric<I, O, V>(Semiring, const CsrRef<I>&, const CsrRef<I>&,       \
                                           const CsrRef<I>&, const SpgemmOptions&,             \
                                           const SpgemmPlan&, O*, O*, V*);
#define KK_SPGEMM_VALUES(I, O)                      \
  KK_SPGEMM_NUMERIC(I, O, float)                    \
  KK_SPGEMM_NUMERIC(I, O, double)                   \
  KK_SPGEMM_NUMERIC(I, O, std::complex<float>)      \
  KK_SPGEMM_NUMERIC(I, O, std::complex<double>)     \
  KK_SPGEMM_NUMERIC(I, O, uint8_t)
KK_SPGEMM_VALUES(int32_t, int32_t)
KK_SPGEMM_VALUES(int32_t, int64_t)
KK_SPGEMM_VALUES(int64_t, int64_t)

}  // namespace kernelkit::cpu
