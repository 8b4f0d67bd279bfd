// kernelkit.kron on the GPU: the chain block program of kernelkit/kron/kron_blocks.hpp as a
// CUDA kernel over (r tiles, l), the grid the CPU emulator walks (csrc/cpu/kron_emulator.cpp).
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cuda/launch.hpp"
#include "cuda/launch_util.cuh"
#include "cuda/runner.cuh"
#include "kernelkit/kron/kron_blocks.hpp"

namespace kernelkit::cuda {
namespace {
using namespace kernelkit::kron::blocks;

template <class T>
__global__ void __launch_bounds__(256) kron_chain_kernel(ChainProblem<T> p, int64_t l0) {
  extern __shared__ __align__(16) unsigned char kk_smem[];
  DeviceRunner r;
  kron_chain_block(r, p, l0 + blockIdx.y, blockIdx.x, reinterpret_cast<T*>(kk_smem));
}

void check(cudaError_t err, const char* what) { kernelkit::cuda::check(err, "kron", what); }

template <class T>
void launch(const KronChainArgs& a) {
  if (a.q < 1 || a.q > kMaxChain) throw std::invalid_argument("kron chain: 1 to 16 factors");
  ChainProblem<T> p;
  p.L = a.L, p.R = a.R, p.rt = a.rt, p.q = a.q;
  for (int j = 0; j < a.q; ++j) {
    p.rows[j] = a.rows[j], p.cols[j] = a.cols[j];
    p.factors[j] = reinterpret_cast<const T*>(a.factors[j]);
  }
  p.in = reinterpret_cast<const T*>(a.in);
  p.out = reinterpret_cast<T*>(a.out);
  if (p.L == 0 || p.R == 0) return;
  int64_t bytes = chain_smem_elements(p) * int64_t(sizeof(T));
  auto kernel = kron_chain_kernel<T>;
  allow_dynamic_shared(kernel, bytes, "kron");
  auto stream = reinterpret_cast<cudaStream_t>(a.stream);
  dim3 grid(static_cast<unsigned>((p.R + p.rt - 1) / p.rt), 1, 1);
  for (int64_t l0 = 0; l0 < p.L; l0 += 65535) {
    grid.y = static_cast<unsigned>(std::min<int64_t>(p.L - l0, 65535));
    kernel<<<grid, a.threads, bytes, stream>>>(p, l0);
    check(cudaGetLastError(), "kron chain launch");
  }
}

}  // namespace

void kron_chain_launch(const KronChainArgs& a) {
  if (a.dtype == 0) launch<float>(a);
  else launch<double>(a);
}

}  // namespace kernelkit::cuda
