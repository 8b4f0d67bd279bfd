// kernelkit.special on the GPU: one thread per element, the shared host/device header.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "cuda/launch.hpp"
#include "kernelkit/special/bessel_api.hpp"

namespace kernelkit::cuda {
namespace {

template <class T, int F>
__global__ void bessel_kernel(const T* __restrict__ v, const T* __restrict__ x,
                              T* __restrict__ out, std::int64_t n) {
  std::int64_t stride = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    out[i] = static_cast<T>(special::bessel_eval<F>(static_cast<double>(v[i]),
                                                    static_cast<double>(x[i])));
  }
}

template <class T, int F>
void launch_one(std::uintptr_t v, std::uintptr_t x, std::uintptr_t out, std::int64_t n,
                cudaStream_t stream) {
  constexpr int kThreads = 128;
  std::int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535LL * 32) blocks = 65535LL * 32;
  bessel_kernel<T, F><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      reinterpret_cast<const T*>(v), reinterpret_cast<const T*>(x), reinterpret_cast<T*>(out), n);
}

template <class T, int... F>
bool dispatch(int fn, std::uintptr_t v, std::uintptr_t x, std::uintptr_t out, std::int64_t n,
              cudaStream_t stream, std::integer_sequence<int, F...>) {
  return ((fn == F ? (launch_one<T, F>(v, x, out, n, stream), true) : false) || ...);
}

}  // namespace

void bessel_launch(int fn, int dtype, std::uintptr_t v, std::uintptr_t x, std::uintptr_t out,
                   std::int64_t n, std::uintptr_t stream_ptr) {
  if (n <= 0) return;
  auto stream = reinterpret_cast<cudaStream_t>(stream_ptr);
  constexpr auto fns = std::make_integer_sequence<int, 8>{};
  bool ok = dtype == 0 ? dispatch<float>(fn, v, x, out, n, stream, fns)
                       : dispatch<double>(fn, v, x, out, n, stream, fns);
  if (!ok) throw std::invalid_argument("unknown Bessel function code or dtype");
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("kernel launch failed: ") +
                                                   cudaGetErrorString(err));
}

int device_count(std::string* why) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (why) *why = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls are not poisoned
    return 0;
  }
  return count;
}

}  // namespace kernelkit::cuda
