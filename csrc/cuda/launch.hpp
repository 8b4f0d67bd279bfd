// Plain C++ declarations of the CUDA launchers (no CUDA types), for the pybind11 module.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kernelkit::cuda {

// out[i] = f(v[i], x[i]) for contiguous device arrays of n elements of float (dtype 0) or
// double (dtype 1), on the given stream (a cudaStream_t as an integer). Asynchronous;
// throws std::runtime_error if the launch fails.
void bessel_launch(int fn, int dtype, std::uintptr_t v, std::uintptr_t x, std::uintptr_t out,
                   std::int64_t n, std::uintptr_t stream);

// C = A B on the GPU (kernelkit.sparse): device pointers of CSR arrays (indices int32, or
// int64 when index64; values of sparse::blocks::ValueCode value_code), C's indptr as int64.
// A is m x k, B k x n, the mask m x n; *_nnz are the lengths of their indices arrays.
struct SpgemmArgs {
  int semiring = 0, value_code = 0;
  bool index64 = false, complement = false, sort = true;
  std::int64_t m = 0, k = 0, n = 0;
  std::int64_t a_nnz = 0, b_nnz = 0, mask_nnz = 0;
  std::uintptr_t a_indptr = 0, a_indices = 0, a_data = 0;
  std::uintptr_t b_indptr = 0, b_indices = 0, b_data = 0;
  std::uintptr_t mask_indptr = 0, mask_indices = 0;  // 0: no mask (rows sorted otherwise)
  std::uintptr_t c_indptr = 0, c_indices = 0, c_data = 0;
  std::int64_t workspace_bytes = 0;  // budget for the global tables of the largest rows
  std::vector<std::int64_t> bin_count;  // numeric phase: SpgemmSymbolic::bin_count
  std::uintptr_t stream = 0;
};
struct SpgemmSymbolic {
  std::int64_t nnz = 0;
  int noncanonical = 0;  // bit i: input i (A, B, mask) has unsorted or duplicate indices
  std::vector<std::int64_t> bin_count;  // the numeric phase's launch plan input
};
// Symbolic phase: validates A, B and the mask on the device (std::invalid_argument for
// malformed CSR; a non-canonical input stops the call with its bit set in noncanonical), then
// C's row offsets into c_indptr (m + 1 entries) and nnz(C). Synchronises twice.
SpgemmSymbolic spgemm_symbolic(const SpgemmArgs& args);
// Numeric phase into c_indices / c_data (sized from the symbolic phase). Asynchronous.
void spgemm_numeric(const SpgemmArgs& args);
// Most scratch bytes (outside CuPy's pool) held at once since the last reset.
std::int64_t spgemm_scratch_peak(bool reset);

// Kernel sums on the GPU (kernelkit.kernels): the arguments of kernelkit::cpu::KernelSumArgs
// as device pointers (float32 when dtype = 0, float64 when 1), one bandwidth scale.
struct KernelSumDevArgs {
  int dtype = 1, kind = 0;
  bool l1 = false, lse = false, exclude_self = false;
  double alpha = 1.0, nu = 0.5, log_c = 0.0;
  std::int64_t batch = 0, n = 0, m = 0, d = 1, c = 1;
  std::uintptr_t x = 0, x_index = 0, y = 0, y_index = 0, w = 0, w_index = 0;
  std::uintptr_t center = 0, scale = 0, out = 0;
  std::uintptr_t stream = 0;
};
// Asynchronous; throws std::invalid_argument for a combination without a kernel.
void kernel_sum_launch(const KernelSumDevArgs& args);

// One pass of kernelkit.kron on the GPU: q <= 16 small factors (device pointers, row-major)
// applied to consecutive modes of in (L, prod cols, R) into out (L, prod rows, R); rt r values
// per block of `threads` threads. Asynchronous.
struct KronChainArgs {
  int dtype = 1, q = 0, threads = 256;
  int rows[16] = {}, cols[16] = {};
  std::uintptr_t factors[16] = {};
  std::int64_t L = 0, R = 0, rt = 1;
  std::uintptr_t in = 0, out = 0, stream = 0;
};
void kron_chain_launch(const KronChainArgs& args);

// Number of usable CUDA devices (0 when there is no driver or GPU), and why not.
int device_count(std::string* why);

}  // namespace kernelkit::cuda
