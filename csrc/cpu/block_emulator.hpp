// The sequential block emulator: runs a GPU block program (see DESIGN.md) on the CPU, one
// phase at a time for every thread of the block, so the same code is tested without a GPU.
#pragma once
#include <vector>

namespace kernelkit::cpu {

struct HostRunner {
  int nth;
  int threads() const { return nth; }
  // Per-thread state that lives across phases (registers on the GPU).
  template <class S>
  struct Local {
    std::vector<S> v;
    explicit Local(const HostRunner& r) : v(r.nth) {}
    S& operator[](int tid) { return v[tid]; }
  };
  // Every thread runs f, then the barrier (the loop ends before the next phase starts).
  template <class F>
  void run(F&& f) {
    for (int t = 0; t < nth; ++t) f(t);
  }
};

}  // namespace kernelkit::cpu
