// Picks the kernel-sum engine compiled for the best instruction set this CPU has.
#include "cpu/kernels.hpp"

namespace kernelkit::cpu {

template <class T>
void kernel_sum(const KernelSumArgs<T>& args) {
#ifdef KK_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return avx2::kernel_sum(args);
#endif
  base::kernel_sum(args);
}

template void kernel_sum<float>(const KernelSumArgs<float>&);
template void kernel_sum<double>(const KernelSumArgs<double>&);

}  // namespace kernelkit::cpu
