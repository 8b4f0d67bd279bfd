// kernelkit._core: the CPU kernels as NumPy ufuncs (so out=, where=, broadcasting and the
// dtype rules are NumPy's own). NumPy releases the GIL around these loops.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#include "cpu/special.hpp"

namespace py = pybind11;
using kernelkit::cpu::BesselFn;

namespace {

template <int F, class T>
void bessel_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) noexcept {
  kernelkit::cpu::bessel_strided<T>(static_cast<BesselFn>(F), args[0], steps[0], args[1],
                                    steps[1], args[2], steps[2], dims[0]);
}

// Static storage: NumPy keeps pointers to these for the life of the ufunc.
constexpr int kNumFn = kernelkit::cpu::kBesselFnCount;
PyUFuncGenericFunction loops[kNumFn][2];
void* loop_data[kNumFn][2] = {};
char loop_types[6] = {NPY_FLOAT, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char* names[kNumFn] = {"log_iv", "log_kv", "iv", "ive", "kv", "kve", "iv_ratio", "iv_ratio_c"};

template <int... F>
void fill_loops(std::integer_sequence<int, F...>) {
  ((loops[F][0] = &bessel_loop<F, float>, loops[F][1] = &bessel_loop<F, double>), ...);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "kernelkit CPU kernels (internal; use kernelkit.special)";
  if (_import_array() < 0) throw py::error_already_set();
  if (_import_umath() < 0) throw py::error_already_set();
  fill_loops(std::make_integer_sequence<int, kNumFn>{});
  for (int f = 0; f < kNumFn; ++f) {
    PyObject* uf = PyUFunc_FromFuncAndData(loops[f], loop_data[f], loop_types, 2, 2, 1,
                                           PyUFunc_None, names[f],
                                           "kernelkit Bessel ufunc (see kernelkit.special)", 0);
    if (!uf) throw py::error_already_set();
    m.add_object(names[f], py::reinterpret_steal<py::object>(uf));
  }
  m.def("max_threads", &kernelkit::cpu::max_threads,
        "OpenMP threads a parallel region would use now (1 without OpenMP).");
  m.def(
      "_debye_log_both_paths",
      [](py::array_t<double, py::array::c_style | py::array::forcecast> v,
         py::array_t<double, py::array::c_style | py::array::forcecast> x, double kind) {
        if (v.ndim() != 1 || x.ndim() != 1 || v.size() != x.size())
          throw std::invalid_argument("v and x must be 1-D arrays of the same length");
        py::array_t<double> a(v.size()), b(v.size());
        const double *pv = v.data(), *px = x.data();
        double *pa = a.mutable_data(), *pb = b.mutable_data();
        {
          py::gil_scoped_release release;
          kernelkit::cpu::debye_log_both_paths(pv, px, kind, pa, pb, v.size());
        }
        return py::make_tuple(a, b);
      },
      "Test hook: (streamlined, general) log I (kind=+1) or log K (kind=-1) for v >= 20.");
}
