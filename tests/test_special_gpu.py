"""kernelkit.special on CuPy arrays: the same header run as a CUDA kernel, compared with the CPU."""
import numpy as np
import pytest

import kernelkit.special as ks

NAMES = ["log_iv", "log_kv", "iv", "ive", "kv", "kve", "iv_ratio", "iv_ratio_c"]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_gpu_matches_cpu(name, dtype):
    import cupy as cp

    rng = np.random.default_rng(1)
    v = np.exp(rng.uniform(-3, 9, 20_000)).astype(dtype)
    x = np.exp(rng.uniform(-8, 11, 20_000)).astype(dtype)
    f = getattr(ks, name)
    cpu = f(v, x)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        gpu = f(cp.asarray(v), cp.asarray(x))
    stream.synchronize()
    assert isinstance(gpu, cp.ndarray) and gpu.dtype == dtype
    gpu = cp.asnumpy(gpu)
    assert np.array_equal(np.isnan(cpu), np.isnan(gpu))
    ok = np.isfinite(cpu) & (np.abs(cpu) > np.finfo(dtype).tiny)
    scale = np.maximum(np.abs(cpu[ok]), 1.0) if name.startswith("log") else np.abs(cpu[ok])
    err = np.abs(gpu[ok] - cpu[ok]) / np.spacing(scale.astype(dtype))
    assert err.max() <= 2, worst_points(name, v[ok], x[ok], cpu[ok], gpu[ok], err)


def worst_points(name, v, x, cpu, gpu, err, count=4):
    """The largest CPU/GPU differences, each with both sides' error against mpmath (in ulps of
    the value), so a failure says which side is off and where."""
    import mpmath

    mpmath.mp.dps = 40
    exact = {"log_iv": lambda a, b: mpmath.log(mpmath.besseli(a, b)),
             "log_kv": lambda a, b: mpmath.log(mpmath.besselk(a, b)),
             "kv": mpmath.besselk, "kve": lambda a, b: mpmath.besselk(a, b) * mpmath.exp(b),
             "iv": mpmath.besseli, "ive": lambda a, b: mpmath.besseli(a, b) * mpmath.exp(-b)}
    lines = [f"max {err.max():.0f} ulps between CPU and GPU; worst points:"]
    for i in np.argsort(err)[-count:][::-1]:
        line = f"v={v[i]!r} x={x[i]!r} cpu={cpu[i]!r} gpu={gpu[i]!r} ({err[i]:.0f} ulps)"
        if name in exact:
            ref = exact[name](mpmath.mpf(float(v[i])), mpmath.mpf(float(x[i])))
            ulp = np.spacing(np.abs(cpu[i]))
            line += (f"; vs mpmath: cpu {float((cpu[i] - ref) / ulp):+.1f},"
                     f" gpu {float((gpu[i] - ref) / ulp):+.1f} ulps")
        lines.append(line)
    return "\n".join(lines)


@pytest.mark.gpu
def test_gpu_broadcast_out_and_empty():
    import cupy as cp

    v = cp.arange(4, dtype=cp.float64)
    x = cp.linspace(0.5, 5, 6)[:, None]
    out = cp.empty((6, 4))
    res = ks.kve(v, x, out=out)
    assert res is out
    np.testing.assert_allclose(cp.asnumpy(out), ks.kve(cp.asnumpy(v), cp.asnumpy(x)), rtol=1e-15)
    assert ks.log_iv(cp.empty(0), cp.empty(0)).shape == (0,)
    with pytest.raises(TypeError, match="complex"):
        ks.ive(cp.ones(2, cp.complex128), 1.0)


@pytest.mark.gpu
def test_gpu_python_scalars_do_not_promote_float32():
    import cupy as cp

    x = cp.linspace(0.5, 5, 7, dtype=cp.float32)
    assert ks.log_kv(2.5, x).dtype == cp.float32
    assert ks.log_kv(2.5, x.astype(cp.float64)).dtype == cp.float64
    np.testing.assert_array_equal(cp.asnumpy(ks.log_kv(2.5, x)), ks.log_kv(2.5, cp.asnumpy(x)))
