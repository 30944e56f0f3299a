"""mrs_lib.sim.editing: what a Gaussian MEGA editing pulse inverts.

Oracles: a 180-degree pulse by area inverts exactly on resonance
(``Mz = cos(pi) = -1``) and leaves far-off spins alone (``Mz -> +1``); the
Bloch equations are invariant under ``t -> k t, B1 -> B1 / k, offset -> offset / k``,
so the inversion FWHM times the duration is a constant (~60 Hz at 20 ms, ~86
Hz at 14 ms, physics notes); a frequency shift of the pulse shifts the
profile; the inversion of GABA H2 (2.284 ppm) by an ON pulse at 1.9 ppm, ~14 %
at 20 ms and ~41 % at 14 ms (independent Bloch simulation in the physics notes).
"""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib.sim.editing import (
    EDITING_TARGETS,
    editing_bandwidth_hz,
    editing_profile,
    inverted_fraction,
)


@pytest.mark.parametrize("duration_ms", [10.0, 14.0, 20.0, 25.0])
def test_inverts_at_the_centre_and_not_far_away(duration_ms: float) -> None:
    mz = editing_profile([1.9, 1.9 + 5.0, 7.4], 1.9, duration_ms)
    assert mz[0] == pytest.approx(-1.0, abs=1e-9)
    assert mz[1] == pytest.approx(1.0, abs=1e-3)
    assert mz[2] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.abs(editing_profile(np.linspace(0, 9, 301), 1.9, duration_ms)) <= 1 + 1e-12)


def test_bandwidth_scales_as_one_over_duration() -> None:
    bw = {d: editing_bandwidth_hz(d) for d in (10.0, 14.0, 20.0, 28.0)}
    products = [d * b for d, b in bw.items()]
    assert np.ptp(products) / np.mean(products) < 1e-3
    assert bw[20.0] == pytest.approx(60.0, rel=0.03)
    assert bw[14.0] == pytest.approx(86.0, rel=0.03)


def test_profile_follows_the_pulse_centre() -> None:
    ppm = np.linspace(1.0, 3.0, 201)
    a = editing_profile(ppm, 1.9, 20.0)
    b = editing_profile(ppm + 0.1, 2.0, 20.0)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a, editing_profile(2 * 1.9 - ppm, 1.9, 20.0), atol=1e-9)  # symmetric


def test_gaba_h2_co_inversion_matches_the_physics_notes() -> None:
    h2 = {"H2": 2.284}
    assert inverted_fraction(1.9, 20.0, 123.23, h2)["H2"] == pytest.approx(0.14, abs=0.03)
    assert inverted_fraction(1.9, 14.0, 123.23, h2)["H2"] == pytest.approx(0.41, abs=0.03)


def test_paper_pulse_inverts_gaba_h3_and_partly_its_neighbours() -> None:
    on = inverted_fraction(1.9, 20.0)
    off = inverted_fraction(7.4, 20.0)
    assert list(on) == list(EDITING_TARGETS)
    assert on["GABA H3"] > 0.99
    assert 0.5 < on["NAA"] < on["GABA H3"]  # 13 Hz off-centre: mostly inverted
    assert 0.3 < on["MM 1.72"] < on["NAA"]  # 22 Hz: co-edited MM, the "GABA+" problem
    assert max(off.values()) < 1e-3
    # moving the pulse towards a resonance inverts it more
    assert inverted_fraction(2.0)["NAA"] > on["NAA"] > inverted_fraction(1.8)["NAA"]
    assert inverted_fraction(1.8)["MM 1.72"] > on["MM 1.72"]
