"""Datasets: deterministic on the fly, stored compactly with provenance, `mrs synth`, TARQUIN
reader.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrs_lib import artifacts, cli
from mrs_lib.errors import MRSFormatError
from mrs_lib.synth import (
    StoredDataset,
    SynthConfig,
    SynthDataset,
    generate,
    load_tarquin_fit,
    make_dataset,
    singlet_basis,
    synthesize,
)


@pytest.fixture(scope="module")
def basis():
    return singlet_basis()


def test_item_depends_only_on_seed_and_index(basis) -> None:
    """Same (seed, i) -> same spectrum, whatever was generated before; batch path equals items."""
    a = SynthDataset(basis, 600, seed=3)
    b = SynthDataset(basis, 600, seed=3)
    x1, y1, c1 = a[517]
    _ = b[3], b[300]  # other chunks first
    x2, y2, c2 = b[517]
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(c1, c2)
    assert x1.shape == (2, 2048) and y1.shape == (5,) and c1.shape == (2, 2048)
    assert x1.dtype == torch.float32
    xb, yb, cb = a.batch([517, 2, 300])
    assert torch.equal(xb[0], x1) and torch.equal(yb[0], y1) and torch.equal(cb[0], c1)
    assert not torch.equal(SynthDataset(basis, 600, seed=4)[517][0], x1)
    assert abs(float(y1.sum()) - 1) < 1e-6


def test_sobol_design_across_chunks(basis) -> None:
    """Oracle: the dataset's concentrations are one scrambled Sobol sequence (balanced per
    dimension).
    """
    ds = SynthDataset(basis, 1024, seed=9)
    conc = np.concatenate([ds.chunk(c).concentrations for c in range(ds.n_chunks)])
    # 1024 Sobol points put exactly 64 points in each of 16 equal bins of every coordinate
    for d in range(5):
        counts = np.histogram(conc[:, d], bins=16, range=(0, 1))[0]
        assert np.all(counts == 64), counts


def test_batches_cover_every_index_once(basis) -> None:
    ds = SynthDataset(basis, 700, seed=1, config=SynthConfig.preset("paper", keep_clean=False))
    seen = []
    for x, y, clean in ds.batches(100, shuffle=True, epoch=2):
        assert x.shape[1:] == (2, 2048) and clean.shape[-1] == 0
        seen.append(y)
    ys = torch.cat(seen)
    assert ys.shape == (700, 5)
    ref = torch.cat([ds.batch(range(s, min(s + 256, 700)))[1] for s in range(0, 700, 256)])
    # same multiset of targets: compare sorted first coordinates
    assert torch.allclose(ys[:, 0].sort().values, ref[:, 0].sort().values)


def test_stored_dataset_roundtrip(basis, tmp_path) -> None:
    """make_dataset writes what SynthDataset yields (float16), with a verified sidecar."""
    path = tmp_path / "set.npz"
    rec = make_dataset(basis, 300, 5, "paper", path, basis_source="singlets")
    assert rec["spectra_per_s"] > 0 and artifacts.sidecar_path(path).is_file()
    st = StoredDataset(path, verify=True)
    ds = SynthDataset(basis, 300, 5, "paper")
    assert len(st) == 300 and st.x.dtype == np.float16
    for i in (0, 257, 299):
        xs, ys, cs = st[i]
        xd, yd, cd = ds[i]
        assert torch.allclose(xs, xd, atol=2e-3) and torch.allclose(cs, cd, atol=2e-3)
        assert torch.allclose(ys, yd)
    xb, yb, cb = st.batch([299, 0, 150])
    assert torch.equal(xb[1], st[0][0]) and xb.dtype == torch.float32
    assert torch.equal(yb[2], st[150][1]) and torch.equal(cb[0], st[299][2])
    assert set(st.params) >= {"lorentzian_hz", "sigma_off"}
    assert st.config == SynthConfig.preset("paper")
    assert st.record is not None and st.record["seed"] == 5
    assert sum(len(b[0]) for b in st.batches(128)) == 300


def test_stored_dataset_rejects_bad_files(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(MRSFormatError, match="make_dataset"):
        StoredDataset(bad)
    with pytest.raises(MRSFormatError, match="no such file"):
        StoredDataset(tmp_path / "missing.npz")


@pytest.mark.usefixtures("isolated_dirs")
def test_cli_synth_prints_rate(basis, tmp_path, capsys) -> None:
    """`mrs synth --basis FILE.npz ...` writes the set and prints spectra per second."""
    bfile = basis.save_npz(tmp_path / "basis.npz")
    out = tmp_path / "cli.npz"
    rc = cli.main(
        [
            "synth",
            "--basis",
            str(bfile),
            "--n",
            "200",
            "--seed",
            "2",
            "--augment",
            "paper-no-lw",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "spectra/s" in text and "200 spectra (paper-no-lw)" in text
    st = StoredDataset(out, verify=True)
    assert len(st) == 200 and st.config.name == "paper-no-lw"
    ref = generate(basis, 1, 0, "paper-no-lw")  # same config, fresh synthesiser: contract holds
    assert st.x.shape[1:] == ref.x.shape[1:]
    assert (
        cli.main(
            [
                "synth",
                "--basis",
                str(bfile),
                "--n",
                "5",
                "--seed",
                "1",
                "--augment",
                "nope",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "preset" in capsys.readouterr().err


# ---------------------------------------------------------------------------- TARQUIN export
def test_tarquin_fit_real_file(data_file) -> None:
    """The real in vivo DIFF: ppm ascending, 2048 points, fit close to the data, GABA near 3 ppm."""
    fit = load_tarquin_fit(data_file("tarquin-megapress-diff/tarquin_megapress_fit.txt"))
    assert fit.label.startswith("Row")
    assert fit.ppm.shape == (2048,) and np.all(np.diff(fit.ppm) > 0)
    assert {"Data", "Fit", "Baseline", "GABA_A", "NAA"} <= set(fit.columns)
    win = fit.window((1.8, 4.2))
    resid = win.data - win.fit
    assert np.std(resid) < 0.5 * np.std(win.data)
    gaba = win.columns["GABA_A"] + win.columns["GABA_B"]
    assert 2.9 < win.ppm[np.argmax(np.abs(gaba))] < 3.1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "file"),
        ("Row 1\nppm,Data\n1,2\n3,4\n", "line 2"),
        ("Row 1\nPPMScale,Data,Fit\n1,2,3\n3,4\n", "line 4"),
        ("Row 1\nPPMScale,Data,Fit\n1,2,3\n3,x,4\n", "line 4"),
    ],
)
def test_tarquin_fit_bad_files(tmp_path, text, field) -> None:
    p = tmp_path / "fit.txt"
    p.write_text(text)
    with pytest.raises(MRSFormatError, match=field):
        load_tarquin_fit(p)


def test_works_with_torch_dataloader(basis) -> None:
    """DataLoader fetches whole batches through __getitems__ and collates them unchanged."""
    ds = SynthDataset(basis, 64, seed=2)
    x, y, clean = next(iter(torch.utils.data.DataLoader(ds, batch_size=16, shuffle=False)))
    assert x.shape == (16, 2, 2048) and y.shape == (16, 5) and clean.shape == (16, 2, 2048)
    assert torch.equal(x[5], ds[5][0])


def test_synthesize_cache_is_memory_mapped(basis, tmp_path) -> None:
    """A cached second call returns the first call's arrays, memory-mapped from one .npz."""
    first = synthesize(70, 4, "paper", basis, chunk=32, cache_dir=tmp_path)
    (stored,) = tmp_path.glob("*.npz")
    again = synthesize(70, 4, "paper", basis, chunk=32, cache_dir=tmp_path)
    assert isinstance(again.x, np.memmap) and isinstance(again.clean, np.memmap)
    for name in ("x", "clean", "concentrations", "targets", "snr", "scale", "ppm"):
        a, b = getattr(first, name), getattr(again, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert first.params.keys() == again.params.keys()
    assert all(np.array_equal(first.params[k], again.params[k]) for k in first.params)
    assert (again.metabolites, again.channels) == (first.metabolites, first.channels)
    assert list(tmp_path.iterdir()) == [stored]  # read, not written again
    assert len(StoredDataset(stored)) == 70  # the format of make_dataset
