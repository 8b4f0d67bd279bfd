// kernelkit.sparse on the GPU: the block programs of kernelkit/sparse/spgemm_blocks.hpp as
// CUDA kernels (one launch per planned bin: small rows many to a block, larger rows a block
// each, heavy rows a dense bitmap or a global table), with the launch sequence the CPU
// emulator mirrors
// (csrc/cpu/sparse_emulator.cpp): validation, row analysis, binning, symbolic count, scan,
// numeric fill. The host waits twice per product (the launch plan needs the bin counts; C's
// allocation needs nnz): everything else stays on the device.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cub/device/device_scan.cuh>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/launch.hpp"
#include "cuda/launch_util.cuh"
#include "cuda/runner.cuh"
#include "kernelkit/sparse/spgemm_blocks.hpp"

namespace kernelkit::cuda {
namespace {
using namespace kernelkit::sparse::blocks;
using kernelkit::sparse::Semiring;

void check(cudaError_t err, const char* what) { kernelkit::cuda::check(err, "sparse", what); }

template <class I>
__global__ void __launch_bounds__(kBinThreads)
    validate_kernel(CsrView<I> a, CsrView<I> b, CsrView<I> mask, CsrCheck* checks) {
  __shared__ unsigned long long local[4];
  DeviceRunner r;
  const CsrView<I>& v = blockIdx.y == 0 ? a : blockIdx.y == 1 ? b : mask;
  int64_t items = v.rows + 1 > v.nnz ? v.rows + 1 : v.nnz;
  if (int64_t(blockIdx.x) * kBinChunk >= items) return;  // the whole block
  validate_block(r, v, checks + blockIdx.y, blockIdx.x, local);
}

template <class I>
__global__ void __launch_bounds__(kBinThreads)
    count_kernel(Problem<I> p, InputGate gate, const int64_t* c_indptr, int32_t* bits,
                 unsigned long long* bin_count) {
  __shared__ unsigned local[kMaxBins];
  DeviceRunner r;
  count_block(r, p, gate, c_indptr, bits, bin_count, blockIdx.x, local);
}

template <class I>
__global__ void __launch_bounds__(kBinThreads)
    place_kernel(int64_t m, const int32_t* bits, const unsigned long long* bin_count,
                 unsigned long long* bin_fill, I* order) {
  __shared__ unsigned local[kMaxBins];
  __shared__ unsigned long long base[kMaxBins];
  DeviceRunner r;
  place_block(r, m, bits, bin_count, bin_fill, order, blockIdx.x, local, base);
}

template <class I>
__global__ void __launch_bounds__(1024)
    symbolic_kernel(Problem<I> p, const I* order, Launch L, char* workspace, int64_t* row_nnz) {
  extern __shared__ __align__(16) unsigned char kk_smem[];
  DeviceRunner r;
  symbolic_block(r, p, order, L, blockIdx.x, reinterpret_cast<char*>(kk_smem), workspace,
                 row_nnz);
}

template <class SR, class I, class V>
__global__ void __launch_bounds__(1024)
    numeric_kernel(Problem<I> p, const I* order, Launch L, char* workspace,
                   const int64_t* indptr, bool sort, I* indices, V* data) {
  extern __shared__ __align__(16) unsigned char kk_smem[];
  DeviceRunner r;
  numeric_block<SR>(r, p, order, L, blockIdx.x, reinterpret_cast<char*>(kk_smem), workspace,
                    indptr, sort, indices, data);
}

// Scratch bytes held now and at most (for the benchmark's peak-memory column).
std::atomic<int64_t> scratch_now{0}, scratch_peak{0};

// Stream-ordered scratch memory, freed (in stream order) when it goes out of scope.
struct Scratch {
  void* ptr = nullptr;
  size_t bytes;
  cudaStream_t stream;
  Scratch(size_t n, cudaStream_t s) : bytes(n), stream(s) {
    if (!bytes) return;
    check(cudaMallocAsync(&ptr, bytes, s), "cudaMallocAsync");
    int64_t now = scratch_now += static_cast<int64_t>(bytes);
    int64_t peak = scratch_peak.load();
    while (now > peak && !scratch_peak.compare_exchange_weak(peak, now)) {
    }
  }
  ~Scratch() {
    if (!ptr) return;
    cudaFreeAsync(ptr, stream);
    scratch_now -= static_cast<int64_t>(bytes);
  }
  template <class T>
  T* as() const { return static_cast<T*>(ptr); }
};

// The device side of one phase in one allocation (one cudaMallocAsync, not one per array):
// counters the host reads in a single copy, then the per-row arrays and the scan's scratch.
struct Counters {
  CsrCheck checks[3];                        // validation (symbolic phase)
  unsigned long long count[kMaxBins];        // bin counts: symbolic, or numeric in numeric()
  long long nnz;                             // symbolic: nnz(C), then ...
  unsigned long long num_count[kMaxBins];    // ... the numeric phase's bin counts
  unsigned long long fill[kMaxBins];         // place_block's
};

template <class I>
struct Workspace {
  Scratch mem;
  Counters* counters;
  int32_t* bits;
  I* order;
  char* rest;  // `extra` bytes
  static size_t align(size_t n) { return (n + 255) / 256 * 256; }
  Workspace(int64_t m, size_t extra, cudaStream_t s)
      : mem(align(sizeof(Counters)) + align(m * sizeof(int32_t)) + align(m * sizeof(I)) + extra,
            s) {
    char* at = mem.as<char>();
    counters = reinterpret_cast<Counters*>(at);
    bits = reinterpret_cast<int32_t*>(at += align(sizeof(Counters)));
    order = reinterpret_cast<I*>(at += align(m * sizeof(int32_t)));
    rest = at + align(m * sizeof(I));
    check(cudaMemsetAsync(counters, 0, sizeof(Counters), s), "memset");
  }
};

unsigned bin_blocks(int64_t items) {
  return static_cast<unsigned>((items + kBinChunk - 1) / kBinChunk);
}

template <class I>
Problem<I> problem(const SpgemmArgs& a) {
  Problem<I> p;
  p.m = a.m;
  p.n = a.n;
  p.a_indptr = reinterpret_cast<const I*>(a.a_indptr);
  p.a_indices = reinterpret_cast<const I*>(a.a_indices);
  p.a_data = reinterpret_cast<const void*>(a.a_data);
  p.b_indptr = reinterpret_cast<const I*>(a.b_indptr);
  p.b_indices = reinterpret_cast<const I*>(a.b_indices);
  p.b_data = reinterpret_cast<const void*>(a.b_data);
  if (a.mask_indptr) {
    p.mask_indptr = reinterpret_cast<const I*>(a.mask_indptr);
    p.mask_indices = reinterpret_cast<const I*>(a.mask_indices);
    p.complement = a.complement;
  }
  return p;
}

template <class I>
CsrView<I> view(std::uintptr_t indptr, std::uintptr_t indices, int64_t rows, int64_t cols,
                int64_t nnz) {
  CsrView<I> v;
  v.rows = rows, v.cols = cols, v.nnz = nnz;
  v.indptr = reinterpret_cast<const I*>(indptr);
  v.indices = reinterpret_cast<const I*>(indices);
  return v;
}

// Host round trips: one copy after validation and row analysis (the launch plan needs the bin
// counts), one after the scan (nnz(C) for C's allocation, with the numeric bin counts).
template <class I>
SpgemmSymbolic symbolic(const SpgemmArgs& a) {
  auto s = reinterpret_cast<cudaStream_t>(a.stream);
  Problem<I> p = problem<I>(a);
  auto* indptr = reinterpret_cast<int64_t*>(a.c_indptr);
  SpgemmSymbolic out;
  out.bin_count.assign(kMaxBins, 0);
  check(cudaMemsetAsync(indptr, 0, (p.m + 1) * sizeof(int64_t), s), "memset");
  size_t temp = 0;
  if (p.m) cub::DeviceScan::InclusiveSum(nullptr, temp, indptr + 1, indptr + 1, p.m, s);
  Workspace<I> ws(p.m, temp, s);
  Counters* dev = ws.counters;

  // Validation, then the row analysis (which does nothing on malformed input).
  const char* names[3] = {"A", "B", "mask"};
  int nmat = a.mask_indptr ? 3 : 2;
  int64_t nnz[3] = {a.a_nnz, a.b_nnz, a.mask_nnz}, cols[3] = {a.k, a.n, a.n};
  CsrView<I> va = view<I>(a.a_indptr, a.a_indices, p.m, a.k, a.a_nnz);
  CsrView<I> vb = view<I>(a.b_indptr, a.b_indices, a.k, a.n, a.b_nnz);
  CsrView<I> vm = view<I>(a.mask_indptr, a.mask_indices, p.m, a.n, a.mask_nnz);
  int64_t items = 0;
  for (const CsrView<I>* v : {&va, &vb, &vm}) {
    if (v == &vm && nmat == 2) break;
    items = std::max({items, v->rows + 1, v->nnz});
  }
  validate_kernel<I><<<dim3(bin_blocks(items), nmat), kBinThreads, 0, s>>>(va, vb, vm,
                                                                          dev->checks);
  InputGate gate;
  gate.checks = dev->checks;
  gate.count = nmat;
  for (int i = 0; i < 3; ++i) gate.nnz[i] = nnz[i];
  if (p.m)
    count_kernel<I><<<bin_blocks(p.m), kBinThreads, 0, s>>>(p, gate, nullptr, ws.bits,
                                                            dev->count);
  check(cudaGetLastError(), "validation launch");
  struct {
    CsrCheck checks[3];
    unsigned long long count[kMaxBins];
  } host;
  static_assert(offsetof(Counters, count) == sizeof(CsrCheck) * 3, "layout");
  check(cudaMemcpyAsync(&host, dev, sizeof host, cudaMemcpyDeviceToHost, s), "copy");
  check(cudaStreamSynchronize(s), "validation");
  out.noncanonical = check_inputs(host.checks, names, nnz, cols, nmat);
  if (out.noncanonical || p.m == 0) return out;

  int64_t bin_count[kMaxBins];
  for (int b = 0; b < kMaxBins; ++b) bin_count[b] = static_cast<int64_t>(host.count[b]);
  place_kernel<I><<<bin_blocks(p.m), kBinThreads, 0, s>>>(p.m, ws.bits, dev->count, dev->fill,
                                                          ws.order);
  check(cudaGetLastError(), "binning launch");
  int64_t shared = max_dynamic_shared("sparse"), need = 0;
  std::vector<Launch> launches =
      launch_list(bin_count, sizeof(I), shared, a.workspace_bytes, p.n, &need);
  Scratch work(need, s);
  allow_dynamic_shared(symbolic_kernel<I>, shared, "sparse");
  for (const Launch& L : launches) {
    symbolic_kernel<I><<<static_cast<unsigned>(L.blocks), L.threads, L.smem, s>>>(
        p, ws.order, L, work.as<char>(), indptr + 1);
    check(cudaGetLastError(), "symbolic launch");
  }
  check(cub::DeviceScan::InclusiveSum(ws.rest, temp, indptr + 1, indptr + 1, p.m, s), "scan");

  // The numeric phase's bin counts (from the exact row lengths) come back with nnz(C).
  check(cudaMemcpyAsync(&dev->nnz, indptr + p.m, sizeof(int64_t), cudaMemcpyDeviceToDevice, s),
        "copy");
  count_kernel<I><<<bin_blocks(p.m), kBinThreads, 0, s>>>(p, InputGate{}, indptr, ws.bits,
                                                          dev->num_count);
  check(cudaGetLastError(), "row analysis launch");
  struct {
    long long nnz;
    unsigned long long count[kMaxBins];
  } host2;
  static_assert(offsetof(Counters, num_count) == offsetof(Counters, nnz) + 8, "layout");
  check(cudaMemcpyAsync(&host2, &dev->nnz, sizeof host2, cudaMemcpyDeviceToHost, s), "copy");
  check(cudaStreamSynchronize(s), "symbolic phase");
  out.nnz = host2.nnz;
  for (int b = 0; b < kMaxBins; ++b) out.bin_count[b] = static_cast<int64_t>(host2.count[b]);
  return out;
}

// No host round trip: the launch plan comes from the bin counts symbolic() returned; the
// row order is rebuilt on the device. Scratch is freed in stream order, so no sync either.
template <class I>
void numeric(const SpgemmArgs& a) {
  auto s = reinterpret_cast<cudaStream_t>(a.stream);
  Problem<I> p = problem<I>(a);
  if (p.m == 0) return;
  if (a.bin_count.size() != kMaxBins)
    throw std::invalid_argument("spgemm_numeric: bin_count must have 40 entries");
  const auto* c_indptr = reinterpret_cast<const int64_t*>(a.c_indptr);
  Workspace<I> ws(p.m, 0, s);
  Counters* dev = ws.counters;
  count_kernel<I><<<bin_blocks(p.m), kBinThreads, 0, s>>>(p, InputGate{}, c_indptr, ws.bits,
                                                          dev->count);
  place_kernel<I><<<bin_blocks(p.m), kBinThreads, 0, s>>>(p.m, ws.bits, dev->count, dev->fill,
                                                          ws.order);
  check(cudaGetLastError(), "binning launch");
  int64_t shared = max_dynamic_shared("sparse");
  bool ok = dispatch_semiring(static_cast<Semiring>(a.semiring), a.value_code,
                              [&](auto sr_tag, auto v_tag) {
    using SR = typename decltype(sr_tag)::type;
    using V = typename decltype(v_tag)::type;
    int64_t slot_bytes = sizeof(I) + sizeof(typename SR::S), need = 0;
    std::vector<Launch> launches =
        launch_list(a.bin_count.data(), slot_bytes, shared, a.workspace_bytes, p.n, &need);
    Scratch work(need, s);
    auto kernel = numeric_kernel<SR, I, V>;
    allow_dynamic_shared(kernel, shared, "sparse");
    for (const Launch& L : launches) {
      kernel<<<static_cast<unsigned>(L.blocks), L.threads, L.smem, s>>>(
          p, ws.order, L, work.as<char>(), c_indptr, a.sort,
          reinterpret_cast<I*>(a.c_indices), reinterpret_cast<V*>(a.c_data));
      check(cudaGetLastError(), "numeric launch");
    }
  });
  if (!ok) throw std::invalid_argument("semiring not defined for this value type");
}

}  // namespace

SpgemmSymbolic spgemm_symbolic(const SpgemmArgs& a) {
  return a.index64 ? symbolic<int64_t>(a) : symbolic<int32_t>(a);
}

void spgemm_numeric(const SpgemmArgs& a) {
  if (a.index64) numeric<int64_t>(a);
  else numeric<int32_t>(a);
}

std::int64_t spgemm_scratch_peak(bool reset) {
  int64_t peak = scratch_peak.load();
  if (reset) scratch_peak = scratch_now.load();
  return peak;
}

}  // namespace kernelkit::cuda
