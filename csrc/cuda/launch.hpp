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

// Number of usable CUDA devices (0 when there is no driver or GPU), and why not.
int device_count(std::string* why);

}  // namespace kernelkit::cuda
