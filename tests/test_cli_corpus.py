"""A corpus of malformed inputs through every ``mrs`` subcommand: one clear line, never a traceback.

Each case runs ``mrs_lib.cli.main`` in-process on a bad argument value, a
missing file, a text file where a binary is expected, an empty or truncated
file, random bytes, a directory, or a shipped artifact as an output. The
oracle: a non-zero exit status and a stderr of exactly one line starting with
``mrs <cmd>: error:`` (an ``internal error:`` line, a traceback or any other
output fails), within a time limit (a case that runs longer counts as a hang).
Artifacts and caches go to a temporary folder, so no case reads or writes the
user's own cache. ``test_every_subcommand_is_in_the_corpus`` keeps the corpus
in step with the registry.
"""

from __future__ import annotations

import re
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import numpy as np
import pytest
import torch
from cli_helpers import tiny_basis

from mrs_lib import cli
from mrs_lib._signals import Terminated
from mrs_lib.artifacts import SHIPPED_DIR
from mrs_lib.commands import COMMANDS, load_all
from mrs_lib.errors import MRSError

HANG_S = 60  # a malformed input must fail fast; slower is reported as a hang


class Hang(BaseException):
    """Raised by SIGALRM when a case runs longer than ``HANG_S`` (not caught by ``main``)."""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The malformed (and a few valid) files of the corpus, by placeholder name."""
    d = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(14)
    out: dict[str, str] = {"tmp": str(d), "shipped": str(SHIPPED_DIR)}

    def put(name: str, data: bytes) -> None:
        (d / name).write_bytes(data)
        out[name] = str(d / name)

    text = b"this is a text file, not data\n"
    for name in ("text.txt", "text.npz", "text.nii.gz", "text.nii", "text.pt", "text.db"):
        put(name, text)
    put("text.RAW", b" $SEQPAR\n $END\n $NMID\n $END\n not numbers here\n")
    put("text.BASIS", b" $SEQPAR\n nonsense\n")
    put("text.json", b"{not json")
    put("list.json", b"[1, 2, 3]")
    for suffix in ("npz", "nii.gz", "RAW", "BASIS", "pt", "db", "table", "COORD", "csv", "json"):
        put(f"empty.{suffix}", b"")
    for suffix in ("npz", "nii.gz", "nii", "pt", "RAW"):
        put(f"garbage.{suffix}", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with zipfile.ZipFile(d / "zip.npz", "w") as zf:
        zf.writestr("readme.txt", "a zip archive that holds no arrays")
    out["zip.npz"] = str(d / "zip.npz")
    np.savez(d / "wrongkeys.npz", a=np.arange(3))
    out["wrongkeys.npz"] = str(d / "wrongkeys.npz")
    valid = tiny_basis().save_npz(d / "basis.npz")
    out["basis.npz"] = str(valid)
    put("truncated.npz", valid.read_bytes()[: valid.stat().st_size // 2])
    torch.save({"format": "not a checkpoint"}, d / "notckpt.pt")
    out["notckpt.pt"] = str(d / "notckpt.pt")
    torch.save([1, 2, 3], d / "list.pt")
    out["list.pt"] = str(d / "list.pt")
    whole = (d / "notckpt.pt").read_bytes()
    put("truncated.pt", whole[: len(whole) // 2])
    for name in ("adir", "dir.npz", "dir.pt", "dir.json", "emptydir"):
        (d / name).mkdir()
        out[name] = str(d / name)
    series = d / "phantoms" / "E1"
    (series / "scan1").mkdir(parents=True)
    (series / "concentrations.json").write_bytes(b"\x00\x01binary")
    (series / "scan1" / "edited.nii.gz").write_bytes(text)
    out["phantoms"] = str(d / "phantoms")
    for name in ("missing.npz", "missing.nii.gz", "missing.pt", "missing.RAW"):
        out[name] = str(d / name)
    with pytest.MonkeyPatch.context() as mp:  # no case touches the user's own cache
        mp.setenv("MRS_ARTIFACTS_DIR", str(d / "artifacts"))
        mp.setenv("MRS_CACHE_DIR", str(d / "cache"))
        mp.delenv("LCMODEL", raising=False)
        yield out


BAD_BASES = [
    "text.txt",
    "text.npz",
    "text.nii.gz",
    "empty.npz",
    "empty.nii.gz",
    "garbage.npz",
    "garbage.nii.gz",
    "zip.npz",
    "wrongkeys.npz",
    "truncated.npz",
    "adir",
    "dir.npz",
    "missing.npz",
    "missing.nii.gz",
]
BAD_SPECTRA = [
    "text.npz",
    "text.nii.gz",
    "text.nii",
    "empty.npz",
    "empty.nii.gz",
    "garbage.npz",
    "garbage.nii.gz",
    "garbage.nii",
    "zip.npz",
    "wrongkeys.npz",
    "truncated.npz",
    "dir.npz",
    "missing.npz",
]
BAD_DESCRIBE = [
    "text.txt",
    "text.npz",
    "text.nii.gz",
    "text.BASIS",
    "empty.npz",
    "empty.nii.gz",
    "empty.BASIS",
    "empty.table",
    "empty.COORD",
    "empty.csv",
    "garbage.npz",
    "garbage.nii.gz",
    "garbage.nii",
    "zip.npz",
    "wrongkeys.npz",
    "truncated.npz",
    "adir",
    "dir.npz",
    "missing.npz",
    "missing.nii.gz",
]
BAD_RAW = ["text.RAW", "empty.RAW", "garbage.RAW", "missing.RAW"]
BAD_CHECKPOINTS = [
    "text.pt",
    "empty.pt",
    "garbage.pt",
    "truncated.pt",
    "list.pt",
    "notckpt.pt",
    "text.txt",
    "wrongkeys.npz",
    "dir.pt",
    "missing.pt",
    "no-such-artifact.pt",
]
SIM = ["simulate", "--preset", "paper", "--out", "{tmp}/sim.npz"]
SYNTH = ["synth", "--basis", "{basis.npz}", "--n", "4", "--seed", "0", "--out", "{tmp}/s.npz"]
TRAIN = ["train", "--model", "cnn", "--out", "{tmp}/run", "--no-progress"]
SEARCH = ["search", "--model", "cnn", "--trials", "1", "--objective", "proxy"]
EVAL = ["evaluate", "--checkpoint", "{missing.pt}"]
QUANT = ["--method", "gannet", "--basis", "{basis.npz}"]

CASES: list[tuple[str, list[str]]] = [
    # data
    ("data-unknown-name", ["data", "path", "no-such-file.csv"]),
    ("data-bad-action", ["data", "frobnicate"]),
    # info
    *[(f"info-{f}", ["info", f"{{{f}}}"]) for f in BAD_DESCRIBE],
    *[
        (f"info-{f}", ["info", f"{{{f}}}", "--dwell-s", "5e-4", "--larmor-mhz", "123.2"])
        for f in BAD_RAW
    ],
    ("info-raw-no-dwell", ["info", "{text.RAW}"]),
    ("info-dwell-negative", ["info", "{text.RAW}", "--dwell-s", "-1", "--larmor-mhz", "123"]),
    ("info-larmor-nan", ["info", "{text.RAW}", "--dwell-s", "5e-4", "--larmor-mhz", "nan"]),
    # convert
    *[(f"convert-{f}", ["convert", f"{{{f}}}", "{tmp}/out.nii.gz"]) for f in BAD_BASES],
    *[
        (
            f"convert-{f}",
            ["convert", f"{{{f}}}", "{tmp}/out.npz", "--dwell-s", "5e-4", "--larmor-mhz", "123.2"],
        )
        for f in BAD_RAW
    ],
    ("convert-unknown-suffix", ["convert", "{basis.npz}", "{tmp}/out.xyz"]),
    ("convert-dst-dir", ["convert", "{basis.npz}", "{adir}"]),
    ("convert-dst-shipped", ["convert", "{basis.npz}", "{shipped}/x.nii.gz"]),
    (
        "convert-n-points-0",
        ["convert", "{basis.npz}", "{tmp}/b.BASIS", "--edit", "diff", "--n-points", "0"],
    ),
    (
        "convert-n-points-negative",
        ["convert", "{basis.npz}", "{tmp}/b.BASIS", "--edit", "diff", "--n-points", "-1"],
    ),
    (
        "convert-n-points-huge",
        ["convert", "{basis.npz}", "{tmp}/b.BASIS", "--edit", "diff", "--n-points", "2000000000"],
    ),
    (
        "convert-fwhmba-negative",
        ["convert", "{basis.npz}", "{tmp}/b.BASIS", "--edit", "diff", "--fwhmba", "-0.1"],
    ),
    # simulate
    ("simulate-points-negative", [*SIM, "--points", "-5"]),
    ("simulate-points-0", [*SIM, "--points", "0"]),
    ("simulate-points-text", [*SIM, "--points", "many"]),
    ("simulate-lw-negative", [*SIM, "--lw-hz", "-1"]),
    ("simulate-lw-nan", [*SIM, "--lw-hz", "nan"]),
    ("simulate-grid-0", [*SIM, "--grid-points", "0"]),
    ("simulate-unknown-preset", ["simulate", "--preset", "nope", "--out", "{tmp}/s.npz"]),
    ("simulate-unknown-metabolite", [*SIM, "--metabolites", "Unobtainium"]),
    ("simulate-bad-suffix", ["simulate", "--out", "{tmp}/s.txt"]),
    ("simulate-out-shipped", ["simulate", "--out", "{shipped}/s.npz"]),
    # synth
    *[
        (
            f"synth-basis-{f}",
            ["synth", "--basis", f"{{{f}}}", "--n", "4", "--seed", "0", "--out", "{tmp}/s.npz"],
        )
        for f in BAD_BASES
    ],
    ("synth-seed-negative", [*SYNTH[:-4], "--seed", "-1", "--out", "{tmp}/s.npz"]),
    ("synth-seed-huge", [*SYNTH[:-4], "--seed", str(2**64), "--out", "{tmp}/s.npz"]),
    (
        "synth-n-0",
        ["synth", "--basis", "{basis.npz}", "--n", "0", "--seed", "0", "--out", "{tmp}/s.npz"],
    ),
    (
        "synth-n-negative",
        ["synth", "--basis", "{basis.npz}", "--n", "-3", "--seed", "0", "--out", "{tmp}/s.npz"],
    ),
    ("synth-workers-0", [*SYNTH, "--workers", "0"]),
    ("synth-bad-preset", [*SYNTH, "--augment", "bogus"]),
    ("synth-bad-dtype", [*SYNTH, "--dtype", "float64"]),
    ("synth-out-shipped", [*SYNTH[:-2], "--out", "{shipped}/s.npz"]),
    # search
    ("search-storage-text", [*SEARCH, "--storage", "{text.txt}"]),
    ("search-storage-text-db", [*SEARCH, "--storage", "{text.db}"]),
    ("search-storage-dir", [*SEARCH, "--storage", "{adir}"]),
    ("search-storage-url-dir", [*SEARCH, "--storage", "sqlite:///{adir}"]),
    ("search-storage-bad-url", [*SEARCH, "--storage", "redis://localhost/0"]),
    ("search-storage-shipped", [*SEARCH, "--storage", "{shipped}/search-cnn.db"]),
    ("search-storage-shipped-url", [*SEARCH, "--storage", "sqlite:///{shipped}/search-cnn.db"]),
    (
        "search-export-shipped",
        [*SEARCH, "--storage", "{tmp}/ok.db", "--export", "{shipped}/search-cnn.db"],
    ),
    ("search-trials-negative", ["search", "--model", "cnn", "--trials", "-1"]),
    ("search-folds-1", [*SEARCH, "--folds", "1"]),
    ("search-epochs-0", [*SEARCH, "--epochs", "0"]),
    ("search-seed-negative", [*SEARCH, "--seed", "-1"]),
    ("search-worker-seed-negative", [*SEARCH, "--worker-seed", "-1"]),
    ("search-timeout-0", [*SEARCH, "--timeout", "0"]),
    ("search-bad-train-set", [*SEARCH, "--storage", "{tmp}/ok.db", "--train-set", "nokey"]),
    # train
    ("train-seed-negative", [*TRAIN, "--seed", "-1"]),
    ("train-epochs-0", [*TRAIN, "--epochs", "0"]),
    ("train-n-train-0", [*TRAIN, "--n-train", "0"]),
    ("train-n-val-0", [*TRAIN, "--n-val", "0"]),
    ("train-batch-0", [*TRAIN, "--batch-size", "0"]),
    ("train-lr-0", [*TRAIN, "--lr", "0"]),
    ("train-lr-inf", [*TRAIN, "--lr", "inf"]),
    ("train-device-bogus", [*TRAIN, "--device", "bogus"]),
    ("train-device-gpu-index", [*TRAIN, "--device", "cuda:99"]),
    ("train-device-cuda", [*TRAIN, "--device", "cuda"])
    if not torch.cuda.is_available()
    else ("train-device-mps", [*TRAIN, "--device", "mps"]),
    ("train-config-not-object", [*TRAIN, "--config", "[1, 2]"]),
    ("train-config-bad-json", [*TRAIN, "--config", "{bad json"]),
    ("train-config-text-file", [*TRAIN, "--config", "{text.json}"]),
    ("train-config-list-file", [*TRAIN, "--config", "{list.json}"]),
    ("train-config-missing-file", [*TRAIN, "--config", "{tmp}/missing.json"]),
    ("train-config-dir", [*TRAIN, "--config", "{dir.json}"]),
    ("train-config-unknown-preset", [*TRAIN, "--config", "huge"]),
    ("train-config-unknown-key", [*TRAIN, "--config", '{"preset": "tiny", "bogus": 1}']),
    ("train-synth-unknown", [*TRAIN, "--synth", "bogus"]),
    ("train-out-is-file", ["train", "--model", "cnn", "--out", "{text.txt}"]),
    ("train-data-cache-file", [*TRAIN, "--data-cache", "{text.txt}"]),
    ("train-data-cache-shipped", [*TRAIN, "--data-cache", "{shipped}/cache"]),
    ("train-out-shipped", ["train", "--model", "cnn", "--out", "{shipped}"]),
    ("train-export-path", [*TRAIN, "--export", "../escape.pt"]),
    # evaluate
    *[
        (f"evaluate-{f}", ["evaluate", "--checkpoint", f"{{{f}}}", "--n", "4"])
        for f in BAD_CHECKPOINTS
    ],
    ("evaluate-n-0", [*EVAL, "--n", "0"]),
    ("evaluate-seed-negative", [*EVAL, "--seed", "-1"]),
    # validate
    ("validate-missing-folder", ["validate", "--phantoms", "{tmp}/absent"]),
    ("validate-text-folder", ["validate", "--phantoms", "{text.txt}"]),
    ("validate-empty-folder", ["validate", "--phantoms", "{emptydir}"]),
    ("validate-binary-json", ["validate", "--phantoms", "{phantoms}"]),
    ("validate-seed-negative", ["validate", "--digital", "--seed", "-1"]),
    ("validate-csv-shipped", ["validate", "--digital", "--csv", "{shipped}/scores.csv"]),
    # fit
    *[
        (f"fit-basis-{f}", ["fit", "--method", "lcm", "--basis", f"{{{f}}}", "{missing.npz}"])
        for f in BAD_BASES
    ],
    *[
        (f"fit-spectra-{f}", ["fit", "--method", "lcm", "--basis", "{basis.npz}", f"{{{f}}}"])
        for f in BAD_SPECTRA
    ],
    ("fit-gannet-text", ["fit", "--method", "gannet", "--basis", "{basis.npz}", "{text.npz}"]),
    (
        "fit-lcmodel-text-binary",
        [
            "fit",
            "--method",
            "lcmodel",
            "--lcmodel",
            "{text.txt}",
            "--basis",
            "{basis.npz}",
            "{missing.npz}",
        ],
    ),
    (
        "fit-lcmodel-missing-binary",
        [
            "fit",
            "--method",
            "lcmodel",
            "--lcmodel",
            "{tmp}/nolcm",
            "--basis",
            "{basis.npz}",
            "{missing.npz}",
        ],
    ),
    ("fit-unknown-method", ["fit", "--method", "magic", "--basis", "{basis.npz}", "x.npz"]),
    # quantify
    *(
        (f"quantify-scan-{f}", ["quantify", f"{{{f}}}", *QUANT])
        for f in [*BAD_SPECTRA, "text.txt", "missing.nii.gz"]
    ),
    ("quantify-water-text", ["quantify", "{text.nii.gz}", "--water-ref", "{text.nii.gz}", *QUANT]),
    ("quantify-unknown-method", ["quantify", "{text.nii.gz}", "--method", "magic"]),
    ("quantify-on-only", ["quantify", "--on", "{text.nii.gz}", *QUANT]),
    ("quantify-no-scan", ["quantify", *QUANT]),
    ("quantify-bad-edit", ["quantify", "{text.nii.gz}", "--edit", "sideways", *QUANT]),
    ("quantify-pair-text", ["quantify", "--on", "{text.nii.gz}", "--off", "{text.nii}", *QUANT]),
    # ensemble
    ("ensemble-build-one", ["ensemble", "build", "{text.txt}", "--out", "{tmp}/e.pt"]),
    (
        "ensemble-build-text",
        ["ensemble", "build", "{text.txt}", "{text.txt}", "--out", "{tmp}/e.pt"],
    ),
    ("ensemble-build-shipped", ["ensemble", "build", "{text.txt}", "--out", "{shipped}/e.pt"]),
    ("ensemble-build-n-zero", ["ensemble", "build", "{text.txt}", "--out", "{tmp}/e", "--n", "0"]),
    ("ensemble-evaluate-text", ["ensemble", "evaluate", "{text.txt}"]),
    ("ensemble-evaluate-missing", ["ensemble", "evaluate", "{tmp}/none.pt"]),
    ("ensemble-no-action", ["ensemble"]),
    ("ensemble-build-no-out", ["ensemble", "build", "{text.txt}", "{text.txt}"]),
    ("ensemble-evaluate-two", ["ensemble", "evaluate", "{text.txt}", "{text.txt}"]),
    # lcmodel
    ("lcmodel-path-missing", ["lcmodel", "path", "--lcmodel", "{tmp}/nolcm"]),
    ("lcmodel-path-text", ["lcmodel", "path", "--lcmodel", "{text.txt}"]),
    ("lcmodel-check-text", ["lcmodel", "check", "--lcmodel", "{text.txt}"]),
    ("lcmodel-check-dir", ["lcmodel", "check", "--lcmodel", "{adir}"]),
    ("lcmodel-build-shipped", ["lcmodel", "build", "--dest", "{shipped}/lcmodel"]),
]


def _fill(argv: list[str], files: dict[str, str]) -> list[str]:
    """Replace each ``{name}`` by ``files[name]`` (KeyError for an unknown name)."""
    return [re.sub(r"\{([\w.]+)\}", lambda m: files[m.group(1)], a) for a in argv]


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


@pytest.mark.parametrize(("case", "argv"), CASES, ids=[c for c, _ in CASES])
def test_malformed_input_is_one_clear_line(
    case: str, argv: list[str], files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = _fill(argv, files)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_S)
    try:
        status = cli.main(args)
    except Hang:
        pytest.fail(f"{case}: still running after {HANG_S} s (a hang): mrs {' '.join(args)}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert status != 0, f"exit status 0 for a malformed input; stderr: {err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith(f"mrs {argv[0]}: error: "), lines[0]


def test_top_level_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["frobnicate"], ["--debug"]):
        assert cli.main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mrs: error: "), (argv, lines)


def test_every_subcommand_is_in_the_corpus() -> None:
    load_all()
    covered = {argv[0] for _case, argv in CASES}
    assert {name for name, _h, _c in COMMANDS} <= covered


def test_corpus_placeholders_name_real_files(files: dict[str, str]) -> None:
    """A typo in a placeholder would make a case test KeyError instead of the CLI."""
    for case, argv in CASES:
        _fill(argv, files)  # raises KeyError for an unknown placeholder
        assert case


def test_hang_guard_fires() -> None:
    """The SIGALRM guard of the corpus does stop a run that does not end."""
    import time

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        with pytest.raises(Hang):
            time.sleep(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_debug_flag_shows_the_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "absent")
    assert cli.main(["validate", "--phantoms", missing]) == 2
    assert "Traceback" not in capsys.readouterr().err
    for argv in (
        ["--debug", "validate", "--phantoms", missing],
        ["validate", "--phantoms", missing, "--debug"],
    ):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err
        assert err.strip().splitlines()[-1].startswith("mrs validate: error: ")


@pytest.mark.parametrize(
    ("raised", "status", "start"),
    [
        (KeyboardInterrupt(), 130, "mrs data: interrupted (Ctrl-C)"),
        (Terminated(signal.SIGTERM), 143, "mrs data: terminated by SIGTERM"),
        (ZeroDivisionError("division by zero"), 1, "mrs data: internal error: ZeroDivisionError"),
        (PermissionError(13, "Permission denied", "/x"), 2, "mrs data: error: [Errno 13]"),
        (MRSError("bad\nthing"), 2, "mrs data: error: bad thing"),
    ],
)
def test_any_exception_is_one_line_and_debug_adds_the_traceback(
    raised: BaseException,
    status: int,
    start: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C, SIGTERM, a bug, an OS error and a library error: one line each, right status."""
    from mrs_lib import data

    def boom() -> list[str]:
        raise raised

    monkeypatch.setattr(data, "names", boom)
    assert cli.main(["data", "list"]) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(start), err
    assert ("--debug" in err) == (status == 1)  # only an internal error asks for the traceback
    assert cli.main(["--debug", "data", "list"]) == status
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "in boom" in err
    assert err.strip().splitlines()[-1].startswith(start)


def test_sigterm_unwinds_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real SIGTERM during a command: cleanup runs (finally), exit 143, the handler restored."""
    import os
    import time

    from mrs_lib import data

    cleaned: list[bool] = []

    def slow() -> list[str]:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            return []
        finally:
            cleaned.append(True)

    monkeypatch.setattr(data, "names", slow)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["data", "list"]) == 143
    assert cleaned == [True] and signal.getsignal(signal.SIGTERM) == before
    assert capsys.readouterr().err == "mrs data: terminated by SIGTERM\n"


def test_zero_counts_are_refused_not_defaulted() -> None:
    """0 points, 0 epochs, 0 spectra raise in the library too (they used to mean 'default')."""
    from mrs_lib.errors import MRSDataError
    from mrs_lib.sim.basis import simulate_basis
    from mrs_lib.synth import synthesize
    from mrs_lib.train import TrainConfig, TrainConfigError

    with pytest.raises(MRSDataError, match="n_points"):
        simulate_basis("paper", n_points=0, progress=False)
    with pytest.raises(TrainConfigError, match="max_epochs"):
        TrainConfig(max_epochs=0)
    with pytest.raises(TrainConfigError, match="seed"):
        TrainConfig(seed=-1)
    with pytest.raises(MRSDataError, match="n >= 1"):
        synthesize(0, 1)
