// The CUDA SpGEMM's launch sequence run on the CPU by the block emulator: the same row
// analysis, binning, launch plan and block programs (kernelkit/sparse/spgemm_blocks.hpp), one
// block after another. Test-only: it checks the GPU algorithm's logic where there is no GPU.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "cpu/block_emulator.hpp"
#include "cpu/sparse.hpp"

namespace kernelkit::cpu {
using sparse::Semiring;
using namespace sparse::blocks;

// Row analysis (count_block) into bits and the device's bin counters.
template <class I>
static void count_rows(const Problem<I>& p, const int64_t* c_indptr, int32_t* bits,
                       unsigned long long* count) {
  unsigned local[kMaxBins];
  HostRunner r{kBinThreads};
  for (int64_t blk = 0; blk < (p.m + kBinChunk - 1) / kBinChunk; ++blk)
    count_block(r, p, InputGate{}, c_indptr, bits, count, blk, local);
}

// Binning (place_block): the row order grouped by bin, from the counters alone (as on the
// device, where the bin starts are never computed on the host).
template <class I>
static void place_rows(int64_t m, const int32_t* bits, const unsigned long long* count,
                       std::vector<I>& order) {
  unsigned long long fill[kMaxBins] = {}, base[kMaxBins];
  unsigned local[kMaxBins];
  HostRunner r{kBinThreads};
  order.assign(m, I(0));
  for (int64_t blk = 0; blk < (m + kBinChunk - 1) / kBinChunk; ++blk)
    place_block(r, m, bits, count, fill, order.data(), blk, local, base);
}

// Validation (validate_block) of A, B and the mask, as the CUDA launcher's first kernel, then
// check_inputs on the counts.
template <class I>
static int validate_inputs(const Problem<I>& p, int64_t k, const int64_t* nnz) {
  CsrView<I> v[3];
  v[0].rows = p.m, v[0].cols = k, v[0].indptr = p.a_indptr, v[0].indices = p.a_indices;
  v[1].rows = k, v[1].cols = p.n, v[1].indptr = p.b_indptr, v[1].indices = p.b_indices;
  v[2].rows = p.m, v[2].cols = p.n, v[2].indptr = p.mask_indptr, v[2].indices = p.mask_indices;
  const int count = p.mask_indptr ? 3 : 2;
  CsrCheck checks[3] = {};
  unsigned long long local[4];
  HostRunner r{kBinThreads};
  for (int i = 0; i < count; ++i) {
    v[i].nnz = nnz[i];
    const int64_t items = std::max(v[i].rows + 1, v[i].nnz);
    for (int64_t blk = 0; blk < (items + kBinChunk - 1) / kBinChunk; ++blk)
      validate_block(r, v[i], &checks[i], blk, local);
  }
  const char* names[3] = {"A", "B", "mask"};
  const int64_t cols[3] = {k, p.n, p.n};
  return check_inputs(checks, names, nnz, cols, count);
}

// The launch sequence of csrc/cuda/sparse.cu. Symbolic: validation and row analysis, [host
// copy], binning, symbolic blocks, scan, the numeric row analysis, [host copy: nnz and the
// numeric bin counts]. Numeric: row analysis again (bits), binning, numeric blocks, with the
// plan from the copied counts.
template <class I>
int spgemm_emulate(Semiring sr, int value_code, const Problem<I>& p, int64_t k,
                   const int64_t* input_nnz, bool sort, const EmulatorConfig& cfg,
                   EmulatedCsr<I>& c) {
  if (int noncanonical = validate_inputs(p, k, input_nnz)) return noncanonical;
  std::vector<I> order;
  std::vector<int32_t> bits(p.m);
  unsigned long long count[kMaxBins] = {}, num_count[kMaxBins] = {};
  int64_t bin_count[kMaxBins];
  count_rows(p, static_cast<const int64_t*>(nullptr), bits.data(), count);
  for (int b = 0; b < kMaxBins; ++b) bin_count[b] = static_cast<int64_t>(count[b]);
  place_rows(p.m, bits.data(), count, order);

  // Shared memory and workspace as raw bytes, aligned for any slot type.
  auto buffer = [](int64_t bytes) { return std::vector<double>(bytes / 8 + 2); };
  std::vector<double> shared = buffer(cfg.shared_bytes);
  char* smem = reinterpret_cast<char*>(shared.data());

  // Symbolic: row lengths into indptr[1..m], then the scan.
  c.indptr.assign(p.m + 1, 0);
  int64_t need = 0;
  std::vector<Launch> plan =
      launch_list(bin_count, sizeof(I), cfg.shared_bytes, cfg.workspace_bytes, p.n, &need);
  std::vector<double> work = buffer(need);
  for (const Launch& L : plan) {
    HostRunner r{L.threads};
    for (int64_t blk = 0; blk < L.blocks; ++blk)
      symbolic_block(r, p, order.data(), L, blk, smem, reinterpret_cast<char*>(work.data()),
                     c.indptr.data() + 1);
  }
  for (int64_t i = 0; i < p.m; ++i) c.indptr[i + 1] += c.indptr[i];
  count_rows(p, c.indptr.data(), bits.data(), num_count);
  int64_t nnz = c.indptr[p.m];
  for (int b = 0; b < kMaxBins; ++b) bin_count[b] = static_cast<int64_t>(num_count[b]);
  c.indices.assign(nnz, I(0));

  // Numeric: rows binned again by their exact lengths, every row at its offset.
  std::fill(count, count + kMaxBins, 0ull);
  count_rows(p, c.indptr.data(), bits.data(), count);
  place_rows(p.m, bits.data(), count, order);
  bool ok = dispatch_semiring(sr, value_code, [&](auto sr_tag, auto v_tag) {
    using SR = typename decltype(sr_tag)::type;
    using V = typename decltype(v_tag)::type;
    using S = typename SR::S;
    c.data.assign(nnz * sizeof(V), 0);
    V* data = reinterpret_cast<V*>(c.data.data());
    int64_t slot_bytes = sizeof(I) + sizeof(S);
    std::vector<Launch> nplan =
        launch_list(bin_count, slot_bytes, cfg.shared_bytes, cfg.workspace_bytes, p.n, &need);
    std::vector<double> nwork = buffer(need);
    for (const Launch& L : nplan) {
      HostRunner r{L.threads};
      for (int64_t blk = 0; blk < L.blocks; ++blk)
        numeric_block<SR>(r, p, order.data(), L, blk, smem,
                          reinterpret_cast<char*>(nwork.data()), c.indptr.data(), sort,
                          c.indices.data(), data);
    }
  });
  if (!ok) throw std::invalid_argument("semiring not defined for this value type");
  return 0;
}

template int spgemm_emulate<int32_t>(Semiring, int, const Problem<int32_t>&, int64_t,
                                     const int64_t*, bool, const EmulatorConfig&,
                                     EmulatedCsr<int32_t>&);
template int spgemm_emulate<int64_t>(Semiring, int, const Problem<int64_t>&, int64_t,
                                     const int64_t*, bool, const EmulatorConfig&,
                                     EmulatedCsr<int64_t>&);

}  // namespace kernelkit::cpu
