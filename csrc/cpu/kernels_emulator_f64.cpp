// The kernel-sum block emulator (kernels_emulator.hpp) for double.
#include "cpu/kernels_emulator.hpp"

namespace kernelkit::cpu {

template void kernel_sum_emulate<double>(int, bool, bool, const SumProblem<double>&, int64_t,
                                     int64_t);

}  // namespace kernelkit::cpu
