"""Phantom design table and phantom folders (chapter 5's inputs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mrs_lib import MRSFormatError
from mrs_lib.io.phantoms import load_design, load_phantom_folder


def test_swansea_design_matches_the_published_series(data_file: Callable[[str], Path]) -> None:
    """Oracle: method.md / data README — 76 phantoms in E1-E4d, NAA 15 mM, Cr 8 mM (or 0),
    GABA 0-13.7 mM, Glu 12 / Gln 3 mM only in E3 and E4."""
    design = load_design(data_file("swansea_phantom_design_mM.csv"))
    assert len(design) == 76
    series = {d.series for d in design}
    assert series == {"E1", "E2", "E3", "E4a", "E4b", "E4c", "E4d"}
    conc = np.array([d.vector(("NAA", "Cr", "GABA", "Glu", "Gln")) for d in design])
    assert np.all(conc[:, 0] == 15.0)
    assert set(conc[:, 1]) == {0.0, 8.0}
    assert conc[:, 2].min() == 0.0 and conc[:, 2].max() == pytest.approx(13.7)
    glx = conc[:, 3] > 0
    assert {d.series for d, g in zip(design, glx, strict=True) if g} <= {
        "E3",
        "E4a",
        "E4b",
        "E4c",
        "E4d",
    }
    assert set(conc[glx, 3]) == {12.0} and set(conc[glx, 4]) == {3.0}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("series,phantom_id,NAA,Cr,GABA,Glu\nE1,a,1,2,3,4\n", "missing"),
        ("series,phantom_id,NAA,Cr,GABA,Glu,Gln\nE1,a,1,x,3,4,5\n", "line 2, column Cr"),
        ("series,phantom_id,NAA,Cr,GABA,Glu,Gln\nE1,a,1,2,-3,4,5\n", "column GABA"),
        ("series,phantom_id,NAA,Cr,GABA,Glu,Gln\nE1,a,1,2,nan,4,5\n", "column GABA"),
        ("series,phantom_id,NAA,Cr,GABA,Glu,Gln\n", "no rows"),
    ],
)
def test_bad_design_tables_name_the_cell(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "design.csv"
    path.write_text(text)
    with pytest.raises(MRSFormatError, match=match) as exc:
        load_design(path)
    assert "design.csv" in str(exc.value)


def test_phantom_folder_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(MRSFormatError, match="no such folder"):
        load_phantom_folder(tmp_path / "absent")
    (tmp_path / "E1" / "scan1").mkdir(parents=True)
    with pytest.raises(MRSFormatError, match=r"concentrations\.json"):
        load_phantom_folder(tmp_path)
    (tmp_path / "E1" / "concentrations.json").write_text('{"scan1": {"GABA": 2.0, "Tau": 1}}')
    with pytest.raises(MRSFormatError, match="Tau"):
        load_phantom_folder(tmp_path)
    (tmp_path / "E1" / "concentrations.json").write_text('{"other": {"GABA": 2.0}}')
    with pytest.raises(MRSFormatError, match="scan1"):
        load_phantom_folder(tmp_path)
