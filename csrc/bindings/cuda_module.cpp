// kernelkit._cuda: launchers taking device pointers and a stream as integers (CuPy's
// x.data.ptr and cupy.cuda.get_current_stream().ptr). Compiled by the C++ compiler.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/launch.hpp"

namespace py = pybind11;

namespace {
// Launch arguments from a dict: a missing required key or an unknown key raises ValueError,
// so a misspelt argument fails loudly instead of leaving a field at its default.
struct DictArgs {
  const py::dict& d;
  std::set<std::string> known;
  template <class T>
  void get(const char* key, T& field, bool required = true) {
    known.insert(key);
    if (d.contains(key)) field = d[key].cast<T>();
    else if (required) throw std::invalid_argument(std::string("missing launch argument ") + key);
  }
  void check_unknown() const {
    for (auto item : d) {
      auto key = item.first.cast<std::string>();
      if (!known.count(key)) throw std::invalid_argument("unknown launch argument " + key);
    }
  }
};
}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "kernelkit CUDA launchers (internal; use kernelkit.special with CuPy arrays)";
  m.def(
      "bessel",
      [](int fn, int dtype, std::uintptr_t v, std::uintptr_t x, std::uintptr_t out,
         std::int64_t n, std::uintptr_t stream) {
        py::gil_scoped_release release;
        kernelkit::cuda::bessel_launch(fn, dtype, v, x, out, n, stream);
      },
      py::arg("fn"), py::arg("dtype"), py::arg("v"), py::arg("x"), py::arg("out"), py::arg("n"),
      py::arg("stream"));
  auto spgemm_args = [](const py::dict& d) {
    kernelkit::cuda::SpgemmArgs a;
    DictArgs r{d};
    r.get("semiring", a.semiring), r.get("value_code", a.value_code);
    r.get("index64", a.index64), r.get("complement", a.complement), r.get("sort", a.sort);
    r.get("m", a.m), r.get("k", a.k), r.get("n", a.n);
    r.get("a_nnz", a.a_nnz), r.get("b_nnz", a.b_nnz), r.get("mask_nnz", a.mask_nnz, false);
    r.get("a_indptr", a.a_indptr), r.get("a_indices", a.a_indices), r.get("a_data", a.a_data);
    r.get("b_indptr", a.b_indptr), r.get("b_indices", a.b_indices), r.get("b_data", a.b_data);
    r.get("mask_indptr", a.mask_indptr, false), r.get("mask_indices", a.mask_indices, false);
    r.get("c_indptr", a.c_indptr);
    r.get("c_indices", a.c_indices, false), r.get("c_data", a.c_data, false);
    r.get("workspace_bytes", a.workspace_bytes), r.get("stream", a.stream);
    r.get("bin_count", a.bin_count, false);
    r.check_unknown();
    return a;
  };
  m.def("spgemm_symbolic", [spgemm_args](const py::dict& d) {
    auto a = spgemm_args(d);
    kernelkit::cuda::SpgemmSymbolic out;
    {
      py::gil_scoped_release release;
      out = kernelkit::cuda::spgemm_symbolic(a);
    }
    return py::make_tuple(out.nnz, out.noncanonical, out.bin_count);
  });
  m.def("spgemm_numeric", [spgemm_args](const py::dict& d) {
    auto a = spgemm_args(d);
    py::gil_scoped_release release;
    kernelkit::cuda::spgemm_numeric(a);
  });
  m.def("kernel_sum", [](const py::dict& d) {
    kernelkit::cuda::KernelSumDevArgs a;
    DictArgs r{d};
    r.get("dtype", a.dtype), r.get("kind", a.kind), r.get("l1", a.l1), r.get("lse", a.lse);
    r.get("exclude_self", a.exclude_self), r.get("alpha", a.alpha), r.get("nu", a.nu);
    r.get("log_c", a.log_c), r.get("batch", a.batch), r.get("n", a.n), r.get("m", a.m);
    r.get("d", a.d), r.get("c", a.c), r.get("x", a.x), r.get("x_index", a.x_index);
    r.get("y", a.y), r.get("y_index", a.y_index), r.get("w", a.w), r.get("w_index", a.w_index);
    r.get("center", a.center), r.get("scale", a.scale), r.get("out", a.out);
    r.get("stream", a.stream);
    r.check_unknown();
    py::gil_scoped_release release;
    kernelkit::cuda::kernel_sum_launch(a);
  });
  // All chain passes of one Kronecker product in one call (the Python planner's
  // _chain_plan): pass (s, j, L, R, rt, src, dst) applies factors s..j-1 to slot src viewed as
  // (L, P, R) into slot dst; slots are device pointers (x, out, scratch).
  m.def("kron_passes", [](int dtype, const std::vector<int>& rows, const std::vector<int>& cols,
                          const std::vector<std::uintptr_t>& factors,
                          const std::vector<std::array<std::int64_t, 7>>& passes,
                          const std::vector<std::uintptr_t>& slots, std::uintptr_t stream) {
    const auto d = static_cast<std::int64_t>(rows.size());
    if (cols.size() != rows.size() || factors.size() != rows.size() || (dtype != 0 && dtype != 1))
      throw std::invalid_argument("kron_passes: one row count, column count and pointer per "
                                  "factor; dtype 0 (float32) or 1 (float64)");
    std::vector<kernelkit::cuda::KronChainArgs> launches;
    for (const auto& ps : passes) {
      const auto [s, j, L, R, rt, src, dst] = ps;
      if (s < 0 || j <= s || j > d || j - s > 16 || L < 0 || R < 0 || rt < 1 || src < 0 ||
          dst < 0 || src >= std::int64_t(slots.size()) || dst >= std::int64_t(slots.size()))
        throw std::invalid_argument("kron_passes: malformed pass");
      kernelkit::cuda::KronChainArgs a;
      a.dtype = dtype, a.q = static_cast<int>(j - s), a.L = L, a.R = R, a.rt = rt;
      for (int i = 0; i < a.q; ++i) {
        a.rows[i] = rows[s + i], a.cols[i] = cols[s + i], a.factors[i] = factors[s + i];
        if (a.rows[i] < 1 || a.cols[i] < 1)
          throw std::invalid_argument("kron_passes: empty factor");
      }
      a.in = slots[src], a.out = slots[dst], a.stream = stream;
      launches.push_back(a);
    }
    py::gil_scoped_release release;
    for (const auto& a : launches) kernelkit::cuda::kron_chain_launch(a);
  });
  m.def("spgemm_scratch_peak", &kernelkit::cuda::spgemm_scratch_peak, py::arg("reset") = false);
  m.def("device_count", []() {
    std::string why;
    int n = kernelkit::cuda::device_count(&why);
    return py::make_tuple(n, why);
  });
}
