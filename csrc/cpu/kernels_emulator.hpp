// The CUDA kernel sums' launch grid run on the CPU by the block emulator: the same plan, block
// shape and block program (kernelkit/kernels/kernel_sum_blocks.hpp), one block after another.
// Test-only: it checks the GPU algorithm's logic where there is no GPU. Instantiated once per
// type in kernels_emulator_f32.cpp / _f64.cpp (the block programs' many instantiations are the
// longest compile of the CPU module: two files let two cores share it).
#pragma once
#include <stdexcept>
#include <vector>

#include "cpu/block_emulator.hpp"
#include "cpu/kernels.hpp"

namespace kernelkit::cpu {
using namespace kernels::blocks;

template <class T>
void kernel_sum_emulate(int kind, bool l1, bool lse, const SumProblem<T>& p, int64_t batch,
                        int64_t shared_bytes) {
  const Plan pl = plan_sum(kind, p.d, p.c, sizeof(T), shared_bytes, lse);
  if (pl.tile < 1) throw std::invalid_argument("kernel_sum: d too large for the GPU block shape");
  struct alignas(16) Bytes16 {
    unsigned char b[16];
  };
  std::vector<Bytes16> smem(size_t(pl.bytes + 15) / 16);  // 16-byte aligned, as on the GPU
  void* sm = smem.data();
  int64_t query_tiles = (p.m + pl.queries - 1) / pl.queries;
  int64_t chunks = (p.c + pl.cols - 1) / pl.cols;
  auto grid = [&](auto&& block) {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t cb = 0; cb < chunks; ++cb)
        for (int64_t qt = 0; qt < query_tiles; ++qt) {
          HostRunner r{pl.threads};
          block(r, b, qt, cb);
        }
  };
  bool ok = dispatch_kernel<T>(kind, l1, lse, [&](auto k, auto l1c, auto lsec) {
    constexpr int K = decltype(k)::value;
    constexpr bool L1 = decltype(l1c)::value, Lse = decltype(lsec)::value;
    if constexpr (!Lse || std::is_same_v<T, double>) {  // dispatch_kernel's rule
      if constexpr (has_fast_programs<K, Lse, T>) {
        if (pl.path == kSmall) {
          return dispatch_small(pl.dim, pl.cols, [&](auto dc, auto ncc) {
            grid([&](HostRunner& r, int64_t b, int64_t qt, int64_t cb) {
              small_sum_block<K, L1, Lse, decltype(dc)::value, decltype(ncc)::value>(
                  r, p, b, qt, cb, pl.tile, sm);
            });
          });
        }
        if (pl.path == kTiled) {
          return grid([&](HostRunner& r, int64_t b, int64_t qt, int64_t cb) {
            tiled_sum_block<K, L1, Lse>(r, p, b, qt, cb, static_cast<T*>(sm));
          });
        }
      }
      grid([&](HostRunner& r, int64_t b, int64_t qt, int64_t cb) {
        kernel_sum_block<K, L1, Lse>(r, p, b, qt, cb, pl.tile, static_cast<T*>(sm));
      });
    }
  });
  if (!ok) throw std::invalid_argument("kernel_sum: no GPU kernel for this combination");
}

}  // namespace kernelkit::cpu
