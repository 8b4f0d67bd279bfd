// kernelkit.kernels on the GPU, float32 kernels (the launcher is in kernels.cuh).
#include "cuda/kernels.cuh"

namespace kernelkit::cuda {

void kernel_sum_launch_f32(const KernelSumDevArgs& a) { launch<float>(a); }

}  // namespace kernelkit::cuda
