"""Deep-ensemble uncertainty (issue 15, item 4-5): calibration, domain features, packing.

Numerics against oracles: conformal factors of Gaussian errors whose scale is
known, coverage of an independent draw, the spectral features of a line of
known width, shift and phase. Packing and building with untrained tiny
members (fast); the shipped ensemble is checked in test_ensemble_shipped.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from mrs_lib.errors import MRSError, MRSFormatError
from mrs_lib.io.bases import resolve_basis
from mrs_lib.models import build_model
from mrs_lib.spectrum import EditedSpectra
from mrs_lib.synth.inputs import network_input
from mrs_lib.train import save_model
from mrs_lib.uncertainty import calibration as cal
from mrs_lib.uncertainty import domain as dom
from mrs_lib.uncertainty.ensemble import load_ensemble, pack_ensemble, read_ensemble_blob
from mrs_lib.uncertainty.invivo import add_invivo_lines
from mrs_lib.uncertainty.quantifier import COMPLEX_CHANNELS, select_rows


# ---------------------------------------------------------------------------- calibration
def test_conformal_quantile_finite_sample_rank() -> None:
    scores = np.arange(1.0, 101.0)[:, None]  # 1 .. 100
    # ceil((n + 1) p) / n with n = 100: p = 0.68 -> the 69th smallest score
    assert cal.conformal_quantile(scores, 0.68)[0] == 69.0
    assert cal.conformal_quantile(scores, 0.95)[0] == 96.0
    with pytest.raises(MRSError, match="level"):
        cal.conformal_quantile(scores, 1.2)
    with pytest.raises(MRSError, match="at least 10"):
        cal.conformal_quantile(scores[:5], 0.5)


def _gaussian_members(rng: np.random.Generator, n: int, k: float) -> tuple[np.ndarray, ...]:
    """Members with spread ``s`` whose mean misses the truth by N(0, (k s)^2)."""
    s = rng.uniform(0.01, 0.05, size=(n, 5))
    mean = rng.uniform(0.1, 0.3, size=(n, 5))
    truth = mean + k * s * rng.standard_normal((n, 5))
    # 5 members with sample mean ``mean`` and sample SD exactly ``s``
    z = rng.standard_normal((5, n, 5))
    z = (z - z.mean(axis=0)) / z.std(axis=0, ddof=1)
    return mean + s * z, truth


def test_calibration_recovers_known_scale_and_covers_an_independent_set() -> None:
    rng = np.random.default_rng(0)
    k = 3.0  # the true error is 3x the spread: the raw spread undercovers
    members, truth = _gaussian_members(rng, 4000, k)
    fit = cal.fit_calibration(*cal.member_stats(members), truth, list("ABCDE"))
    for lv in (0.68, 0.95):
        expected = k * norm.ppf(0.5 + lv / 2)
        got = np.array([cal.factor(fit, m, lv) for m in "ABCDE"])
        np.testing.assert_allclose(got, expected, rtol=0.06)
    members2, truth2 = _gaussian_members(np.random.default_rng(1), 4000, k)
    rel = cal.reliability(*cal.member_stats(members2), truth2, fit, list("ABCDE"))
    i68, i95 = rel["levels"].index(0.68), rel["levels"].index(0.95)
    for m in "ABCDE":
        assert 0.65 <= rel["calibrated"][m][i68] <= 0.71
        assert 0.935 <= rel["calibrated"][m][i95] <= 0.965
        assert rel["raw"][m][i68] < 0.3  # the raw spread is 3x too small
    with pytest.raises(MRSError, match="not stored"):
        cal.factor(fit, "A", 0.5001)


def test_ratio_quantities_drop_vanishing_cr() -> None:
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.0, 1.0, size=(200, 5))
    truth[:20, 0] = 0.01  # Cr (first of METABOLITES) nearly absent
    truth /= truth.sum(axis=1, keepdims=True)
    members = truth[None] + 0.01 * rng.standard_normal((5, 200, 5))
    q = cal.quantities(members, truth)
    _mean, _sd, t, names = q["ratio_to_cr"]
    assert names == ["GABA/Cr", "Gln/Cr", "Glu/Cr", "NAA/Cr"]
    assert t.shape[0] == int((truth[:, 0] >= cal.MIN_CR_FRACTION).sum()) < 200
    np.testing.assert_allclose(
        t, truth[truth[:, 0] >= 0.05][:, 1:] / truth[truth[:, 0] >= 0.05][:, :1]
    )


# ---------------------------------------------------------------------------- domain features
def _singlet(lw_hz: float, shift_hz: float, phase_deg: float, noise: float = 0.0) -> np.ndarray:
    like = resolve_basis("paper").off
    t = like.time_s()
    hz = (2.008 - like.ppm_reference) * like.larmor_mhz + shift_hz
    fid = np.exp(2j * np.pi * hz * t - np.pi * lw_hz * t + 1j * np.deg2rad(phase_deg))
    fid = fid + noise * np.random.default_rng(3).standard_normal(t.size)
    off = like.replace(fid=fid[None])
    return np.asarray(network_input(EditedSpectra(off=off, on=off), COMPLEX_CHANNELS))


@pytest.mark.parametrize(("lw", "shift", "phase"), [(4.0, 0.0, 0.0), (9.0, 3.0, -20.0)])
def test_features_of_a_known_line(lw: float, shift: float, phase: float) -> None:
    larmor = resolve_basis("paper").larmor_mhz
    f = dom.spectral_features(_singlet(lw, shift, phase), larmor)
    assert f["linewidth_hz"][0] == pytest.approx(lw, abs=0.15)
    assert f["shift_hz"][0] == pytest.approx(shift, abs=0.1)
    assert f["phase_deg"][0] == pytest.approx(phase, abs=0.5)
    assert f["water"][0] < 0.05
    assert f["snr"][0] > 1e3  # no noise


def test_flags_name_the_feature_and_its_limits() -> None:
    larmor = resolve_basis("paper").larmor_mhz
    x = np.concatenate([_singlet(6.0, 0.0, 0.0), _singlet(25.0, 0.0, 0.0)])
    feats = dom.spectral_features(x, larmor)
    ref = {
        k: np.repeat(v, 50)
        for k, v in dom.spectral_features(_singlet(6.0, 0.0, 0.0), larmor).items()
    }
    ref["linewidth_hz"] = np.linspace(2.0, 10.0, 50)
    sd = np.full((50, 5), 0.01)
    domain = dom.fit_domain(ref, sd, None, synth="paper", larmor_mhz=larmor, yae=None)
    out = dom.flags(feats, np.ones(2), None, domain)
    assert out[0] == []
    lw_flags = [r for r in out[1] if r.startswith("linewidth")]
    assert len(lw_flags) == 1 and lw_flags[0].startswith("linewidth 25")
    assert "outside 0.012 .. 12 " in lw_flags[0]  # 2-10 Hz widened by a quarter of the span
    assert "preset 'paper': 2-10 Hz lines" in lw_flags[0]
    out = dom.flags(feats, np.array([1.0, 1e3]), None, domain)
    assert any("ensemble disagreement" in r for r in out[1])


def test_invivo_lines_add_choline_at_3_2_ppm() -> None:
    b = resolve_basis("paper")
    clean = b.mix(np.array([[1.0, 0.2, 0.3, 1.0, 1.2]]))
    iv = add_invivo_lines(clean)
    ppm = clean.off.ppm_axis()
    diff = np.abs(iv.off.spectrum() - clean.off.spectrum())[0]
    assert abs(ppm[np.argmax(np.where(np.abs(ppm - 3.2) < 0.1, diff, 0))] - 3.2) < 0.01
    assert diff[np.abs(ppm - 0.9) < 0.05].max() > 0


# ---------------------------------------------------------------------------- packing
def _member(path, seed: int, channels=("off:real", "on:real")) -> str:
    torch.manual_seed(seed)
    model = build_model("cnn", "tiny")
    data = {"synth": "paper", "basis": "paper", "channels": list(channels)}
    data.update({"train_seed": seed, "val_seed": seed + 1})
    save_model(model, path, seed=seed, train_config={"seed": seed}, data=data)
    return str(path)


def test_pack_load_roundtrip_and_refusals(tmp_path) -> None:
    paths = [_member(tmp_path / f"m{s}.pt", s) for s in (10, 12, 14)]
    rec = pack_ensemble(paths, tmp_path / "ens.pt", command="test")
    assert rec["config"]["members"] == 3 and rec["config"]["member_seeds"] == [10, 12, 14]
    ens = load_ensemble(tmp_path / "ens.pt")
    assert len(ens) == 3 and ens.calibration is None
    assert all(
        p.dtype == torch.float16
        for p in read_ensemble_blob(tmp_path / "ens.pt")["members"][0]["state_dict"].values()
        if p.is_floating_point()
    )
    x = np.random.default_rng(4).standard_normal((3, 2, 2048)).astype(np.float32)
    pred = ens.predict_members(x)
    assert pred.shape == (3, 3, 5) and np.isfinite(pred).all()
    other = _member(tmp_path / "odd.pt", 16, channels=("off:real", "off:imag"))
    with pytest.raises(MRSFormatError, match=r"data\.channels"):
        pack_ensemble([paths[0], other], tmp_path / "bad.pt")
    with pytest.raises(MRSError, match="distinct training seeds"):
        pack_ensemble([paths[0], paths[0]], tmp_path / "bad.pt")
    with pytest.raises(MRSFormatError, match="format"):
        read_ensemble_blob(paths[0])


def test_build_refuses_a_training_seed_for_calibration(tmp_path) -> None:
    from mrs_lib.uncertainty import build_ensemble

    paths = [_member(tmp_path / f"m{s}.pt", s) for s in (10, 12)]
    with pytest.raises(MRSError, match="cal_seed 11: expected a seed no member"):
        build_ensemble(paths, tmp_path / "ens.pt", n=50, cal_seed=11, check_seed=99, yae=None)


def test_select_rows_refuses_unknown_channels() -> None:
    x = np.zeros((1, 4, 8))
    assert select_rows(x, ["on:real", "off:real"]).shape == (1, 2, 8)
    with pytest.raises(MRSError, match="diff:real"):
        select_rows(x, ["diff:real"])


@pytest.mark.slow
def test_cli_build_and_evaluate(tmp_path, capsys) -> None:
    import json

    from mrs_lib.cli import main

    paths = [_member(tmp_path / f"m{s}.pt", s) for s in (10, 12)]
    out = tmp_path / "ens.pt"
    args = ["ensemble", "build", *paths, "--out", str(out), "--n", "60", "--yae", "none"]
    assert main([*args, "--training-command", "mrs train ... --seed 10|12"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["members"] == 2
    assert set(summary["coverage"]["fraction"]) == {"Cr", "GABA", "Gln", "Glu", "NAA"}
    ens = load_ensemble(out)
    assert ens.calibration["n"] == 60 and ens.domain["reconstruction"] is None
    record = ens.provenance
    assert record["command"].startswith("mrs ensemble build") and record["training_command"]
    assert record["evaluation"]["seed"] == 123
    assert main(["ensemble", "evaluate", str(out), "--n", "30", "--seed", "7", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["members"] == 2 and res["n"] == 30 and np.isfinite(res["mae_total"])
