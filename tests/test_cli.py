"""The ``mrs`` entry point: help lists the stages, errors are one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mrs_lib import cli
from mrs_lib.commands import COMMANDS


def test_import_smoke() -> None:
    import mrs_lib

    assert mrs_lib.__version__
    assert {"Spectrum", "EditedSpectra", "MRSFormatError"} <= set(mrs_lib.__all__)


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name, _help, _configure in COMMANDS:
        assert name in out
    assert "data" in out


def test_python_dash_m_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mrs_lib", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: mrs" in proc.stdout


def test_data_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "isbi-fida-megapress/GABA_ON.mat" in out
    assert "raw.githubusercontent.com/julianmer" in out


def test_library_error_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MRS_CACHE_DIR", str(tmp_path / "cache"))
    # facts table: no download origin, so a missing file is a clear error
    assert cli.main(["data", "path", "swansea_phantom_design_mM.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mrs data: error: data file 'swansea_phantom_design_mM.csv' not found")
    assert "MRS_DATA_DIR" in err
