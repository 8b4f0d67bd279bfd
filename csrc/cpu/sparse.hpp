// CPU entry points of kernelkit.sparse: row-wise hash SpGEMM over a semiring, no Python.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernelkit/sparse/spgemm.hpp"
#include "kernelkit/sparse/spgemm_blocks.hpp"

namespace kernelkit::cpu {

// A CSR matrix (or only its pattern: data may be null). Index type I is int32_t or int64_t.
template <class I>
struct CsrRef {
  int64_t rows = 0, cols = 0, nnz = 0;  // nnz: length of indices (and data)
  const I* indptr = nullptr;
  const I* indices = nullptr;
  const void* data = nullptr;
};

// The work plan of a product: C's row offsets and the work partition. After spgemm_plan the
// offsets are prefix sums of the rows' product counts (upper bounds of C's row sizes); after
// spgemm_count they are exact.
struct SpgemmPlan {
  std::vector<int64_t> offsets;      // rows + 1 entries; offsets.back() = nnz(C) bound
  std::vector<int64_t> chunk_begin;  // row ranges of about equal work, for the threads
  std::vector<int64_t> heavy_rows;   // sorted; rows shared by all threads (one atomic table)
  bool b_sorted = true;              // B's rows have sorted columns (enables the dense path)
  bool exact = false;                // offsets are C's exact row offsets (spgemm_count ran)
  // No heavy rows, and no row so long that, in the one pass, the other threads would wait
  // for it long (they stage only a few chunks past it).
  bool one_pass_ok = false;
};

struct SpgemmOptions {
  bool has_mask = false;
  bool complement = false;
  bool sort = true;
  // Rows with at least this many products (and a large share of all) are spread over all
  // threads with one atomic table; <= 0 means the automatic threshold.
  int64_t heavy_min_products = 0;
};

// Checks A, B (and the mask) for malformed CSR (throws std::invalid_argument with the reason),
// counts each row's products and partitions the rows.
template <class I>
SpgemmPlan spgemm_plan(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& mask,
                       const SpgemmOptions& opt);

// The symbolic phase: replaces the plan's offsets by C's exact row offsets.
template <class I>
void spgemm_count(const CsrRef<I>& a, const CsrRef<I>& b, const CsrRef<I>& mask,
                  const SpgemmOptions& opt, SpgemmPlan& plan);

// Fills C's arrays (indices and data sized from plan.offsets.back()) and returns nnz(C) after
// dropping exact zeros (plus_times only); indptr gets rows + 1 entries. With exact offsets
// each row goes straight to its place. Otherwise (one pass: no heavy rows allowed) each
// thread computes a chunk of rows into its own buffers and copies it behind the previous
// chunk, so C fills from the front and the bound's unused tail is never touched. V: float,
// double, std::complex<float|double> or uint8_t (bool). Returns -1 for a (semiring, value
// type) pair that does not exist.
template <class I, class O, class V>
int64_t spgemm_numeric(sparse::Semiring sr, const CsrRef<I>& a, const CsrRef<I>& b,
                       const CsrRef<I>& mask, const SpgemmOptions& opt, const SpgemmPlan& plan,
                       O* indptr, O* indices, V* data);

// ---- the GPU algorithm on the CPU (tests) ---------------------------------------------------
struct EmulatorConfig {
  int64_t shared_bytes = 48 * 1024;     // per block; smaller values force the global tables
  int64_t workspace_bytes = 64 << 20;   // for the global tables of one launch
};
template <class I>
struct EmulatedCsr {
  std::vector<int64_t> indptr;
  std::vector<I> indices;
  std::vector<unsigned char> data;  // nnz values of the input value type
};
// C = A B by the CUDA SpGEMM's launch sequence and block programs, run by the block emulator.
// Exact zeros of plus_times are still in C (the caller drops them, as on the GPU). First the
// device's input validation (k: A's columns; nnz: of A, B and the mask): std::invalid_argument
// for malformed input, as the CUDA launcher; a nonzero return (a bit per input not in
// canonical form) leaves c empty, and the caller sums duplicates and starts again.
template <class I>
int spgemm_emulate(sparse::Semiring sr, int value_code, const sparse::blocks::Problem<I>& p,
                   int64_t k, const int64_t* nnz, bool sort, const EmulatorConfig& cfg,
                   EmulatedCsr<I>& c);

}  // namespace kernelkit::cpu
