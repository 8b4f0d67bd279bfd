// The CUDA kernel sums' launch grid run on the CPU by the block emulator: the same block shape
// and block program (kernelkit/kernels/kernel_sum_blocks.hpp), one block after another.
// Test-only: it checks the GPU algorithm's logic where there is no GPU.
#include <stdexcept>
#include <vector>

#include "cpu/block_emulator.hpp"
#include "cpu/kernels.hpp"

namespace kernelkit::cpu {
using namespace kernels::blocks;

template <class T>
void kernel_sum_emulate(int kind, bool l1, bool lse, const SumProblem<T>& p, int64_t batch,
                        int64_t shared_bytes) {
  int64_t cc = p.c < kChunk ? p.c : kChunk;
  int threads;
  int64_t tile;
  block_shape(p.d, cc, sizeof(T), shared_bytes, &threads, &tile);
  if (tile < 1) throw std::invalid_argument("kernel_sum: d too large for the GPU block shape");
  std::vector<T> smem(threads * p.d + tile * (p.d + cc));
  int64_t query_tiles = (p.m + threads - 1) / threads, chunks = (p.c + kChunk - 1) / kChunk;
  bool ok = dispatch_kernel<T>(kind, l1, lse, [&](auto k, auto l1c, auto lsec) {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t cb = 0; cb < chunks; ++cb)
        for (int64_t qt = 0; qt < query_tiles; ++qt) {
          HostRunner r{threads};
          kernel_sum_block<decltype(k)::value, decltype(l1c)::value, decltype(lsec)::value>(
              r, p, b, qt, cb, tile, smem.data());
        }
  });
  if (!ok) throw std::invalid_argument("kernel_sum: no GPU kernel for this combination");
}

template void kernel_sum_emulate<float>(int, bool, bool, const SumProblem<float>&, int64_t,
                                        int64_t);
template void kernel_sum_emulate<double>(int, bool, bool, const SumProblem<double>&, int64_t,
                                         int64_t);

}  // namespace kernelkit::cpu
