// kernelkit._cuda: launchers taking device pointers and a stream as integers (CuPy's
// x.data.ptr and cupy.cuda.get_current_stream().ptr). Compiled by the C++ compiler.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "cuda/launch.hpp"

namespace py = pybind11;

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
    auto get = [&](const char* key, auto& field) {
      if (d.contains(key)) field = d[key].cast<std::decay_t<decltype(field)>>();
    };
    get("semiring", a.semiring), get("value_code", a.value_code), get("index64", a.index64);
    get("complement", a.complement), get("sort", a.sort), get("m", a.m), get("n", a.n);
    get("a_indptr", a.a_indptr), get("a_indices", a.a_indices), get("a_data", a.a_data);
    get("b_indptr", a.b_indptr), get("b_indices", a.b_indices), get("b_data", a.b_data);
    get("mask_indptr", a.mask_indptr), get("mask_indices", a.mask_indices);
    get("c_indptr", a.c_indptr), get("c_indices", a.c_indices), get("c_data", a.c_data);
    get("workspace_bytes", a.workspace_bytes), get("stream", a.stream);
    return a;
  };
  m.def("spgemm_symbolic", [spgemm_args](const py::dict& d) {
    auto a = spgemm_args(d);
    py::gil_scoped_release release;
    return kernelkit::cuda::spgemm_symbolic(a);
  });
  m.def("spgemm_numeric", [spgemm_args](const py::dict& d) {
    auto a = spgemm_args(d);
    py::gil_scoped_release release;
    kernelkit::cuda::spgemm_numeric(a);
  });
  m.def("kernel_sum", [](const py::dict& d) {
    kernelkit::cuda::KernelSumDevArgs a;
    auto get = [&](const char* key, auto& field) {
      if (d.contains(key)) field = d[key].cast<std::decay_t<decltype(field)>>();
    };
    get("dtype", a.dtype), get("kind", a.kind), get("l1", a.l1), get("lse", a.lse);
    get("exclude_self", a.exclude_self), get("alpha", a.alpha), get("nu", a.nu);
    get("log_c", a.log_c), get("batch", a.batch), get("n", a.n), get("m", a.m), get("d", a.d);
    get("c", a.c), get("x", a.x), get("x_index", a.x_index), get("y", a.y);
    get("y_index", a.y_index), get("w", a.w), get("w_index", a.w_index);
    get("center", a.center), get("scale", a.scale), get("out", a.out), get("stream", a.stream);
    py::gil_scoped_release release;
    kernelkit::cuda::kernel_sum_launch(a);
  });
  m.def("kron_chain", [](const py::dict& d) {
    kernelkit::cuda::KronChainArgs a;
    a.dtype = d["dtype"].cast<int>();
    a.threads = d["threads"].cast<int>();
    a.L = d["L"].cast<std::int64_t>(), a.R = d["R"].cast<std::int64_t>();
    a.rt = d["rt"].cast<std::int64_t>();
    a.in = d["in"].cast<std::uintptr_t>(), a.out = d["out"].cast<std::uintptr_t>();
    a.stream = d["stream"].cast<std::uintptr_t>();
    auto rows = d["rows"].cast<std::vector<int>>(), cols = d["cols"].cast<std::vector<int>>();
    auto ptrs = d["factors"].cast<std::vector<std::uintptr_t>>();
    if (rows.size() != cols.size() || rows.size() != ptrs.size() || rows.empty() ||
        rows.size() > 16)
      throw std::invalid_argument("kron_chain: 1 to 16 factors with rows, cols and pointers");
    a.q = static_cast<int>(rows.size());
    for (int j = 0; j < a.q; ++j) a.rows[j] = rows[j], a.cols[j] = cols[j], a.factors[j] = ptrs[j];
    py::gil_scoped_release release;
    kernelkit::cuda::kron_chain_launch(a);
  });
  m.def("spgemm_scratch_peak", &kernelkit::cuda::spgemm_scratch_peak, py::arg("reset") = false);
  m.def("device_count", []() {
    std::string why;
    int n = kernelkit::cuda::device_count(&why);
    return py::make_tuple(n, why);
  });
}
