// The sequential block emulator: runs a GPU block program (see DESIGN.md) on the CPU, one
// phase at a time for every thread of the block, so the same code is tested without a GPU.
#pragma once

namespace kernelkit::cpu {

struct HostRunner {
  int nth;
  int threads() const { return nth; }
  // Every thread runs f, then the barrier (the loop ends before the next phase starts).
  template <class F>
  void run(F&& f) {
    for (int t = 0; t < nth; ++t) f(t);
  }
};

}  // namespace kernelkit::cpu
