// CPU entry point of kernelkit.kernels: batched kernel sums without the kernel matrix, no Python.
#pragma once
#include <cstdint>

#include "kernelkit/kernels/kernel_functions.hpp"
#include "kernelkit/kernels/kernel_sum_blocks.hpp"

namespace kernelkit::cpu {

enum class Reduction : int { sum = 0, logsumexp = 1 };

// One call computes `batch` independent problems. Problem b reads
//   x  rows x_index[b] of a (.., n, d) array,  y rows y_index[b] of (.., m, d),
//   w  block w_index[b] of (.., n, c)  (log-weights for logsumexp),
//   center[x_index[b]] (d,) and scale[b] (d,) (the inverse bandwidths),
// and writes out[b] (m, nscales, c):
//   sum:        out[j, s, :] = sum_i k(|scale (x_i - y_j)| / beta_s) w_i
//   logsumexp:  out[j, s, :] = log sum_i exp(log k(...) + w_i)
// where beta_s = 1 / sqrt(scales2[s]) (several bandwidth multipliers share one distance pass).
// Coordinates are centred and scaled in double before the pairwise work, so an offset in the
// data costs no accuracy. exclude_self (logsumexp, x and y the same points) drops i == j.
template <class T>
struct KernelSumArgs {
  int kind = kernels::kGaussian;
  kernels::Params params;
  bool l1 = false;  // manhattan distance instead of euclidean
  Reduction reduction = Reduction::sum;
  bool exclude_self = false;
  int64_t batch = 1, n = 0, m = 0, d = 1, c = 1;
  const T* x = nullptr;
  const int64_t* x_index = nullptr;
  const T* y = nullptr;
  const int64_t* y_index = nullptr;
  const T* w = nullptr;
  const int64_t* w_index = nullptr;
  const double* center = nullptr;
  const double* scale = nullptr;
  int nscales = 1;
  const double* scales2 = nullptr;
  T* out = nullptr;
};

template <class T>
void kernel_sum(const KernelSumArgs<T>& args);

namespace base {
template <class T>
void kernel_sum(const KernelSumArgs<T>& args);
}
// The CUDA kernel sums' grid run by the block emulator (tests): problem b of `batch` reads
// p's arrays as kernel_sum does (one bandwidth scale, nscales = 1); shared_bytes stands in
// for the device's shared memory per block.
template <class T>
void kernel_sum_emulate(int kind, bool l1, bool lse, const kernels::blocks::SumProblem<T>& p,
                        int64_t batch, int64_t shared_bytes);
namespace avx2 {
template <class T>
void kernel_sum(const KernelSumArgs<T>& args);
}

}  // namespace kernelkit::cpu
