"""Mutation check: small bugs planted in a copy of the library must make specific tests fail.

Issue 14 found these bugs passing the suite; each is now closed by a test. This script
keeps them closed. For every mutation it copies ``mrs_lib/``, ``tests/`` and
``pyproject.toml`` into a temporary folder, applies one text substitution to the copy
(the target must occur exactly once: a target that moved or changed fails loudly, so the
mutation is updated rather than silently skipped), runs the named tests there in a
subprocess (``PYTHONPATH`` and the working directory at the copy, which it checks is the
``mrs_lib`` imported) and requires them to FAIL. The same tests must first pass on the
unmutated copy, so a test that fails anyway cannot count as catching a mutation.

Run: ``make mutations`` (``python tests/mutations.py [NAME ...]``; ``--list`` names them).
Exit status 0 when every mutation is caught, 1 otherwise. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    path: str  # relative to the repository root
    old: str
    new: str
    tests: tuple[str, ...]


_EXT_REF = """            ppm_reference=3.0,
            taus_ms=(5.0, 17.0, 17.0, 17.0, 12.0),
            edit_on_ppm=1.88,
            edit_off_ppm=7.4,
            edit_duration_ms=20.0,
            refocusing="ideal","""
_FIDA = ("tests/test_sim_fida.py::test_pearson_r_against_fida",)

MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "on-off-swap",
        "network_input stacks ON before OFF",
        "mrs_lib/synth/inputs.py",
        "spec = np.stack([gt(off.fid), gt(on.fid)], axis=-2)",
        "spec = np.stack([gt(on.fid), gt(off.fid)], axis=-2)",
        ("tests/test_synth_generator.py::test_network_input_single_and_batch",),
    ),
    Mutation(
        "gaba-from-off",
        "LCModelQuantifier takes GABA from the OFF table instead of the DIFF",
        "mrs_lib/quantify.py",
        "c[i], s[i] = dif.concentrations[i], dif.sd_percent[i]",
        "c[i], s[i] = off.concentrations[i], off.sd_percent[i]",
        (
            "tests/test_fit_lcmodel.py::test_quantifier_over_a_batch",
            "tests/test_lcmodel_real.py::test_quantifier_takes_gaba_from_the_diff",
        ),
    ),
    Mutation(
        "table-by-position",
        "the LCModel table read by row position instead of metabolite name",
        "mrs_lib/fit/lcmodel.py",
        "conc[i], sd[i], _ratio = table.concentrations[name]",
        "conc[i], sd[i], _ratio = list(table.concentrations.values())[i]",
        ("tests/test_fit_lcmodel.py::test_good_run_parsed_in_basis_order",),
    ),
    Mutation(
        "crlb-sqrt2",
        "Cramér-Rao %SD of the LCModel-style fit divided by sqrt(2)",
        "mrs_lib/fit/lcm/solver.py",
        "pct = 100.0 * np.sqrt(np.maximum(var_c, 0.0)) / c[free]",
        "pct = 100.0 * np.sqrt(np.maximum(var_c, 0.0)) / c[free] / np.sqrt(2.0)",
        ("tests/test_fit_lcm.py::test_crlb_matches_scatter_over_noise_draws",),
    ),
    Mutation(
        "shift-sign",
        "MetaboliteShift moves each metabolite the wrong way",
        "mrs_lib/synth/augment.py",
        "state.multiply_components(cis(np.float32(2 * np.pi) * df * state.t))",
        "state.multiply_components(cis(-np.float32(2 * np.pi) * df * state.t))",
        ("tests/test_synth_generator.py::test_metabolite_shift_moves_each_peak_by_its_own_amount",),
    ),
    Mutation(
        "te-plus-2ms",
        "external-reference preset at TE 70 ms instead of 68 (echo kept)",
        "mrs_lib/sim/presets.py",
        _EXT_REF,
        _EXT_REF.replace("(5.0, 17.0, 17.0, 17.0, 12.0)", "(5.0, 17.5, 17.5, 17.5, 12.5)"),
        _FIDA,
    ),
    Mutation(
        "edit-offset",
        "external-reference editing pulse at 1.90 instead of 1.88 ppm",
        "mrs_lib/sim/presets.py",
        _EXT_REF,
        _EXT_REF.replace("edit_on_ppm=1.88", "edit_on_ppm=1.90"),
        _FIDA,
    ),
    Mutation(
        "edit-18ms",
        "external-reference editing pulse of 18 ms instead of 20 ms",
        "mrs_lib/sim/presets.py",
        _EXT_REF,
        _EXT_REF.replace("edit_duration_ms=20.0", "edit_duration_ms=18.0"),
        _FIDA,
    ),
)


def make_copy(dest: Path) -> None:
    """``mrs_lib/``, ``tests/`` and ``pyproject.toml`` of the working tree into ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    shutil.copytree(ROOT / "mrs_lib", dest / "mrs_lib", ignore=ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def apply(mutation: Mutation, copy: Path) -> None:
    """Substitute in the copy; the target must occur exactly once."""
    path = copy / mutation.path
    text = path.read_text()
    count = text.count(mutation.old)
    if count != 1:
        raise SystemExit(
            f"mutation {mutation.name}: its target occurs {count} times in {mutation.path} "
            f"(expected exactly once): the code moved; update tests/mutations.py\n"
            f"target:\n{mutation.old}"
        )
    path.write_text(text.replace(mutation.old, mutation.new))


def run_tests(copy: Path, tests: tuple[str, ...], env: dict[str, str]) -> tuple[int, str]:
    """``pytest`` on ``tests`` inside ``copy``: (exit status, output)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-rfs", "-p", "no:cacheprovider", *tests]
    proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def environment(copy: Path, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["MRS_SCALE"] = "tiny"
    env["MRS_ARTIFACTS_DIR"] = str(scratch / "artifacts")  # not the user's simulation cache
    env.setdefault("MRS_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env.pop("PYTEST_ADDOPTS", None)
    env["COLUMNS"] = "1000"  # the FAILED summary lines whole (their exception is checked)
    return env


def check_import(copy: Path, env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import mrs_lib; print(mrs_lib.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"the copy's mrs_lib is not the one imported ({out}): check PYTHONPATH")


def by_assertion(summary_line: str) -> bool:
    """Whether a ``FAILED`` summary line is an assertion's (not a crash of the test)."""
    return any(k in summary_line for k in ("AssertionError", "assert ", "Failed: DID NOT RAISE"))


def skipped(output: str) -> bool:
    return "skipped" in output.splitlines()[-1] if output.strip() else False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:18} {m.what}")
        return 0
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mrs-mutations-") as tmp:
        scratch = Path(tmp)
        clean = scratch / "clean"
        make_copy(clean)
        env = environment(clean, scratch)
        check_import(clean, env)
        for m in chosen:  # every target present exactly once before anything runs
            apply(m, clean)
            shutil.copy2(ROOT / m.path, clean / m.path)
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        code, out = run_tests(clean, tests, env)
        if code != 0:
            print(out[-4000:])
            print("the tests fail on the unmutated copy: no mutation can be judged")
            return 1
        rows = []
        for m in chosen:
            apply(m, clean)
            start = time.perf_counter()
            code, out = run_tests(clean, m.tests, env)
            shutil.copy2(ROOT / m.path, clean / m.path)  # undo
            failed = [ln for ln in out.splitlines() if ln.startswith("FAILED ")]
            if code == 1 and failed and all(by_assertion(ln) for ln in failed):
                verdict = "caught"
            elif code == 1:
                verdict = "ERROR (a test crashed instead of failing an assertion)"
                print(out[-4000:])
            elif code == 0:
                verdict = "NOT CAUGHT (skipped)" if skipped(out) else "NOT CAUGHT"
            else:
                verdict = f"ERROR (pytest exit {code})"
                print(out[-4000:])
            rows.append((m, verdict, time.perf_counter() - start))
    width = max(len(m.name) for m in chosen)
    print(f"{'mutation':<{width}}  {'result':<12} {'s':>5}  planted bug")
    for m, verdict, seconds in rows:
        print(f"{m.name:<{width}}  {verdict:<12} {seconds:5.1f}  {m.what}")
    caught = sum(v == "caught" for _, v, _ in rows)
    print(f"{caught} of {len(rows)} mutations caught in {time.perf_counter() - t0:.0f} s")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
