"""Calibrating an ensemble's spread: conformal scale factors per metabolite and level.

The raw spread of a deep ensemble (the standard deviation over the members)
is not a calibrated standard error: members trained on the same simulator
share their biases, so the spread is usually too small. On held-out simulated
spectra (a seed used neither for training nor for model selection) the
normalised error ``|mean - truth| / spread`` is computed per metabolite; its
empirical quantile at nominal level ``p`` (with the split-conformal finite
sample correction ``ceil((n + 1) p) / n``, Angelopoulos & Bates 2023) is the
factor ``q_p`` such that ``mean +- q_p spread`` contains the truth a fraction
``p`` of the time. The calibrated standard deviation is ``q_0.68 x spread``;
the 95 % interval is ``mean +- q_0.95 x spread``. A second, independent
held-out set checks the coverage (:func:`coverage`, :func:`reliability`).

Two quantities are calibrated: the sum-normalised fractions the networks
output (all five metabolites) and the ratios to Cr (per member, then mean and
spread), the latter on spectra whose true Cr fraction is at least
:data:`MIN_CR_FRACTION` (a ratio to a vanishing Cr carries no information).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import MRSDataError
from ..types import METABOLITES

#: nominal levels stored in a calibration (the reliability diagram's x axis)
LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.7, 0.8, 0.9, 0.95, 0.99)
#: ratio calibration and checks use spectra whose true Cr fraction is at least this
MIN_CR_FRACTION = 0.05
#: floor on the spread (fractions), so that a normalised error is never a division by zero
SPREAD_FLOOR = 1e-6


def member_stats(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 1) over the first axis of ``[members, n, k]``."""
    m = np.asarray(members, dtype=float)
    if m.ndim != 3 or m.shape[0] < 2:
        raise MRSDataError(f"member predictions: expected [members >= 2, n, k], got {m.shape}")
    return m.mean(axis=0), np.maximum(m.std(axis=0, ddof=1), SPREAD_FLOOR)


def ratio_members(members: np.ndarray, cr_index: int) -> np.ndarray:
    """Per-member ratios to Cr ``[members, n, k - 1]`` (Cr's column left out)."""
    m = np.asarray(members, dtype=float)
    cr = m[..., cr_index : cr_index + 1]
    others = np.delete(m, cr_index, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(cr) > 1e-9, others / cr, np.nan)


def conformal_quantile(scores: np.ndarray, level: float) -> np.ndarray:
    """Split-conformal quantile per column of ``scores[n, k]``: the ``ceil((n + 1) level)``-th
    smallest finite score (the largest when that rank exceeds ``n``)."""
    s = np.asarray(scores, dtype=float)
    if not 0.0 < level < 1.0:
        raise MRSDataError(f"calibration level: expected a number in (0, 1), got {level}")
    out = np.empty(s.shape[1])
    for j in range(s.shape[1]):
        col = np.sort(s[np.isfinite(s[:, j]), j])
        n = col.size
        if n < 10:
            raise MRSDataError(
                f"calibration, column {j}: expected at least 10 finite scores, got {n}"
            )
        rank = min(math.ceil((n + 1) * level), n)
        out[j] = col[rank - 1]
    return out


def fit_calibration(
    mean: np.ndarray,
    sd: np.ndarray,
    truth: np.ndarray,
    names: Sequence[str],
    levels: Sequence[float] = LEVELS,
) -> dict[str, Any]:
    """Per-name conformal factors ``{"levels", "factors": {name: [q per level]}, "n"}``."""
    scores = np.abs(np.asarray(mean) - np.asarray(truth)) / np.asarray(sd)
    if scores.shape[1] != len(names):
        raise MRSDataError(f"calibration: {len(names)} names for {scores.shape[1]} columns")
    qs = np.stack([conformal_quantile(scores, lv) for lv in levels], axis=1)  # [k, levels]
    return {
        "levels": [float(v) for v in levels],
        "factors": {n: [float(v) for v in qs[i]] for i, n in enumerate(names)},
        "n": int(scores.shape[0]),
    }


def factor(cal: Mapping[str, Any], name: str, level: float) -> float:
    """The stored factor of ``name`` at ``level`` (which must be one of the stored levels)."""
    levels = [float(v) for v in cal["levels"]]
    for i, lv in enumerate(levels):
        if abs(lv - level) < 1e-9:
            return float(cal["factors"][name][i])
    raise MRSDataError(f"calibration: level {level} not stored (levels {levels})")


def coverage(
    mean: np.ndarray, sd: np.ndarray, truth: np.ndarray, factors: np.ndarray
) -> np.ndarray:
    """Fraction of rows whose truth lies in ``mean +- factors x sd``, per column."""
    inside = np.abs(np.asarray(mean) - np.asarray(truth)) <= np.asarray(factors) * np.asarray(sd)
    valid = np.isfinite(np.asarray(mean)) & np.isfinite(np.asarray(truth))
    return (inside & valid).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)


def reliability(
    mean: np.ndarray,
    sd: np.ndarray,
    truth: np.ndarray,
    cal: Mapping[str, Any],
    names: Sequence[str],
) -> dict[str, Any]:
    """Nominal against observed coverage on a (held-out) set, per name.

    ``calibrated``: the interval ``mean +- q_p sd`` with the stored factors;
    ``raw``: the Gaussian interval ``mean +- z_p sd`` on the uncalibrated spread.
    """
    from scipy.stats import norm

    levels = [float(v) for v in cal["levels"]]
    cal_f = np.array([[factor(cal, n, lv) for n in names] for lv in levels])
    z = norm.ppf(0.5 + np.array(levels) / 2)
    calibrated = np.stack([coverage(mean, sd, truth, f) for f in cal_f])
    raw = np.stack([coverage(mean, sd, truth, np.full(len(names), zz)) for zz in z])
    return {
        "levels": levels,
        "calibrated": {n: [float(v) for v in calibrated[:, i]] for i, n in enumerate(names)},
        "raw": {n: [float(v) for v in raw[:, i]] for i, n in enumerate(names)},
        "n": int(np.asarray(mean).shape[0]),
    }


def quantities(
    members: np.ndarray, truth: np.ndarray, metabolites: Sequence[str] = METABOLITES
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]:
    """``{"fraction": (mean, sd, truth, names), "ratio_to_cr": (...)}`` from member predictions.

    Ratios keep the spectra whose true Cr fraction is at least :data:`MIN_CR_FRACTION`.
    """
    names = list(metabolites)
    cr = names.index("Cr")
    mean, sd = member_stats(members)
    t = np.asarray(truth, dtype=float)
    keep = t[:, cr] >= MIN_CR_FRACTION
    r_members = ratio_members(np.asarray(members)[:, keep], cr)
    r_mean, r_sd = np.nanmean(r_members, axis=0), np.nanstd(r_members, axis=0, ddof=1)
    r_sd = np.maximum(np.nan_to_num(r_sd, nan=np.inf), SPREAD_FLOOR)
    r_truth = np.delete(t[keep], cr, axis=-1) / t[keep][:, cr : cr + 1]
    ratio_names = [f"{m}/Cr" for m in names if m != "Cr"]
    return {
        "fraction": (mean, sd, t, names),
        "ratio_to_cr": (r_mean, r_sd, r_truth, ratio_names),
    }


def calibrate(members: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Conformal factors for the fractions and the ratios to Cr (one dict per quantity)."""
    return {
        key: fit_calibration(mean, sd, t, names)
        for key, (mean, sd, t, names) in quantities(members, truth).items()
    }


def check(members: np.ndarray, truth: np.ndarray, cal: Mapping[str, Any]) -> dict[str, Any]:
    """Reliability of ``cal`` on an independent set (one dict per quantity)."""
    return {
        key: reliability(mean, sd, t, cal[key], names)
        for key, (mean, sd, t, names) in quantities(members, truth).items()
    }


__all__ = [
    "LEVELS",
    "MIN_CR_FRACTION",
    "calibrate",
    "check",
    "conformal_quantile",
    "coverage",
    "factor",
    "fit_calibration",
    "member_stats",
    "quantities",
    "ratio_members",
    "reliability",
]
