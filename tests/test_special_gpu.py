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
    assert err.max() <= 2, err.max()


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
