"""Architecture search with Optuna: search spaces, objective, storage, workers (chapter 3).

The paper chose its networks by Bayesian optimisation over architecture
strings, scoring each candidate by the *total max-normalised validation MAE*
(the sum over Cr, GABA, Gln, Glu and NAA of the mean absolute error after each
spectrum's prediction and truth are divided by their own maximum) on 10,000
simulated spectra. This package reproduces that machinery, one module per step:

* :mod:`mrs_lib.search.spaces` - :func:`~mrs_lib.search.spaces.suggest_config`,
  the search spaces of CNN, FCNN and YAE, each in two sizes: ``"paper"`` (the
  published ranges) and ``"cpu"`` (narrow enough that a trial trains in seconds
  on a laptop CPU); :mod:`mrs_lib.search.samplers` names Optuna's samplers and
  pruners.
* :mod:`mrs_lib.search.objective` - :func:`~mrs_lib.search.objective.make_objective`
  trains one sampled configuration with :func:`mrs_lib.train.train_model` on a
  holdout split or k folds, reports the validation MAE after every epoch so
  that a pruner can stop a hopeless trial.
* :mod:`mrs_lib.search.storage` - where studies live: storage URLs (an SQLite
  file by default, ``postgresql://...`` to share a study between machines),
  locks, and the read-only single-file studies the package ships.
* :mod:`mrs_lib.search.workers` - :func:`~mrs_lib.search.workers.run_study`
  opens (or resumes) a study and runs trials until the study holds
  ``n_trials`` of them *in total*, however many workers run at the same time;
  workers derive distinct sampler seeds and fail their running trial when
  terminated (the module explains how workers coordinate).
* :mod:`mrs_lib.search.report` - best configurations, summaries, tables and
  figures of a finished study, next to the paper's numbers.

Every public name is importable from this package (``from mrs_lib.search import
run_study``). The command line is
``mrs search --model cnn --trials N --storage URL --study NAME``.
"""

from __future__ import annotations

from .errors import SearchError
from .objective import (
    VALIDATIONS,
    Objective,
    SearchConfig,
    SearchData,
    SpectraLike,
    Validation,
    default_epochs,
    default_spectra,
    make_objective,
    proxy_objective,
    search_data,
    split_indices,
    total_max_normalised_mae,
)
from .report import (
    PAPER_BEST_VAL_MAE,
    best_configs,
    compare_with_paper,
    param_importances,
    plot_history,
    plot_importances,
    plot_slices,
    summary,
    trials_frame,
)
from .samplers import PRUNERS, SAMPLERS, PrunerName, SamplerName, make_pruner, make_sampler
from .spaces import SEARCH_SPACES, SearchSpace, config_from_params, suggest_config, suggest_train
from .storage import (
    STORAGE_SCHEMES,
    default_storage,
    export_study,
    load_study,
    make_storage,
    open_study,
    sqlite_to_single_file,
    storage_url,
)
from .workers import (
    COUNTED_STATES,
    WORKERS_ATTR,
    count_trials,
    join_study,
    optimize_until,
    run_study,
    worker_id,
    worker_seed,
)

__all__ = [
    "COUNTED_STATES",
    "PAPER_BEST_VAL_MAE",
    "PRUNERS",
    "SAMPLERS",
    "SEARCH_SPACES",
    "STORAGE_SCHEMES",
    "VALIDATIONS",
    "WORKERS_ATTR",
    "Objective",
    "PrunerName",
    "SamplerName",
    "SearchConfig",
    "SearchData",
    "SearchError",
    "SearchSpace",
    "SpectraLike",
    "Validation",
    "best_configs",
    "compare_with_paper",
    "config_from_params",
    "count_trials",
    "default_epochs",
    "default_spectra",
    "default_storage",
    "export_study",
    "join_study",
    "load_study",
    "make_objective",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "optimize_until",
    "param_importances",
    "plot_history",
    "plot_importances",
    "plot_slices",
    "proxy_objective",
    "run_study",
    "search_data",
    "split_indices",
    "sqlite_to_single_file",
    "storage_url",
    "suggest_config",
    "suggest_train",
    "summary",
    "total_max_normalised_mae",
    "trials_frame",
    "worker_id",
    "worker_seed",
]
