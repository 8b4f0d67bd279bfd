// One switch from a function code to the scalar function, shared by the CPU loops and the
// CUDA kernel so both evaluate exactly the same code.
#pragma once
#include "kernelkit/special/log_bessel.hpp"

namespace kernelkit::special {

// Codes match kernelkit::cpu::BesselFn and the codes in python/kernelkit/special.py.
template <int F>
KK_FN double bessel_eval(double v, double x) {
  if constexpr (F == 0) return log_iv(v, x);
  else if constexpr (F == 1) return log_kv(v, x);
  else if constexpr (F == 2) return iv_shifted(v, x, 0.0);
  else if constexpr (F == 3) return iv_shifted(v, x, 1.0);
  else if constexpr (F == 4) return kv_shifted(v, x, 0.0);
  else if constexpr (F == 5) return kv_shifted(v, x, 1.0);
  else if constexpr (F == 6) return iv_ratio(v, x);
  else return iv_ratio_c(v, x);
}

}  // namespace kernelkit::special
