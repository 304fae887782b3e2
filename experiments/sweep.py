"""Train every optimizer × learning rate × model and compare the runs.

    python -m experiments.sweep                   # the default comparison
    python -m experiments.sweep --quick           # a minute-scale version
    python -m experiments.sweep --config experiments/configs/quick.toml \
        --optimizers adam,momentum --learning-rates 1e-3,1e-2 --models mlp \
        --epochs 3 --dataset mnist --logdir logs --seed 0
    python -m experiments.sweep --seeds 0,1,2     # every setting over 3 seeds
    python -m experiments.sweep --rerun-best 5    # best setting per optimizer, 5 seeds
    python -m experiments.sweep --config experiments/configs/weight_decay.toml
    tensorboard --logdir logs/<sweep-name>

Each run lands in logs/<sweep-name>/<model>/<optimizer>/lr=<value>/ (with
,wd=<value> on a weight-decay grid and ,seed=<n> for seeds other than 0)
with its TensorBoard logs, its resolved config (run.json) and, once
finished, result.json. Re-running skips finished runs and redoes unfinished
ones; --force reruns everything. The report (summary.csv, runs.csv,
summary.md, plots) is rebuilt at the end; `python -m experiments.report`
rebuilds it alone.
"""

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import tomllib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from experiments import cli  # noqa: E402
from experiments.cli import (  # noqa: E402
    UsageError,
    check_writable,
    comma_list,
    number,
)
from experiments.runs import (  # noqa: E402
    SCHEDULE_SETTINGS,
    SCHEDULES,
    RunSpec,
    make_optimizer,
)

CONFIGS = Path(__file__).parent / "configs"


@dataclass
class SweepConfig:
    name: str = "default"
    dataset: str = "mnist"
    models: list = field(default_factory=lambda: ["mlp", "cnn"])
    learning_rates: list = field(default_factory=lambda: [1e-3, 1e-2, 1e-1])
    # How η changes over training, a grid axis: constant, step, cosine, warmup_cosine.
    schedules: list = field(default_factory=lambda: ["constant"])
    step_fractions: list = field(default_factory=lambda: [0.5, 0.75])  # step: when
    step_factor: float = 0.1  # step: η is multiplied by this at each fraction
    warmup_fraction: float = 0.05  # warmup_cosine: share of training spent warming up
    # Optimizer short name → hyperparameters that override its registry defaults.
    optimizers: dict = field(default_factory=lambda: {"sgd": {}, "adam": {}})
    epochs: int = 5
    batch_size: int = 128
    seed: int = 0
    # Run every setting with each of these seeds (empty: just `seed`).
    seeds: list = field(default_factory=list)
    # Optimizers that decay weights run at each of these; empty: their own setting.
    weight_decays: list = field(default_factory=list)
    validation_fraction: float = 0.1
    max_train_samples: int = 0  # 0: all of them
    divergence_loss: float = 1e3
    # Runs at once: 1 trains in this process; N > 1 or "auto" (one per core;
    # on a cluster, as many as it schedules) on Ray.
    workers: object = "auto"
    # A Ray cluster to run on ("auto", or host:port); empty: none.
    address: str = ""
    # Labels (digits) to train and evaluate on; empty: all.
    classes: list = field(default_factory=list)
    # Pre-train first and start every run from those weights (see finetune.toml):
    # classes, optimizer, learning_rate, epochs, new_layers.
    pretrain: dict = field(default_factory=dict)

    def runs(self):
        decay_grids = {  # one optimizer build per name, not per model and rate
            name: self.weight_decay_grid(name, settings)
            for name, settings in self.optimizers.items()
        }
        pretrained = {(s.model, s.seed): s for s in self.pretrain_runs()}
        return [
            RunSpec(
                model=model,
                optimizer=optimizer,
                learning_rate=learning_rate,
                epochs=self.epochs,
                batch_size=self.batch_size,
                seed=seed,
                dataset=self.dataset,
                optimizer_settings=settings,
                divergence_loss=self.divergence_loss,
                weight_decay=weight_decay,
                schedule=schedule,
                schedule_settings=self.schedule_settings(schedule),
                **self._start(pretrained.get((model, seed)), settings),
            )
            for model in self.models
            for optimizer, settings in self.optimizers.items()
            if model in settings.get("models", self.models)
            for schedule in self.schedules
            for learning_rate in self.learning_rates
            for weight_decay in decay_grids[optimizer]
            for seed in self.seeds or [self.seed]
        ]

    def schedule_settings(self, schedule):
        """The settings `schedule` uses (none for constant, so old runs still match)."""
        return {key: getattr(self, key) for key in SCHEDULE_SETTINGS[schedule]}

    def _start(self, pretrained, settings):
        if pretrained is None or settings.get("from_scratch"):
            return {}
        return {
            "init": str(pretrained.folder),
            "new_layers": tuple(self.pretrain.get("new_layers", ())),
        }

    def pretrain_runs(self):
        """One pre-training run per model and seed, when `pretrain` is set."""
        if not self.pretrain:
            return []
        return [
            RunSpec(
                model=model,
                optimizer=self.pretrain["optimizer"],
                learning_rate=float(self.pretrain["learning_rate"]),
                epochs=self.pretrain["epochs"],
                batch_size=self.batch_size,
                seed=seed,
                dataset=self.dataset,
                divergence_loss=self.divergence_loss,
                stage="pretrain",
                save_weights=True,
            )
            for model in self.models
            for seed in self.seeds or [self.seed]
        ]

    def weight_decay_grid(self, optimizer, settings):
        """The grid for optimizers that decay weights (by default or by setting)."""
        decays = make_optimizer(optimizer, settings).weight_decay is not None
        return self.weight_decays if self.weight_decays and decays else [None]


TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


def read_config(path):
    """A `SweepConfig` from a TOML file; unknown keys and wrong types are errors."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        known = ", ".join(p.name for p in sorted(CONFIGS.glob("*.toml")))
        raise UsageError(f"config file {path} not found (shipped: {known})") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path} is not valid TOML: {error}") from None
    known = {f.name: f for f in fields(SweepConfig)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise UsageError(
            f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(known)}"
        )
    defaults = SweepConfig()
    for key, value in raw.items():
        if key == "workers":
            raw[key] = _workers(value, f"{path}: workers")
            continue
        raw[key] = _typed(value, type(getattr(defaults, key)), f"{path}: {key}")
    if not all(isinstance(v, dict) for v in raw.get("optimizers", {}).values()):
        raise UsageError(
            f"{path}: each [optimizers.<name>] must be a table of settings"
        )
    return replace(defaults, **raw)


def _typed(value, expected, what):
    """`value` if it is of type `expected` (an integer passes as a float); else UsageError."""
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or isinstance(value, bool):
        raise UsageError(f"{what} must be {TYPE_NAMES[expected]}, got {value!r}")
    if expected is list and any(isinstance(item, (list, dict)) for item in value):
        raise UsageError(
            f"{what} must be a list of plain values (names or numbers), got {value!r}"
        )
    return value


def parse_args(argv):
    parser = cli.parser("python -m experiments.sweep", __doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", help="a sweep TOML file (default: configs/default.toml)"
    )
    source.add_argument("--quick", action="store_true", help="use configs/quick.toml")
    parser.add_argument(
        "--name", help="sweep folder name under --logdir (default: the config's)"
    )
    parser.add_argument(
        "--optimizers", type=comma_list, help="comma-separated short names"
    )
    parser.add_argument(
        "--learning-rates", type=comma_list, help="comma-separated, e.g. 1e-3,1e-2"
    )
    parser.add_argument(
        "--schedules",
        type=comma_list,
        help="comma-separated: constant, step, cosine, warmup_cosine",
    )
    parser.add_argument("--models", type=comma_list, help="comma-separated: mlp,cnn")
    parser.add_argument("--dataset", help="mnist or fashion_mnist")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--seeds", type=comma_list, help="run every setting with each seed, e.g. 0,1,2"
    )
    parser.add_argument(
        "--rerun-best",
        type=int,
        default=0,
        metavar="N",
        help="after the one-seed grid, rerun each optimizer's best setting over N seeds",
    )
    parser.add_argument(
        "--weight-decays",
        type=comma_list,
        help="weight-decay grid for the optimizers that decay, e.g. 1e-4,1e-3",
    )
    parser.add_argument(
        "--max-train-samples", type=int, help="use only this many training samples"
    )
    parser.add_argument(
        "--data-dir", help="read idx(.gz) or .npz files from this folder"
    )
    parser.add_argument(
        "--offline", action="store_true", help="never try Keras's download"
    )
    parser.add_argument(
        "--logdir", default="logs", help="root folder for sweeps (default: logs)"
    )
    parser.add_argument(
        "--workers",
        help="runs at once: 1 (in this process), N, or auto (one per core); "
        "more than 1 uses Ray",
    )
    parser.add_argument(
        "--address",
        help="run on this Ray cluster (host:port or auto; default: $RAY_ADDRESS)",
    )
    parser.add_argument("--force", action="store_true", help="rerun finished runs too")
    parser.add_argument(
        "--verbose", action="store_true", help="show Keras's progress bar"
    )
    return parser.parse_args(argv)


def resolve(args):
    """The config file with the command line's overrides, checked in full."""
    import custom_optimizers
    from experiments import data, models

    path = (
        CONFIGS / "quick.toml"
        if args.quick
        else args.config or CONFIGS / "default.toml"
    )
    config = read_config(path)
    if args.optimizers is not None:
        config.optimizers = {n: config.optimizers.get(n, {}) for n in args.optimizers}
    if args.learning_rates is not None:
        config.learning_rates = _grid(args.learning_rates, "--learning-rates")
    if args.weight_decays is not None:
        config.weight_decays = _grid(args.weight_decays, "--weight-decays")
    if args.seeds is not None:
        config.seeds = _grid(args.seeds, "--seeds")
    if args.schedules is not None:
        config.schedules = _grid(args.schedules, "--schedules")
    for key in (
        "models",
        "dataset",
        "epochs",
        "batch_size",
        "seed",
        "max_train_samples",
        "name",
        "address",
    ):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    if args.workers is not None:
        config.workers = _workers(args.workers, "--workers")
    if not config.address:
        config.address = os.environ.get("RAY_ADDRESS", "")

    cli.names(
        [
            settings.get("recipe", label)
            for label, settings in config.optimizers.items()
        ],
        custom_optimizers.available(),
        "optimizer",
    )
    config.models = _unique(config.models)
    cli.names(config.models, models.MODELS, "model")
    cli.names([config.dataset], data.DATASETS, "dataset")
    if not config.learning_rates:
        raise UsageError("no learning rate given; give one or more positive numbers")
    config.learning_rates = _folder_safe(
        [_learning_rate(value) for value in config.learning_rates], "learning rates"
    )
    config.weight_decays = _folder_safe(
        [_weight_decay(value) for value in config.weight_decays], "weight decays"
    )
    config.seeds = _unique([_seed(value) for value in config.seeds])
    _seed(config.seed)
    config.schedules = _unique(config.schedules)
    cli.names(config.schedules, SCHEDULES, "schedule")
    _check_schedule_settings(config)
    if (
        args.rerun_best < 0
        or args.rerun_best == 1
        or (args.rerun_best and config.seeds)
    ):
        raise UsageError(
            "--rerun-best N needs N >= 2 (seed 0 and N - 1 more) and no --seeds/seeds "
            f"(it picks its own seeds), got {args.rerun_best}"
        )
    for key, least in (("epochs", 1), ("batch_size", 1), ("max_train_samples", 0)):
        if getattr(config, key) < least:
            raise UsageError(
                f"{key} must be an integer >= {least}, got {getattr(config, key)!r}"
            )
    if not config.divergence_loss > 0:
        raise UsageError(
            f"divergence_loss must be positive, got {config.divergence_loss}"
        )
    if not 0 < config.validation_fraction < 1:
        raise UsageError(
            f"validation_fraction must be in (0, 1), got {config.validation_fraction}"
        )
    if (
        not config.name.strip()
        or config.name != config.name.strip()
        or any(c in config.name for c in "/\\\0")
        or config.name.startswith(".")
    ):
        raise UsageError(
            "sweep name must be a plain folder name (no slashes, no leading dot or "
            f"surrounding spaces), got {config.name!r}"
        )
    for optimizer, settings in config.optimizers.items():
        for key, axis in _grid_axes(config).items():
            if key in settings:
                raise UsageError(
                    f"optimizer {optimizer}: {key} is a grid axis of this sweep; "
                    f"set it with {axis}, not in [optimizers.{optimizer}]"
                )
        if not isinstance(settings.get("from_scratch", False), bool):
            raise UsageError(
                f"optimizer {optimizer}: from_scratch must be true or false"
            )
        try:
            make_optimizer(optimizer, settings)
        except (ValueError, TypeError) as error:
            raise UsageError(f"optimizer {optimizer}: {error}") from None
        applies_to = settings.get("models", config.models)
        if not isinstance(applies_to, list):
            raise UsageError(f"optimizer {optimizer}: models must be a list of names")
        cli.names(applies_to, config.models, f"model in [optimizers.{optimizer}]")
        if settings.get("learning_rate_multipliers"):
            _check_multipliers(
                optimizer, settings["learning_rate_multipliers"], applies_to
            )
    config.classes = _classes(config.classes, "classes")
    if config.pretrain:
        _check_pretrain(config, args.rerun_best)
    return config


def _check_multipliers(optimizer, patterns, model_names):
    """Every per-layer pattern against each model it applies to, before any run."""
    from custom_optimizers.base import resolve_multipliers
    from experiments import models

    for name in model_names:
        paths = [v.path for v in models.build(name, seed=0).trainable_variables]
        try:
            resolve_multipliers(patterns, paths)
        except ValueError as error:
            raise UsageError(
                f"optimizer {optimizer} on model {name}: {error} (list the models it "
                f"applies to with models = [...] in [optimizers.{optimizer}])"
            ) from None


def _check_schedule_settings(config):
    fractions = config.step_fractions
    if (
        not fractions
        or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 1
            for f in fractions
        )
        or list(fractions) != sorted(set(fractions))
    ):
        raise UsageError(
            f"step_fractions must be increasing numbers in (0, 1), got {fractions!r}"
        )
    number(config.step_factor, "step_factor must be in (0, 1]", lambda x: 0 < x <= 1)
    number(
        config.warmup_fraction, "warmup_fraction must be in (0, 1)", lambda x: 0 < x < 1
    )


PRETRAIN_KEYS = {
    "classes": list,
    "optimizer": str,
    "learning_rate": float,
    "epochs": int,
    "new_layers": list,
}


def _check_pretrain(config, rerun_best):
    import custom_optimizers
    from experiments import models

    pretrain = config.pretrain
    for key, kind in PRETRAIN_KEYS.items():
        pretrain[key] = _typed(pretrain.get(key), kind, f"pretrain.{key}")
    unknown = sorted(set(pretrain) - set(PRETRAIN_KEYS))
    if unknown:
        raise UsageError(
            f"pretrain: unknown key {unknown[0]!r}; allowed: {', '.join(PRETRAIN_KEYS)}"
        )
    pretrain["classes"] = _classes(pretrain["classes"], "pretrain.classes")
    cli.names([pretrain["optimizer"]], custom_optimizers.available(), "optimizer")
    _learning_rate(pretrain["learning_rate"])
    if pretrain["epochs"] < 1:
        raise UsageError(f"pretrain.epochs must be >= 1, got {pretrain['epochs']}")
    for model in config.models:
        layers = [layer.name for layer in models.build(model, 0).layers]
        for layer in pretrain["new_layers"]:
            if layer not in layers:
                raise UsageError(
                    f"pretrain.new_layers: {model} has no layer {layer!r}; "
                    f"its layers: {', '.join(layers)}"
                )
    if rerun_best:
        raise UsageError("--rerun-best does not combine with pretrain; give seeds")


def _classes(values, what):
    """Unique class labels 0-9, sorted."""
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 9 for v in values
    ):
        raise UsageError(f"{what} must be digits 0-9, got {values!r}")
    return sorted(set(values))


def _grid_axes(config):
    """Optimizer arguments that the sweep sets per run, with the setting that sets them."""
    axes = {"learning_rate": "learning_rates (--learning-rates)"}
    if config.weight_decays:
        axes["weight_decay"] = "weight_decays (--weight-decays)"
    return axes


def _learning_rate(value):
    return number(value, "learning rate must be a positive number", lambda x: x > 0)


def _grid(items, flag):
    if not items:
        raise UsageError(f"{flag} is empty; give one or more comma-separated values")
    return items


def _workers(value, what):
    """An integer >= 1 or "auto"."""
    if value == "auto":
        return value
    try:
        workers = int(value)
    except (TypeError, ValueError):
        workers = 0
    if isinstance(value, bool) or workers < 1 or str(workers) != str(value).strip():
        raise UsageError(f"{what} must be an integer >= 1 or auto, got {value!r}")
    return workers


MEMORY_PER_WORKER = 1.5 * 2**30  # a worker with TensorFlow and a run holds ~0.9 GB
# What `auto` weighs, measured on this project's 2-core machine with the
# offline digits (README, "Runs side by side"): one run in one process costs
# RUN_SECONDS plus SAMPLE_EPOCH_SECONDS per training image and epoch; Ray
# costs RAY_START_SECONDS to start (ray.init, then each worker imports
# TensorFlow) and then saved RAY_SAVES of the one-process time (the default
# sweep: 11 min 54 s in one process, 8 min 17 s two at a time).
RUN_SECONDS = 0.6
# deepobs_2c2d: 66 ms per batch of 128 with 2 threads (shared/NOTES.md).
SAMPLE_EPOCH_SECONDS = {"mlp": 7.5e-5, "cnn": 3.8e-4, "deepobs_2c2d": 5.2e-4}
RAY_START_SECONDS = 12.0
RAY_SAVES = 0.3


def workers_for(config):
    """How many runs go at once. `auto`: one per core, and at most one per
    MEMORY_PER_WORKER of memory; on a cluster, as many as Ray schedules."""
    if config.workers != "auto":
        return config.workers
    if config.address:
        return None
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(os.cpu_count() or 1, int(memory // MEMORY_PER_WORKER)))


def sample_epoch_seconds(model):
    """SAMPLE_EPOCH_SECONDS of `model`; a model not in the table, as the slowest."""
    return SAMPLE_EPOCH_SECONDS.get(model, max(SAMPLE_EPOCH_SECONDS.values()))


def estimated_seconds(specs, train_samples):
    """One process's time for `specs` on `train_samples` images, from the table above."""
    return sum(
        RUN_SECONDS + spec.epochs * train_samples * sample_epoch_seconds(spec.model)
        for spec in specs
    )


def make_executor(config, specs, train_samples, verbose):
    """Where `specs` train: in this process (Ray is not imported), or on Ray.

    `auto` stays in this process unless Ray's start-up would pay for itself:
    a small sweep on Ray is slower than one in-process. Says what it chose.
    """
    from experiments import executors

    workers = workers_for(config)
    if config.address:
        return executors.OnRay(workers, config.address, verbose=verbose)
    cores = os.cpu_count() or 1
    if config.workers == "auto" and workers > 1 and len(specs) > 1:
        seconds = estimated_seconds(specs, train_samples)
        pays_off = RAY_START_SECONDS / RAY_SAVES
        on_ray = seconds > pays_off
        print(
            f"workers auto: {min(workers, len(specs)) if on_ray else 1} at a time: "
            f"about {_clock(seconds)} of training in one process, "
            f"{'above' if on_ray else 'below'} the {_clock(pays_off)} from which "
            f"Ray's start-up (~{RAY_START_SECONDS:.0f} s) pays off"
        )
        if not on_ray:
            workers = 1
    elif workers > cores:
        print(
            f"warning: --workers {workers} is more than this machine's {cores} "
            "cores; the runs will share them and each go slower",
            file=sys.stderr,
        )
    if workers == 1 or len(specs) < 2:
        return executors.InProcess(verbose=verbose)
    return executors.OnRay(min(workers, len(specs)), verbose=verbose)


def _unique(values):
    """`values` without repeats, in their first order: 1e-3 and 0.001 are one run."""
    return list(dict.fromkeys(values))


def _folder_safe(values, what):
    """Unique values, refusing two that would share a run folder (names use :g)."""
    values = _unique(values)
    names = {}
    for value in values:
        other = names.setdefault(f"{value:g}", value)
        if other != value:
            raise UsageError(
                f"{what} {other!r} and {value!r} would share the run folder "
                f"name {value:g}; give values that differ in 6 significant digits"
            )
    return values


def _weight_decay(value):
    return number(value, "weight decay must be a number >= 0", lambda x: x >= 0)


def _seed(value):
    try:
        seed = int(value)
    except (TypeError, ValueError):
        seed = -1
    if isinstance(value, bool) or seed < 0 or str(seed) != str(value).strip():
        raise UsageError(f"seeds must be non-negative integers, got {value!r}")
    return seed


def plan(specs, sweep_dir, data_identity, force, redo_diverged=False):
    """Splits the runs into those to train and those already finished.

    A finished run whose saved settings or data differ from the new ones is
    an error: it belongs to another sweep and must be neither reused nor
    overwritten. A run whose files cannot be read is trained again, and so
    is one that diverged when `redo_diverged` (pre-training: nothing can
    start from it, so it is retried, with whatever settings are given now).
    """
    from experiments.run_files import UnreadableRun, is_finished, read_run

    todo, done = [], []
    for spec in specs:
        run_dir = sweep_dir / spec.folder
        if force or not is_finished(run_dir):
            todo.append(spec)
            continue
        try:
            config, result = read_run(run_dir)
        except UnreadableRun as error:
            print(f"warning: {run_dir}: {error}; training it again", file=sys.stderr)
            todo.append(spec)
            continue
        if redo_diverged and result["diverged"]:
            todo.append(spec)
            continue
        changed = spec.differences(config["run"]) + data_differences(
            config["data"], data_identity
        )
        if changed:
            raise UsageError(
                f"{run_dir} holds a finished run with other settings "
                f"({'; '.join(changed)}); use --name for a new sweep or --force "
                "to replace it"
            )
        done.append(spec)
    return todo, done


def data_differences(saved, current):
    """How a run's recorded data differs from `current` (keys both record)."""
    return [
        f"data {key}: {saved[key]!r} then, {current[key]!r} now"
        for key in current
        if key in saved and saved[key] != current[key]
    ]


# The axes a sweep compares runs by, most important first: the HPARAMS tab
# shows them when it opens.
COMPARISON_AXES = (
    "optimizer",
    "learning_rate",
    "model",
    "schedule",
    "weight_decay",
    "seed",
)
HPARAMS_SHOWN = 5  # TensorBoard 2.21's HPARAMS tab checks this many columns


def write_hparams_config(sweep_dir, specs):
    """Configures TensorBoard's HParams dashboard for the runs in `specs`.

    TensorBoard checks the first five hparams whose `differs` flag is set,
    alphabetically, and a config from `hp.hparams_config` sets none, so
    the tab opened on amsgrad, beta_1, beta_2, ... Here `differs` is set on
    the comparison axes (those that vary in this sweep first, if there are
    more axes than columns shown). The config is rewritten on every
    invocation, replacing the last one, since a resume may add seeds.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import plugin_data_pb2

    from experiments.run_files import HYPERPARAMETERS

    varying = {
        axis
        for axis in COMPARISON_AXES
        if len({getattr(spec, axis) for spec in specs}) > 1
    }
    shown = sorted(COMPARISON_AXES, key=lambda axis: axis not in varying)
    shown = set(shown[:HPARAMS_SHOWN])
    names = dict.fromkeys((*COMPARISON_AXES, *HYPERPARAMETERS))
    metrics = [
        hp.Metric(tag, group="final", display_name=tag)
        for tag in (
            "val_accuracy",
            "val_loss",
            "train_loss",
            "test_accuracy",
            "diverged",
        )
    ]
    summary = hp.hparams_config_pb([hp.HParam(n) for n in names], metrics)
    value = summary.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(
        value.metadata.plugin_data.content
    )
    for info in data.experiment.hparam_infos:
        info.differs = info.name in shown
    value.metadata.plugin_data.content = data.SerializeToString()
    for old in sweep_dir.glob("events.out.tfevents.*"):
        old.unlink()
    writer = tf.summary.create_file_writer(str(sweep_dir))
    with writer.as_default():
        tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=0)
    writer.close()


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def compared_entry(spec):
    """What the report ranks as one optimizer: each schedule competes on its own."""
    return spec.model, spec.optimizer, spec.schedule


def best_reruns(grid, sweep_dir, seeds):
    """Each compared entry's best grid setting, again with `seeds` − 1 more seeds.

    "Best" is the highest validation accuracy among the grid's finished runs
    that did not diverge, as DeepOBS picks a learning rate on one seed before
    rerunning it on several.
    """
    from experiments.run_files import UnreadableRun, read_run

    best = {}
    for spec in grid:
        try:
            _, result = read_run(sweep_dir / spec.folder)
        except UnreadableRun:  # failed: it has no result to rank
            continue
        key = compared_entry(spec)
        if (
            not result["diverged"]
            and result["val_accuracy"] > best.get(key, (None, -1.0))[1]
        ):
            best[key] = (spec, result["val_accuracy"])
    return [
        replace(spec, seed=spec.seed + offset)
        for spec, _ in best.values()
        for offset in range(1, seeds)
    ]


def train_all(specs, dataset, sweep_dir, executor):
    """Trains the runs on `executor`, printing one line per finished run.

    Returns the runs that failed with an error.
    """
    started = time.perf_counter()
    failed, finished = [], []
    for index, outcome in enumerate(executor.run(specs, dataset, sweep_dir), 1):
        elapsed = time.perf_counter() - started
        finished.append(outcome)
        result = outcome.result
        if outcome.error is not None:
            failed.append(outcome)
            status = f"FAILED: {outcome.error}"
        elif result["diverged"]:
            status = f"DIVERGED in epoch {result['epochs_run']}"
        else:
            status = (
                f"val acc {result['val_accuracy']:.4f}, "
                f"train loss {result['train_loss']:.4f}"
            )
        left = time_left(specs, finished, elapsed)
        print(
            f"[{index}/{len(specs)}] {outcome.spec.folder}: {status} "
            f"({outcome.seconds:.1f}s{executor.where(outcome)}) "
            f"| elapsed {_clock(elapsed)}, ~{_clock(left)} left",
            flush=True,
        )
    return failed


def time_left(specs, finished, elapsed):
    """Wall time the runs of `specs` not yet `finished` will take, model by model.

    A run costs its epochs times what an epoch of its model took in the
    finished runs; a model with none finished yet is priced from another by
    SAMPLE_EPOCH_SECONDS. The sum is scaled by the wall time per second of
    run time so far (about 1/N with N runs at once).
    """
    done = {outcome.spec.folder for outcome in finished}  # copies, from Ray
    remaining = [spec for spec in specs if spec.folder not in done]
    if not remaining:
        return 0.0
    epoch_times = {}
    for outcome in finished:
        epochs = outcome.result["epochs_run"] if outcome.result else outcome.spec.epochs
        epoch_times.setdefault(outcome.spec.model, []).append(
            outcome.seconds / max(1, epochs)
        )
    per_epoch = {model: sum(t) / len(t) for model, t in epoch_times.items()}
    known = next(iter(per_epoch))

    def epoch_seconds(model):
        if model in per_epoch:
            return per_epoch[model]
        return (
            per_epoch[known] * sample_epoch_seconds(model) / sample_epoch_seconds(known)
        )

    run_seconds = sum(outcome.seconds for outcome in finished) or 1e-9
    work = sum(spec.epochs * epoch_seconds(spec.model) for spec in remaining)
    return work * elapsed / run_seconds


def run_sweep(
    config,
    logdir,
    *,
    force=False,
    verbose=False,
    data_dir=None,
    download=True,
    rerun_best=0,
):
    """Runs the sweep; returns the runs that failed (an empty list when none did)."""
    from experiments import data, report
    from experiments.folder_lock import FolderLock
    from experiments.run_files import is_finished

    if config.address and not Path(logdir).is_absolute():
        logdir = Path(logdir).resolve()
        print(
            f"note: on a cluster the log folder is {logdir}; every node must see "
            "that path (shared storage)"
        )
    if config.address:  # before anything is written
        from experiments.executors import check_cluster

        check_cluster(config.address)
    sweep_dir = Path(logdir) / config.name
    grid = config.runs()
    pretraining = config.pretrain_runs()

    def load(classes):
        dataset = data.load(
            config.dataset,
            data_dir=data_dir,
            validation_fraction=config.validation_fraction,
            max_train_samples=config.max_train_samples,
            seed=config.seed,
            download=download,
            classes=classes,
        )
        print(f"{dataset.describe()}")
        return dataset

    dataset = load(config.classes)
    pretrain_data = load(config.pretrain["classes"]) if pretraining else None
    for loaded in filter(None, (dataset, pretrain_data)):
        if config.batch_size > len(loaded.x_train):
            raise UsageError(
                f"batch_size {config.batch_size} is more than the "
                f"{len(loaded.x_train)} training samples; give at most that"
            )
    with FolderLock(sweep_dir):
        todo, done = plan(grid, sweep_dir, dataset.identity, force)
        pretrain_todo = []
        if pretraining:
            pretrain_todo, pretrain_done = plan(
                pretraining,
                sweep_dir,
                pretrain_data.identity,
                force,
                redo_diverged=True,
            )
            print(
                f"pre-training: {len(pretrain_todo)} runs to train, "
                f"{len(pretrain_done)} already finished"
            )
        print(
            f"sweep {sweep_dir}: {len(todo)} runs to train, "
            f"{len(done)} already finished"
        )
        (sweep_dir / "sweep.json").write_text(json.dumps(asdict(config), indent=2))
        write_hparams_config(sweep_dir, grid)
        one_per_entry = {compared_entry(s): s for s in grid}.values()
        reruns_at_most = [*one_per_entry] * max(0, rerun_best - 1)
        executor = make_executor(
            config,
            pretrain_todo + todo + reruns_at_most,
            len(dataset.x_train),
            verbose,
        )
        print(executor.describe())
        try:
            failed = train_all(pretrain_todo, pretrain_data, sweep_dir, executor)
            failed += [] if failed else unusable_pretraining(pretraining, sweep_dir)
            if not failed:  # nothing is fine-tuned from broken weights
                failed += train_all(todo, dataset, sweep_dir, executor)
            if rerun_best > 1:
                reruns = best_reruns(grid, sweep_dir, rerun_best)
                todo, done = plan(reruns, sweep_dir, dataset.identity, force)
                print(
                    f"each optimizer's best setting over {rerun_best} seeds: "
                    f"{len(todo)} runs to train, {len(done)} already finished"
                )
                write_hparams_config(sweep_dir, grid + reruns)
                failed += train_all(todo, dataset, sweep_dir, executor)
        finally:
            executor.close()
        report_failures(failed, sweep_dir)
        if not any(is_finished(sweep_dir / spec.folder) for spec in grid):
            return failed  # nothing finished to report on
        report.write_report(sweep_dir)
    print(
        f"report: {sweep_dir / 'summary.md'}; view with: tensorboard --logdir {sweep_dir}"
    )
    return failed


def unusable_pretraining(pretraining, sweep_dir):
    """Pre-training runs that diverged, as failed outcomes: nothing starts from them."""
    from experiments.executors import Outcome
    from experiments.run_files import read_run

    return [
        Outcome(spec, None, "pre-training diverged; change the pretrain settings")
        for spec in pretraining
        if read_run(sweep_dir / spec.folder)[1]["diverged"]
    ]


def report_failures(failed, sweep_dir):
    """Prints each failure; its run folder keeps the error for the report."""
    from experiments.run_files import ERROR_FILE

    for outcome in failed:
        run_dir = sweep_dir / outcome.spec.folder
        if not (run_dir / ERROR_FILE).exists():  # no traceback: a lost worker
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / ERROR_FILE).write_text(f"{outcome.error}\n")
        print(
            f"failed: {run_dir}: {outcome.error} "
            f"({ERROR_FILE} there; rerun the command to retry)",
            file=sys.stderr,
        )


def main(argv=None):
    args = parse_args(argv)
    try:
        config = resolve(args)
        check_writable(args.logdir)
        from experiments.data import DataError
        from experiments.folder_lock import FolderBusy

        try:
            failed = run_sweep(
                config,
                args.logdir,
                force=args.force,
                verbose=args.verbose,
                data_dir=args.data_dir,
                download=not args.offline,
                rerun_best=args.rerun_best,
            )
        except DataError as error:
            raise UsageError(f"data: {error}") from None
        except FolderBusy as error:
            raise UsageError(str(error)) from None
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are kept; run the same command again "
            "to train the rest",
            file=sys.stderr,
        )
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
