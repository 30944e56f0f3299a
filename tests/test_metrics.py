"""Metrics of the paper against hand-computed values (oracle: the definitions in method.md)."""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib import metrics
from mrs_lib.errors import MRSDataError

# two spectra, three "metabolites"
PRED = np.array([[2.0, 1.0, 0.5], [1.0, 4.0, 2.0]])
TRUE = np.array([[4.0, 4.0, 2.0], [0.5, 1.0, 1.0]])


def test_max_normalise_divides_each_row_by_its_maximum() -> None:
    """Oracle: x[i] / max_j x[i, j] by hand; a non-positive row maps to zeros."""
    out = metrics.max_normalise(np.array([[2.0, 1.0, 0.5], [0.0, 0.0, 0.0], [-1.0, -2.0, -3.0]]))
    np.testing.assert_allclose(out, [[1.0, 0.5, 0.25], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_mae_and_signed_error_by_hand() -> None:
    """Oracle: normalised PRED = [[1, .5, .25], [.25, 1, .5]], TRUE = [[1, 1, .5], [.5, 1, 1]]."""
    diff = np.array([[0.0, -0.5, -0.25], [-0.25, 0.0, -0.5]])
    np.testing.assert_allclose(metrics.mae(PRED, TRUE), np.abs(diff).mean(axis=0))
    np.testing.assert_allclose(metrics.mae(PRED, TRUE), [0.125, 0.25, 0.375])
    np.testing.assert_allclose(metrics.signed_error(PRED, TRUE), [-0.125, -0.25, -0.375])
    # without normalisation: plain mean |p - t|
    np.testing.assert_allclose(metrics.mae(PRED, TRUE, normalise=False), [1.25, 3.0, 1.25])


def test_mae_is_scale_invariant_per_spectrum() -> None:
    """Oracle: max-normalisation removes any positive per-spectrum factor."""
    scale = np.array([[3.0], [0.2]])
    np.testing.assert_allclose(metrics.mae(PRED * scale, TRUE), metrics.mae(PRED, TRUE))


def test_regression_by_hand() -> None:
    """Oracle: pred = 2 t + 1 exactly -> slope 2, intercept 1, r = 1.

    A noisy case is checked against np.polyfit.
    """
    t = np.array([[0.0], [1.0], [2.0], [3.0]])
    reg = metrics.regression(2 * t + 1, t, normalise=False)
    assert reg["slope"][0] == pytest.approx(2.0)
    assert reg["intercept"][0] == pytest.approx(1.0)
    assert reg["r"][0] == pytest.approx(1.0)
    assert reg["r2"][0] == pytest.approx(1.0)
    p = np.array([[1.0], [0.0], [3.0], [2.0]])  # cov = 1.0 * 4 / 4; var t = var p = 1.25
    reg = metrics.regression(p, t, normalise=False)
    assert reg["slope"][0] == pytest.approx(0.6)  # sum dt dp = 3, sum dt^2 = 5
    assert reg["intercept"][0] == pytest.approx(1.5 - 0.6 * 1.5)
    assert reg["r"][0] == pytest.approx(0.6)
    assert reg["r2"][0] == pytest.approx(0.36)
    slope, intercept = np.polyfit(t[:, 0], p[:, 0], 1)
    assert (slope, intercept) == pytest.approx((reg["slope"][0], reg["intercept"][0]))


def test_ratio_errors_by_hand() -> None:
    """Oracle: GABA/Cr = 1/2 predicted vs 4/4 true -> error -0.5; 4/1 vs 1/0.5 -> +2."""
    out = metrics.ratio_errors(PRED, TRUE, ["Cr", "GABA", "NAA"], "Cr")
    assert set(out) == {"GABA", "NAA"}
    assert out["GABA"]["signed"] == pytest.approx((-0.5 + 2.0) / 2)
    assert out["GABA"]["mae"] == pytest.approx((0.5 + 2.0) / 2)
    assert out["NAA"]["mae"] == pytest.approx((abs(0.25 - 0.5) + abs(2.0 - 2.0)) / 2)
    assert out["GABA"]["n"] == 2


def test_summarise_keys_and_perfect_prediction(rng: np.random.Generator) -> None:
    """Oracle: a prediction equal to the truth up to per-spectrum scale.

    Such a prediction has MAE 0, slope 1, R^2 1.
    """
    true = rng.random((50, 5))
    s = metrics.summarise(true * rng.uniform(0.5, 2.0, (50, 1)), true)
    assert s["metabolites"] == ["Cr", "GABA", "Gln", "Glu", "NAA"]
    for m in s["metabolites"]:
        assert s["mae"][m] == pytest.approx(0.0, abs=1e-12)
        assert s["slope"][m] == pytest.approx(1.0)
        assert s["r2"][m] == pytest.approx(1.0)
    assert s["mae_total"] == pytest.approx(0.0, abs=1e-12)
    assert set(s["ratio_to_cr"]) == {"GABA", "Gln", "Glu", "NAA"}


def test_bad_shapes_and_nans_raise() -> None:
    with pytest.raises(MRSDataError, match="equal shapes"):
        metrics.mae(PRED, TRUE[:1])
    with pytest.raises(MRSDataError, match="finite"):
        metrics.mae(PRED * np.nan, TRUE)


def test_binned_mae_by_hand() -> None:
    """Oracle: spectrum 0 (value 1) in bin [0, 2), spectrum 1 (value 3) in bin [2, 4]."""
    centres, per_bin, counts = metrics.binned_mae(PRED, TRUE, [1.0, 3.0], [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(centres, [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(counts, [1, 1, 0])
    np.testing.assert_allclose(per_bin[0], [0.0, 0.5, 0.25])
    np.testing.assert_allclose(per_bin[1], [0.25, 0.0, 0.5])
    assert np.isnan(per_bin[2]).all()


def test_relative_difference_median_and_exclusions():
    """Median |a - b| / b per column; rows with a zero truth or a non-positive reference are
    left out (chapter 6: the built-in fit against real LCModel)."""
    from mrs_lib.metrics import relative_difference

    ref = np.array([[1.0, 2.0], [2.0, 0.0], [4.0, 1.0]])
    got = np.array([[1.1, 2.0], [2.0, 5.0], [3.0, 1.5]])
    rel = relative_difference(got, ref)
    assert rel == pytest.approx([0.1, 0.25])  # column 1: the zero reference is left out
    truth = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    assert relative_difference(got, ref, truth) == pytest.approx([0.05, 0.0])
    assert np.isnan(relative_difference(got[:, :1], -ref[:, :1])[0])
