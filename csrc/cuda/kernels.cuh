// kernelkit.kernels on the GPU: the block programs of kernelkit/kernels/kernel_sum_blocks.hpp
// as CUDA kernels per (kernel, reduction, dtype, and the small path's D); plan_sum picks the
// program; grid = (query tiles, problems, column chunks), the same grid the CPU emulator walks
// (csrc/cpu/kernels_emulator.hpp). Included by kernels_f32.cu and kernels_f64.cu: one
// translation unit per dtype, so that nvcc compiles the ~400 kernels on two cores.
#pragma once
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

// One float weight column: at most 64 registers, so 4 blocks share an SM (no spills at that);
// otherwise at most 128 (2 blocks): a float thread's 4 x 16 tile sums fit without spilling.
template <int K, bool L1, bool Lse, int D, int NC, class T>
__global__ void __launch_bounds__(kThreads, NC == 1 && sizeof(T) == 4 ? 4 : 2)
    small_sum_kernel(SumProblem<T> p, int64_t b0, int64_t tile) {
  extern __shared__ __align__(16) unsigned char kk_smem[];
  DeviceRunner r;
  small_sum_block<K, L1, Lse, D, NC>(r, p, b0 + blockIdx.y, blockIdx.x, blockIdx.z, tile,
                                     kk_smem);
}

template <int K, bool L1, bool Lse, class T>
__global__ void __launch_bounds__(kThreads) tiled_sum_kernel(SumProblem<T> p, int64_t b0,
                                                             int64_t) {
  extern __shared__ __align__(16) unsigned char kk_smem[];
  DeviceRunner r;
  tiled_sum_block<K, L1, Lse>(r, p, b0 + blockIdx.y, blockIdx.x, blockIdx.z,
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
  const Plan pl = plan_sum(a.kind, a.d, a.c, sizeof(T), budget, a.lse);
  if (pl.tile < 1) throw std::invalid_argument("kernel_sum on the GPU: d too large for one block");
  auto stream = reinterpret_cast<cudaStream_t>(a.stream);
  dim3 grid(static_cast<unsigned>((a.m + pl.queries - 1) / pl.queries), 1,
            static_cast<unsigned>((a.c + pl.cols - 1) / pl.cols));
  if ((a.m + pl.queries - 1) / pl.queries > 2147483647 || grid.z > 65535u)
    throw std::invalid_argument("kernel_sum on the GPU: too many queries or weight columns");
  auto go = [&](auto kernel) {
    allow_dynamic_shared(kernel, pl.bytes, "kernels");
    for (int64_t b0 = 0; b0 < a.batch; b0 += 65535) {
      grid.y = static_cast<unsigned>(std::min<int64_t>(a.batch - b0, 65535));
      kernel<<<grid, pl.threads, pl.bytes, stream>>>(p, b0, pl.tile);
      check(cudaGetLastError(), "kernel_sum launch");
    }
  };
  bool ok = dispatch_kernel<T>(a.kind, a.l1, a.lse, [&](auto k, auto l1c, auto lsec) {
    constexpr int K = decltype(k)::value;
    constexpr bool L1 = decltype(l1c)::value, Lse = decltype(lsec)::value;
    if constexpr (!Lse || std::is_same_v<T, double>) {  // dispatch_kernel's rule
      if constexpr (has_fast_programs<K, Lse, T>) {
        if (pl.path == kSmall) {
          return dispatch_small(pl.dim, pl.cols, [&](auto dc, auto ncc) {
            go(small_sum_kernel<K, L1, Lse, decltype(dc)::value, decltype(ncc)::value, T>);
          });
        }
        if (pl.path == kTiled) return go(tiled_sum_kernel<K, L1, Lse, T>);
      }
      go(kernel_sum_kernel<K, L1, Lse, T>);
    }
  });
  if (!ok) throw std::invalid_argument("kernel_sum on the GPU: no kernel for this combination");
}

}  // namespace

void kernel_sum_launch_f32(const KernelSumDevArgs& a);  // kernels_f32.cu

}  // namespace kernelkit::cuda
