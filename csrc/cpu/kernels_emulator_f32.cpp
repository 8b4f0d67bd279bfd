// The kernel-sum block emulator (kernels_emulator.hpp) for float.
#include "cpu/kernels_emulator.hpp"

namespace kernelkit::cpu {

template void kernel_sum_emulate<float>(int, bool, bool, const SumProblem<float>&, int64_t,
                                     int64_t);

}  // namespace kernelkit::cpu
