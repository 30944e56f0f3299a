"""One imperfection at a time: :func:`mrs_lib.validation.sweep_imperfections` (chapter 5)."""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib import EditedSpectra, MRSDataError, Spectrum
from mrs_lib.io.phantoms import PhantomDesign
from mrs_lib.quantify import QuantResult
from mrs_lib.sim.basis import Basis
from mrs_lib.validation import (
    IMPERFECTIONS,
    PhantomConditions,
    digital_phantoms,
    plot_sweep,
    plot_sweep_estimates,
    score_scans,
    sweep_imperfections,
    sweep_mae,
    sweep_ylim,
)

MET = ("Cr", "GABA", "Gln", "Glu", "NAA")
PPM = (3.9, 3.0, 2.5, 2.2, 2.0)  # well-separated singlets
LARMOR = 123.23
NOISELESS = PhantomConditions.ideal().replace(noise_rel=(0.0, 0.0))
DESIGN = [
    PhantomDesign("E2", "a", {"NAA": 15.0, "Cr": 8.0, "GABA": 2.0}),
    PhantomDesign("E2", "b", {"NAA": 15.0, "Cr": 8.0, "GABA": 6.0, "Glu": 12.0, "Gln": 3.0}),
    PhantomDesign("E1", "c", {"NAA": 15.0, "GABA": 10.0}),
]


def basis_for(bw_hz: float, n: int) -> Basis:
    t = np.arange(n) / bw_hz
    fid = np.stack([np.exp(2j * np.pi * (p - 4.65) * LARMOR * t) for p in PPM])
    off = Spectrum(fid, dwell_s=1 / bw_hz, larmor_mhz=LARMOR, te_ms=68.0)
    return Basis(MET, on=off * 1.5, off=off)


class PeakValue:
    """Reads each singlet's complex OFF spectrum at its nominal ppm; reports ``part`` of it."""

    def __init__(self, part: str) -> None:
        self.part = part

    def quantify(self, spectra: EditedSpectra) -> QuantResult:
        s = spectra.off.spectrum().reshape(-1, spectra.off.n_points)
        idx = [int(np.argmin(np.abs(spectra.off.ppm_axis() - p))) for p in PPM]
        values = s[:, idx]
        conc = {"abs": np.abs, "real": np.real, "imag": np.imag}[self.part](values)
        return QuantResult(MET, np.asarray(conc), None, {}, f"peak-{self.part}", 0.0)


def test_sweep_matches_scoring_each_setting_alone() -> None:
    """Each (imperfection, value) block equals score_scans on phantoms made at that setting."""
    sweeps = {"phase": [0.0, 30.0], "drift": [1.0]}
    table = sweep_imperfections(
        {"abs": PeakValue("abs")}, DESIGN, basis_for, sweeps, seed=4, base=NOISELESS
    )
    assert len(table) == 3 * len(DESIGN) * len(MET)
    assert list(table.columns[:2]) == ["imperfection", "value"]
    scans = digital_phantoms(
        DESIGN, basis_for, rng=4, conditions=NOISELESS.replace(drift_hz=(1.0, 1.0))
    )
    alone = score_scans({"abs": PeakValue("abs")}, scans)
    block = table[(table.imperfection == "drift") & (table.value == 1.0)]
    np.testing.assert_allclose(block.abs_error.to_numpy(), alone.abs_error.to_numpy())


def test_zero_order_phase_rotates_every_line_by_the_same_angle() -> None:
    """Oracle: a zero-order phase phi multiplies the spectrum by exp(i phi), so a peak's real
    part becomes cos(phi) Re S0 - sin(phi) Im S0, and its magnitude (hence the magnitude
    method's error) is unchanged."""
    phases = [0.0, 15.0, 45.0]
    methods = {part: PeakValue(part) for part in ("abs", "real", "imag")}
    table = sweep_imperfections(
        methods, DESIGN, basis_for, {"phase": phases}, seed=1, base=NOISELESS
    )

    def estimate(method: str, phi: float) -> np.ndarray:
        rows = table[(table.method == method) & (table.value == phi)]
        return rows.estimate.to_numpy()

    re0, im0 = estimate("real", 0.0), estimate("imag", 0.0)
    for phi in phases:
        rad = np.deg2rad(phi)
        expected = np.cos(rad) * re0 - np.sin(rad) * im0
        np.testing.assert_allclose(estimate("real", phi), expected, rtol=1e-9)
    summary = sweep_mae(table)
    mag = summary[summary.method == "abs"].pivot_table(
        index="value", columns="metabolite", values="mae"
    )
    np.testing.assert_allclose(mag.loc[45.0], mag.loc[0.0], atol=1e-12)


def test_shift_moves_lines_off_their_points_and_costs_accuracy() -> None:
    """A peak read at its nominal frequency loses height when the line is shifted by three
    times its width: the error grows several-fold over the unshifted setting (noiseless)."""
    table = sweep_imperfections(
        {"abs": PeakValue("abs")}, DESIGN, basis_for, {"shift": [0.0, 6.0]}, base=NOISELESS
    )
    summary = sweep_mae(table)
    columns = {"imperfection", "value", "method", "metabolite", "mae", "bias", "n"}
    assert set(summary.columns) == columns
    by_value = summary.groupby("value").mae.mean()
    assert by_value[6.0] > 5 * by_value[0.0]
    assert (summary.n == len(DESIGN)).all()


def test_common_random_numbers_across_imperfections() -> None:
    """The baseline setting of every imperfection is the same scan, noise included."""
    base = PhantomConditions.ideal()
    sweeps = {"phase": [0.0], "shift": [0.0], "drift": [0.0], "linewidth": [2.0]}
    table = sweep_imperfections(
        {"abs": PeakValue("abs")}, DESIGN, basis_for, sweeps, seed=9, base=base
    )
    blocks = [g.estimate.to_numpy() for _, g in table.groupby("imperfection")]
    for b in blocks[1:]:
        np.testing.assert_array_equal(b, blocks[0])
    assert set(IMPERFECTIONS) == set(table.imperfection)


def test_bad_sweeps() -> None:
    with pytest.raises(MRSDataError, match="unknown imperfection"):
        sweep_imperfections({"abs": PeakValue("abs")}, DESIGN, basis_for, {"baseline": [1.0]})
    with pytest.raises(MRSDataError, match="at least one"):
        sweep_imperfections({"abs": PeakValue("abs")}, DESIGN, basis_for, {})


def test_sweep_figures_keep_every_view_inside_its_axes() -> None:
    """Each precomputed view of chapter 5's widget is titled and holds all its points."""
    import matplotlib.pyplot as plt

    methods = {"abs": PeakValue("abs"), "real": PeakValue("real")}
    sweeps = {"phase": [0.0, 60.0], "shift": [0.0, 6.0]}
    table = sweep_imperfections(methods, DESIGN, basis_for, sweeps, base=NOISELESS)
    lim = sweep_ylim(table)
    for name, values in sweeps.items():
        for value in values:
            fig = plot_sweep_estimates(table, name, value, ylim=lim)
            ax = fig.axes[0]
            assert ax.get_title().startswith(f"{name} {value:g}")
            y0, y1 = ax.get_ylim()
            for line in ax.get_lines():
                y = np.asarray(line.get_ydata(), float)
                assert ((y >= y0) & (y <= y1)).all()
            plt.close(fig)
    fig = plot_sweep(sweep_mae(table))
    assert [ax.get_title() for ax in fig.axes] == ["phase", "shift"]
    for ax in fig.axes:
        y0, y1 = ax.get_ylim()
        assert all(((ln.get_ydata() >= y0) & (ln.get_ydata() <= y1)).all() for ln in ax.lines)
    plt.close(fig)
    with pytest.raises(MRSDataError, match="no GABA rows"):
        plot_sweep_estimates(table, "drift", 1.0)
