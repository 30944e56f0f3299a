"""One quantifier interface (mrs_lib.quantify): result type, factory, every method on one input."""

from __future__ import annotations

import numpy as np
import pytest

from mrs_lib.errors import MRSDataError, MRSError
from mrs_lib.fit.lcm import toy_basis
from mrs_lib.quantify import (
    GannetQuantifier,
    LCMQuantifier,
    NetworkQuantifier,
    Quantifier,
    QuantResult,
    get_quantifier,
    iter_acquisitions,
)

TRUE = np.array([[1.0, 0.3, 0.4, 0.8, 1.2], [0.5, 0.6, 0.2, 1.0, 0.9]])
NAMES = ("Cr", "GABA", "Gln", "Glu", "NAA")
QUICK = dict(n_starts=1, start_shifts_ppm=(0.0,), start_phases_deg=(0.0,))


@pytest.fixture(scope="module")
def basis():
    return toy_basis()


@pytest.fixture(scope="module")
def spectra(basis):
    return basis.mix(TRUE).map(lambda s: s.broaden(3.0))


def test_result_validates_and_normalises():
    r = QuantResult(NAMES, [[2.0, 1.0, np.nan, 0.5, 4.0]], None, {}, "x", 0.5)
    assert r.concentrations.shape == (1, 5) and len(r) == 1
    assert np.allclose(r.max_normalised()[0, [0, 1, 3, 4]], [0.5, 0.25, 0.125, 1.0])
    assert r.ratio("GABA")[0] == pytest.approx(0.5)
    assert r.per_second == pytest.approx(2.0)
    assert "GABA" in r.table() and "nan" in r.table()
    with pytest.raises(MRSDataError):
        QuantResult(NAMES, np.zeros((2, 4)), None, {}, "x", 0.0)
    with pytest.raises(MRSDataError):
        QuantResult(NAMES, np.zeros((2, 5)), np.zeros((1, 5)), {}, "x", 0.0)


def test_iter_acquisitions_flattens(spectra):
    parts = list(iter_acquisitions(spectra))
    assert len(parts) == 2 and parts[1].off.batch_shape == ()
    assert np.array_equal(parts[1].on.fid, spectra.on.fid[1])
    assert len(list(iter_acquisitions(parts[0]))) == 1


def test_factory_and_protocol(basis):
    q = get_quantifier("lcm", basis=basis, **QUICK)
    assert isinstance(q, LCMQuantifier) and isinstance(q, Quantifier)
    assert isinstance(get_quantifier("gannet"), GannetQuantifier)
    with pytest.raises(MRSError, match="unknown quantification method"):
        get_quantifier("tarquin")
    with pytest.raises(MRSError, match="model="):
        get_quantifier("network")


def test_lcm_quantifier_recovers_batch(basis, spectra):
    """Oracle: mixtures of the basis; OFF fit for all, DIFF fit for GABA, one row per spectrum."""
    result = LCMQuantifier(basis, keep_fits=True, **QUICK).quantify(spectra)
    assert result.method == "lcm" and result.metabolites == NAMES
    assert np.allclose(result.concentrations, TRUE, rtol=1e-2)
    assert result.uncertainty is not None and result.uncertainty.shape == (2, 5)
    assert len(result.diagnostics["off_phase0_deg"]) == 2
    assert result.extra["fits"][0]["diff"].mode == "diff"
    assert result.seconds > 0


def test_gannet_quantifier_calibrated_on_the_basis(basis):
    """With basis calibration (at 5 Hz), single metabolites at 5 Hz come back in basis units.

    Oracle for the mixture: the OFF Cr peak fit also takes GABA's 3.01 ppm line
    (2 protons against Cr's 3), so Cr reads c_Cr + c_GABA * 2/3: the overlap
    bias of peak fitting that a linear-combination fit avoids.
    """
    conc = np.array([[1.0, 0, 0, 0, 0], [0, 0.5, 0, 0, 0], [1.0, 0.5, 0, 0, 0]])
    mix = basis.mix(conc).map(lambda s: s.broaden(3.0))
    result = GannetQuantifier(basis).quantify(mix)
    assert result.uncertainty is None
    assert np.all(np.isnan(result.concentrations[:, 2:]))
    cr, gaba = result.concentrations[:, 0], result.concentrations[:, 1]
    assert cr[0] == pytest.approx(1.0, rel=0.01)
    assert gaba[1] == pytest.approx(0.5, rel=0.01)
    assert gaba[2] == pytest.approx(0.5, rel=0.01)
    assert cr[2] == pytest.approx(1.0 + 0.5 * 2 / 3, rel=0.05)
    assert len(result.diagnostics["gaba_cr"]) == 3


def test_network_quantifier_runs_an_untrained_model(basis, spectra):
    """A network (untrained, tiny) takes the same EditedSpectra and returns [n, 5]."""
    pytest.importorskip("torch")
    import torch

    from mrs_lib.models import build_model

    torch.manual_seed(0)  # the untrained weights
    model = build_model("cnn", "tiny")
    q = NetworkQuantifier(model, name="cnn-tiny")
    assert q.inputs(spectra).shape == (2, 2, 2048)
    result = q.quantify(spectra)
    assert result.concentrations.shape == (2, 5) and result.uncertainty is None
    assert np.all(np.isfinite(result.concentrations))
    single = q.quantify(next(iter_acquisitions(spectra)))
    assert np.allclose(single.concentrations, result.concentrations[:1], atol=1e-5)
    assert isinstance(get_quantifier("network", model=model), NetworkQuantifier)


def test_paper_test_set_and_npz_round_trip(basis, tmp_path):
    """The paper's recipe: linewidths in range, noise SD <= 3% of max|FID|; npz round trip."""
    from mrs_lib.quantify import paper_test_set, read_spectra, save_spectra_npz

    ts = paper_test_set(basis, 4, rng=1)
    assert ts.spectra.off.batch_shape == (4,) and len(ts) == 4
    assert np.all((ts.params["lw_hz"] >= 2) & (ts.params["lw_hz"] <= 8))
    assert np.all(ts.params["sigma_on"] <= 0.03)
    path = save_spectra_npz(tmp_path / "t.npz", ts.spectra, ts.concentrations)
    spectra, truth = read_spectra(path)
    assert np.array_equal(spectra.on.fid, ts.spectra.on.fid) and np.array_equal(
        truth, ts.concentrations
    )
    assert spectra.on.ppm_reference == ts.spectra.on.ppm_reference
    # bad files: the error names the file and the key
    from mrs_lib.errors import MRSFormatError

    with pytest.raises(MRSFormatError, match=r"nope\.npz.*no such file"):
        read_spectra(tmp_path / "nope.npz")
    np.savez(
        tmp_path / "partial.npz", fid_off=ts.spectra.off.fid, fid_on=ts.spectra.on.fid, dwell_s=1e-4
    )
    with pytest.raises(MRSFormatError, match=r"partial\.npz.*larmor_mhz.*missing"):
        read_spectra(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    with pytest.raises(MRSFormatError, match=r"junk\.npz.*numpy \.npz archive"):
        read_spectra(tmp_path / "junk.npz")


@pytest.mark.usefixtures("isolated_dirs")
def test_cli_prints_a_table(basis, tmp_path, capsys):
    """`mrs fit --method gannet --basis B.npz S.npz` prints one row per spectrum."""
    from mrs_lib.cli import main
    from mrs_lib.quantify import save_spectra_npz

    basis.save_npz(tmp_path / "b.npz")
    save_spectra_npz(tmp_path / "s.npz", basis.mix(TRUE).map(lambda s: s.broaden(3.0)))
    assert (
        main(
            [
                "fit",
                "--method",
                "gannet",
                "--basis",
                str(tmp_path / "b.npz"),
                str(tmp_path / "s.npz"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "GABA" in out and out.count("s.npz[") == 2
