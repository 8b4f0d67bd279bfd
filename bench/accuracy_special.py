"""Accuracy of kernelkit.special (and SciPy, for comparison) against the mpmath reference set.

python bench/accuracy_special.py   -> the README's accuracy table (Markdown)

Errors in ULPs: for log_iv/log_kv of max(|log|, 1); for the values and ratios of the value,
counted where the reference is a normal double. Points: tests/data/bessel_ref.npz (made by
tests/data/make_bessel_ref.py), restricted to v <= 1e4, x in [1e-8, 1e5].
"""
import pathlib

import numpy as np
import scipy.special as sc

import kernelkit.special as ks

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "bessel_ref.npz"


def errors(name, r, impl):
    v, x = r["v"], r["x"]
    with np.errstate(all="ignore"):
        if name in ("log_iv", "log_kv"):
            key = "logi" if name == "log_iv" else "logk"
            hi, lo = r[key + "_hi"], r[key + "_lo"]
            if impl is ks:
                y = getattr(ks, name)(v, x)
            else:  # SciPy has no log functions: log of the scaled function
                y = np.log(sc.ive(v, x)) + x if name == "log_iv" else np.log(sc.kve(v, x)) - x
            return np.abs((y - hi) - lo) / np.spacing(np.maximum(np.abs(hi), 1.0))
        key = {"iv_ratio": "ratio", "iv_ratio_c": "ratio_c"}.get(name, name)
        ref = r[key]
        if impl is ks:
            y = getattr(ks, name)(v, x)
        elif name in ("iv_ratio", "iv_ratio_c"):
            q = sc.ive(v, x) / sc.ive(v - 1, x)
            y = q if name == "iv_ratio" else 1 - q
        else:
            y = getattr(sc, name)(v, x)
        ok = np.isfinite(ref) & (np.abs(ref) >= np.finfo(float).tiny)
        e = np.full(v.shape, np.nan)
        e[ok] = np.abs(y[ok] - ref[ok]) / np.spacing(np.abs(ref[ok]))
        return e


def summary(e):
    """median / p99.9 / max, or the count of points where the result was not finite."""
    if np.isfinite(e).all():
        return f"{np.median(e):.2g} / {np.quantile(e, 0.999):.3g} / {e.max():.3g}"
    return f"{np.median(e):.2g} / - / inf ({(~np.isfinite(e)).sum()} inf or NaN)"


def main():
    d = np.load(DATA)
    r = {k: d[k] for k in d.files}
    box = (r["v"] <= 1e4) & (r["x"] >= 1e-8) & (r["x"] <= 1e5) & (r["group"] != "extreme")
    r = {k: a[box] for k, a in r.items()}
    regions = {
        "v < 20": r["v"] < 20,
        "20 <= v <= 1e4": r["v"] >= 20,
        "near log = 0": r["group"] == "logzero",
        "all": np.ones(r["v"].size, bool),
    }
    print(f"{r['v'].size} reference points (mpmath, 50 and 80 digits agreeing)\n")
    print("| function | region | points | kernelkit median / p99.9 / max (ULP) "
          "| SciPy median / p99.9 / max (ULP) |")
    print("|---|---|---:|---|---|")
    for name in ("log_iv", "log_kv", "iv", "ive", "kv", "kve", "iv_ratio", "iv_ratio_c"):
        ours, theirs = errors(name, r, ks), errors(name, r, sc)
        for label, m in regions.items():
            a, b = ours[m], theirs[m]
            keep = ~np.isnan(a)
            if keep.sum() == 0:
                continue
            print(f"| {name} | {label} | {keep.sum()} | {summary(a[keep])} | {summary(b[keep])} |")


if __name__ == "__main__":
    main()
