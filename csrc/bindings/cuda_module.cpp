// kernelkit._cuda: launchers taking device pointers and a stream as integers (CuPy's
// x.data.ptr and cupy.cuda.get_current_stream().ptr). Compiled by the C++ compiler.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

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
  m.def("device_count", []() {
    std::string why;
    int n = kernelkit::cuda::device_count(&why);
    return py::make_tuple(n, why);
  });
}
