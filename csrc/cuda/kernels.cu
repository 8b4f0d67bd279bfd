// kernelkit.kernels on the GPU: the block program of kernelkit/kernels/kernel_sum_blocks.hpp
// as one CUDA kernel per (kernel, reduction, dtype); grid = (query tiles, problems, column
// chunks), the same grid the CPU emulator walks (csrc/cpu/kernels_emulator.cpp).
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cuda/launch.hpp"
#include "cuda/launch_util.cuh"
#include "cuda/runner.cuh"
#include "kernelkit/kernels/kernel_sum_blocks.hpp"

namespace kernelkit::cuda {
namespace {
using namespace kernelkit::kernels::blocks;

template <int K, bool L1, bool Lse, class T>
__global__ void __launch_bounds__(128) kernel_sum_kernel(SumProblem<T> p, int64_t b0,
                                                         int64_t tile) {
  extern __shared__ __align__(16) unsigned char kk_smem[];
  DeviceRunner r;
  kernel_sum_block<K, L1, Lse>(r, p, b0 + blockIdx.y, blockIdx.x, blockIdx.z, tile,
                               reinterpret_cast<T*>(kk_smem));
}

void check(cudaError_t err, const char* what) { kernelkit::cuda::check(err, "kernels", what); }

template <class T>
void launch(const KernelSumDevArgs& a) {
  SumProblem<T> p;
  p.n = a.n, p.m = a.m, p.d = a.d, p.c = a.c;
  p.x = reinterpret_cast<const T*>(a.x);
  p.x_index = reinterpret_cast<const int64_t*>(a.x_index);
  p.y = reinterpret_cast<const T*>(a.y);
  p.y_index = reinterpret_cast<const int64_t*>(a.y_index);
  p.w = reinterpret_cast<const T*>(a.w);
  p.w_index = reinterpret_cast<const int64_t*>(a.w_index);
  p.center = reinterpret_cast<const double*>(a.center);
  p.scale = reinterpret_cast<const double*>(a.scale);
  p.params.alpha = a.alpha, p.params.nu = a.nu, p.params.log_c = a.log_c;
  p.exclude_self = a.exclude_self;
  p.out = reinterpret_cast<T*>(a.out);
  if (a.batch == 0 || a.m == 0 || a.c == 0) return;
  int64_t budget = std::min<int64_t>(max_dynamic_shared("kernels"), 96 * 1024);
  int64_t cc = std::min<int64_t>(a.c, kChunk);
  int threads;
  int64_t tile;
  block_shape(a.d, cc, sizeof(T), budget, &threads, &tile);
  if (tile < 1) throw std::invalid_argument("kernel_sum on the GPU: d too large for one block");
  int64_t bytes = (threads * a.d + tile * (a.d + cc)) * int64_t(sizeof(T));
  auto stream = reinterpret_cast<cudaStream_t>(a.stream);
  dim3 grid(static_cast<unsigned>((a.m + threads - 1) / threads), 1,
            static_cast<unsigned>((a.c + kChunk - 1) / kChunk));
  if (grid.x > 2147483647u || grid.z > 65535u)
    throw std::invalid_argument("kernel_sum on the GPU: too many queries or weight columns");
  bool ok = dispatch_kernel<T>(a.kind, a.l1, a.lse, [&](auto k, auto l1c, auto lsec) {
    auto kernel = kernel_sum_kernel<decltype(k)::value, decltype(l1c)::value,
                                    decltype(lsec)::value, T>;
    allow_dynamic_shared(kernel, bytes, "kernels");
    for (int64_t b0 = 0; b0 < a.batch; b0 += 65535) {
      grid.y = static_cast<unsigned>(std::min<int64_t>(a.batch - b0, 65535));
      kernel<<<grid, threads, bytes, stream>>>(p, b0, tile);
      check(cudaGetLastError(), "kernel_sum launch");
    }
  });
  if (!ok) throw std::invalid_argument("kernel_sum on the GPU: no kernel for this combination");
}

}  // namespace

void kernel_sum_launch(const KernelSumDevArgs& a) {
  if (a.dtype == 0) launch<float>(a);
  else launch<double>(a);
}

}  // namespace kernelkit::cuda
