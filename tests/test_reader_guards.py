"""Every field read from a file is guarded; implausible values are refused (issue 14).

One test per case the issue lists: each malformed input raises the library's
error (:class:`MRSFormatError` naming the file, the field, what was expected
and what was found, or :class:`MRSDataError` for in-memory values), never a
traceback and never a wrong number; sizes a file declares are checked before
anything is allocated (measured with :mod:`tracemalloc`, which sees numpy's
allocations). The property-based version of the same claims is
tests/test_fuzz_readers.py.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fuzz_cases import HUGE, nifti_json, npy_bytes, npz_bytes, with_nifti_json

from mrs_lib import cli
from mrs_lib.errors import MRSDataError, MRSFormatError
from mrs_lib.fit.gannet import fit_gaba, fit_gannet
from mrs_lib.io import describe, lcmodel, nifti
from mrs_lib.io.phantoms import PhantomScan, load_phantom_folder, save_phantom_folder
from mrs_lib.models import build_model
from mrs_lib.quantify import GannetQuantifier, LCMQuantifier, read_spectra, save_spectra_npz
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import EditedSpectra, Spectrum
from mrs_lib.synth.store import read_store, write_store
from mrs_lib.train import load_model
from mrs_lib.train.checkpoint import model_blob

DWELL, LARMOR, N = 5e-4, 123.2, 256
#: peak Python/numpy allocation allowed while refusing a file that declares gigabytes
SMALL_PEAK = 64 << 20


def _fid(ppm: float, n: int = N, lw: float = 4.0) -> np.ndarray:
    t = np.arange(n) * DWELL
    return np.exp(2j * np.pi * (ppm - 4.65) * LARMOR * t - np.pi * lw * t)


def _basis() -> Basis:
    off = Spectrum(np.stack([_fid(3.03), _fid(2.0)]), DWELL, LARMOR, te_ms=68.0)
    on = Spectrum(np.stack([_fid(3.03), _fid(3.0) * 0.5]), DWELL, LARMOR, te_ms=68.0)
    return Basis(("Cr", "GABA"), on, off, lw_hz=2.0, params={"preset": "guards"})


def _edited(scale: float = 1.0) -> EditedSpectra:
    off = Spectrum(_fid(3.03) + 0.5 * _fid(2.0), DWELL, LARMOR, te_ms=68.0)
    on = Spectrum(_fid(3.03) + 0.2 * _fid(3.0), DWELL, LARMOR, te_ms=68.0)
    return EditedSpectra(off=off * scale, on=on * scale)


def _raises(call: Callable[[], Any], path: Path, field: str, *words: str) -> MRSFormatError:
    """``call()`` raises MRSFormatError naming ``path`` and ``field``; its text holds ``words``."""
    with pytest.raises(MRSFormatError) as info:
        call()
    exc = info.value
    assert exc.path == str(path) and field in exc.field, str(exc)
    for word in words:
        assert word in str(exc), str(exc)
    return exc


@pytest.fixture
def peak() -> Iterator[Callable[[], int]]:
    """Measure the peak traced allocation (bytes) of the test body."""
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ============================================================================ .npz bases
def _basis_fields() -> dict[str, Any]:
    b = _basis()
    return {
        "metabolites": np.array(b.metabolites),
        "fid_on": b.on.fid,
        "fid_off": b.off.fid,
        "dwell_s": np.float64(DWELL),
        "larmor_mhz": np.float64(LARMOR),
        "ppm_reference": np.float64(4.65),
        "te_ms": np.float64(68.0),
        "lw_hz": np.float64(2.0),
        "params_json": np.array(json.dumps({"preset": "guards"})),
    }


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("dwell_s", np.array("5e-4"), ["a finite number (a scalar)", "<U4"]),
        ("dwell_s", np.array([5e-4, 5e-4]), ["a scalar", "shape (2,)"]),
        ("dwell_s", np.float64(1e-9), ["bandwidth 1/dwell", "1e-09"]),
        ("larmor_mhz", np.float64(123.2e6), ["Larmor frequency", "123200000"]),
        ("lw_hz", np.array("2.0"), ["a finite number", "<U3"]),
        ("lw_hz", np.float64(-1.0), ["linewidth in [0, 100] Hz", "-1.0"]),
        ("lw_hz", np.float64(1e4), ["linewidth in [0, 100] Hz"]),
        ("te_ms", np.float64(68000.0), ["milliseconds"]),
        ("te_ms", np.float64(0.068), ["looks like seconds written as milliseconds (68 ms)"]),
        ("params_json", np.array("{not json"), ["a JSON object"]),
        ("params_json", np.array("[1, 2]"), ["a JSON object", "list"]),
        ("params_json", np.array('{"a": ' + "9" * 5000 + "}"), ["a JSON object", "4300"]),
        ("metabolites", np.array(["Cr", "Cr"]), ["unique, non-empty names"]),
        ("fid_on", np.array([{"a": 1}, None], dtype=object), ["no objects", "object"]),
        ("fid_on", _basis().on.fid.real.copy(), ["complex FIDs", "float64"]),
        ("fid_on", np.ones((2, N), dtype=bool), ["complex FIDs", "bool"]),
        ("fid_off", np.zeros((2, N), complex), ["non-zero FID", "all samples are zero"]),
    ],
)
def test_npz_basis_field_is_guarded(tmp_path: Path, key: str, value: Any, words: list[str]) -> None:
    fields = _basis_fields()
    if key == "fid_off":  # a metabolite without signal in both OFF and ON
        fields["fid_on"] = np.stack([fields["fid_on"][0], np.zeros(N, complex)])
        value = np.stack([fields["fid_off"][0], np.zeros(N, complex)])
    fields[key] = value
    path = tmp_path / "b.npz"
    path.write_bytes(npz_bytes(fields))
    field = "fid_on/fid_off" if key == "fid_off" else key
    _raises(lambda: Basis.load_npz(path), path, field, *words)
    assert cli.main(["info", str(path)]) == 2  # the CLI prints the same error, no traceback


def test_npz_basis_reads_back_exactly(tmp_path: Path) -> None:
    b = _basis()
    back = Basis.load_npz(b.save_npz(tmp_path / "b.npz"))
    np.testing.assert_array_equal(back.on.fid, b.on.fid)
    assert (back.lw_hz, back.on.te_ms, back.params) == (2.0, 68.0, {"preset": "guards"})


def test_npz_declaring_5e11_points_fails_before_allocating(
    tmp_path: Path, peak: Callable[[], int]
) -> None:
    """The member's header says 2^39 complex points (8 TiB); the archive holds 64 bytes."""
    fields = {**_basis_fields(), "fid_on": HUGE}
    path = tmp_path / "huge.npz"
    path.write_bytes(npz_bytes(fields))
    _raises(lambda: Basis.load_npz(path), path, "fid_on", "declared shape (549755813888,)")
    assert peak() < SMALL_PEAK


def test_npz_deflated_member_larger_than_deflate_allows(tmp_path: Path) -> None:
    """A compressed member's declared size is bounded by deflate's ratio (1032:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in _basis_fields().items():
            zf.writestr(f"{key}.npy", npy_bytes(value))
    data = bytearray(buf.getvalue())
    # central directory entry of the first member: uncompressed size at offset 24
    cd = data.rfind(b"PK\x01\x02", 0, len(data) - 22)
    first = data.find(b"PK\x01\x02")
    assert first <= cd
    struct.pack_into("<I", data, first + 24, 0xFFFFFFF0)
    path = tmp_path / "lie.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(MRSFormatError, match="no larger than the file can hold"):
        Basis.load_npz(path)


# ============================================================================ .npz spectra
def test_npz_spectra_fields_are_guarded(tmp_path: Path) -> None:
    good = save_spectra_npz(tmp_path / "s.npz", _edited(), np.array([1.0, 0.5]), ["Cr", "GABA"])
    spectra, truth = read_spectra(good)
    np.testing.assert_array_equal(spectra.on.fid, _edited().on.fid)
    np.testing.assert_array_equal(truth, [1.0, 0.5])
    with np.load(good) as z:
        base = {k: z[k] for k in z.files}
    cases = [
        ("fid_on", np.stack([base["fid_on"]] * 2), "shape (256,) as fid_off"),
        ("fid_off", base["fid_off"].real.copy(), "complex FIDs"),
        ("dwell_s", np.array(["5e-4"]), "a scalar"),
        ("concentrations", np.array([1.0, np.nan]), "finite numbers"),
        ("concentrations", np.array([1.0, 0.5, 0.2]), "shape (2,)"),
        ("concentrations", np.array(["a", "b"]), "real numbers"),
    ]
    for key, value, words in cases:
        path = tmp_path / f"bad-{key}.npz"
        path.write_bytes(npz_bytes({**base, key: value}))
        _raises(lambda p=path: read_spectra(p), path, key, words)


# ============================================================================ checkpoints
@pytest.fixture(scope="module")
def checkpoint_blob() -> dict[str, Any]:
    torch.manual_seed(7)
    model = build_model("fcnn", "tiny")
    return model_blob(model, "fcnn", model.config.to_dict(), data={"channels": ["off:real"]})


def _saved(blob: Any, **kw: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(blob, buf, **kw)
    return buf.getvalue()


def _checkpoint_cases(blob: dict[str, Any]) -> list[tuple[str, bytes, str, str]]:
    state = dict(blob["state_dict"])
    first = next(iter(state))
    missing = {k: v for k, v in state.items() if k != first}
    misshaped = {**state, first: torch.zeros(3)}
    nan = {**state, first: state[first] * float("nan")}
    good = _saved(blob)
    return [
        ("empty", b"", "file", "an empty file"),
        ("text", b"a text file\n", "file", "content starting b'a te'"),
        ("truncated", good[: len(good) // 2], "file", "BadZipFile"),
        ("pickled zip", _saved({**blob, "p": Path("x")}), "file", "UnpicklingError"),
        ("legacy", _saved(blob, _use_new_zipfile_serialization=False), "file", "legacy pickle"),
        ("raw pickle", pickle.dumps({"a": 1}), "file", "legacy pickle"),
        (
            "no model_name",
            _saved({k: v for k, v in blob.items() if k != "model_name"}),
            "model_name",
            "missing",
        ),
        ("unknown model", _saved({**blob, "model_name": "transformer"}), "model_name", "cnn"),
        ("missing key", _saved({**blob, "state_dict": missing}), "state_dict", "missing ["),
        (
            "mis-shaped key",
            _saved({**blob, "state_dict": misshaped}),
            f"state_dict['{first}']",
            "(3,)",
        ),
        (
            "NaN weights",
            _saved({**blob, "state_dict": nan}),
            f"state_dict['{first}']",
            "finite weights",
        ),
        (
            "list state dict",
            _saved({**blob, "state_dict": list(state.values())}),
            "state_dict",
            "list",
        ),
        ("bad config", _saved({**blob, "model_config": {"hidden": -3}}), "model_config", "fcnn"),
        ("not a dict", _saved([1, 2]), "top level", "list"),
        (
            "training state",
            _saved({**blob, "format": "mrs_lib.train-state/2"}),
            "format",
            "best.pt",
        ),
        ("data not a dict", _saved({**blob, "data": [1]}), "data", "list"),
    ]


def test_checkpoint_cases_are_clear_errors(tmp_path: Path, checkpoint_blob: dict[str, Any]) -> None:
    good = tmp_path / "good.pt"
    good.write_bytes(_saved(checkpoint_blob))
    model, meta = load_model(good)
    assert meta["model_name"] == "fcnn" and meta["channels"] == ["off:real"]
    assert not model.training
    for name, data, field, words in _checkpoint_cases(checkpoint_blob):
        path = tmp_path / f"{name.replace(' ', '_')}.pt"
        path.write_bytes(data)
        _raises(lambda p=path: load_model(p), path, field, words)


def test_checkpoint_paths_that_are_not_checkpoints(tmp_path: Path) -> None:
    npz = tmp_path / "basis.npz"
    _basis().save_npz(npz)
    _raises(lambda: load_model(npz), npz, "file", "without data.pkl")
    _raises(lambda: load_model(tmp_path), tmp_path, "file", "not a regular file")
    absent = tmp_path / "absent.pt"
    _raises(lambda: load_model(absent), absent, "file", "no such file")


def test_mrs_evaluate_with_a_bad_checkpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint\n")
    assert cli.main(["evaluate", "--checkpoint", str(path), "--n", "2"]) == 2
    err = capsys.readouterr().err
    assert "bad.pt" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ============================================================================ NIfTI-MRS
def test_nifti_declaring_2_to_27_points_fails_before_allocating(
    tmp_path: Path, peak: Callable[[], int]
) -> None:
    """dim[4] = 2^27 complex64 points (1 GiB declared) in a file of a few kB."""
    data = bytearray(nifti.save(_edited(), tmp_path / "ok.nii").read_bytes())
    struct.pack_into("<q", data, 48, 2**27)  # NIfTI-2 dim[4] (dim[0] at byte 16)
    for name, blob in (("huge.nii", bytes(data)), ("huge.nii.gz", gzip.compress(bytes(data)))):
        path = tmp_path / name
        path.write_bytes(blob)
        _raises(lambda p=path: nifti.load(p), path, "dim (header)", "134217728")
    assert peak() < SMALL_PEAK


def test_nifti_truncated_gzip_is_refused_unread(tmp_path: Path) -> None:
    data = gzip.compress(nifti.save(_edited(), tmp_path / "ok.nii").read_bytes())
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(data[: len(data) - 200])
    with pytest.raises(MRSFormatError, match=r"cut\.nii\.gz"):
        nifti.load(path)


@pytest.mark.parametrize(
    ("key", "value", "field", "words"),
    [
        ("EchoTime", 68, "EchoTime", "68 looks like milliseconds written as seconds (0.068 s)"),
        ("EchoTime", "0.068", "file", "EchoTime must be a"),  # nifti_mrs's own check
        ("EchoTime", True, "EchoTime", "seconds"),
        ("SpectrometerFrequency", [123.2e6], "SpectrometerFrequency", "Larmor frequency"),
    ],
)
def test_nifti_header_values_are_plausible(
    tmp_path: Path, key: str, value: Any, field: str, words: str
) -> None:
    data = nifti.save(_edited(), tmp_path / "ok.nii").read_bytes()
    assert nifti.load(tmp_path / "ok.nii").off.te_ms == 68.0
    path = tmp_path / "bad.nii"
    path.write_bytes(with_nifti_json(data, {**nifti_json(data), key: value}))
    _raises(lambda: nifti.load(path), path, field, words)


def test_nifti_absurd_bandwidth_and_basis_linewidth(tmp_path: Path) -> None:
    path = nifti.save(_edited().map(lambda s: s.replace(dwell_s=1e-9)), tmp_path / "bw.nii")
    _raises(lambda: nifti.load(path), path, "pixdim[4]", "bandwidth")
    data = nifti.save_basis(_basis(), tmp_path / "b.nii").read_bytes()
    header = nifti_json(data)
    user = json.loads(header["mrs_lib"]["Value"])
    for lw, words in (("2.0", "a linewidth"), (-1.0, "-1.0")):
        header["mrs_lib"]["Value"] = json.dumps({**user, "lw_hz": lw})
        path = tmp_path / "lw.nii"
        path.write_bytes(with_nifti_json(data, header))
        _raises(lambda p=path: nifti.load_basis(p), path, "mrs_lib.lw_hz", words)


# ============================================================================ phantom folders
def _folder(tmp_path: Path, scans: list[EditedSpectra], conc: list[dict[str, float]]) -> Path:
    root = tmp_path / "phantoms"
    objs = [PhantomScan("E1", f"s{i}", s, {"GABA": 1.0}) for i, s in enumerate(scans, start=1)]
    save_phantom_folder(objs, root)
    text = json.dumps({f"s{i}": c for i, c in enumerate(conc, start=1)})
    (root / "E1" / "concentrations.json").write_text(text)
    return root


def test_phantom_dim_dyn_is_averaged_with_a_note(tmp_path: Path) -> None:
    """Oracle: the average of transients fid_k = seed * f_k with mean(f) = 1 is the seed."""
    factors = np.array([0.5, 1.5, 0.7, 1.3, 1.0, 1.0])[:, None]
    dyn = _edited().map(lambda s: s.replace(fid=s.fid * factors))
    root = _folder(tmp_path, [dyn, _edited()], [{"GABA": 2.0}, {"Cr": 8.0}])
    s1, s2 = load_phantom_folder(root)
    np.testing.assert_allclose(s1.spectra.on.fid, _edited().on.fid, rtol=1e-6, atol=1e-7)
    assert s1.spectra.off.batch_shape == ()
    assert s1.metadata["averaged_dynamics"] == 6 and "DIM_DYN" in s1.metadata["note"]
    assert "averaged_dynamics" not in s2.metadata


def test_phantom_other_dimensions_are_refused(tmp_path: Path) -> None:
    coils = _edited().map(lambda s: s.replace(fid=np.stack([s.fid] * 4)[None]))  # DIM_USER_0 = 4
    root = _folder(tmp_path, [coils], [{"GABA": 2.0}])
    with pytest.raises(MRSFormatError, match="DIM_USER_0 of size 4"):
        load_phantom_folder(root)


def test_phantom_absurd_bandwidth_and_zero_signal(tmp_path: Path) -> None:
    bad = [_edited().map(lambda s: s.replace(dwell_s=1.0)), _edited(scale=0.0)]
    for i, (scan, words) in enumerate(zip(bad, ["bandwidth", "all samples are zero"], strict=True)):
        root = _folder(tmp_path / str(i), [scan], [{"GABA": 2.0}])
        with pytest.raises(MRSFormatError, match=words):
            load_phantom_folder(root)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)), "binary data"),
        (b'{"s1": {"GABA": ' + b"1" * 5000 + b"}}", "valid JSON"),
        (b'{"s1": {"GABA": 1' + b"0" * 400 + b".0}}", "finite concentration"),
        (b'{"s1": {"GABA": "2.0"}}', "a number (mM)"),
        (b'{"s1": {"GABA": true}}', "a number (mM)"),
        (b'{"s1": {"GABA": 0, "NAA": 0.0}}', "all-zero truth"),
        (b'{"s1": {}}', "all-zero truth"),
        (b"[1, 2]", "an object"),
    ],
)
def test_concentrations_json_is_guarded(tmp_path: Path, content: bytes, words: str) -> None:
    root = _folder(tmp_path, [_edited()], [{"GABA": 2.0}])
    conc = root / "E1" / "concentrations.json"
    conc.write_bytes(content)
    _raises(lambda: load_phantom_folder(root), conc, "", words)


def test_concentrations_json_that_is_a_directory(tmp_path: Path) -> None:
    root = _folder(tmp_path, [_edited()], [{"GABA": 2.0}])
    conc = root / "E1" / "concentrations.json"
    conc.unlink()
    conc.mkdir()
    _raises(lambda: load_phantom_folder(root), conc, "file", "not a regular file")


# ============================================================================ LCModel files
def test_raw_cut_at_a_line_boundary_is_caught_with_n_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = Spectrum(_fid(3.0), DWELL, LARMOR, te_ms=68.0)
    text = lcmodel.write_raw(tmp_path / "ok.RAW", spec).read_text()
    lines = text.rstrip("\n").split("\n")
    cut = tmp_path / "cut.RAW"
    cut.write_text("\n".join(lines[: len(lines) - N // 2]) + "\n")  # half the data lines
    assert lcmodel.read_raw(cut, DWELL, LARMOR).n_points == N // 2  # the format cannot tell
    _raises(lambda: lcmodel.read_raw(cut, DWELL, LARMOR, n_points=N), cut, "data", "256 complex")
    with pytest.raises(MRSFormatError, match="256 complex points"):
        describe(cut, dwell_s=DWELL, larmor_mhz=LARMOR, n_points=N)
    args = ["info", str(cut), "--dwell-s", str(DWELL), "--larmor-mhz", str(LARMOR)]
    assert cli.main([*args, "--n-points", str(N)]) == 2
    assert "256 complex points (NUNFIL)" in capsys.readouterr().err
    assert cli.main([*args, "--n-points", str(N // 2)]) == 0
    out = tmp_path / "cut.nii.gz"
    assert cli.main(["convert", str(cut), str(out), *args[2:], "--n-points", str(N)]) == 2
    assert not out.exists()


def test_raw_n_points_and_echo_time_are_plausible(tmp_path: Path) -> None:
    spec = Spectrum(_fid(3.0), DWELL, LARMOR)
    path = lcmodel.write_raw(tmp_path / "s.RAW", spec, te_ms=0.068)
    _raises(lambda: lcmodel.read_raw(path, DWELL, LARMOR), path, "$SEQPAR ECHOT", "68 ms")
    with pytest.raises(MRSDataError, match="65536"):
        lcmodel.read_raw(path, DWELL, LARMOR, n_points=2_000_000_000)
    with pytest.raises(MRSDataError, match="bandwidth"):
        lcmodel.read_raw(path, 10.0, LARMOR)


def test_basis_n_points_2e9_is_refused_before_allocating(
    tmp_path: Path, peak: Callable[[], int], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(MRSDataError, match="131072"):
        lcmodel.write_basis(tmp_path / "x.BASIS", _basis(), "off", n_points=2_000_000_000)
    assert peak() < SMALL_PEAK
    assert not (tmp_path / "x.BASIS").exists()
    npz = _basis().save_npz(tmp_path / "b.npz")
    dst = tmp_path / "y.BASIS"
    args = ["convert", str(npz), str(dst), "--edit", "off", "--n-points"]
    assert cli.main([*args, "2000000000"]) == 2
    assert cli.main([*args, "200000"]) == 2  # within the CLI's 2^20, above LCModel's NDATAB
    assert "131072" in capsys.readouterr().err and not dst.exists()


def test_basis_file_ndatab_and_badelt_are_plausible(tmp_path: Path) -> None:
    text = lcmodel.write_basis(tmp_path / "ok.BASIS", _basis(), "off").read_text()
    for old, new, field in (
        (f"NDATAB={N}", "NDATAB=2000000000", "$BASIS1 NDATAB"),
        ("BADELT=0.0005", "BADELT=1E-9", "$BASIS1 BADELT"),
        ("ECHOT=68.", "ECHOT=68000.", "$SEQPAR ECHOT"),
    ):
        assert old in text, old
        path = tmp_path / "bad.BASIS"
        path.write_text(text.replace(old, new))
        _raises(lambda p=path: lcmodel.read_basis(p), path, field)


def test_table_with_a_5000_digit_count_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "x.table"
    path.write_text(f"$$CONC {'9' * 5000} lines in following concentration table\n")
    with pytest.raises(MRSFormatError, match=r"x\.table"):
        lcmodel.read_table(path)


# ============================================================================ zero signal
def test_gannet_fit_refuses_an_all_zero_spectrum() -> None:
    zero = _edited(scale=0.0)
    with pytest.raises(MRSDataError, match="all zero"):
        fit_gannet(zero)
    same = EditedSpectra(off=_edited().off, on=_edited().off)  # ON = OFF: nothing edited
    assert fit_gaba(same.diff).area == 0.0


def test_mrs_fit_gannet_on_an_all_zero_spectrum_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: GABA/Cr 0.56 was reported from no signal; now one clear line, exit 2."""
    basis = _basis().save_npz(tmp_path / "b.npz")
    zero = save_spectra_npz(tmp_path / "zero.npz", _edited(scale=0.0))
    assert cli.main(["fit", "--method", "gannet", "--basis", str(basis), str(zero)]) == 2
    err = capsys.readouterr().err
    assert "all zero" in err and "Traceback" not in err


@pytest.mark.parametrize("method", ["lcm", "gannet"])
def test_quantifiers_refuse_all_zero_input(method: str) -> None:
    basis = _basis()
    q = LCMQuantifier(basis) if method == "lcm" else GannetQuantifier()
    batch = EditedSpectra(
        off=Spectrum(np.stack([_edited().off.fid, np.zeros(N, complex)]), DWELL, LARMOR),
        on=Spectrum(np.stack([_edited().on.fid, _edited().on.fid]), DWELL, LARMOR),
    )
    with pytest.raises(MRSDataError, match="spectrum 1 of 2: the edit-OFF FID is all zero"):
        q.quantify(batch)


# ============================================================================ linewidths
def test_negative_or_absurd_basis_linewidth_is_refused(tmp_path: Path) -> None:
    b = _basis()
    assert b.broaden(-1.0).lw_hz == 1.0  # narrowing within what was applied is fine
    for bad in (-3.0, 1e4):
        with pytest.raises(MRSDataError, match="lw_hz"):
            b.broaden(bad)


def test_mrs_simulate_refuses_a_negative_linewidth(tmp_path: Path) -> None:
    out = tmp_path / "b.npz"
    rc = cli.main(
        ["simulate", "--preset", "external-reference", "--points", "256", "--metabolites",
         "Cr", "--lw-hz", "-1", "--out", str(out)]
    )  # fmt: skip
    assert rc == 2 and not out.exists()


# ============================================================================ stored sets
def test_stored_set_with_a_huge_or_object_member(tmp_path: Path) -> None:
    meta = {"metabolites": ["Cr"], "channels": ["off:real"], "config": {}, "seed": 0}
    arrays = {"x": np.zeros((2, 1, 4), np.float16), "targets": np.zeros((2, 1))}
    good = write_store(tmp_path / "good.npz", {**meta, "chunk_size": 1}, arrays)
    assert read_store(good)[1]["x"].shape == (2, 1, 4)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f2", "fortran_order": False, "shape": (2**39, 1, 4)}
    )
    huge = buf.getvalue() + bytes(64)  # declares 4 TiB of float16 over 64 bytes
    for name, value, words in (
        ("huge", huge, "declared shape"),
        ("object", np.array([None, 1], dtype=object), "no objects"),
        ("float64", np.zeros((2, 1, 4)), "float16 or float32"),
    ):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("meta.json", json.dumps(meta))
            zf.writestr("x.npy", value if isinstance(value, bytes) else npy_bytes(value))
        path = tmp_path / f"{name}.npz"
        path.write_bytes(buf.getvalue())
        _raises(lambda p=path: read_store(p), path, "x", words)
    bad_meta = tmp_path / "meta.npz"
    with zipfile.ZipFile(bad_meta, "w") as zf:
        zf.writestr("meta.json", "{not json")
        zf.writestr("x.npy", npy_bytes(arrays["x"]))
    _raises(lambda: read_store(bad_meta), bad_meta, "meta.json", "a JSON object")
