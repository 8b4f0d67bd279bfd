// kernelkit.kernels on the GPU, float64 kernels and the dtype dispatch (the launcher is in
// kernels.cuh).
#include "cuda/kernels.cuh"

namespace kernelkit::cuda {

void kernel_sum_launch(const KernelSumDevArgs& a) {
  if (a.dtype == 0) kernel_sum_launch_f32(a);
  else launch<double>(a);
}

}  // namespace kernelkit::cuda
