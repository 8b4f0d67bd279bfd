// kernelkit.sparse on the GPU: the block programs of kernelkit/sparse/spgemm_blocks.hpp as
// CUDA kernels (one launch per planned bin: small rows many to a block, larger rows a block
// each, heavy rows a dense bitmap or a global table), with the launch sequence the CPU
// emulator mirrors
// (csrc/cpu/sparse_emulator.cpp): row analysis, binning, symbolic count, scan, numeric fill.
#include <cuda_runtime.h>

#include <atomic>
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
    count_kernel(Problem<I> p, const int64_t* c_indptr, int32_t* bits,
                 unsigned long long* bin_count) {
  __shared__ unsigned local[kMaxBins];
  DeviceRunner r;
  count_block(r, p, c_indptr, bits, bin_count, blockIdx.x, local);
}

template <class I>
__global__ void __launch_bounds__(kBinThreads)
    place_kernel(int64_t m, const int32_t* bits, const int64_t* bin_start,
                 unsigned long long* bin_fill, I* order) {
  __shared__ unsigned local[kMaxBins];
  __shared__ unsigned long long base[kMaxBins];
  DeviceRunner r;
  place_block(r, m, bits, bin_start, bin_fill, order, blockIdx.x, local, base);
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

// Row analysis and binning: bits per row, the row order grouped by bin, the bin counts
// (c_indptr null: symbolic sizes, else the numeric phase's from the row lengths).
template <class I>
struct Binning {
  Scratch bits, order;
  int64_t bin_count[kMaxBins] = {};
  Binning(const Problem<I>& p, const int64_t* c_indptr, cudaStream_t s)
      : bits(p.m * sizeof(int32_t), s), order(p.m * sizeof(I), s) {
    if (p.m == 0) return;
    Scratch counters(2 * kMaxBins * sizeof(unsigned long long) + kMaxBins * sizeof(int64_t), s);
    auto* count = counters.as<unsigned long long>();
    auto* fill = count + kMaxBins;
    auto* start = reinterpret_cast<int64_t*>(fill + kMaxBins);
    check(cudaMemsetAsync(count, 0, 2 * kMaxBins * sizeof(unsigned long long), s), "memset");
    auto blocks = static_cast<unsigned>((p.m + kBinChunk - 1) / kBinChunk);
    count_kernel<I><<<blocks, kBinThreads, 0, s>>>(p, c_indptr, bits.as<int32_t>(), count);
    unsigned long long host[kMaxBins];
    check(cudaMemcpyAsync(host, count, sizeof host, cudaMemcpyDeviceToHost, s), "copy");
    check(cudaStreamSynchronize(s), "row analysis");
    int64_t starts[kMaxBins];
    int64_t acc = 0;
    for (int b = 0; b < kMaxBins; acc += static_cast<int64_t>(host[b]), ++b) {
      bin_count[b] = static_cast<int64_t>(host[b]);
      starts[b] = acc;
    }
    check(cudaMemcpyAsync(start, starts, sizeof starts, cudaMemcpyHostToDevice, s), "copy");
    place_kernel<I><<<blocks, kBinThreads, 0, s>>>(p.m, bits.as<int32_t>(), start, fill,
                                                   order.as<I>());
    check(cudaGetLastError(), "binning launch");
    check(cudaStreamSynchronize(s), "binning");  // `starts` is a host buffer
  }
};

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
int64_t symbolic(const SpgemmArgs& a) {
  auto s = reinterpret_cast<cudaStream_t>(a.stream);
  Problem<I> p = problem<I>(a);
  auto* indptr = reinterpret_cast<int64_t*>(a.c_indptr);
  check(cudaMemsetAsync(indptr, 0, (p.m + 1) * sizeof(int64_t), s), "memset");
  if (p.m == 0) return 0;
  Binning<I> bins(p, nullptr, s);
  int64_t shared = max_dynamic_shared("sparse"), need = 0;
  std::vector<Launch> launches =
      launch_list(bins.bin_count, sizeof(I), shared, a.workspace_bytes, p.n, &need);
  Scratch work(need, s);
  allow_dynamic_shared(symbolic_kernel<I>, shared, "sparse");
  for (const Launch& L : launches) {
    symbolic_kernel<I><<<static_cast<unsigned>(L.blocks), L.threads, L.smem, s>>>(
        p, bins.order.template as<I>(), L, work.as<char>(), indptr + 1);
    check(cudaGetLastError(), "symbolic launch");
  }
  size_t temp = 0;
  cub::DeviceScan::InclusiveSum(nullptr, temp, indptr + 1, indptr + 1, p.m, s);
  Scratch scan(temp, s);
  check(cub::DeviceScan::InclusiveSum(scan.ptr, temp, indptr + 1, indptr + 1, p.m, s), "scan");
  int64_t nnz = 0;
  check(cudaMemcpyAsync(&nnz, indptr + p.m, sizeof nnz, cudaMemcpyDeviceToHost, s), "copy");
  check(cudaStreamSynchronize(s), "symbolic phase");
  return nnz;
}

template <class I>
void numeric(const SpgemmArgs& a) {
  auto s = reinterpret_cast<cudaStream_t>(a.stream);
  Problem<I> p = problem<I>(a);
  if (p.m == 0) return;
  Binning<I> bins(p, reinterpret_cast<const int64_t*>(a.c_indptr), s);
  int64_t shared = max_dynamic_shared("sparse");
  bool ok = dispatch_semiring(static_cast<Semiring>(a.semiring), a.value_code,
                              [&](auto sr_tag, auto v_tag) {
    using SR = typename decltype(sr_tag)::type;
    using V = typename decltype(v_tag)::type;
    int64_t slot_bytes = sizeof(I) + sizeof(typename SR::S), need = 0;
    std::vector<Launch> launches =
        launch_list(bins.bin_count, slot_bytes, shared, a.workspace_bytes, p.n, &need);
    Scratch work(need, s);
    auto kernel = numeric_kernel<SR, I, V>;
    allow_dynamic_shared(kernel, shared, "sparse");
    for (const Launch& L : launches) {
      kernel<<<static_cast<unsigned>(L.blocks), L.threads, L.smem, s>>>(
          p, bins.order.template as<I>(), L, work.as<char>(),
          reinterpret_cast<const int64_t*>(a.c_indptr), a.sort,
          reinterpret_cast<I*>(a.c_indices), reinterpret_cast<V*>(a.c_data));
      check(cudaGetLastError(), "numeric launch");
    }
    check(cudaStreamSynchronize(s), "numeric phase");  // before the workspace is released
  });
  if (!ok) throw std::invalid_argument("semiring not defined for this value type");
}

}  // namespace

int64_t spgemm_symbolic(const SpgemmArgs& a) {
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
