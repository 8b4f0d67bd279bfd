// The device side of the block-program convention (kernelkit/sparse/spgemm_blocks.hpp): run(f)
// is one phase of the calling thread followed by the block barrier; Local<S> is one S per
// thread (registers). The CPU's counterpart is kernelkit::cpu::HostRunner.
#pragma once

namespace kernelkit::cuda {

struct DeviceRunner {
  __device__ int threads() const { return blockDim.x; }
  template <class F>
  __device__ void run(F&& f) {
    f(static_cast<int>(threadIdx.x));
    __syncthreads();
  }
  template <class S>
  struct Local {
    S s;
    __device__ explicit Local(const DeviceRunner&) {}
    __device__ S& operator[](int) { return s; }
  };
};

}  // namespace kernelkit::cuda
