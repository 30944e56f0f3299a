"""Property-based fuzzing of every reader: the library's error or a correct result, nothing else.

Property (issue 14): for any mutation of a valid input file (truncation, byte
flips, fields swapped for values of the wrong kind, NaN/inf, shapes far larger
than the file, empty files; :mod:`fuzz_cases`), each reader either returns a
result that passes the reader's oracle (finite numbers, plausible acquisition
parameters, shapes that agree, and the seed's own values wherever the mutation
did not touch them) or raises a :class:`~mrs_lib.errors.MRSError` whose
message names the file. Any other exception, a wrong result or an error that
does not name the file fails the test, listing the first offending cases.

Readers: ``.npz`` basis (:meth:`Basis.load_npz`), ``.npz`` spectra
(:func:`read_spectra`), checkpoints (:func:`load_model`), NIfTI-MRS
(:func:`nifti.load` / :func:`nifti.load_basis`), phantom folders with
``concentrations.json`` (:func:`load_phantom_folder`), LCModel ``.RAW``,
``.BASIS``, ``.table``, ``.csv``, ``.COORD``, and stored synthetic sets
(:class:`StoredDataset`). The LCModel control file has a writer only, so it
has no reader to fuzz.

Each reader runs 30 examples in the normal suite and 1,000 under
``@pytest.mark.slow`` (``make test`` runs both); deterministic
(``derandomize=True``, no example database; hypothesis also draws constants
from the modules imported so far, so the exact examples, not the property,
depend on which tests ran before). The slow run prints one line per reader,
``fuzz <reader>: <n> tried, <n> correct, <n> library errors, <n> other
exceptions``, and appends the counts as JSON lines to ``$MRS_FUZZ_REPORT``
when that is set::

    MRS_FUZZ_REPORT=fuzz.jsonl pytest -m slow tests/test_fuzz_readers.py
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest
import torch
from fuzz_cases import (
    DROP,
    byte_ops,
    dump_json,
    field_ops,
    json_ops,
    mutate_bytes,
    mutate_fields,
    mutate_json,
    nifti_header_ops,
    nifti_json,
    npy_bytes,
    npz_bytes,
    set_nifti_fields,
    with_nifti_json,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mrs_lib.errors import MRSError
from mrs_lib.io import lcmodel, nifti
from mrs_lib.io.phantoms import PhantomScan, load_phantom_folder
from mrs_lib.models import QuantNet, build_model
from mrs_lib.plausibility import MAX_LW_HZ
from mrs_lib.quantify import read_spectra, save_spectra_npz
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import EditedSpectra, Spectrum
from mrs_lib.synth.config import as_config
from mrs_lib.synth.dataset import StoredDataset
from mrs_lib.synth.store import write_store
from mrs_lib.train import load_model
from mrs_lib.train.checkpoint import model_blob

DWELL, LARMOR, N = 5e-4, 123.2, 64
FAST, SLOW = 30, 1000


def _fid(ppm: float, n: int = N, lw: float = 5.0) -> np.ndarray:
    t = np.arange(n) * DWELL
    return np.exp(2j * np.pi * (ppm - 4.65) * LARMOR * t - np.pi * lw * t)


def _plausible(spec: Spectrum) -> None:
    """Oracle shared by every spectrum a reader returns."""
    assert spec.fid.dtype.kind == "c" and np.all(np.isfinite(spec.fid)) and spec.n_points >= 2
    assert 1e-6 <= spec.dwell_s <= 1e-2 and 2.0 <= spec.larmor_mhz <= 1500.0
    assert spec.te_ms is None or 1.0 <= spec.te_ms <= 1000.0
    assert np.isfinite(spec.ppm_reference)


def _no_op(case: dict[str, Any]) -> bool:
    return not any(v for k, v in case.items() if k not in ("gz", "compress", "n", "seed"))


# ============================================================================ seeds
SEED_BASIS = Basis(
    ("Cr", "GABA"),
    Spectrum(np.stack([_fid(3.0), _fid(3.0) * 0.4]), DWELL, LARMOR, te_ms=68.0),
    Spectrum(np.stack([_fid(3.0), _fid(2.0) * 0.4]), DWELL, LARMOR, te_ms=68.0),
    lw_hz=2.0,
    params={"preset": "fuzz"},
)
SEED_EDITED = EditedSpectra(
    off=Spectrum(np.stack([_fid(3.0), _fid(2.0)]), DWELL, LARMOR, te_ms=68.0),
    on=Spectrum(np.stack([_fid(3.0) * 0.5, _fid(2.0) * 0.5]), DWELL, LARMOR, te_ms=68.0),
)
SEED_TRUTH = np.array([[1.0, 0.5, 0.0, 0.0, 2.0], [0.5, 1.0, 0.0, 0.0, 1.0]])


def _npz_arrays(write: Callable[[Path], Any], tmp: Path) -> dict[str, Any]:
    path = tmp / "seed.npz"
    write(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@dataclass
class Reader:
    """One reader under test: its case strategy, how to run a case, and the oracle."""

    name: str
    cases: st.SearchStrategy[dict[str, Any]]
    run: Callable[[Path, dict[str, Any]], Any]
    check: Callable[[Any, dict[str, Any]], None]


def _optional_bytes() -> st.SearchStrategy[list[tuple[str, float, bytes]]]:
    return st.one_of(st.just([]), byte_ops(2))


# ---------------------------------------------------------------------------- .npz basis
def _npz_basis(tmp: Path) -> Reader:
    seed = _npz_arrays(SEED_BASIS.save_npz, tmp)
    keys = (*seed, "extra")
    cases = st.fixed_dictionaries(
        {"fields": field_ops(keys), "compress": st.booleans(), "bytes": _optional_bytes()}
    )

    def run(d: Path, case: dict[str, Any]) -> Basis:
        data = npz_bytes(mutate_fields(seed, case["fields"]), compress=case["compress"])
        path = d / "basis.npz"
        path.write_bytes(mutate_bytes(data, case["bytes"]))
        return Basis.load_npz(path)

    def check(b: Basis, case: dict[str, Any]) -> None:
        assert isinstance(b, Basis) and b.on.batch_shape == (len(b.metabolites),)
        _plausible(b.on)
        _plausible(b.off)
        assert 0.0 <= b.lw_hz <= MAX_LW_HZ
        touched = {k for k, _ in case["fields"]}
        if not case["bytes"]:
            for key, spec in (("fid_on", b.on), ("fid_off", b.off)):
                if key not in touched:
                    np.testing.assert_array_equal(spec.fid, seed[key])
            if "lw_hz" not in touched:
                assert b.lw_hz == 2.0

    return Reader("npz basis", cases, run, check)


# ---------------------------------------------------------------------------- .npz spectra
def _npz_spectra(tmp: Path) -> Reader:
    seed = _npz_arrays(
        lambda p: save_spectra_npz(p, SEED_EDITED, SEED_TRUTH), tmp
    )  # fid_off, fid_on, dwell_s, larmor_mhz, ppm_reference, te_ms, concentrations, metabolites
    keys = (*seed, "extra")
    cases = st.fixed_dictionaries(
        {"fields": field_ops(keys), "compress": st.booleans(), "bytes": _optional_bytes()}
    )

    def run(d: Path, case: dict[str, Any]) -> tuple[EditedSpectra, np.ndarray | None]:
        data = npz_bytes(mutate_fields(seed, case["fields"]), compress=case["compress"])
        path = d / "spectra.npz"
        path.write_bytes(mutate_bytes(data, case["bytes"]))
        return read_spectra(path)

    def check(result: tuple[EditedSpectra, np.ndarray | None], case: dict[str, Any]) -> None:
        spectra, truth = result
        _plausible(spectra.off)
        _plausible(spectra.on)
        assert spectra.off.fid.shape == spectra.on.fid.shape
        if truth is not None:
            assert np.all(np.isfinite(truth))
            assert truth.shape[:-1] == spectra.off.batch_shape and truth.shape[-1] >= 1
        touched = {k for k, _ in case["fields"]}
        if not case["bytes"]:
            if "fid_off" not in touched:
                np.testing.assert_array_equal(spectra.off.fid, seed["fid_off"])
            if "concentrations" not in touched and "metabolites" not in touched:
                np.testing.assert_array_equal(truth, SEED_TRUTH)

    return Reader("npz spectra", cases, run, check)


# ---------------------------------------------------------------------------- checkpoint
BLOB_KINDS = ("drop", "null", "string", "int", "list", "dict", "tensor", "unknown_name", "preset")
WEIGHT_OPS = ("drop", "reshape", "nan", "int", "extra", "list", "half", "non_tensor", "dict_value")
CONTAINERS = ("zip", "zip", "zip", "legacy", "object", "text", "empty")


def _swap_blob(value: Any, kind: str) -> Any:
    return {
        "drop": DROP,
        "null": None,
        "string": "x",
        "int": 7,
        "list": [1, 2],
        "dict": {"a": 1},
        "tensor": torch.zeros(2),
        "unknown_name": "transformer",
        "preset": {"preset": "no-such-preset"},
    }[kind]


def _checkpoint(tmp: Path) -> Reader:
    torch.manual_seed(20260224)
    seeds, inputs, outputs = {}, {}, {}
    for family in ("cnn", "fcnn", "yae"):
        model = build_model(family, "tiny")
        cfg = model.config.to_dict()
        seeds[family] = model_blob(model, family, cfg, data={"channels": ["off:real"]})
        inputs[family] = torch.linspace(-1, 1, model.config.rows * 2048).reshape(1, -1, 2048)
        with torch.no_grad():
            outputs[family] = model.eval()(inputs[family])
    keys = ("format", "model_name", "model_config", "state_dict", "data", "metabolites")
    cases = st.fixed_dictionaries(
        {
            "family": st.sampled_from(sorted(seeds)),
            "fields": st.lists(
                st.tuples(st.sampled_from(keys), st.sampled_from(BLOB_KINDS)), max_size=2
            ),
            "weights": st.lists(st.sampled_from(WEIGHT_OPS), max_size=2),
            "container": st.sampled_from(CONTAINERS),
            "bytes": _optional_bytes(),
        }
    )

    def blob_of(case: dict[str, Any]) -> dict[str, Any]:
        seed = seeds[case["family"]]
        blob = dict(seed)
        state: Any = dict(seed["state_dict"])
        first = next(iter(state))
        for op in case["weights"]:
            if not isinstance(state, dict):
                break
            if op == "drop":
                state.pop(first, None)
            elif op == "reshape":
                state[first] = torch.zeros(3)
            elif op == "nan" and isinstance(state.get(first), torch.Tensor):
                state[first] = state[first] * float("nan")
            elif op == "int" and isinstance(state.get(first), torch.Tensor):
                state[first] = state[first].long()
            elif op == "extra":
                state["bogus.weight"] = torch.zeros(1)
            elif op == "list":
                state = list(state.values())
            elif op == "half":
                state = {
                    k: v.half() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
                    for k, v in state.items()
                }
            elif op == "non_tensor":
                state[first] = 1.0
            elif op == "dict_value":
                state[first] = {"a": torch.zeros(1)}
        blob["state_dict"] = state
        for key, kind in case["fields"]:
            new = _swap_blob(blob.get(key), kind)
            if new is DROP:
                blob.pop(key, None)
            else:
                blob[key] = new
        return blob

    def run(d: Path, case: dict[str, Any]) -> tuple[QuantNet, dict[str, Any]]:
        blob = blob_of(case)
        buf = io.BytesIO()
        container = case["container"]
        if container == "legacy":
            torch.save(blob, buf, _use_new_zipfile_serialization=False)
        elif container == "object":
            torch.save({**blob, "path": PurePosixPath("x")}, buf)  # not loadable weights-only
        elif container == "text":
            buf.write(b"not a checkpoint\n")
        elif container == "zip":
            torch.save(blob, buf)
        path = d / "model.pt"
        path.write_bytes(mutate_bytes(buf.getvalue(), case["bytes"]))
        return load_model(path)

    def check(result: tuple[QuantNet, dict[str, Any]], case: dict[str, Any]) -> None:
        model, meta = result
        assert isinstance(model, QuantNet) and not model.training
        x = inputs.get(meta.get("model_name"), inputs[case["family"]])
        if x.shape[1] != model.config.rows:
            x = torch.zeros(1, model.config.rows, 2048)
        with torch.no_grad():
            out = model(x)
        assert out.shape == (1, 5) and bool(torch.isfinite(out).all())
        assert all(isinstance(c, str) for c in meta.get("channels", []))
        untouched = not case["fields"] and not set(case["weights"]) - {"extra", "half"}
        if untouched and not case["bytes"] and case["container"] == "zip":
            tol = {"atol": 2e-2, "rtol": 2e-2} if "half" in case["weights"] else {}
            torch.testing.assert_close(out, outputs[case["family"]], **tol)

    return Reader("checkpoint", cases, run, check)


# ---------------------------------------------------------------------------- NIfTI-MRS
NIFTI_KEYS = (
    "SpectrometerFrequency",
    "ResonantNucleus",
    "EchoTime",
    "SpecFreqChemShift",
    "dim_5",
    "dim_5_header",
    "dim_6",
    "dim_6_header",
    "mrs_lib",
)


def _nifti(tmp: Path) -> Reader:
    single = Spectrum(_fid(3.0), DWELL, LARMOR, te_ms=68.0)
    seeds = {
        "edited": nifti.save(SEED_EDITED, tmp / "edited.nii").read_bytes(),
        "basis": nifti.save_basis(SEED_BASIS, tmp / "basis.nii").read_bytes(),
        "spectrum": nifti.save(single, tmp / "single.nii").read_bytes(),
    }
    cases = st.fixed_dictionaries(
        {
            "seed": st.sampled_from(sorted(seeds)),
            "header": nifti_header_ops(),
            "json": json_ops(NIFTI_KEYS),
            "bytes": _optional_bytes(),
            "gz": st.booleans(),
        }
    )

    def run(d: Path, case: dict[str, Any]) -> Any:
        data = seeds[case["seed"]]
        if case["json"]:
            data = with_nifti_json(data, mutate_json(nifti_json(data), case["json"]))
        data = set_nifti_fields(data, case["header"])
        name = "x.nii.gz" if case["gz"] else "x.nii"
        if case["gz"]:
            data = gzip.compress(data, mtime=0)
        path = d / name
        path.write_bytes(mutate_bytes(data, case["bytes"]))
        if case["seed"] == "basis":
            return nifti.load_basis(path)
        return nifti.load(path)

    def check(obj: Any, case: dict[str, Any]) -> None:
        if isinstance(obj, Basis):
            specs = [obj.on, obj.off]
            assert 0.0 <= obj.lw_hz <= MAX_LW_HZ
        elif isinstance(obj, EditedSpectra):
            specs = [obj.off, obj.on]
        else:
            specs = [obj]
        for s in specs:
            _plausible(s)
        if _no_op(case):
            want = {"edited": SEED_EDITED.off, "basis": SEED_BASIS.on, "spectrum": single}
            np.testing.assert_array_equal(specs[0].fid, want[case["seed"]].fid)
            assert specs[0].te_ms == 68.0

    return Reader("nifti-mrs", cases, run, check)


# ---------------------------------------------------------------------------- phantom folders
SCAN1 = ("edited", "dyn4", "user3", "zero", "absurd_bw", "te_in_ms", "single", "missing", "garbage")
SCAN2 = ("pair", "missing_on", "dyn4_pair", "zero_on", "other_larmor")
CONC_FILE = (
    "json",
    "json",
    "json",
    "binary",
    "directory",
    "empty",
    "missing",
    "digits5000",
    "list",
)


def _phantoms(tmp: Path) -> Reader:
    off1 = Spectrum(_fid(3.0), DWELL, LARMOR, te_ms=68.0)
    on1 = Spectrum(_fid(3.0) * 0.5 + _fid(1.9) * 0.2, DWELL, LARMOR, te_ms=68.0)
    edited = EditedSpectra(off=off1, on=on1)
    factors = np.array([0.5, 1.5, 0.8, 1.2])[:, None]  # mean 1: the average is the seed

    def save(obj: Any, name: str) -> bytes:
        return nifti.save(obj, tmp / name).read_bytes()

    files = {
        "edited": save(edited, "e.nii.gz"),
        "dyn4": save(edited.map(lambda s: s.replace(fid=s.fid * factors)), "d.nii.gz"),
        "user3": save(edited.map(lambda s: s.replace(fid=np.stack([s.fid] * 3)[None])), "u.nii.gz"),
        "zero": save(edited.map(lambda s: s.replace(fid=s.fid * 0)), "z.nii.gz"),
        "absurd_bw": save(edited.map(lambda s: s.replace(dwell_s=1e-9)), "b.nii.gz"),
        "single": save(off1, "s.nii.gz"),
        "off": save(off1, "off.nii.gz"),
        "on": save(on1, "on.nii.gz"),
        "off4": save(off1.replace(fid=off1.fid * factors), "off4.nii.gz"),
        "on4": save(on1.replace(fid=on1.fid * factors), "on4.nii.gz"),
        "on_larmor": save(on1.replace(larmor_mhz=127.7), "onl.nii.gz"),
        "zero_on": save(on1.replace(fid=on1.fid * 0), "onz.nii.gz"),
    }
    te_ms = bytearray(gzip.decompress(files["edited"]))
    te_ms = with_nifti_json(bytes(te_ms), {**nifti_json(bytes(te_ms)), "EchoTime": 68})
    files["te_in_ms"] = gzip.compress(te_ms, mtime=0)
    conc = {"s1": {"GABA": 2.0, "NAA": 15.0, "Cr": 8.0}, "s2": {"GABA": 1.0, "Cr": 8.0}}
    flat = {f"{s}/{m}": v for s, c in conc.items() for m, v in c.items()}
    json_keys = (*flat, "s1/Glu", "s2/Tau", "s1", "s3")
    cases = st.fixed_dictionaries(
        {
            "conc_file": st.sampled_from(CONC_FILE),
            "conc": json_ops(json_keys),
            "s1": st.sampled_from(SCAN1),
            "s2": st.sampled_from(SCAN2),
            "bytes": _optional_bytes(),
        }
    )

    def conc_text(case: dict[str, Any]) -> bytes | None:
        kind = case["conc_file"]
        if kind == "binary":
            return bytes(range(256)) * 4
        if kind == "empty":
            return b""
        if kind == "digits5000":
            return ('{"s1": {"GABA": ' + "1" * 5000 + '}, "s2": {"Cr": 8}}').encode()
        if kind == "list":
            return b"[1, 2]"
        mutated = mutate_json(dict(flat), case["conc"])
        nested: dict[str, Any] = {}
        for key, value in mutated.items():
            scan, _, met = key.partition("/")
            if not met:
                nested[scan] = value
            elif isinstance(nested.setdefault(scan, {}), dict):
                nested[scan][met] = value
        return dump_json(nested).encode()

    def run(d: Path, case: dict[str, Any]) -> list[PhantomScan]:
        series = d / "root" / "E1"
        (series / "s1").mkdir(parents=True)
        (series / "s2").mkdir()
        text = conc_text(case)
        if case["conc_file"] == "directory":
            (series / "concentrations.json").mkdir()
        elif case["conc_file"] != "missing" and text is not None:
            (series / "concentrations.json").write_bytes(text)
        s1 = case["s1"]
        if s1 == "garbage":
            (series / "s1" / "edited.nii.gz").write_bytes(
                mutate_bytes(files["edited"], case["bytes"] or [("flip", 0.5, b"x")])
            )
        elif s1 != "missing":
            (series / "s1" / "edited.nii.gz").write_bytes(files[s1])
        off, on = {
            "pair": ("off", "on"),
            "missing_on": ("off", None),
            "dyn4_pair": ("off4", "on4"),
            "zero_on": ("off", "zero_on"),
            "other_larmor": ("off", "on_larmor"),
        }[case["s2"]]
        (series / "s2" / "EDIT_OFF.nii.gz").write_bytes(files[off])
        if on is not None:
            (series / "s2" / "EDIT_ON.nii.gz").write_bytes(files[on])
        return load_phantom_folder(d / "root")

    def check(scans: list[PhantomScan], case: dict[str, Any]) -> None:
        assert [s.scan_id for s in scans] == ["s1", "s2"]
        for scan in scans:
            for state in ("off", "on"):
                spec = scan.spectra[state]
                _plausible(spec)
                assert spec.batch_shape == () and np.any(spec.fid)
            v = scan.vector()
            assert np.all(np.isfinite(v)) and np.all(v >= 0) and np.any(v > 0)
        s1, s2 = scans
        if case["s1"] in ("edited", "dyn4"):
            np.testing.assert_allclose(s1.spectra.off.fid, off1.fid, rtol=1e-6, atol=1e-9)
            assert s1.metadata.get("averaged_dynamics", 1) == (4 if case["s1"] == "dyn4" else 1)
        if case["s2"] == "dyn4_pair":
            np.testing.assert_allclose(s2.spectra.on.fid, on1.fid, rtol=1e-6, atol=1e-9)
            assert s2.metadata["averaged_dynamics"] == 4
        if case["conc_file"] == "json" and not case["conc"]:
            assert s1.concentrations_mm == conc["s1"]

    return Reader("phantom folder", cases, run, check)


# ---------------------------------------------------------------------------- LCModel text
TOKENS = ("NaN", "1e999", "-1", "0", "0.0", "1E+308", "abc", "", "9" * 5000, "1.0D+00", "1-100")
TEXT_ALPHABET = "0123456789.-+eEdD $&=',/()\n\tNaIinf%x\x00\u00e9"
_NUMBER_TOKEN = re.compile(r"[-+]?\d+\.?\d*(?:[EeDd][-+]?\d+)?")


def _text_cases(extra: dict[str, Any] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    ops = st.lists(
        st.tuples(
            st.sampled_from(["replace", "insert", "delete", "truncate", "drop_line", "dup_line"]),
            st.floats(0.0, 1.0),
            st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=4),
        ),
        max_size=2,
    )
    tokens = st.lists(st.tuples(st.floats(0.0, 1.0), st.sampled_from(TOKENS)), max_size=2)
    return st.fixed_dictionaries(
        {
            "text": ops,
            "tokens": tokens,
            "cut_lines": st.sampled_from([0, 0, 0, 1, 3]),
            **(extra or {}),
        }
    )


def _mutate_text(text: str, case: dict[str, Any]) -> str:
    for where, token in case["tokens"]:
        found = list(_NUMBER_TOKEN.finditer(text))
        if found:
            m = found[min(int(where * len(found)), len(found) - 1)]
            text = text[: m.start()] + token + text[m.end() :]
    for op, where, piece in case["text"]:
        if op in ("drop_line", "dup_line"):
            lines = text.split("\n")
            i = min(int(where * len(lines)), len(lines) - 1)
            lines[i : i + 1] = [] if op == "drop_line" else [lines[i], lines[i]]
            text = "\n".join(lines)
            continue
        i = min(int(where * len(text)), max(len(text) - 1, 0))
        if op == "replace":
            text = text[:i] + piece + text[i + len(piece) :]
        elif op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + len(piece) :]
        else:
            text = text[:i]
    if case["cut_lines"]:  # cut at a line boundary: the file still ends with a newline
        lines = text.rstrip("\n").split("\n")
        text = "\n".join(lines[: max(len(lines) - case["cut_lines"], 0)]) + "\n"
    return text


def _curve(x: np.ndarray) -> str:
    return "\n".join("".join(f"{v:13.5E}" for v in x[i : i + 10]) for i in range(0, len(x), 10))


TABLE = "\n".join(
    [
        " LCModel (Version 6.3-1N)",
        "$$CONC  3 lines in following concentration table = NCONC+1",
        "    Conc.  %SD /Cr   Metabolite",
        "    1.000   3%   1.000 Cr",
        " 4.05E-02  32% 4.1E-02 GABA",
        "",
        "$$MISC  2 lines in following misc. output table",
        "  FWHM = 0.050 ppm    S/N =  20",
        "  Ph:  21 deg      12.2 deg/ppm",
        "",
        "$$DIAG  1 lines in following diagnostic table:",
        "   1 info      FINOUT  9",
        "",
    ]
)


def _coord_text() -> str:
    ppm = np.linspace(4.0, 0.2, 12)
    head = TABLE.replace("$$CONC  3", " 3").replace("$$MISC  2", "  2").replace("$$DIAG  1", "  1")
    return "\n".join(
        [
            head,
            " 12 points on ppm-axis = NY",
            _curve(ppm),
            " NY phased data points follow",
            _curve(np.sin(ppm)),
            " NY points of the fit to the data follow",
            _curve(np.cos(ppm)),
            " NY background values follow",
            _curve(0.1 * ppm),
            " GABA     Conc. = 4.05E-02",
            _curve(ppm**2),
            "",
        ]
    )


CSV = (
    "Row, Col, Cr, Cr %SD, Cr/Cr, GABA, GABA %SD, GABA/Cr\n"
    "  1,   1,    1.000,    3,    1.000, 4.05E-02,   32,  4.1E-02\n"
)


def _lcmodel_readers(tmp: Path) -> list[Reader]:
    n_raw = 32
    raw_spec = Spectrum(_fid(3.0, n_raw), DWELL, LARMOR, te_ms=68.0)
    raw = lcmodel.write_raw(tmp / "seed.RAW", raw_spec).read_text()
    basis_text = lcmodel.write_basis(tmp / "seed.BASIS", SEED_BASIS, "off", fwhmba=0.01)
    basis_text = basis_text.read_text()
    readers = []

    def text_reader(
        name: str, seed: str, suffix: str, read: Callable[..., Any], check: Callable[..., None]
    ) -> Reader:
        extra = {"n": st.booleans()} if suffix == ".RAW" else None

        def run(d: Path, case: dict[str, Any]) -> Any:
            path = d / f"f{suffix}"
            path.write_bytes(_mutate_text(seed, case).encode("utf-8", errors="surrogatepass"))
            return read(path, case)

        return Reader(name, _text_cases(extra), run, check)

    def check_raw(spec: Spectrum, case: dict[str, Any]) -> None:
        _plausible(spec)
        if case["n"]:
            assert spec.n_points == n_raw
        if _no_op(case):
            np.testing.assert_allclose(spec.fid, raw_spec.fid, rtol=1e-5, atol=1e-6)

    def check_basis(b: Any, case: dict[str, Any]) -> None:
        _plausible(b.spectra)
        assert b.spectra.batch_shape == (len(b.metabolites),) and len(set(b.metabolites)) == len(b)

    def check_table(t: Any, case: dict[str, Any]) -> None:
        for conc, sd, ratio in t.concentrations.values():
            assert np.isfinite(conc) and np.isfinite(sd) and (ratio is None or np.isfinite(ratio))
        assert all(np.isfinite(v) for v in t.misc.values())
        if _no_op(case):
            assert t.concentrations["GABA"][:2] == (0.0405, 32)

    def check_csv(c: Any, case: dict[str, Any]) -> None:
        for row in c.rows:
            assert all(
                np.isfinite(v) for t in row.concentrations.values() for v in t if v is not None
            )

    def check_coord(c: Any, case: dict[str, Any]) -> None:
        curves = [c.ppm, c.data, c.fit, *c.metabolites.values()]
        assert all(k.shape == c.ppm.shape and np.all(np.isfinite(k)) for k in curves)

    readers.append(
        text_reader(
            "LCModel .RAW",
            raw,
            ".RAW",
            lambda p, case: lcmodel.read_raw(
                p, DWELL, LARMOR, n_points=n_raw if case["n"] else None
            ),
            check_raw,
        )
    )
    readers.append(
        text_reader(".BASIS", basis_text, ".BASIS", lambda p, c: lcmodel.read_basis(p), check_basis)
    )
    readers.append(
        text_reader(".table", TABLE, ".table", lambda p, c: lcmodel.read_table(p), check_table)
    )
    readers.append(text_reader(".csv", CSV, ".csv", lambda p, c: lcmodel.read_csv(p), check_csv))
    readers.append(
        text_reader(
            ".COORD", _coord_text(), ".COORD", lambda p, c: lcmodel.read_coord(p), check_coord
        )
    )
    return readers


# ---------------------------------------------------------------------------- stored sets
def _store(tmp: Path) -> Reader:
    cfg = as_config("paper")
    n = 3
    rng = np.random.default_rng(20260224)
    arrays = {
        "x": rng.standard_normal((n, 2, 16)).astype(np.float16),
        "targets": rng.uniform(size=(n, 5)),
        "concentrations": rng.uniform(size=(n, 5)),
        "snr": rng.uniform(size=n),
        "scale": rng.uniform(size=n),
        "params/lw_hz": rng.uniform(size=n),
    }
    meta = {
        "metabolites": ["Cr", "GABA", "Gln", "Glu", "NAA"],
        "channels": ["off:real", "on:real"],
        "config": cfg.to_dict(),
        "seed": 1,
        "chunk_size": 2,
    }
    cases = st.fixed_dictionaries(
        {
            "fields": field_ops(tuple(arrays)),
            "meta": json_ops(tuple(meta)),
            "bytes": _optional_bytes(),
        }
    )

    def run(d: Path, case: dict[str, Any]) -> StoredDataset:
        path = d / "set.npz"
        if not case["fields"] and not case["meta"]:
            write_store(path, meta, arrays)
            data = path.read_bytes()
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr("meta.json", dump_json(mutate_json(meta, case["meta"])))
                for key, value in mutate_fields(arrays, case["fields"]).items():
                    if value is not DROP:
                        zf.writestr(f"{key}.npy", npy_bytes(value))
            data = buf.getvalue()
        path.write_bytes(mutate_bytes(data, case["bytes"]))
        ds = StoredDataset(path)
        if len(ds):
            ds.batch(np.arange(len(ds)))  # touch every mapped row
        return ds

    def check(ds: StoredDataset, case: dict[str, Any]) -> None:
        assert len(ds) == ds.x.shape[0] == ds.targets.shape[0]
        assert ds.metabolites and all(isinstance(m, str) for m in ds.metabolites)
        if _no_op(case):
            np.testing.assert_array_equal(np.asarray(ds.x), arrays["x"])

    return Reader("dataset store", cases, run, check)


# ============================================================================ harness
@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Reader]:
    tmp = tmp_path_factory.mktemp("fuzz_seeds")
    out = [
        _npz_basis(tmp),
        _npz_spectra(tmp),
        _checkpoint(tmp),
        _nifti(tmp),
        _phantoms(tmp),
        *_lcmodel_readers(tmp),
        _store(tmp),
    ]
    return {r.name: r for r in out}


READERS = (
    "npz basis",
    "npz spectra",
    "checkpoint",
    "nifti-mrs",
    "phantom folder",
    "LCModel .RAW",
    ".BASIS",
    ".table",
    ".csv",
    ".COORD",
    "dataset store",
)


def fuzz(reader: Reader, n: int, work: Path) -> Counter[str]:
    """Run ``n`` examples of ``reader``; return the outcome counts (failures listed on error)."""
    tally: Counter[str] = Counter()
    failures: list[str] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # building a network runs a forward pass: threads only add overhead

    @settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=reader.cases)
    def one(case: dict[str, Any]) -> None:
        tally["tried"] += 1
        d = work / f"case{tally['tried']}"
        d.mkdir()
        try:
            result = reader.run(d, case)
        except MRSError as exc:
            tally["library error"] += 1
            if str(d) not in str(exc):
                tally["error without the file"] += 1
                failures.append(f"unnamed file: {case!r:.300} -> {exc!r:.300}")
        except Exception as exc:  # the property: never anything but the library's error
            tally["other exception"] += 1
            failures.append(f"{case!r:.300} -> {type(exc).__name__}: {exc!s:.300}")
        else:
            try:
                reader.check(result, case)
                tally["correct result"] += 1
            except AssertionError as exc:
                tally["wrong result"] += 1
                failures.append(f"wrong result: {case!r:.300} -> {exc!s:.300}")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    try:
        one()
    finally:
        torch.set_num_threads(threads)
    bad = tally["other exception"] + tally["wrong result"] + tally["error without the file"]
    assert bad == 0, f"{reader.name}: {dict(tally)}\n" + "\n".join(failures[:8])
    return tally


def _report(name: str, tally: Counter[str]) -> str:
    return (
        f"fuzz {name}: {tally['tried']} tried, {tally['correct result']} correct, "
        f"{tally['library error']} library errors, {tally['other exception']} other exceptions"
    )


@pytest.mark.parametrize("name", READERS)
def test_fuzz_reader_fast(readers: dict[str, Reader], name: str, tmp_path: Path) -> None:
    """~30 examples per reader in the normal suite: library error or correct result."""
    tally = fuzz(readers[name], FAST, tmp_path)
    assert tally["tried"] >= FAST // 2


@pytest.mark.slow
@pytest.mark.parametrize("name", READERS)
def test_fuzz_reader_slow(
    readers: dict[str, Reader], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1,000 examples per reader; both outcomes must occur (the fuzz is not vacuous)."""
    tally = fuzz(readers[name], SLOW, tmp_path)
    line = _report(name, tally)
    with capsys.disabled():
        print("\n" + line)
    report = os.environ.get("MRS_FUZZ_REPORT")
    if report:
        with open(report, "a") as fh:
            fh.write(json.dumps({"reader": name, **tally}) + "\n")
    assert tally["tried"] >= SLOW * 0.9
    assert tally["correct result"] > 0 and tally["library error"] > 0


def test_seeds_are_read_back_exactly(readers: dict[str, Reader], tmp_path: Path) -> None:
    """Oracle for the harness: every unmutated seed is a correct result (no mutation, no error)."""
    empty = {
        "fields": [],
        "compress": False,
        "bytes": [],
        "weights": [],
        "container": "zip",
        "family": "cnn",
        "seed": "edited",
        "header": [],
        "json": [],
        "gz": False,
        "conc_file": "json",
        "conc": [],
        "s1": "edited",
        "s2": "pair",
        "text": [],
        "tokens": [],
        "cut_lines": 0,
        "n": True,
        "meta": [],
    }
    for name in READERS:
        d = tmp_path / re.sub(r"\W", "_", name)
        d.mkdir()
        readers[name].check(readers[name].run(d, empty), empty)


def test_fuzz_catches_a_planted_bug(readers: dict[str, Reader], tmp_path: Path) -> None:
    """The harness is not vacuous: a reader that lets a TypeError through fails it."""
    base = readers["npz basis"]

    def leaky(d: Path, case: dict[str, Any]) -> Any:
        result = base.run(d, case)
        if case["compress"]:
            raise TypeError("planted")
        return result

    with pytest.raises(AssertionError, match="planted"):
        fuzz(Reader("leaky", base.cases, leaky, base.check), FAST, tmp_path)
