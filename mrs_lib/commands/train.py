"""``mrs train`` and ``mrs evaluate``: train a network on synthetic spectra, score a checkpoint.

Thin wrappers over :func:`mrs_lib.train.train_model`,
:func:`mrs_lib.synth.synthesize` and :func:`mrs_lib.train.evaluate_checkpoint`
(chapter 4 calls the same functions).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import MRSDataError, MRSError
from . import _types
from ._registry import command

#: (n_train, n_val, max_epochs, model preset) per scale
SCALE_DEFAULTS: dict[str, tuple[int, int, int, str]] = {
    "tiny": (256, 64, 3, "tiny"),
    "book": (10_000, 1_000, 30, "cpu"),
    "paper": (100_000, 10_000, 200, "paper"),
}


def print_metric_table(res: dict[str, Any]) -> None:
    """Per-metabolite MAE, signed error, slope and R^2, then the total (``mrs evaluate``)."""
    print(f"{'':6s} {'MAE':>8s} {'signed':>8s} {'slope':>7s} {'R^2':>7s}")
    for m in res["metabolites"]:
        print(
            f"{m:6s} {res['mae'][m]:8.4f} {res['signed_error'][m]:+8.4f} "
            f"{res['slope'][m]:7.3f} {res['r2'][m]:7.3f}"
        )
    print(f"total MAE {res['mae_total']:.4f}")


def _json_ready(obj: Any) -> Any:
    """NaN/inf -> None so the output is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    return obj


def _model_config(text: str | None, default: str) -> dict[str, Any]:
    """A preset name, inline JSON, or a JSON file -> config mapping."""
    if text is None:
        return {"preset": default}
    t = text.strip()
    if t.startswith(("{", "[")):
        try:
            value = json.loads(t)
        except json.JSONDecodeError as exc:
            raise MRSError(f"--config: not valid JSON ({exc})") from None
        where = "--config"
    elif t.endswith(".json"):
        try:
            value = json.loads(Path(t).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MRSError(f"--config {t}: cannot read a JSON object ({exc})") from None
        where = f"--config {t}"
    else:
        return {"preset": t}
    if not isinstance(value, dict):
        raise MRSError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _channels(text: str) -> tuple[str, ...]:
    """``--channels``: comma-separated ``<off|on|diff>:<real|imag>`` rows."""
    from ..synth.inputs import check_channels

    try:
        return check_channels(tuple(c.strip() for c in text.split(",") if c.strip()))
    except MRSDataError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _export_name(text: str) -> str:
    """``--export``: a bare file name (written into ``--out``)."""
    if not text or Path(text).name != text or text in (".", ".."):
        raise argparse.ArgumentTypeError(
            f"expected a bare file name such as yae-paper.pt (written into --out), got {text!r}"
        )
    return text


@command("train", "train a CNN, FCNN or YAE on synthetic spectra (chapter 4)")
def _train(p: argparse.ArgumentParser):
    p.add_argument("--model", required=True, choices=["cnn", "fcnn", "yae"], help="network family")
    p.add_argument(
        "--config",
        help="preset (paper, cpu, tiny), inline JSON or a .json file; "
        "default: tiny/cpu/paper by scale",
    )
    p.add_argument(
        "--scale",
        choices=list(SCALE_DEFAULTS),
        help="data and epoch sizes (default: $MRS_SCALE, else book)",
    )
    p.add_argument(
        "--out",
        required=True,
        type=_types.output_path,
        help="checkpoint directory; an interrupted run there resumes if its settings are the "
        "same (else an error lists what differs)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start afresh in --out even if a run is there (replaces its last.pt and best.pt)",
    )
    p.add_argument(
        "--synth", default="paper", help="synthesis preset (paper, paper-no-lw, full, robust)"
    )
    p.add_argument(
        "--basis",
        default="paper",
        choices=["paper", "fida", "bank", "bank+paper"],
        help="basis set; bank: one of the cached basis variants drawn per spectrum (chapter 7); "
        "bank+paper: the nominal paper basis for half of the spectra, a variant for the rest",
    )
    p.add_argument(
        "--channels",
        type=_channels,
        help="network input rows, comma-separated (default off:real,on:real), "
        "e.g. off:real,off:imag,on:real,on:imag",
    )
    p.add_argument(
        "--data-cache",
        type=_types.output_path,
        help="store/reuse the synthetic sets here (.npy, "
        "memory-mapped: parallel runs share one copy)",
    )
    p.add_argument(
        "--n-train", type=_types.positive_int, help="training spectra (default by scale)"
    )
    p.add_argument(
        "--n-val", type=_types.positive_int, help="validation spectra (default by scale)"
    )
    p.add_argument("--epochs", type=_types.positive_int, help="maximum epochs (default by scale)")
    p.add_argument("--max-time", type=_types.positive_float, help="wall-clock budget in seconds")
    p.add_argument(
        "--epoch-size",
        type=_types.positive_int,
        help="spectra per epoch (default: the whole set)",
    )
    p.add_argument(
        "--ramp-epochs",
        type=_types.non_negative_int,
        default=25,
        help="YAE: epochs over which the quantifier weight ramps 0.1 -> 1",
    )
    p.add_argument("--batch-size", type=_types.positive_int, default=64)
    p.add_argument(
        "--lr", type=_types.positive_float, help="learning rate (default 1e-4 x batch/16)"
    )
    p.add_argument(
        "--patience",
        type=_types.non_negative_int,
        default=25,
        help="early-stopping patience (epochs; 0 = never stop early)",
    )
    p.add_argument(
        "--schedule",
        default="plateau",
        choices=["plateau", "cosine"],
        help="learning-rate schedule: the paper's plateau halving, or a cosine over --epochs",
    )
    p.add_argument(
        "--plateau-patience",
        type=_types.non_negative_int,
        default=20,
        help="plateau schedule: stagnant epochs before the learning rate halves",
    )
    p.add_argument(
        "--min-lr",
        type=_types.non_negative_float,
        default=1e-7,
        help="floor of the learning rate",
    )
    p.add_argument(
        "--seed",
        type=_types.seed,
        default=0,
        help="seed of weights, order and the training set (validation: seed + 1)",
    )
    p.add_argument("--threads", type=_types.positive_int, help="torch CPU threads")
    p.add_argument(
        "--device",
        type=_types.device,
        default="auto",
        help="auto (CUDA if available), cpu, cuda, cuda:N or mps",
    )
    p.add_argument(
        "--export",
        type=_export_name,
        help="also write a float16 copy OUT/NAME for shipping (e.g. yae-paper.pt)",
    )
    p.add_argument(
        "--init",
        help="start from this checkpoint's weights (name or path; same network and "
        "configuration): fine-tuning",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")

    def run(args: argparse.Namespace) -> int:
        from ..models import model_class, resolve_config
        from ..scale import get_scale
        from ..synth import SynthConfig, synthesize
        from ..train import TrainConfig, export_model, train_model

        scale = get_scale(args.scale)
        n_train, n_val, epochs, preset = SCALE_DEFAULTS[scale]
        # None = not given (the scale's default); a given value is used as is (0 is refused)
        n_train = n_train if args.n_train is None else args.n_train
        n_val = n_val if args.n_val is None else args.n_val
        out = Path(args.out)
        for flag, folder in (("--out", out), ("--data-cache", args.data_cache)):
            if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
                raise MRSError(f"argument {flag} '{folder}': expected a directory, got a file")
        cfg = TrainConfig(
            lr=args.lr,
            batch_size=args.batch_size,
            max_epochs=epochs if args.epochs is None else args.epochs,
            patience=args.patience,
            seed=args.seed,
            device=args.device,
            max_time_s=args.max_time,
            num_threads=args.threads,
            epoch_size=args.epoch_size,
            quant_weight_epochs=args.ramp_epochs,
            schedule=args.schedule,
            plateau_patience=args.plateau_patience,
            min_lr=args.min_lr,
        )
        model_config = _model_config(args.config, preset)
        resolve_config(args.model, model_config)  # a bad key or preset fails before the synthesis
        synth: Any = args.synth
        if args.channels is not None:
            synth = SynthConfig.preset(args.synth, channels=args.channels)
        train = synthesize(
            n_train, args.seed, synth=synth, basis=args.basis, cache_dir=args.data_cache
        )
        val = synthesize(
            n_val, args.seed + 1, synth=synth, basis=args.basis, cache_dir=args.data_cache
        )
        if not model_class(args.model).needs_clean:  # e.g. only the YAE's decoder uses them
            train, val = replace(train, clean=None), replace(val, clean=None)
        meta = {
            "synth": args.synth,
            "basis": args.basis,
            "channels": list(train.channels),
            "n_train": n_train,
            "n_val": n_val,
            "train_seed": args.seed,
            "val_seed": args.seed + 1,
            "scale": scale,
        }
        if args.init is not None:
            meta["init"] = args.init
        res = train_model(
            args.model,
            model_config,
            cfg,
            train,
            val,
            checkpoint_dir=out,
            resume=not args.fresh,
            progress=not args.no_progress,
            meta=meta,
            init=args.init,
        )
        summary = {
            "model": args.model,
            "model_config": res.model_config,
            "best_epoch": res.best_epoch,
            "epochs": len(res.history),
            "stopped": res.stopped,
            "best_val": res.best_metrics,
            "checkpoint": str(res.checkpoint),
            **meta,
        }
        (out / "history.json").write_text(json.dumps(res.history, indent=1) + "\n")
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if args.export and res.checkpoint is not None:
            export_model(
                res.checkpoint,
                out / args.export,
                epochs_run=len(res.history),
                stopped=res.stopped,
            )
        print(json.dumps(_json_ready(summary), indent=2))
        return 0

    return run


@command("evaluate", "score a checkpoint on a fresh simulated test set (max-normalised metrics)")
def _evaluate(p: argparse.ArgumentParser):
    p.add_argument(
        "--checkpoint", required=True, help="checkpoint path or shipped name (yae-paper.pt)"
    )
    p.add_argument("--n", type=_types.positive_int, default=2000, help="test spectra")
    p.add_argument("--seed", type=_types.seed, default=123, help="seed of the test set")
    p.add_argument("--synth", default="paper", help="synthesis preset of the test set")
    p.add_argument("--basis", choices=["paper", "fida"], help="basis (default: the checkpoint's)")
    p.add_argument("--json", action="store_true", help="print JSON only")

    def run(args: argparse.Namespace) -> int:
        from ..train import evaluate_checkpoint

        res = evaluate_checkpoint(
            args.checkpoint, n=args.n, seed=args.seed, synth=args.synth, basis=args.basis
        )
        if args.json:
            print(json.dumps(_json_ready(res), indent=2))
            return 0
        print(
            f"{res['model']} {args.checkpoint}: "
            f"n={res['n']} seed={res['seed']} synth={res['synth']}"
        )
        print_metric_table(res)
        return 0

    return run
