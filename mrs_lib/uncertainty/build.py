"""Building a shipped ensemble: pack the members, calibrate, check, evaluate.

:func:`build_ensemble` is what ``mrs ensemble build`` runs: it packs the
members' checkpoints into one file, simulates two held-out sets of the
members' own synthesis preset (``cal_seed`` for the calibration and the
domain limits, ``check_seed`` for the check; neither may be a seed the
members were trained or selected on), calibrates the spread
(:mod:`mrs_lib.uncertainty.calibration`), fits the out-of-domain limits
(:mod:`mrs_lib.uncertainty.domain`), checks coverage and the false-positive
rate of the flags on the second set, and writes everything into the file and
its sidecar. :func:`evaluate_ensemble` scores the member mean like
``mrs evaluate`` scores one network.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MRSError
from ..io.bases import resolve_basis
from ..metrics import summarise
from ..synth import SynthConfig, synthesize
from ..types import METABOLITES
from . import calibration as cal
from . import domain as dom
from .ensemble import ensemble_from_blob, load_ensemble, pack_blob, write_ensemble
from .quantifier import COMPLEX_CHANNELS, EnsembleQuantifier, select_rows


def _used_seeds(members_meta: Sequence[dict[str, Any]]) -> set[int]:
    used: set[int] = set()
    for m in members_meta:
        data = m.get("data") or {}
        for key in ("train_seed", "val_seed"):
            if isinstance(data.get(key), int):
                used.add(int(data[key]))
    return used


def simulated_set(
    n: int, seed: int, synth: str, basis: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(x4 complex inputs, targets, larmor MHz)`` of ``n`` spectra of preset ``synth``."""
    cfg = SynthConfig.preset(synth, channels=COMPLEX_CHANNELS)
    batch = synthesize(n, seed, synth=cfg, basis=basis)
    return batch.x, np.asarray(batch.targets, float), float(resolve_basis(basis).larmor_mhz)


def coverage_table(checked: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """``{quantity: {name: {"68": observed, "95": observed}}}`` from :func:`calibration.check`."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, rel in checked.items():
        levels = rel["levels"]
        i68, i95 = levels.index(0.68), levels.index(0.95)
        out[key] = {
            name: {"68": values[i68], "95": values[i95]}
            for name, values in rel["calibrated"].items()
        }
    return out


def build_ensemble(
    member_paths: Sequence[str | os.PathLike[str]],
    dst: str | os.PathLike[str],
    *,
    n: int = 2000,
    cal_seed: int = 9001,
    check_seed: int = 9002,
    yae: str | None = "yae-paper",
    eval_seed: int = 123,
    **provenance_extra: Any,
) -> dict[str, Any]:
    """Pack, calibrate, check and write an ensemble (module docstring); return the sidecar.

    The sidecar also records the member mean's metrics on ``n`` fresh spectra of
    seed ``eval_seed`` (``mrs evaluate``'s default test set) and each member's.
    """
    blob = pack_blob(member_paths)
    ens = ensemble_from_blob(blob)
    used = _used_seeds(ens.members_meta)
    for flag, seed in (
        ("cal_seed", cal_seed),
        ("check_seed", check_seed),
        ("eval_seed", eval_seed),
    ):
        if seed in used:
            raise MRSError(
                f"{flag} {seed}: expected a seed no member was trained or selected on "
                f"(used: {sorted(used)})"
            )
    if cal_seed == check_seed:
        raise MRSError(f"cal_seed and check_seed must differ, both are {cal_seed}")
    synth, basis = str(ens.data.get("synth")), str(ens.data.get("basis"))
    x_cal, t_cal, larmor = simulated_set(n, cal_seed, synth, basis)
    m_cal = ens.predict_members(select_rows(x_cal, ens.channels))
    calibration: dict[str, Any] = cal.calibrate(m_cal, t_cal)
    yae_model = None
    yae_err = None
    if yae is not None:
        from ..train import load_model

        yae_model, yae_meta = load_model(yae)
        yae_rows = list(yae_meta.get("channels") or ["off:real", "on:real"])
        yae_err = dom.reconstruction_error(yae_model, select_rows(x_cal, yae_rows))
    _mean, spread = cal.member_stats(m_cal)
    domain = dom.fit_domain(
        dom.spectral_features(x_cal, larmor),
        spread,
        yae_err,
        synth=synth,
        larmor_mhz=larmor,
        yae=yae,
    )
    blob["calibration"] = calibration
    blob["domain"] = domain
    checked = ensemble_from_blob(blob)
    q = EnsembleQuantifier(checked, yae=yae_model if yae is not None else None)
    x_chk, t_chk, _ = simulated_set(n, check_seed, synth, basis)
    a = q.assess(x_chk, larmor)
    rel = cal.check(a.members, t_chk, calibration)
    flagged = np.array([bool(f) for f in a.flags])
    reasons: dict[str, int] = {}
    for f in a.flags:
        for r in f:
            key = next((k for k in dom.REASONS if r.startswith(k)), r)
            reasons[key] = reasons.get(key, 0) + 1
    blob["calibration"] = {
        **calibration,
        "cal_seed": cal_seed,
        "check_seed": check_seed,
        "n": n,
        "check": rel,
        "coverage": coverage_table(rel),
        "false_positive_rate": float(flagged.mean()),
        "false_positive_reasons": reasons,
    }
    x_ev, t_ev, _ = simulated_set(n, eval_seed, synth, basis)
    m_ev = checked.predict_members(select_rows(x_ev, checked.channels))
    members_mae = [summarise(m, t_ev, METABOLITES)["mae"] for m in m_ev]
    evaluation = {
        "seed": eval_seed,
        "n": n,
        "synth": synth,
        "mean": summarise(m_ev.mean(axis=0), t_ev, METABOLITES),
        "members_mae": members_mae,
    }
    return write_ensemble(blob, dst, evaluation=evaluation, **provenance_extra)


def evaluate_ensemble(
    name_or_path: str | os.PathLike[str], n: int = 2000, seed: int = 123, synth: str = "paper"
) -> dict[str, Any]:
    """Metrics of the member mean on ``n`` fresh spectra (as ``mrs evaluate`` for one network)."""
    ens = load_ensemble(name_or_path)
    basis = str(ens.data.get("basis") or "paper")
    x4, targets, _ = simulated_set(n, seed, synth, basis)
    mean, _sd = cal.member_stats(ens.predict_members(select_rows(x4, ens.channels)))
    out = summarise(mean, targets, METABOLITES)
    out.update({"model": "ensemble", "members": len(ens), "seed": seed, "synth": synth})
    return out


__all__ = ["build_ensemble", "coverage_table", "evaluate_ensemble", "simulated_set"]
