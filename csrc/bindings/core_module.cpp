// kernelkit._core: the CPU kernels as NumPy ufuncs (so out=, where=, broadcasting and the
// dtype rules are NumPy's own). NumPy releases the GIL around these loops.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <complex>
#include <limits>
#include <tuple>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#include "cpu/kernels.hpp"
#include "cpu/kron.hpp"
#include "cpu/sparse.hpp"
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

// ---- SpGEMM --------------------------------------------------------------------------------
// Python (kernelkit/sparse.py) converts and validates; the checks here are a safety net.

template <class I>
kernelkit::cpu::CsrRef<I> csr_ref(const py::array& indptr, const py::array& indices,
                                  const py::array* data, int64_t rows, int64_t cols,
                                  const char* name) {  // data == nullptr: pattern only
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(std::string(name) + ": " + what);
  };
  for (const py::array* arr : {&indptr, &indices})
    need(arr->ndim() == 1 && (arr->flags() & py::array::c_style) &&
             arr->dtype().is(py::dtype::of<I>()),
         "index arrays must be contiguous 1-D arrays of one integer type");
  need(rows >= 0 && cols >= 0, "negative shape");
  need(indptr.size() == rows + 1, "indptr must have rows + 1 entries");
  kernelkit::cpu::CsrRef<I> r;
  r.rows = rows;
  r.cols = cols;
  r.nnz = indices.size();
  r.indptr = static_cast<const I*>(indptr.data());
  r.indices = static_cast<const I*>(indices.data());
  if (data) {
    need(data->ndim() == 1 && (data->flags() & py::array::c_style) &&
             data->size() == indices.size(),
         "data must be a contiguous 1-D array as long as indices");
    r.data = data->data();
  }
  return r;
}

template <class I, class O, class V>
py::tuple spgemm_fill(kernelkit::sparse::Semiring sr, const kernelkit::cpu::CsrRef<I>& a,
                      const kernelkit::cpu::CsrRef<I>& b, const kernelkit::cpu::CsrRef<I>& mk,
                      const kernelkit::cpu::SpgemmOptions& opt,
                      const kernelkit::cpu::SpgemmPlan& plan, const py::dtype& vdtype) {
  const int64_t bound = plan.offsets.back();
  py::array_t<O> indptr(a.rows + 1), indices(bound);
  py::array data(vdtype, std::vector<py::ssize_t>{bound});
  O* ip = indptr.mutable_data();
  O* ix = indices.mutable_data();
  V* dp = static_cast<V*>(data.mutable_data());
  int64_t nnz;
  {
    py::gil_scoped_release release;
    nnz = kernelkit::cpu::spgemm_numeric<I, O, V>(sr, a, b, mk, opt, plan, ip, ix, dp);
  }
  if (nnz < 0) throw py::type_error("semiring not defined for this value type");
  if (nnz < bound) {  // a bound, or exact zeros were dropped: shrink in place (realloc)
    indices.resize(std::vector<py::ssize_t>{nnz});
    data.resize(std::vector<py::ssize_t>{nnz});
  }
  return py::make_tuple(indptr, indices, data);
}

// phases: 1 = one pass, 2 = symbolic count then numeric fill, 0 = choose. One pass reserves
// C's arrays for the product count, of which only nnz(C) entries are ever written (address
// space, not memory: the peak stays C's); it needs int32 indices to hold the bound when the
// input is int32, a bound well below the machine's memory, no heavy rows (their tables fill
// C's rows in place) and, unless forced, no row long enough to stall the other threads
// (plan.one_pass_ok).
template <class I, class V>
py::tuple spgemm_typed(kernelkit::sparse::Semiring sr, const kernelkit::cpu::CsrRef<I>& a,
                       const kernelkit::cpu::CsrRef<I>& b, const kernelkit::cpu::CsrRef<I>& mk,
                       const kernelkit::cpu::SpgemmOptions& opt, const py::dtype& vdtype,
                       int phases) {
  kernelkit::cpu::SpgemmPlan plan;
  {
    py::gil_scoped_release release;
    plan = kernelkit::cpu::spgemm_plan<I>(a, b, mk, opt);
  }
  const int64_t i32max = std::numeric_limits<int32_t>::max();
  const int64_t bound = plan.offsets.back();
  const bool index32 = std::is_same_v<I, int32_t>;
#if defined(__unix__) || defined(__APPLE__)
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
#else
  const double memory = 0;  // unknown: two phases
#endif
  const double reserve = double(bound) * double((index32 ? 4 : 8) + sizeof(V));
  const bool one_pass = phases == 1 ? plan.heavy_rows.empty() && (!index32 || bound <= i32max)
                                    : phases == 0 && plan.one_pass_ok &&
                                          (!index32 || bound <= i32max) && reserve <= memory / 4;
  if (!one_pass) {
    py::gil_scoped_release release;
    kernelkit::cpu::spgemm_count<I>(a, b, mk, opt, plan);
  }
  if constexpr (index32) {
    if (plan.offsets.back() <= i32max)
      return spgemm_fill<I, int32_t, V>(sr, a, b, mk, opt, plan, vdtype);
  }
  return spgemm_fill<I, int64_t, V>(sr, a, b, mk, opt, plan, vdtype);
}

template <class I>
py::tuple spgemm_index(int semiring, py::array a_indptr, py::array a_indices, py::array a_data,
                       int64_t a_rows, int64_t a_cols, py::array b_indptr, py::array b_indices,
                       py::array b_data, int64_t b_cols, py::object mask, bool complement,
                       bool sort, int64_t heavy_min_products, int phases) {
  using kernelkit::cpu::CsrRef;
  CsrRef<I> a = csr_ref<I>(a_indptr, a_indices, &a_data, a_rows, a_cols, "A");
  CsrRef<I> b = csr_ref<I>(b_indptr, b_indices, &b_data, a_cols, b_cols, "B");
  if (!a_data.dtype().is(b_data.dtype()))
    throw std::invalid_argument("A and B must have the same value dtype");
  kernelkit::cpu::SpgemmOptions opt;
  opt.complement = complement;
  opt.sort = sort;
  opt.heavy_min_products = heavy_min_products;
  CsrRef<I> mk;
  if (!mask.is_none()) {
    auto t = mask.cast<py::tuple>();
    // Must be arrays already: a converted temporary would not outlive this statement.
    if (t.size() != 4 || !py::isinstance<py::array>(t[0]) || !py::isinstance<py::array>(t[1]))
      throw std::invalid_argument("mask must be (indptr, indices, rows, cols) with arrays");
    mk = csr_ref<I>(t[0].cast<py::array>(), t[1].cast<py::array>(), nullptr,
                    t[2].cast<int64_t>(), t[3].cast<int64_t>(), "mask");
    opt.has_mask = true;
  }
  auto sr = static_cast<kernelkit::sparse::Semiring>(semiring);
  py::dtype vd = a_data.dtype();
  switch (vd.num()) {
    case NPY_FLOAT: return spgemm_typed<I, float>(sr, a, b, mk, opt, vd, phases);
    case NPY_DOUBLE: return spgemm_typed<I, double>(sr, a, b, mk, opt, vd, phases);
    case NPY_CFLOAT: return spgemm_typed<I, std::complex<float>>(sr, a, b, mk, opt, vd, phases);
    case NPY_CDOUBLE: return spgemm_typed<I, std::complex<double>>(sr, a, b, mk, opt, vd, phases);
    case NPY_BOOL: return spgemm_typed<I, uint8_t>(sr, a, b, mk, opt, vd, phases);
    default: throw py::type_error("unsupported value dtype");
  }
}

// The GPU SpGEMM run by the block emulator (tests): (indptr int64, indices, data bytes).
template <class I>
py::tuple spgemm_emulate_index(int semiring, int value_code, py::array a_indptr,
                               py::array a_indices, py::array a_data, int64_t m, int64_t k,
                               py::array b_indptr, py::array b_indices, py::array b_data,
                               int64_t n, py::object mask, bool complement, bool sort,
                               int64_t shared_bytes, int64_t workspace_bytes) {
  using kernelkit::cpu::CsrRef;
  CsrRef<I> a = csr_ref<I>(a_indptr, a_indices, &a_data, m, k, "A");
  CsrRef<I> b = csr_ref<I>(b_indptr, b_indices, &b_data, k, n, "B");
  kernelkit::sparse::blocks::Problem<I> p;
  p.m = m;
  p.n = n;
  p.a_indptr = a.indptr, p.a_indices = a.indices, p.a_data = a.data;
  p.b_indptr = b.indptr, p.b_indices = b.indices, p.b_data = b.data;
  py::array mask_indptr, mask_indices;  // keep the arrays alive
  if (!mask.is_none()) {
    auto t = mask.cast<py::tuple>();
    mask_indptr = t[0].cast<py::array>();
    mask_indices = t[1].cast<py::array>();
    CsrRef<I> mk = csr_ref<I>(mask_indptr, mask_indices, nullptr, m, n, "mask");
    p.mask_indptr = mk.indptr, p.mask_indices = mk.indices;
    p.complement = complement;
  }
  kernelkit::cpu::EmulatorConfig cfg;
  cfg.shared_bytes = shared_bytes;
  cfg.workspace_bytes = workspace_bytes;
  kernelkit::cpu::EmulatedCsr<I> c;
  const int64_t nnz[3] = {a.nnz, b.nnz, mask.is_none() ? 0 : int64_t(mask_indices.size())};
  int noncanonical = 0;
  {
    py::gil_scoped_release release;
    noncanonical = kernelkit::cpu::spgemm_emulate<I>(
        static_cast<kernelkit::sparse::Semiring>(semiring), value_code, p, k, nnz, sort, cfg, c);
  }
  if (noncanonical) return py::make_tuple(py::none(), py::none(), py::none(), noncanonical);
  py::array_t<int64_t> indptr(c.indptr.size());
  std::copy(c.indptr.begin(), c.indptr.end(), indptr.mutable_data());
  py::array_t<I> indices(c.indices.size());
  std::copy(c.indices.begin(), c.indices.end(), indices.mutable_data());
  py::array_t<uint8_t> data(c.data.size());
  std::copy(c.data.begin(), c.data.end(), data.mutable_data());
  return py::make_tuple(indptr, indices, data, 0);
}

}  // namespace

// ValueError "<fn>: <what>" unless ok.
void check(bool ok, const char* fn, const char* what) {
  if (!ok) throw std::invalid_argument(std::string(fn) + ": " + what);
}

// ---- kernel sums -------------------------------------------------------------------------
// Python (kernelkit/kernels.py) broadcasts, converts and validates; these checks are a net.

template <class T>
void kernel_sum_typed(int kind, double alpha, double nu, double log_c, bool l1, int reduction,
                      bool exclude_self, const py::array& x, const py::array& x_index,
                      const py::array& y, const py::array& y_index, const py::array& w,
                      const py::array& w_index, const py::array& center, const py::array& scale,
                      const py::array& scales2, py::array& out, int64_t emulate_shared) {
  auto need = [](bool ok, const char* what) { check(ok, "kernel_sum", what); };
  auto contiguous = [](const py::array& a, const py::dtype& dt, py::ssize_t nd) {
    return a.ndim() == nd && (a.flags() & py::array::c_style) && a.dtype().is(dt);
  };
  const auto dt = py::dtype::of<T>(), f8 = py::dtype::of<double>(), i8 = py::dtype::of<int64_t>();
  need(contiguous(x, dt, 3) && contiguous(y, dt, 3) && contiguous(w, dt, 3) &&
           contiguous(out, dt, 4),
       "x, y, w, out must be contiguous arrays of one dtype");
  need(contiguous(x_index, i8, 1) && contiguous(y_index, i8, 1) && contiguous(w_index, i8, 1),
       "index arrays must be contiguous int64");
  need(contiguous(center, f8, 2) && contiguous(scale, f8, 2) && contiguous(scales2, f8, 1),
       "center, scale, scales2 must be contiguous float64");
  kernelkit::cpu::KernelSumArgs<T> a;
  need(kind >= 0 && kind < kernelkit::kernels::kKindCount, "unknown kernel code");
  need(reduction == 0 || reduction == 1, "unknown reduction");
  need(!exclude_self || reduction == 1, "exclude_self needs the logsumexp reduction");
  a.kind = kind;
  a.params.alpha = alpha;
  a.params.nu = nu;
  a.params.log_c = log_c;
  a.l1 = l1;
  a.reduction = static_cast<kernelkit::cpu::Reduction>(reduction);
  a.exclude_self = exclude_self;
  a.batch = out.shape(0);
  a.m = out.shape(1);
  a.nscales = int(out.shape(2));
  a.c = out.shape(3);
  a.n = x.shape(1);
  a.d = x.shape(2);
  need(a.d >= 1 && y.shape(1) == a.m && y.shape(2) == a.d && w.shape(1) == a.n &&
           w.shape(2) == a.c && center.shape(0) == x.shape(0) && center.shape(1) == a.d &&
           scale.shape(0) == a.batch && scale.shape(1) == a.d && scales2.size() == a.nscales &&
           a.nscales >= 1 && x_index.size() == a.batch && y_index.size() == a.batch &&
           w_index.size() == a.batch,
       "inconsistent shapes");
  need(!exclude_self || a.m == a.n, "exclude_self needs as many queries as points");
  const int64_t *xi = static_cast<const int64_t*>(x_index.data()),
                *yi = static_cast<const int64_t*>(y_index.data()),
                *wi = static_cast<const int64_t*>(w_index.data());
  for (int64_t b = 0; b < a.batch; ++b)
    need(xi[b] >= 0 && xi[b] < x.shape(0) && yi[b] >= 0 && yi[b] < y.shape(0) && wi[b] >= 0 &&
             wi[b] < w.shape(0),
         "batch index out of range");
  a.x = static_cast<const T*>(x.data());
  a.y = static_cast<const T*>(y.data());
  a.w = static_cast<const T*>(w.data());
  a.x_index = xi;
  a.y_index = yi;
  a.w_index = wi;
  a.center = static_cast<const double*>(center.data());
  a.scale = static_cast<const double*>(scale.data());
  a.scales2 = static_cast<const double*>(scales2.data());
  a.out = static_cast<T*>(out.mutable_data());
  py::gil_scoped_release release;
  if (emulate_shared <= 0) return kernelkit::cpu::kernel_sum<T>(a);
  // The GPU block programs (one bandwidth scale): the emulator, for the tests.
  if (a.nscales != 1 || scales2.size() != 1 || static_cast<const double*>(scales2.data())[0] != 1.0)
    throw std::invalid_argument("kernel_sum: the GPU path takes one bandwidth scale");
  kernelkit::kernels::blocks::SumProblem<T> p;
  p.n = a.n, p.m = a.m, p.d = a.d, p.c = a.c;
  p.x = a.x, p.x_index = a.x_index, p.y = a.y, p.y_index = a.y_index, p.w = a.w;
  p.w_index = a.w_index, p.center = a.center, p.scale = a.scale, p.params = a.params;
  p.exclude_self = a.exclude_self, p.out = a.out;
  kernelkit::cpu::kernel_sum_emulate<T>(kind, l1, reduction == 1, p, a.batch, emulate_shared);
}

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
  m.def(
      "spgemm",
      [](int semiring, py::array a_indptr, py::array a_indices, py::array a_data, int64_t a_rows,
         int64_t a_cols, py::array b_indptr, py::array b_indices, py::array b_data,
         int64_t b_cols, py::object mask, bool complement, bool sort,
         int64_t heavy_min_products, int phases) {
        if (semiring < 0 || semiring > 5) throw std::invalid_argument("unknown semiring code");
        auto args = std::make_tuple(semiring, a_indptr, a_indices, a_data, a_rows, a_cols,
                                    b_indptr, b_indices, b_data, b_cols, mask, complement, sort,
                                    heavy_min_products, phases);
        if (a_indices.dtype().is(py::dtype::of<int32_t>()))
          return std::apply(spgemm_index<int32_t>, args);
        if (a_indices.dtype().is(py::dtype::of<int64_t>()))
          return std::apply(spgemm_index<int64_t>, args);
        throw py::type_error("index arrays must be int32 or int64");
      },
      "C = A B over a semiring (internal; use kernelkit.sparse.spgemm). Returns (indptr, "
      "indices, data) of C. phases: 0 choose, 1 one pass, 2 symbolic count then fill.");
  m.def(
      "spgemm_emulate",
      [](int semiring, int value_code, py::array a_indptr, py::array a_indices, py::array a_data,
         int64_t m, int64_t k, py::array b_indptr, py::array b_indices, py::array b_data,
         int64_t n, py::object mask, bool complement, bool sort, int64_t shared_bytes,
         int64_t workspace_bytes) {
        if (semiring < 0 || semiring > 5) throw std::invalid_argument("unknown semiring code");
        if (shared_bytes < 64 || workspace_bytes < 0)
          throw std::invalid_argument("shared_bytes >= 64 and workspace_bytes >= 0 needed");
        auto args = std::make_tuple(semiring, value_code, a_indptr, a_indices, a_data, m, k,
                                    b_indptr, b_indices, b_data, n, mask, complement, sort,
                                    shared_bytes, workspace_bytes);
        if (a_indices.dtype().is(py::dtype::of<int32_t>()))
          return std::apply(spgemm_emulate_index<int32_t>, args);
        if (a_indices.dtype().is(py::dtype::of<int64_t>()))
          return std::apply(spgemm_emulate_index<int64_t>, args);
        throw py::type_error("index arrays must be int32 or int64");
      },
      "Test hook: the CUDA SpGEMM's launch sequence and block programs run by the sequential "
      "block emulator. Returns (indptr int64, indices, data bytes, 0), plus_times zeros kept, "
      "or (None, None, None, bits of the inputs not in canonical form).");
  m.def(
      "kernel_sum",
      [](int kind, double alpha, double nu, double log_c, bool l1, int reduction,
         bool exclude_self, py::array x, py::array x_index, py::array y, py::array y_index,
         py::array w, py::array w_index, py::array center, py::array scale, py::array scales2,
         py::array out, int64_t emulate_shared) {
        auto args = std::tie(kind, alpha, nu, log_c, l1, reduction, exclude_self, x, x_index, y,
                             y_index, w, w_index, center, scale, scales2, out, emulate_shared);
        if (x.dtype().is(py::dtype::of<float>())) return std::apply(kernel_sum_typed<float>, args);
        if (x.dtype().is(py::dtype::of<double>())) return std::apply(kernel_sum_typed<double>, args);
        throw py::type_error("kernel_sum: x must be float32 or float64");
      },
      "Batched kernel sums into out (batch, m, nscales, c) (internal; use "
      "kernelkit.kernels.kernel_sum). emulate_shared > 0 runs the CUDA block programs on the "
      "block emulator instead, with that much shared memory per block (tests).",
      py::arg("kind"), py::arg("alpha"), py::arg("nu"), py::arg("log_c"), py::arg("l1"),
      py::arg("reduction"), py::arg("exclude_self"), py::arg("x"), py::arg("x_index"),
      py::arg("y"), py::arg("y_index"), py::arg("w"), py::arg("w_index"), py::arg("center"),
      py::arg("scale"), py::arg("scales2"), py::arg("out"), py::arg("emulate_shared") = 0);
  m.def(
      "kron_chain_emulate",
      [](py::list factors, py::array in, py::array out, int64_t rt, int threads) {
        auto need = [](bool ok, const char* what) { check(ok, "kron_chain_emulate", what); };
        int q = static_cast<int>(factors.size());
        need(q >= 1 && q <= kernelkit::kron::blocks::kMaxChain, "1 to 16 factors");
        need(in.ndim() == 3 && out.ndim() == 3 && (in.flags() & py::array::c_style) &&
                 (out.flags() & py::array::c_style) && in.dtype().is(out.dtype()),
             "in (L, P, R) and out (L, Q, R) must be contiguous, one dtype");
        need(rt >= 1 && threads >= 1, "rt and threads must be >= 1");
        std::vector<py::array> fs;
        int64_t P = 1, Q = 1;
        for (auto f : factors) {
          fs.push_back(f.cast<py::array>());
          need(fs.back().ndim() == 2 && (fs.back().flags() & py::array::c_style) &&
                   fs.back().dtype().is(in.dtype()),
               "factors must be contiguous 2-D arrays of the data's dtype");
          P *= fs.back().shape(1), Q *= fs.back().shape(0);
        }
        need(in.shape(1) == P && out.shape(1) == Q && in.shape(0) == out.shape(0) &&
                 in.shape(2) == out.shape(2),
             "inconsistent shapes");
        auto run = [&](auto zero) {
          using T = decltype(zero);
          kernelkit::kron::blocks::ChainProblem<T> p;
          p.L = in.shape(0), p.R = in.shape(2), p.rt = rt, p.q = q;
          for (int j = 0; j < q; ++j) {
            p.rows[j] = static_cast<int>(fs[j].shape(0));
            p.cols[j] = static_cast<int>(fs[j].shape(1));
            p.factors[j] = static_cast<const T*>(fs[j].data());
          }
          p.in = static_cast<const T*>(in.data());
          p.out = static_cast<T*>(out.mutable_data());
          py::gil_scoped_release release;
          kernelkit::cpu::kron_chain_emulate<T>(p, threads);
        };
        if (in.dtype().is(py::dtype::of<float>())) return run(0.0f);
        if (in.dtype().is(py::dtype::of<double>())) return run(0.0);
        throw py::type_error("kron_chain_emulate: float32 or float64 only");
      },
      "Test hook: the CUDA Kronecker chain kernel's grid run by the block emulator.");
  m.def(
      "kron_mode_product",
      [](py::array a, py::array x, py::array out) {
        auto need = [](bool ok, const char* what) { check(ok, "kron_mode_product", what); };
        auto contiguous = [](const py::array& v, py::ssize_t nd) {
          return v.ndim() == nd && (v.flags() & py::array::c_style);
        };
        need(contiguous(a, 2) && contiguous(x, 3) && contiguous(out, 3),
             "a (r, c), x (L, c, R) and out (L, r, R) must be contiguous");
        need(a.dtype().is(x.dtype()) && a.dtype().is(out.dtype()), "one dtype for all");
        const int64_t r = a.shape(0), c = a.shape(1), L = x.shape(0), R = x.shape(2);
        need(x.shape(1) == c && out.shape(0) == L && out.shape(1) == r && out.shape(2) == R,
             "inconsistent shapes");
        auto run = [&](auto tag) {
          using T = decltype(tag);
          const T* pa = static_cast<const T*>(a.data());
          const T* px = static_cast<const T*>(x.data());
          T* po = static_cast<T*>(out.mutable_data());
          py::gil_scoped_release release;
          kernelkit::cpu::mode_product<T>(pa, r, c, px, po, L, R);
        };
        if (a.dtype().is(py::dtype::of<float>())) return run(float{});
        if (a.dtype().is(py::dtype::of<double>())) return run(double{});
        throw py::type_error("kron_mode_product: float32 or float64");
      },
      "out[l, i, s] = sum_j a[i, j] x[l, j, s] (internal; use kernelkit.kron).");
  m.def(
      "kron_mode_chain",
      [](py::list factors, py::array x, py::array out, int64_t rt) {
        auto need = [](bool ok, const char* what) { check(ok, "kron_mode_chain", what); };
        const int nf = int(factors.size());
        need(nf >= 1 && x.ndim() == nf + 2 && out.ndim() == nf + 2 &&
                 (x.flags() & py::array::c_style) && (out.flags() & py::array::c_style) &&
                 x.dtype().is(out.dtype()),
             "x (L, c..., R) and out (L, r..., R) must be contiguous, one dtype");
        std::vector<py::array> fs;
        std::vector<int64_t> r(nf), c(nf);
        for (int f = 0; f < nf; ++f) {
          fs.push_back(factors[f].cast<py::array>());
          need(fs[f].ndim() == 2 && (fs[f].flags() & py::array::c_style) &&
                   fs[f].dtype().is(x.dtype()),
               "factors must be contiguous 2-D arrays of x's dtype");
          r[f] = fs[f].shape(0);
          c[f] = fs[f].shape(1);
          need(x.shape(f + 1) == c[f] && out.shape(f + 1) == r[f], "inconsistent shapes");
        }
        const int64_t L = x.shape(0), R = x.shape(nf + 1);
        need(out.shape(0) == L && out.shape(nf + 1) == R, "inconsistent shapes");
        auto run = [&](auto tag) {
          using T = decltype(tag);
          std::vector<const T*> pa(nf);
          for (int f = 0; f < nf; ++f) pa[f] = static_cast<const T*>(fs[f].data());
          const T* px = static_cast<const T*>(x.data());
          T* po = static_cast<T*>(out.mutable_data());
          py::gil_scoped_release release;
          kernelkit::cpu::mode_chain<T>(nf, pa.data(), r.data(), c.data(), px, po, L, R, rt);
        };
        if (x.dtype().is(py::dtype::of<float>())) return run(float{});
        if (x.dtype().is(py::dtype::of<double>())) return run(double{});
        throw py::type_error("kron_mode_chain: float32 or float64");
      },
      "Consecutive modes in one pass, rt trailing values per block (0: all; internal, use "
      "kernelkit.kron).",
      py::arg("factors"), py::arg("x"), py::arg("out"), py::arg("rt") = 0);
}
