"""A sweep's settings: the config file, the command line's overrides, every check.

`resolve` reads both and checks everything before anything is written;
`SweepConfig.runs` lays out the runs: each problem × optimizer × the grid
of every axis in `runs.AXES`. Imports no TensorFlow.
"""

import itertools
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import tomllib

from experiments import cli, runs
from experiments.cli import UsageError, number
from experiments.problems import PROBLEMS, unnamed
from experiments.runs import SCHEDULE_SETTINGS, RunSpec, make_optimizer

CONFIGS = Path(__file__).parent / "configs"


@dataclass
class SweepConfig:
    name: str = "default"
    # What runs train on: a dataset and models, one unnamed problem per
    # model; or instead named test problems (experiments/problems.py).
    dataset: str = "mnist"
    models: list = field(default_factory=lambda: ["mlp", "cnn"])
    problems: list = field(default_factory=list)
    learning_rates: list = field(default_factory=lambda: [1e-3, 1e-2, 1e-1])
    # How η changes over training, a grid axis: constant, step, cosine, warmup_cosine.
    schedules: list = field(default_factory=lambda: ["constant"])
    step_fractions: list = field(default_factory=lambda: [0.5, 0.75])  # step: when
    step_factor: float = 0.1  # step: η is multiplied by this at each fraction
    warmup_fraction: float = 0.05  # warmup_cosine: share of training spent warming up
    # Optimizer short name → hyperparameters that override its registry defaults.
    optimizers: dict = field(default_factory=lambda: {"sgd": {}, "adam": {}})
    # Unset: each problem's own (a dataset's and models' problems: 5 and 128).
    epochs: int = field(default=None, metadata={"type": int})
    batch_size: int = field(default=None, metadata={"type": int})
    seed: int = 0
    # Run every setting with each of these seeds (empty: just `seed`).
    seeds: list = field(default_factory=list)
    # Optimizers that decay weights run at each of these; empty: their own setting.
    weight_decays: list = field(default_factory=list)
    # Any other axis of runs.AXES: name → values, e.g. {"momentum": [0.5, 0.9]}.
    grid: dict = field(default_factory=dict)
    validation_fraction: float = 0.1
    max_train_samples: int = 0  # 0: all of them
    divergence_loss: float = 1e3
    # Evaluate the test set after every epoch too (TensorBoard's `test` run,
    # epochs.csv); off, it is evaluated once, at the end.
    test_every_epoch: bool = False
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

    def problem_list(self):
        if self.problems:
            return [PROBLEMS[name] for name in self.problems]
        return [
            unnamed(self.dataset, model, self.batch_size, self.epochs)
            for model in self.models
        ]

    def grids(self):
        """{axis name: its values} for every axis this sweep sets, checked."""
        grids = {}
        for axis in runs.AXES:
            values = getattr(self, axis.plural) if axis.plural else []
            values = self.grid.get(axis.name, values)
            if values:
                grids[axis.name] = _folder_safe(
                    [axis.check(value) for value in values],
                    (axis.plural or axis.name).replace("_", " "),
                )
        return grids

    def runs(self):
        grids = self.grids()
        pretrained = {(s.problem, s.seed): s for s in self.pretrain_runs()}
        specs = []
        for problem in self.problem_list():
            for optimizer, settings in self.optimizers.items():
                if not applies_to(settings, problem):
                    continue
                axes = self.axis_values(
                    optimizer, settings, problem, {**grids, **table_grid(settings)}
                )
                # The grid's value of an optimizer argument replaces the table's.
                table = {
                    k: v for k, v in settings.items() if axes.get(k, [None]) == [None]
                }
                for combination in itertools.product(*axes.values()):
                    values = dict(zip(axes, combination))
                    start = pretrained.get((problem, values["seed"]))
                    specs.append(
                        RunSpec(
                            problem=problem,
                            optimizer=optimizer,
                            epochs=self.epochs or problem.epochs,
                            values=values,
                            optimizer_settings=table,
                            divergence_loss=self.divergence_loss,
                            schedule_settings=self.schedule_settings(
                                values["schedule"]
                            ),
                            test_every_epoch=self.test_every_epoch,
                            **self._start(start, settings),
                        )
                    )
        return specs

    def axis_values(self, optimizer, settings, problem, grids):
        """{axis: the values its runs take} for one optimizer on one problem.

        An optimizer argument is gridded only for the optimizers that use it
        (set and not 0: momentum for momentum, not for sgd); the others run
        once with their own value.
        """
        values = {}
        built = make_optimizer(optimizer, settings)
        for axis in runs.AXES:
            gridded = axis.name in grids and (
                axis.goes_to != "optimizer" or uses(built, axis.name)
            )
            values[axis.name] = (
                grids[axis.name] if gridded else [self.fixed_value(axis, problem)]
            )
        return values

    def fixed_value(self, axis, problem):
        """An axis's one value when no grid sets it: the sweep's key of the
        axis's own name (`seed`, `batch_size`) when set, else its default."""
        own = getattr(self, axis.name, None)
        return axis.default_on(problem) if own is None else own

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
        """One pre-training run per problem and seed, when `pretrain` is set."""
        if not self.pretrain:
            return []
        seed_axis, batch_axis = runs.axis("seed"), runs.axis("batch_size")
        seeds = self.grids().get("seed")
        return [
            RunSpec(
                problem=problem,
                optimizer=self.pretrain["optimizer"],
                epochs=self.pretrain["epochs"],
                values={
                    "learning_rate": float(self.pretrain["learning_rate"]),
                    "batch_size": self.fixed_value(batch_axis, problem),
                    "seed": seed,
                },
                divergence_loss=self.divergence_loss,
                stage="pretrain",
                save_weights=True,
            )
            for problem in self.problem_list()
            for seed in seeds or [self.fixed_value(seed_axis, problem)]
        ]


def table_grid(settings):
    """An [optimizers.<label>] table's own `grid`, checked: {axis: values}."""
    grid = settings.get("grid", {})
    if not isinstance(grid, dict):
        raise UsageError("grid must be a table of lists, e.g. {learning_rate = [0.1]}")
    checked = {}
    for name, values in grid.items():
        axis = runs.axis(name)
        values = _typed(values, list, f"grid.{name}")
        if not values:
            raise UsageError(f"grid.{name} is empty; give one or more values")
        checked[name] = _folder_safe(
            [axis.check(v) for v in values], (axis.plural or name).replace("_", " ")
        )
    return checked


def applies_to(settings, problem):
    """Whether an [optimizers.<label>] table runs on `problem` (its `problems`
    and `models` lists, when it has them)."""
    return problem.folder in settings.get(
        "problems", [problem.folder]
    ) and problem.model in settings.get("models", [problem.model])


def uses(optimizer, argument):
    """Whether `optimizer` uses `argument`: has it set, and not to a number 0
    (sgd's momentum 0 is no momentum; a true/false setting is always used)."""
    value = getattr(optimizer, argument, None)
    return value is not None and (isinstance(value, bool) or value != 0)


TYPE_NAMES = {
    bool: "true or false",
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
    if "problems" in raw and ({"models", "dataset"} & set(raw)):
        raise UsageError(
            f"{path}: give problems, or dataset and models, not both "
            "(a problem names its dataset and model)"
        )
    defaults = SweepConfig()
    for key, value in raw.items():
        if key == "workers":
            raw[key] = _workers(value, f"{path}: workers")
            continue
        expected = known[key].metadata.get("type", type(getattr(defaults, key)))
        raw[key] = _typed(value, expected, f"{path}: {key}")
    if not all(isinstance(v, dict) for v in raw.get("optimizers", {}).values()):
        raise UsageError(
            f"{path}: each [optimizers.<name>] must be a table of settings"
        )
    grid = raw.pop("grid", {})
    config = replace(defaults, **raw)
    for name, values in grid.items():
        axis = runs.axis(name)
        if axis.plural in raw:
            raise UsageError(f"{path}: give {axis.plural} or [grid] {name}, not both")
        values = _typed(values, list, f"{path}: [grid] {name}")
        set_grid(config, name, values, f"{path}: [grid] {name}")
    return config


def set_grid(config, name, values, what):
    """Sets the axis `name` to `values`: in its older list key if it has one."""
    axis = runs.axis(name)
    if not values:
        raise UsageError(f"{what} is empty; give one or more values")
    if axis.plural:
        setattr(config, axis.plural, values)
    else:
        config.grid = {**config.grid, name: values}


def _typed(value, expected, what):
    """`value` if it is of type `expected` (an integer passes as a float); else UsageError."""
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
        raise UsageError(f"{what} must be {TYPE_NAMES[expected]}, got {value!r}")
    if expected is list and any(isinstance(item, (list, dict)) for item in value):
        raise UsageError(
            f"{what} must be a list of plain values (names or numbers), got {value!r}"
        )
    return value


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
    if args.problems is not None and (args.models or args.dataset):
        raise UsageError("give --problems, or --dataset and --models, not both")
    if args.problems is not None:
        if not config.problems:  # the file's length and batches were its models'
            config.epochs = config.batch_size = None
        config.problems = _grid(args.problems, "--problems")
    elif args.models is not None or args.dataset is not None:
        config.problems = []
    if args.optimizers is not None:
        config.optimizers = {n: config.optimizers.get(n, {}) for n in args.optimizers}
    for axis in runs.AXES:
        given = getattr(args, axis.plural, None) if axis.plural else None
        if given is not None:
            set_grid(config, axis.name, given, f"--{axis.plural.replace('_', '-')}")
    for assignment in args.grid or []:
        name, _, values = assignment.partition("=")
        set_grid(config, name.strip(), cli.comma_list(values), f"--grid {name.strip()}")
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
    if config.problems:
        config.problems = _unique(config.problems)
        cli.names(config.problems, list(PROBLEMS), "problem")
    else:
        config.models = _unique(config.models)
        cli.names(config.models, models.MODELS, "model")
        cli.names([config.dataset], data.DATASETS, "dataset")
    if not config.learning_rates and not all(
        "learning_rate" in settings.get("grid", {})
        for settings in config.optimizers.values()
    ):
        raise UsageError("no learning rate given; give one or more positive numbers")
    grids = config.grids()
    for name, values in grids.items():  # checked: numbers as numbers in sweep.json
        set_grid(config, name, values, name)
    runs.axis("seed").check(config.seed)
    _check_schedule_settings(config)
    if (
        args.rerun_best < 0
        or args.rerun_best == 1
        or (args.rerun_best and "seed" in grids)
    ):
        raise UsageError(
            "--rerun-best N needs N >= 2 (seed 0 and N - 1 more) and no --seeds/seeds "
            f"(it picks its own seeds), got {args.rerun_best}"
        )
    for key, least in (("epochs", 1), ("batch_size", 1), ("max_train_samples", 0)):
        value = getattr(config, key)
        if value is not None and value < least:
            raise UsageError(f"{key} must be an integer >= {least}, got {value!r}")
    if not config.divergence_loss > 0:
        raise UsageError(
            f"divergence_loss must be positive, got {config.divergence_loss}"
        )
    if not 0 <= config.validation_fraction < 1:
        raise UsageError(
            f"validation_fraction must be in [0, 1) (0: hold nothing out, as "
            f"DeepOBS), got {config.validation_fraction}"
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
    problem_list = config.problem_list()
    for optimizer, settings in config.optimizers.items():
        _check_table(config, optimizer, settings, problem_list)
    _check_optimizer_axes(config, grids)
    config.classes = _classes(config.classes, "classes")
    if config.pretrain:
        _check_pretrain(config, args.rerun_best)
    return config


def _check_table(config, optimizer, settings, problem_list):
    for name in settings:
        if (
            name in {a.name for a in runs.AXES}
            and runs.axis(name).goes_to != "optimizer"
        ):
            axis = runs.axis(name)
            raise UsageError(
                f"optimizer {optimizer}: {name} is a grid axis of this sweep; set it "
                f"with {axis.plural} (--{axis.plural.replace('_', '-')}), not in "
                f"[optimizers.{optimizer}]"
                if axis.plural
                else f"optimizer {optimizer}: {name} is a grid axis; set it with "
                f"[grid] {name} (--grid {name}=…), not in [optimizers.{optimizer}]"
            )
    if not isinstance(settings.get("from_scratch", False), bool):
        raise UsageError(f"optimizer {optimizer}: from_scratch must be true or false")
    try:
        built = make_optimizer(optimizer, settings)
        own_grid = table_grid(settings)
    except (ValueError, TypeError) as error:
        raise UsageError(f"optimizer {optimizer}: {error}") from None
    for name in own_grid:
        if runs.axis(name).goes_to == "optimizer" and not uses(built, name):
            raise UsageError(
                f"optimizer {optimizer}: grid.{name}: {optimizer} does not use {name}"
            )
    for key, known in (
        ("models", [p.model for p in problem_list]),
        ("problems", [p.folder for p in problem_list]),
    ):
        listed = settings.get(key, known)
        if not isinstance(listed, list):
            raise UsageError(f"optimizer {optimizer}: {key} must be a list of names")
        cli.names(listed, _unique(known), f"{key[:-1]} in [optimizers.{optimizer}]")
    if settings.get("learning_rate_multipliers"):
        _check_multipliers(
            optimizer,
            settings["learning_rate_multipliers"],
            _unique(p.model for p in problem_list if applies_to(settings, p)),
        )


def _check_optimizer_axes(config, grids):
    """An optimizer argument on the grid must be used by one of the sweep's optimizers."""
    import custom_optimizers

    for axis in runs.AXES:
        if axis.goes_to != "optimizer" or axis.name not in grids:
            continue
        if not any(
            uses(make_optimizer(label, settings), axis.name)
            for label, settings in config.optimizers.items()
        ):
            users = [
                name
                for name in custom_optimizers.available()
                if uses(custom_optimizers.get(name), axis.name)
            ]
            raise UsageError(
                f"grid {axis.name}: none of this sweep's optimizers "
                f"({', '.join(config.optimizers)}) uses {axis.name}; it applies to "
                f"optimizers that do, such as {', '.join(users)}"
            )


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
    runs.axis("learning_rate").check(pretrain["learning_rate"])
    if pretrain["epochs"] < 1:
        raise UsageError(f"pretrain.epochs must be >= 1, got {pretrain['epochs']}")
    for model in _unique(p.model for p in config.problem_list()):
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


def _unique(values):
    """`values` without repeats, in their first order: 1e-3 and 0.001 are one run."""
    return list(dict.fromkeys(values))


def _folder_safe(values, what):
    """Unique values, refusing two that would share a run folder (names use :g)."""
    values = _unique(values)
    names = {}
    for value in values:
        name = runs.format_value(value)
        other = names.setdefault(name, value)
        if other != value:
            raise UsageError(
                f"{what} {other!r} and {value!r} would share the run folder "
                f"name {name}; give values that differ in 6 significant digits"
            )
    return values
