// The CUDA Kronecker chain kernel's grid run on the CPU by the block emulator (test-only): the
// same block program (kernelkit/kron/kron_blocks.hpp), one block after another.
#include <vector>

#include "cpu/block_emulator.hpp"
#include "cpu/kron.hpp"

namespace kernelkit::cpu {

template <class T>
void kron_chain_emulate(const kron::blocks::ChainProblem<T>& p, int threads) {
  std::vector<T> smem(kron::blocks::chain_smem_elements(p));
  int64_t tiles = (p.R + p.rt - 1) / p.rt;
  for (int64_t l = 0; l < p.L; ++l)
    for (int64_t rb = 0; rb < tiles; ++rb) {
      HostRunner r{threads};
      kron::blocks::kron_chain_block(r, p, l, rb, smem.data());
    }
}

template void kron_chain_emulate<float>(const kron::blocks::ChainProblem<float>&, int);
template void kron_chain_emulate<double>(const kron::blocks::ChainProblem<double>&, int);

}  // namespace kernelkit::cpu
