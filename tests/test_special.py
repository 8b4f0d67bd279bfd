"""kernelkit.special: accuracy against mpmath, identities, the edge-value contract, ufunc rules."""
import pathlib

import numpy as np
import pytest
import scipy.special as sc

pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kernelkit.special as ks

DATA = pathlib.Path(__file__).parent / "data" / "bessel_ref.npz"
EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def ref():
    d = np.load(DATA)
    return {k: d[k] for k in d.files}


def log_ulps(y, hi, lo):
    """|y - (hi + lo)| in ULPs of max(|ref|, 1), the measure for log functions."""
    return np.abs((y - hi) - lo) / np.spacing(np.maximum(np.abs(hi), 1.0))


def value_ulps(y, r):
    """|y - r| in ULPs of r (r correctly rounded), only where r is a normal number."""
    ok = np.isfinite(r) & (np.abs(r) >= np.finfo(np.float64).tiny)
    return np.abs(y[ok] - r[ok]) / np.spacing(np.abs(r[ok]))


# ---------------------------------------------------------------- accuracy vs mpmath

# Bounds this implementation is held to on the reference set (float64, v <= 1e4,
# x in [1e-8, 1e5]); the README table reports median / p99.9 / max per region.
LOG_MAX_ULP = 4
VALUE_MAX_ULP = 8
RATIO_MAX_ULP = 4


def _in_issue_box(r):
    return (r["v"] <= 1e4) & (r["x"] >= 1e-8) & (r["x"] <= 1e5) & (r["group"] != "extreme")


@pytest.mark.parametrize("name", ["log_iv", "log_kv"])
def test_log_functions_match_mpmath(ref, name):
    key = "logi" if name == "log_iv" else "logk"
    m = _in_issue_box(ref)
    y = getattr(ks, name)(ref["v"][m], ref["x"][m])
    err = log_ulps(y, ref[key + "_hi"][m], ref[key + "_lo"][m])
    worst = np.argmax(err)
    assert err.max() <= LOG_MAX_ULP, (name, err.max(), ref["v"][m][worst], ref["x"][m][worst])


@pytest.mark.parametrize("name", ["iv", "ive", "kv", "kve"])
def test_dropins_match_mpmath(ref, name):
    m = _in_issue_box(ref)
    with np.errstate(over="ignore"):  # iv and kve overflow where the reference does too
        y = getattr(ks, name)(ref["v"][m], ref["x"][m])
    err = value_ulps(y, ref[name][m])
    assert err.size > 100
    assert err.max() <= VALUE_MAX_ULP, (name, err.max())


@pytest.mark.parametrize("name", ["iv_ratio", "iv_ratio_c"])
def test_ratios_match_mpmath(ref, name):
    key = "ratio" if name == "iv_ratio" else "ratio_c"
    m = _in_issue_box(ref) & np.isfinite(ref[key])
    y = getattr(ks, name)(ref["v"][m], ref["x"][m])
    err = value_ulps(y, ref[key][m])
    assert err.size > 100
    assert err.max() <= RATIO_MAX_ULP, (name, err.max())


def test_extreme_orders_and_arguments(ref):
    """Orders to 1e8, arguments 1e-300..1e300: finite logs, relative error <= 1e-14."""
    m = ref["group"] == "extreme"
    assert m.sum() > 20
    for name, key in (("log_iv", "logi"), ("log_kv", "logk")):
        y = getattr(ks, name)(ref["v"][m], ref["x"][m])
        expect = ref[key + "_hi"][m]
        assert np.all(np.isfinite(y)), name
        np.testing.assert_allclose(y, expect, rtol=1e-14, atol=1e-14, err_msg=name)


def test_float32_is_double_rounded():
    rng = np.random.default_rng(7)
    v = np.concatenate([rng.uniform(0, 30, 4000), np.exp(rng.uniform(0, 9, 4000))]).astype(np.float32)
    x = np.exp(rng.uniform(np.log(1e-6), np.log(1e4), v.size)).astype(np.float32)
    for f in (ks.log_iv, ks.log_kv, ks.ive, ks.kve, ks.iv_ratio, ks.iv_ratio_c):
        y32 = f(v, x)
        assert y32.dtype == np.float32
        y64 = f(v.astype(np.float64), x.astype(np.float64))
        ok = np.isfinite(y64) & (np.abs(y64) >= np.finfo(np.float32).tiny) & (np.abs(y64) < 3e38)
        scale = np.maximum(np.abs(y64[ok]), 1.0) if f in (ks.log_iv, ks.log_kv) else np.abs(y64[ok])
        err = np.abs(y32[ok] - y64[ok]) / np.spacing(scale.astype(np.float32)).astype(np.float64)
        assert err.max() <= 1.0, (f.__name__, err.max())


def test_agrees_with_scipy_at_small_order():
    # SciPy is itself off by up to ~1e-13 here (e.g. kve(0.183, 1.84): 400 ULP vs mpmath).
    rng = np.random.default_rng(3)
    v = rng.uniform(0, 5, 3000)
    x = np.exp(rng.uniform(np.log(1e-3), np.log(500), 3000))
    for name in ("iv", "ive", "kv", "kve"):
        np.testing.assert_allclose(getattr(ks, name)(v, x), getattr(sc, name)(v, x), rtol=1e-12)


def test_negative_order_reflection_matches_scipy():
    rng = np.random.default_rng(5)
    v = -rng.uniform(0, 6, 2000)
    x = np.exp(rng.uniform(np.log(1e-2), np.log(50), 2000))
    expect = sc.iv(v, x)
    got = ks.iv(v, x)
    # reflection can cancel; compare relative to the size of the two reflected terms
    scale = sc.iv(-v, x) + (2 / np.pi) * np.abs(np.sin(np.pi * v)) * sc.kv(-v, x)
    assert np.all(np.abs(got - expect) <= 1e-13 * scale)
    np.testing.assert_allclose(ks.kv(v, x), sc.kv(-v, x), rtol=1e-13)
    pos = expect > 0
    np.testing.assert_allclose(ks.log_iv(v[pos], x[pos]), np.log(expect[pos]), rtol=1e-12, atol=1e-12)
    assert np.all(np.isnan(ks.log_iv(v[expect < 0], x[expect < 0])))


# ---------------------------------------------------------------- identities (property tests)

orders = st.floats(0.0, 3000.0)
args = st.floats(1e-6, 1e4)


@given(orders, args)
def test_log_ive_is_log_iv_minus_x(v, x):
    y = ks.ive(v, x)
    if np.finfo(np.float64).tiny < y < np.inf:
        lhs = np.log(y)
        rhs = ks.log_iv(v, x) - x
        assert abs(lhs - rhs) <= 8 * EPS * max(1.0, abs(ks.log_iv(v, x)), x)


@given(st.floats(1.0, 3000.0), args)
def test_wronskian(v, x):
    # I_v K_{v+1} + I_{v+1} K_v = 1/x, each product formed in log space
    a = ks.log_iv(v, x) + ks.log_kv(v + 1, x) + np.log(x)
    b = ks.log_iv(v + 1, x) + ks.log_kv(v, x) + np.log(x)
    total = np.exp(a) + np.exp(b)
    scale = max(abs(ks.log_iv(v, x)), abs(ks.log_kv(v, x)), 1.0)
    assert abs(total - 1.0) <= 16 * EPS * scale


@given(st.floats(1.0, 3000.0), args)
def test_recurrence_k(v, x):
    # K_{v+1} = K_{v-1} + (2v/x) K_v: all terms positive, so a relative check is fair
    l_m, l_0, l_p = ks.log_kv(v - 1, x), ks.log_kv(v, x), ks.log_kv(v + 1, x)
    rhs = np.logaddexp(l_m, l_0 + np.log(2 * v / x))
    assert abs(l_p - rhs) <= 16 * EPS * max(abs(l_p), 1.0)


@given(st.floats(1.0, 3000.0), args)
def test_recurrence_i_ratio(v, x):
    # 1/R_v = 2v/x + R_{v+1} with R_v = I_v / I_{v-1}
    lhs = 1.0 / ks.iv_ratio(v, x)
    rhs = 2 * v / x + ks.iv_ratio(v + 1, x)
    assert abs(lhs - rhs) <= 16 * EPS * abs(lhs)


@given(st.floats(0.0, 3000.0), st.floats(1e-6, 1e6))
def test_ratio_and_complement_sum_to_one(v, x):
    r, c = ks.iv_ratio(v, x), ks.iv_ratio_c(v, x)
    assert abs(r + c - 1.0) <= 4 * EPS * max(1.0, abs(r))


# ---------------------------------------------------------------- edge-value contract

inf, nan = np.inf, np.nan
EDGE_CASES = [
    # (v, x, log_iv, log_kv, iv, ive, kv, kve, iv_ratio, iv_ratio_c)
    (nan, 1.0, nan, nan, nan, nan, nan, nan, nan, nan),
    (1.0, nan, nan, nan, nan, nan, nan, nan, nan, nan),
    (0.0, 0.0, 0.0, inf, 1.0, 1.0, inf, inf, inf, -inf),
    (2.5, 0.0, -inf, inf, 0.0, 0.0, inf, inf, 0.0, 1.0),
    (-0.5, 0.0, inf, inf, inf, inf, inf, inf, nan, nan),
    (-1.5, 0.0, nan, inf, -inf, -inf, inf, inf, nan, nan),
    (3.0, inf, inf, -inf, inf, 0.0, 0.0, 0.0, 1.0, 0.0),
    (-2.5, inf, inf, -inf, inf, 0.0, 0.0, 0.0, nan, nan),
    (2.0, -3.0, ks.log_iv(2.0, 3.0), nan, ks.iv(2.0, 3.0), ks.ive(2.0, 3.0), nan, nan, nan, nan),
    (3.0, -3.0, nan, nan, -ks.iv(3.0, 3.0), -ks.ive(3.0, 3.0), nan, nan, nan, nan),
    (2.5, -3.0, nan, nan, nan, nan, nan, nan, nan, nan),
    (-3.0, 2.0, ks.log_iv(3.0, 2.0), ks.log_kv(3.0, 2.0), ks.iv(3.0, 2.0), ks.ive(3.0, 2.0),
     ks.kv(3.0, 2.0), ks.kve(3.0, 2.0), nan, nan),
    (inf, 2.0, -inf, inf, 0.0, 0.0, inf, inf, nan, nan),
]
NAMES = ["log_iv", "log_kv", "iv", "ive", "kv", "kve", "iv_ratio", "iv_ratio_c"]


@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: f"v={c[0]},x={c[1]}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_edge_contract(case, dtype):
    v, x = dtype(case[0]), dtype(case[1])
    for name, expect in zip(NAMES, case[2:]):
        got = getattr(ks, name)(v, x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, dtype(expect), rtol=2e-7 if dtype == np.float32 else 0,
                                   err_msg=f"{name}({v}, {x})")


# (function, v, x, kernelkit, scipy 1.17): every documented difference, nothing else
SCIPY_DIFFERENCES = [
    ("iv", 3.0, inf, inf, nan), ("ive", 3.0, inf, 0.0, nan), ("kve", 3.0, inf, 0.0, nan),
    ("iv", -2.5, inf, inf, nan), ("ive", -2.5, inf, 0.0, nan), ("kve", -2.5, inf, 0.0, nan),
    ("ive", 2.0, -inf, 0.0, nan), ("iv", 2.0, -inf, inf, nan),
    ("iv", -1.5, 0.0, -inf, inf), ("ive", -1.5, 0.0, -inf, nan), ("ive", -0.5, 0.0, inf, nan),
    ("kv", inf, 2.0, inf, nan), ("kve", inf, 2.0, inf, nan), ("kve", -inf, 2.0, inf, nan),
    ("ive", inf, 2.0, 0.0, nan),
]


@pytest.mark.parametrize("case", SCIPY_DIFFERENCES, ids=lambda c: f"{c[0]}({c[1]},{c[2]})")
def test_documented_differences_from_scipy(case):
    name, v, x, ours, theirs = case
    np.testing.assert_array_equal(getattr(ks, name)(v, x), ours)
    np.testing.assert_array_equal(getattr(sc, name)(v, x), theirs)


def test_same_as_scipy_elsewhere_on_the_contract_table():
    documented = {(c[0], c[1], c[2]) for c in SCIPY_DIFFERENCES}
    for case in EDGE_CASES:
        v, x = case[0], case[1]
        for name in ("iv", "ive", "kv", "kve"):
            if (name, v, x) not in documented:
                np.testing.assert_allclose(getattr(ks, name)(v, x), getattr(sc, name)(v, x),
                                           rtol=1e-14, err_msg=f"{name}({v}, {x})")


# ---------------------------------------------------------------- NumPy ufunc behaviour

@pytest.mark.parametrize("name", NAMES)
def test_docstring_examples_run(name):
    import doctest

    f = getattr(ks, name)
    assert "Edge-value contract" in f.__doc__
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    parsed = doctest.DocTestParser().get_doctest(f.__doc__, {}, name, None, 0)
    runner.run(parsed)
    assert parsed.examples and runner.failures == 0


def test_is_a_real_ufunc_with_out_and_where():
    assert isinstance(ks.ive.ufunc, np.ufunc)
    assert ks.ive.nin == 2 and ks.ive.nout == 1
    assert ks.ive.types == ["ff->f", "dd->d"]
    v = np.array([0.0, 1.0, 2.0])
    x = np.array([[1.0], [2.0]])
    out = np.full((2, 3), -1.0)
    res = ks.ive(v, x, out=out, where=np.array([True, False, True]))
    assert res is out
    np.testing.assert_array_equal(out[:, 1], [-1.0, -1.0])
    np.testing.assert_allclose(out[:, [0, 2]], sc.ive(v[[0, 2]], x), rtol=1e-14)


def test_dtype_rules_follow_numpy():
    f32 = np.ones(3, np.float32)
    assert ks.log_iv(f32, f32).dtype == np.float32
    assert ks.log_iv(f32, np.ones(3)).dtype == np.float64
    assert ks.log_iv(2.5, f32).dtype == np.float32  # Python scalars are weak (NumPy 2)
    assert ks.log_iv(np.arange(3), np.arange(1, 4)).dtype == np.float64
    assert ks.log_iv(np.float16(1), np.float16(2)).dtype == np.float32
    assert isinstance(ks.kv(1.0, 2.0), np.float64)
    np.testing.assert_allclose(ks.kv([1, 2], 2.0), sc.kv([1, 2], 2.0), rtol=1e-14)


def test_empty_and_noncontiguous_inputs():
    assert ks.kve(np.empty(0), np.empty(0)).shape == (0,)
    assert ks.kve(np.empty((3, 0)), 1.0).shape == (3, 0)
    x = np.linspace(0.5, 50, 200)[::3]
    v = np.linspace(0, 40, 200)[::-3]
    np.testing.assert_array_equal(ks.log_kv(v, x), ks.log_kv(v.copy(), x.copy()))


def test_bad_input_raises_like_a_ufunc():
    with pytest.raises(ValueError):
        ks.iv(np.ones(3), np.ones(4))
    with pytest.raises(TypeError):
        ks.iv(np.array(["a"], dtype=object), 1.0)
    with pytest.raises(TypeError, match="complex"):
        ks.ive(1.0, 1.0 + 2j)
    with pytest.raises(TypeError, match="complex"):
        ks.log_kv(np.ones(2, np.complex128), 1.0)
    with pytest.raises(TypeError):
        ks.iv(1.0)


def test_no_spurious_floating_point_flags():
    """Intermediate overflow or invalid operations would surface as NumPy warnings."""
    rng = np.random.default_rng(0)
    n = 20_000
    v = np.concatenate([rng.uniform(0, 25, n), np.exp(rng.uniform(np.log(1e-3), np.log(1e8), n))])
    x = np.concatenate([np.exp(rng.uniform(-10, 10, n)),
                        np.exp(rng.uniform(np.log(1e-300), np.log(1e300), n))])
    for name in NAMES:
        f = getattr(ks, name)
        with np.errstate(all="ignore"):
            finite = np.isfinite(f(v, x))
        with np.errstate(all="raise", under="ignore"):
            f(v[finite], x[finite])


def test_large_parallel_call_matches_elementwise():
    rng = np.random.default_rng(11)
    v = np.exp(rng.uniform(-3, 9, 50_000))
    x = np.exp(rng.uniform(-8, 11, 50_000))
    y = ks.log_iv(v, x)
    idx = rng.integers(0, v.size, 200)
    np.testing.assert_array_equal(y[idx], [ks.log_iv(v[i], x[i]) for i in idx])


def test_debye_term_tiers_follow_the_bounds():
    """Each tier of KK_DEBYE_TIERS keeps the first omitted Debye term below 2e-18."""
    import re

    src = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "include" / "kernelkit" / "special"
    coeffs = (src / "bessel_coeffs.hpp").read_text()
    bound = {int(k): float(b) for k, b in
             re.findall(r"struct debye<(\d+)> \{\s*static constexpr double bound = ([0-9.e+-]+);",
                        coeffs)}
    macro = (src / "log_bessel.hpp").read_text().split("#define KK_DEBYE_TIERS(CALL)")[1]
    macro = macro.split("\n\n")[0]
    tiers = re.findall(r"v < ([0-9.e+]+) \? CALL\((\d+)\)", macro)
    last = int(re.findall(r": CALL\((\d+)\)\)", macro)[0])
    starts = [20.0] + [float(v) for v, _ in tiers]
    terms = [int(k) for _, k in tiers] + [last]
    assert len(bound) == 17 and len(terms) == len(starts)
    for v0, k in zip(starts, terms):
        assert bound[k + 1] / v0 ** (k + 1) < 2e-18, (v0, k)


def test_ratio_at_tiny_argument_and_order():
    """Where 2v/x overflows or 1 + g = I_{v-1}/I_v cancels, the ratio stays finite and right."""
    # v >= 1, x -> 0: I_v / I_{v-1} = x / (2v) (1 + O(x^2))
    assert ks.iv_ratio(2.5, 1e-200) == 0.5 * 1e-200 / 2.5
    assert ks.iv_ratio_c(2.5, 1e-200) == 1.0
    # v = 0: I_0 / I_1 = 2/x
    assert ks.iv_ratio(0.0, 1e-200) == 2e200
    # tiny v: I_{v-1} = I_{1-v} + 2 v K_{1-v} (reflection) ~ x/2 + 2v/x, I_v ~ 1
    v, x = 1e-65, 1.4e-42
    expect = 1.0 / (0.5 * x + 2 * v / x)
    np.testing.assert_allclose(ks.iv_ratio(v, x), expect, rtol=1e-12)
    np.testing.assert_allclose(ks.iv_ratio_c(v, x), 1 - expect, rtol=1e-12)
    # 0 < v < 1 below 1e-150 goes through the logs
    np.testing.assert_allclose(ks.iv_ratio(0.3, 1e-200), 1e-200 / 0.6, rtol=1e-12)


@pytest.mark.parametrize("kind", [1.0, -1.0])
def test_streamlined_debye_log_matches_the_general_path(kind):
    """The plain-double / lighter double-double route of log_iv, log_kv for v >= 20 stays
    within 1 ULP of the general double-double route on a dense scan of both branches."""
    from kernelkit import _core

    rng = np.random.default_rng(17)
    n = 200_000
    v = np.exp(rng.uniform(np.log(20.0), np.log(1e8), n))
    x = v * np.exp(rng.uniform(-8.0, 3.0, n))  # x/v from 3e-4 to 20: every branch
    x[::4] = np.exp(rng.uniform(np.log(1e-300), np.log(1e150), n // 4))
    fast, general = _core._debye_log_both_paths(v, x, kind)
    err = np.abs(fast - general) / np.spacing(np.maximum(np.abs(general), 1.0))
    assert err.max() <= 1.0, (err.max(), v[np.argmax(err)], x[np.argmax(err)])


def test_dropins_out_of_range_at_huge_order_and_argument():
    """x >> v >> 1: I_v(x) e^{-x} ~ exp(-v^2 / 2x) / sqrt(2 pi x) underflows, K e^x overflows."""
    v, x = 2.6e41, 9.9e66  # v^2 / (2x) = 3.4e15
    assert ks.ive(v, x) == 0.0 and ks.kve(v, x) == np.inf
    assert ks.iv(v, x) == np.inf and ks.kv(v, x) == 0.0
    np.testing.assert_allclose(ks.log_iv(v, x), x - v * v / (2 * x) - 0.5 * np.log(2 * np.pi * x),
                               rtol=1e-15)
    v, x = 1e8, 1e30  # v^2 / (2x) tiny: the values are ~ 1/sqrt(2 pi x) and sqrt(pi / 2x)
    np.testing.assert_allclose(ks.ive(v, x), 1 / np.sqrt(2 * np.pi * x), rtol=1e-14)
    np.testing.assert_allclose(ks.kve(v, x), np.sqrt(np.pi / (2 * x)), rtol=1e-14)
