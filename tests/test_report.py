"""The one-page report (PNG + self-contained HTML) for a fitter: fit curves, table, no flags.

The ensemble's report (with flags) is tested in test_ensemble_shipped.py.
"""

from __future__ import annotations

import base64
import re

import numpy as np

from mrs_lib.fit.lcm import toy_basis
from mrs_lib.preprocess import simulate_raw
from mrs_lib.quantify import LCMQuantifier
from mrs_lib.report import curves_of, write_report
from mrs_lib.scans import quantify_scan


def test_lcm_report_has_fit_table_and_embedded_png(tmp_path) -> None:
    basis = toy_basis(n_points=2048)
    sim = simulate_raw(basis, np.array([1.0, 0.3, 0.4, 1.1, 1.3]), n_pairs=8, n_coils=2, rng=1)
    res = quantify_scan(sim.scan, LCMQuantifier(basis, keep_fits=True), label="a b/scan.nii.gz")
    curves = curves_of(res)
    assert curves is not None and curves.labels == ("OFF", "DIFF")
    for data, model in zip(curves.data, curves.model, strict=True):
        # the fit explains the data: residual well below the signal
        assert np.std(data - model) < 0.1 * np.abs(data).max()
    paths = write_report(res, tmp_path / "out")
    assert paths["png"].name == "scan.png" and paths["html"].name == "scan.html"
    html = paths["html"].read_text(encoding="utf-8")
    png = paths["png"].read_bytes()
    embedded = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert embedded and base64.b64decode(embedded.group(1)) == png
    for m in ("GABA", "Gln", "Glu", "NAA"):
        assert f"<th>{m}/Cr</th><td>{res.ratios_to_cr[m]:.3f}</td>" in html
    assert "Out-of-domain check: not applicable" in html
    assert "coil_combination" in html and "frequency_referencing" in html
