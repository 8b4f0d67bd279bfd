// Host-side helpers shared by the CUDA launchers: error checks that name the family, the
// per-block shared-memory limit, and the opt-in for dynamic shared memory above 48 KiB.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kernelkit::cuda {

// runtime_error "kernelkit.<family> (CUDA): <what>: <CUDA's reason>" unless err is success.
inline void check(cudaError_t err, const char* family, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("kernelkit.") + family + " (CUDA): " + what + ": " +
                             cudaGetErrorString(err));
}

// Dynamic shared memory one block may opt in to on the current device, less 1 KiB for the
// kernels' static shared variables.
inline std::int64_t max_dynamic_shared(const char* family) {
  int dev = 0, bytes = 0;
  check(cudaGetDevice(&dev), family, "cudaGetDevice");
  check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), family,
        "cudaDeviceGetAttribute");
  return bytes - 1024;
}

// Lets `kernel` launch with `bytes` of dynamic shared memory (needed above 48 KiB).
template <class Kernel>
void allow_dynamic_shared(Kernel kernel, std::int64_t bytes, const char* family) {
  if (bytes > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(bytes)),
          family, "cudaFuncSetAttribute");
}

}  // namespace kernelkit::cuda
