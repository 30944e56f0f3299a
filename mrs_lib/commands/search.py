"""``mrs search``: Bayesian architecture search, resumable, shared between workers (chapter 3)."""

from __future__ import annotations

import argparse
import json

from .. import search
from ..search import PRUNERS, SAMPLERS, SEARCH_SPACES, VALIDATIONS, SearchError
from ..types import MODEL_NAMES
from . import _types
from ._registry import Runner, command


@command("search", "architecture search with Optuna (resumable; several workers share one storage)")
def _search(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("--model", choices=MODEL_NAMES, required=True, help="network family")
    p.add_argument(
        "--trials",
        type=_types.non_negative_int,
        required=True,
        help="total trials the study should hold (finished or running, all workers together)",
    )
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna storage URL (sqlite:///f.db, postgresql://user@host/db, mysql://...) or an "
        "SQLite file path; default: studies/<model>.db in the artifact directory (the shipped "
        "studies in mrs_lib/assets are read-only: copy one to continue it)",
    )
    p.add_argument(
        "--study", default=None, help="study name (default <model>-<space>); resumed if it exists"
    )
    p.add_argument(
        "--space", choices=SEARCH_SPACES, default="cpu", help="search space (default cpu)"
    )
    p.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="sampler (default tpe)")
    p.add_argument("--pruner", choices=PRUNERS, default="median", help="pruner (default median)")
    p.add_argument("--validation", choices=VALIDATIONS, default="holdout", help="holdout or kfold")
    p.add_argument(
        "--folds",
        type=_types.int_range(2, None, "a number of folds: an integer"),
        default=5,
        help="folds for --validation kfold",
    )
    p.add_argument(
        "--epochs",
        type=_types.positive_int,
        default=None,
        help="epochs per trial (default: by MRS_SCALE)",
    )
    p.add_argument(
        "--spectra",
        type=_types.positive_int,
        default=None,
        help="simulated spectra to search on (default: by MRS_SCALE; paper 10000)",
    )
    p.add_argument(
        "--train-spectra",
        type=_types.positive_int,
        default=None,
        help="cap each trial's training spectra (a CPU budget knob; default: the whole split)",
    )
    p.add_argument(
        "--train-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a TrainConfig key for every trial (JSON value), e.g. "
        "quant_weight_epochs=4; repeatable",
    )
    p.add_argument(
        "--val-spectra",
        type=_types.positive_int,
        default=None,
        help="cap each trial's validation spectra (default: the whole split)",
    )
    p.add_argument(
        "--threads", type=_types.positive_int, default=None, help="torch threads per trial"
    )
    p.add_argument(
        "--export",
        type=_types.output_path,
        default=None,
        help="after the run, copy the study into this SQLite file with a provenance sidecar",
    )
    p.add_argument(
        "--seed",
        type=_types.seed,
        default=0,
        help="data/training seed, and the sampler seed of a study's first worker",
    )
    p.add_argument(
        "--worker-seed",
        type=_types.seed,
        default=None,
        help="sampler seed of this worker (default: derived from --seed and the worker's index "
        "in the study, so concurrent workers differ; recorded in every trial)",
    )
    p.add_argument(
        "--timeout",
        type=_types.positive_float,
        default=None,
        help="stop starting trials after this many s",
    )
    p.add_argument(
        "--objective",
        choices=["train", "proxy"],
        default="train",
        help="'proxy' replaces training by a cheap analytic stand-in (to test workers)",
    )
    p.add_argument(
        "--proxy-step-s",
        type=_types.non_negative_float,
        default=0.0,
        help="seconds each proxy epoch sleeps, to imitate training time",
    )

    def run(args: argparse.Namespace) -> int:
        if args.storage is not None:  # checked before any data is made or any time is spent
            search.storage_url(args.storage)
        config = search.SearchConfig(
            family=args.model,
            space=args.space,
            sampler=args.sampler,
            pruner=args.pruner,
            validation=args.validation,
            n_folds=args.folds,
            epochs=args.epochs if args.epochs is not None else search.default_epochs(),
            train_spectra=args.train_spectra,
            val_spectra=args.val_spectra,
            seed=args.seed,
            train_overrides=_overrides(args.train_set),
        )
        data = objective = None
        if args.objective == "proxy":
            objective = search.proxy_objective(
                args.model, args.space, steps=config.epochs, sleep_s=args.proxy_step_s
            )
        else:
            data = search.search_data(args.spectra, seed=args.seed)
            objective = search.make_objective(config, data, num_threads=args.threads)
        study = search.run_study(
            config,
            args.trials,
            storage=args.storage,
            study_name=args.study,
            data=data,
            objective=objective,
            timeout_s=args.timeout,
            seed=args.worker_seed,
        )
        if args.export:
            n_spectra = None if data is None else len(data[0] if isinstance(data, tuple) else data)
            search.export_study(
                study, args.export, seed=args.seed, command=vars_for(args), n_spectra=n_spectra
            )
        print(json.dumps(search.summary(study), indent=2, default=str))
        return 0

    return run


def _overrides(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SearchError(f"--train-set {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def vars_for(args: argparse.Namespace) -> dict[str, object]:
    """The command-line options of a run, for its provenance record."""
    return {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"}
