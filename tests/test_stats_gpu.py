"""kernelkit.stats on CuPy arrays: the work stays on the GPU and agrees with the CPU path."""
import numpy as np
import pytest

from kernelkit.stats import (mean_direction, vmf_kappa_mle, vmf_log_normalizer,
                             vmf_mean_resultant_length, vonmises_fisher)


@pytest.mark.gpu
def test_gpu_normalizer_ratio_and_mle_match_cpu():
    import cupy as cp

    d = np.array([3, 64, 2048, 32768])[:, None]
    kappa = np.logspace(-3, 7, 21)
    for f in (vmf_log_normalizer, vmf_mean_resultant_length):
        gpu = f(cp.asarray(d), cp.asarray(kappa))
        assert isinstance(gpu, cp.ndarray)
        assert np.allclose(cp.asnumpy(gpu), f(d, kappa), rtol=1e-15, atol=0)
    r = np.concatenate([np.logspace(-6, -0.3, 50), 1 - np.logspace(-12, -0.3, 50)])
    gpu = vmf_kappa_mle(cp.asarray(r), 8192)
    assert isinstance(gpu, cp.ndarray)
    a = vmf_mean_resultant_length(8192, cp.asnumpy(gpu))
    assert np.max(np.abs(a - r) / np.spacing(r)) <= 4


@pytest.mark.gpu
def test_gpu_rvs_fit_logpdf():
    import cupy as cp

    d, kappa = 2048, 1000.0
    mu = np.zeros(d)
    mu[7] = 1.0
    dist = vonmises_fisher(cp.asarray(mu), kappa)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        x = dist.rvs(2000, random_state=0)
        lp = dist.logpdf(x)
    stream.synchronize()
    assert isinstance(x, cp.ndarray) and x.shape == (2000, d)
    assert float(cp.max(cp.abs(cp.linalg.norm(x, axis=1) - 1))) < 1e-14
    mu_hat, kappa_hat = vonmises_fisher.fit(x)
    assert isinstance(mu_hat, cp.ndarray)
    assert abs(kappa_hat / kappa - 1) < 0.02 and 1 - float(mu_hat[7]) < 0.01
    x_host = cp.asnumpy(x)
    cpu = vonmises_fisher(mu, kappa)
    assert np.allclose(cp.asnumpy(lp), cpu.logpdf(x_host), rtol=1e-14)
    mu_cpu, kappa_cpu = vonmises_fisher.fit(x_host)
    assert kappa_hat == pytest.approx(kappa_cpu, rel=1e-12)
    assert np.allclose(cp.asnumpy(mean_direction(x)[0]), mu_cpu, atol=1e-14)
    # The projection on mu has the right mean and spread (A_d and its derivative).
    t = x_host @ mu
    a = float(vmf_mean_resultant_length(d, kappa))
    assert abs(t.mean() - a) < 5 * t.std() / np.sqrt(len(t))
    with pytest.raises(TypeError, match="cupy.random.Generator"):
        dist.rvs(3, random_state=np.random.default_rng(0))
