// Plain C++ declarations of the CUDA launchers (no CUDA types), for the pybind11 module.
#pragma once
#include <cstdint>
#include <string>

namespace kernelkit::cuda {

// out[i] = f(v[i], x[i]) for contiguous device arrays of n elements of float (dtype 0) or
// double (dtype 1), on the given stream (a cudaStream_t as an integer). Asynchronous;
// throws std::runtime_error if the launch fails.
void bessel_launch(int fn, int dtype, std::uintptr_t v, std::uintptr_t x, std::uintptr_t out,
                   std::int64_t n, std::uintptr_t stream);

// C = A B on the GPU (kernelkit.sparse): device pointers of CSR arrays (indices int32, or
// int64 when index64; values of sparse::blocks::ValueCode value_code), C's indptr as int64.
struct SpgemmArgs {
  int semiring = 0, value_code = 0;
  bool index64 = false, complement = false, sort = true;
  std::int64_t m = 0, n = 0;
  std::uintptr_t a_indptr = 0, a_indices = 0, a_data = 0;
  std::uintptr_t b_indptr = 0, b_indices = 0, b_data = 0;
  std::uintptr_t mask_indptr = 0, mask_indices = 0;  // 0: no mask (rows sorted otherwise)
  std::uintptr_t c_indptr = 0, c_indices = 0, c_data = 0;
  std::int64_t workspace_bytes = 0;  // budget for the global tables of the largest rows
  std::uintptr_t stream = 0;
};
// Symbolic phase: C's row offsets into c_indptr (m + 1 entries); returns nnz(C). Synchronises.
std::int64_t spgemm_symbolic(const SpgemmArgs& args);
// Numeric phase into c_indices / c_data (sized from the symbolic phase). Synchronises.
void spgemm_numeric(const SpgemmArgs& args);
// Most scratch bytes (outside CuPy's pool) held at once since the last reset.
std::int64_t spgemm_scratch_peak(bool reset);

// Number of usable CUDA devices (0 when there is no driver or GPU), and why not.
int device_count(std::string* why);

}  // namespace kernelkit::cuda
