"""Quantification metrics of the paper, in max-normalised space (chapter 4).

The paper compares concentrations only up to a scale: for each spectrum the
predicted vector is divided by its own maximum and so is the true vector
(:func:`max_normalise`), then per metabolite

* the mean absolute error (:func:`mae`) and mean signed error
  (:func:`signed_error`),
* the least-squares regression of predicted on true: slope, intercept,
  Pearson r and R^2 = r^2 (:func:`regression`).

Because networks are trained on concentrations divided by their sum, and
phantoms are known in mM, this is the one comparison that is fair to both.
:func:`ratio_errors` adds the errors of the ratios to creatine (GABA/Cr, ...),
the way MRS results are usually reported. :func:`summarise` gathers them all.

All functions take arrays ``[n_spectra, n_metabolites]`` with metabolites in
the order of :data:`mrs_lib.types.METABOLITES` unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import MRSDataError
from .types import METABOLITES


def _as_pair(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.ndim != 2 or p.shape != t.shape:
        raise MRSDataError(
            f"predictions and truth: expected equal shapes [n_spectra, n_metabolites], got "
            f"{p.shape} and {t.shape}"
        )
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise MRSDataError("predictions and truth: expected finite values, got NaN or inf")
    return p, t


def max_normalise(x: Any) -> np.ndarray:
    """Divide each row by its own maximum: ``x[i] / max_j x[i, j]``.

    Rows whose maximum is not positive (an all-zero or all-negative
    prediction) cannot be scaled that way and become all zeros.
    """
    a = np.asarray(x, dtype=np.float64)
    m = a.max(axis=-1, keepdims=True)
    safe = np.where(m > 0, m, 1.0)
    return np.where(m > 0, a / safe, 0.0)


def mae(pred: Any, true: Any, normalise: bool = True) -> np.ndarray:
    """Mean absolute error per metabolite, ``mean_i |p̂_ij - t̂_ij|`` (max-normalised by default)."""
    p, t = _as_pair(pred, true)
    if normalise:
        p, t = max_normalise(p), max_normalise(t)
    return np.abs(p - t).mean(axis=0)


def signed_error(pred: Any, true: Any, normalise: bool = True) -> np.ndarray:
    """Mean signed error per metabolite, ``mean_i (p̂_ij - t̂_ij)`` (positive = overestimate)."""
    p, t = _as_pair(pred, true)
    if normalise:
        p, t = max_normalise(p), max_normalise(t)
    return (p - t).mean(axis=0)


def regression(pred: Any, true: Any, normalise: bool = True) -> dict[str, np.ndarray]:
    """Least-squares fit ``pred = slope * true + intercept`` per metabolite.

    Returns arrays ``slope``, ``intercept``, ``r`` (Pearson correlation) and
    ``r2`` (= r^2, the coefficient of determination of that fit). A metabolite
    whose true values do not vary gets NaN slope and r.
    """
    p, t = _as_pair(pred, true)
    if normalise:
        p, t = max_normalise(p), max_normalise(t)
    tm, pm = t.mean(axis=0), p.mean(axis=0)
    dt, dp = t - tm, p - pm
    stt, spp, stp = (dt * dt).sum(axis=0), (dp * dp).sum(axis=0), (dt * dp).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(stt > 0, stp / np.where(stt > 0, stt, 1.0), np.nan)
        denom = np.sqrt(stt * spp)
        r = np.where(denom > 0, stp / np.where(denom > 0, denom, 1.0), np.nan)
    intercept = pm - slope * tm
    return {"slope": slope, "intercept": intercept, "r": r, "r2": r**2}


def ratio_errors(
    pred: Any,
    true: Any,
    metabolites: Sequence[str] = METABOLITES,
    reference: str = "Cr",
    min_reference: float = 0.05,
) -> dict[str, dict[str, float]]:
    """Errors of the ratios ``m / reference`` (GABA/Cr, ...), which need no normalisation.

    Spectra whose *true* reference concentration is below ``min_reference``
    times the largest true concentration of that spectrum are left out (the
    ratio explodes there). For every metabolite except the reference returns
    ``{"mae", "median_ae", "signed", "n"}`` of ``pred_m/pred_ref - true_m/true_ref``.
    """
    p, t = _as_pair(pred, true)
    names = list(metabolites)
    if reference not in names:
        raise MRSDataError(f"ratio_errors: reference {reference!r} not among metabolites {names}")
    if len(names) != p.shape[1]:
        raise MRSDataError(f"ratio_errors: {len(names)} metabolite names for {p.shape[1]} columns")
    k = names.index(reference)
    keep = t[:, k] >= min_reference * t.max(axis=1)
    keep &= p[:, k] > 0
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        if j == k:
            continue
        err = p[keep, j] / p[keep, k] - t[keep, j] / t[keep, k]
        n = int(err.size)
        out[name] = {
            "mae": float(np.abs(err).mean()) if n else float("nan"),
            "median_ae": float(np.median(np.abs(err))) if n else float("nan"),
            "signed": float(err.mean()) if n else float("nan"),
            "n": n,
        }
    return out


def relative_difference(result: Any, reference: Any, true: Any | None = None) -> np.ndarray:
    """Median ``|result - reference| / reference`` per column: how well two methods agree.

    Chapter 6 compares the built-in LCModel-style fit with real LCModel this way
    (raw concentrations in the same basis units). Rows where the reference is not
    positive or not finite, or where ``true`` (when given) is zero, are left out;
    a column with none left gets NaN.
    """
    a = np.atleast_2d(np.asarray(result, dtype=np.float64))
    b = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    if a.shape != b.shape:
        raise MRSDataError(f"result {a.shape} and reference {b.shape}: expected equal shapes")
    keep = np.isfinite(a) & np.isfinite(b) & (b > 0)
    if true is not None:
        keep &= np.atleast_2d(np.asarray(true, dtype=np.float64)) > 0
    out = np.full(a.shape[1], np.nan)
    for j in range(a.shape[1]):
        k = keep[:, j]
        if k.any():
            out[j] = float(np.median(np.abs(a[k, j] - b[k, j]) / b[k, j]))
    return out


def binned_mae(
    pred: Any, true: Any, values: Any, edges: Any, normalise: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-metabolite MAE within bins of a per-spectrum quantity (SNR, linewidth, ...).

    ``values[i]`` is the quantity of spectrum ``i``; ``edges`` the bin edges
    (``len(edges) - 1`` bins, left-closed, the last also right-closed).
    Returns ``(centres [n_bins], mae [n_bins, n_metabolites], counts
    [n_bins])``; empty bins hold NaN.
    """
    p, t = _as_pair(pred, true)
    if normalise:
        p, t = max_normalise(p), max_normalise(t)
    v = np.asarray(values, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    if v.shape != (p.shape[0],):
        raise MRSDataError(f"binned_mae: expected {p.shape[0]} values, got shape {v.shape}")
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise MRSDataError("binned_mae: expected increasing bin edges (at least two)")
    idx = np.clip(np.searchsorted(e, v, side="right") - 1, 0, e.size - 2)
    inside = (v >= e[0]) & (v <= e[-1])
    err = np.abs(p - t)
    out = np.full((e.size - 1, p.shape[1]), np.nan)
    counts = np.zeros(e.size - 1, dtype=int)
    for b in range(e.size - 1):
        sel = inside & (idx == b)
        counts[b] = int(sel.sum())
        if counts[b]:
            out[b] = err[sel].mean(axis=0)
    return 0.5 * (e[1:] + e[:-1]), out, counts


def summarise(pred: Any, true: Any, metabolites: Sequence[str] = METABOLITES) -> dict[str, Any]:
    """Every metric of the paper as one JSON-ready dict keyed by metabolite.

    Keys: ``metabolites``, ``n``, ``mae``, ``mae_total`` (the model-selection
    objective: sum of the per-metabolite MAEs), ``signed_error``, ``slope``,
    ``intercept``, ``r``, ``r2``, and ``ratio_to_cr`` when Cr is present.
    """
    p, t = _as_pair(pred, true)
    names = [str(m) for m in metabolites]
    if len(names) != p.shape[1]:
        raise MRSDataError(f"summarise: {len(names)} metabolite names for {p.shape[1]} columns")
    m_abs = mae(p, t)
    reg = regression(p, t)

    def per(values: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(names, values, strict=True)}

    out: dict[str, Any] = {
        "metabolites": names,
        "n": int(p.shape[0]),
        "mae": per(m_abs),
        "mae_total": float(m_abs.sum()),
        "signed_error": per(signed_error(p, t)),
        "slope": per(reg["slope"]),
        "intercept": per(reg["intercept"]),
        "r": per(reg["r"]),
        "r2": per(reg["r2"]),
    }
    if "Cr" in names:
        out["ratio_to_cr"] = ratio_errors(p, t, names, "Cr")
    return out


__all__ = [
    "binned_mae",
    "mae",
    "max_normalise",
    "ratio_errors",
    "regression",
    "relative_difference",
    "signed_error",
    "summarise",
]
