"""A sweep's settings: the config file, the command line's overrides, every check.

`read_config` turns a TOML file into a `SweepConfig`, `resolve` lays the
command line over it and checks everything before anything is written;
`SweepConfig.runs` lays out the runs: each problem × optimizer × the grid
of every axis in `axes.AXES`. An axis's values live in one place,
`SweepConfig.grid`, checked when they are set; the older plural keys and
flags (`learning_rates`, `--seeds`) are translated into it at the edge.
Imports no TensorFlow.
"""

import itertools
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import tomllib

from experiments import cli, data, plugins, problems
from experiments.cli import UsageError
from experiments.problems import PROBLEMS, Problem, unnamed
from experiments.sweep import axes, optimizer_tables
from experiments.sweep.optimizer_tables import applies_to, probe, uses
from experiments.sweep.schedules import SCHEDULE_SETTINGS, SETTING_DEFAULTS
from experiments.sweep.spec import DIVERGENCE_LOSS, RunSpec

CONFIGS = Path(__file__).parents[1] / "configs"


@dataclass
class SweepConfig:
    name: str = "default"
    # What runs train on: a dataset and models, one unnamed problem per
    # model; or instead named test problems (experiments/problems.py).
    dataset: str = "mnist"
    models: list = field(default_factory=lambda: ["mlp", "cnn"])
    # Named problems: name → {} (a shipped one), or the fields of one a
    # [problems.<name>] table declared (problems.from_table).
    problems: dict = field(default_factory=dict)
    # Each axis of axes.AXES the sweep varies → its values, checked; e.g.
    # {"learning_rate": [1e-3, 1e-2], "momentum": [0.5, 0.9]}. An axis left
    # out takes one value (`fixed_value`).
    grid: dict = field(default_factory=lambda: {"learning_rate": [1e-3, 1e-2, 1e-1]})
    step_fractions: list = field(
        default_factory=lambda: list(SETTING_DEFAULTS["step_fractions"])
    )
    step_factor: float = SETTING_DEFAULTS["step_factor"]
    warmup_fraction: float = SETTING_DEFAULTS["warmup_fraction"]
    # Optimizer label → its table: a registry name's overrides, or `recipe`.
    optimizers: dict = field(default_factory=lambda: {"sgd": {}, "adam": {}})
    # Unset: each problem's own (a dataset's and models' problems: 5 and 128).
    epochs: int = field(default=None, metadata={"type": int})
    batch_size: int = field(default=None, metadata={"type": int})
    seed: int = axes.axis("seed").default
    validation_fraction: float = data.VALIDATION_FRACTION
    max_train_samples: int = 0  # 0: all of them
    divergence_loss: float = DIVERGENCE_LOSS
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
            return [
                Problem(name, **table) if table else PROBLEMS[name]
                for name, table in self.problems.items()
            ]
        return [
            unnamed(self.dataset, model, self.batch_size, self.epochs)
            for model in self.models
        ]

    def runs(self):
        """Every run of the sweep: problem × table × its axes' values."""
        pretrained = {(s.problem, s.values["seed"]): s for s in self.pretrain_runs()}
        specs = []
        for problem in self.problem_list():
            for label, settings in self.optimizers.items():
                if applies_to(settings, problem):
                    specs += self._table_runs(problem, label, settings, pretrained)
        return specs

    def _table_runs(self, problem, label, settings, pretrained):
        values_of = self.axis_values(label, settings, problem)
        own = _own_values(label, settings, values_of)
        specs = []
        for combination in itertools.product(*values_of.values()):
            values = dict(zip(values_of, combination, strict=True))
            # A grid value equal to the optimizer's own is the run without it.
            spelled = tuple(
                (k, v) for k, v in values.items() if k in own and own[k] == v
            )
            values.update((k, None) for k, _ in spelled)
            # The grid's value of an optimizer argument replaces the table's.
            table = {k: v for k, v in settings.items() if values.get(k) is None}
            start = pretrained.get((problem, values["seed"]))
            specs.append(
                RunSpec(
                    problem=problem,
                    optimizer=label,
                    epochs=self.epochs or problem.epochs,
                    values=values,
                    optimizer_settings=table,
                    divergence_loss=self.divergence_loss,
                    schedule_settings=self.schedule_settings(values["schedule"]),
                    test_every_epoch=self.test_every_epoch,
                    spelled=spelled,
                    **self._start(start, settings),
                )
            )
        return specs

    def axis_values(self, label, settings, problem):
        """{axis: the values its runs take} for one table on one problem.

        An optimizer argument is gridded only for the optimizers that use it
        (set and not 0: momentum for momentum, not for sgd); the others run
        once with their own value.
        """
        grid = {**self.grid, **optimizer_tables.own_grid(settings)}
        built = probe(label, settings)
        return {
            axis.name: grid[axis.name]
            if axis.name in grid
            and (axis.goes_to != "optimizer" or uses(built, axis.name))
            else [self.fixed_value(axis, problem)]
            for axis in axes.AXES
        }

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
        seed_axis, batch_axis = axes.axis("seed"), axes.axis("batch_size")
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
            for seed in self.grid.get("seed", [self.fixed_value(seed_axis, problem)])
        ]

    def set_grid(self, name, values, what):
        """Sets the axis `name` to `values`, checked (`what` names their source)."""
        axis = axes.axis(name)
        self.grid = {
            **self.grid,
            name: optimizer_tables.checked_values(axis, values, what),
        }


def _own_values(label, settings, values_of):
    """{argument: the value the table's optimizer takes without the grid} for
    each optimizer argument the grid varies for it."""
    built = probe(label, settings)
    return {
        axis.name: getattr(built, axis.name, None)
        for axis in axes.AXES
        if axis.goes_to == "optimizer" and values_of[axis.name] != [None]
    }


# The older list keys (and flags) of the axes that have one: learning_rates → learning_rate.
PLURAL_KEYS = {a.plural: a.name for a in axes.AXES if a.plural}

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
    raw = _load_toml(path)
    known = {f.name: f for f in fields(SweepConfig) if f.name != "grid"}
    allowed = [*known, *PLURAL_KEYS, "grid"]
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise UsageError(
            f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}"
        )
    if "problems" in raw and ({"models", "dataset"} & set(raw)):
        raise UsageError(
            f"{path}: give problems, or dataset and models, not both "
            "(a problem names its dataset and model)"
        )
    defaults = SweepConfig()
    settings = {}
    for key, value in raw.items():
        if key in PLURAL_KEYS or key == "grid":
            continue
        if key == "workers":
            settings[key] = _workers(value, f"{path}: workers")
        elif key == "problems":
            settings[key] = _problem_tables(value, path)
        else:
            expected = known[key].metadata.get("type", type(getattr(defaults, key)))
            settings[key] = _typed(value, expected, f"{path}: {key}")
    if "optimizers" in settings:
        settings["optimizers"] = _optimizer_tables(settings["optimizers"], path)
    config = replace(defaults, **settings)
    _read_grid(config, raw, path)
    return config


def _optimizer_tables(tables, path):
    """The [optimizers.<label>] tables, a `class` in a file made absolute."""
    if not all(isinstance(v, dict) for v in tables.values()):
        raise UsageError(
            f"{path}: each [optimizers.<name>] must be a table of settings"
        )
    for label, settings in tables.items():
        if "class" in settings:
            if not isinstance(settings["class"], str):
                raise UsageError(f"{path}: optimizers.{label}.class must be a string")
            settings["class"] = plugins.absolute(settings["class"], Path(path).parent)
    return tables


def _problem_tables(value, path):
    """`problems` as {name: {} or a declared problem's fields}: from a list of
    names, or from [problems.<name>] tables."""
    if isinstance(value, list):
        return {name: {} for name in _typed(value, list, f"{path}: problems")}
    if not isinstance(value, dict) or not all(
        isinstance(t, dict) for t in value.values()
    ):
        raise UsageError(
            f"{path}: problems must be a list of names or [problems.<name>] tables"
        )
    declared = {}
    for name, table in value.items():
        try:
            problem = problems.from_table(name, table, path)
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
        declared[name] = {} if not table else {
            k: v for k, v in asdict(problem).items() if k != "name"
        }  # fmt: skip
    return declared


def _read_grid(config, raw, path):
    """The axes' values: the older plural keys, then the [grid] table."""
    grid = _typed(raw.get("grid", {}), dict, f"{path}: grid")
    for plural, name in PLURAL_KEYS.items():
        if plural in raw and name in grid:
            raise UsageError(f"{path}: give {plural} or [grid] {name}, not both")
        if plural in raw:
            values = _typed(raw[plural], list, f"{path}: {plural}")
            if not values:  # an empty list sets nothing: the axis's one value
                config.grid = {k: v for k, v in config.grid.items() if k != name}
                continue
            config.set_grid(name, values, f"{path}: {plural}")
    for name, values in grid.items():
        axes.axis(name)
        config.set_grid(
            name,
            _typed(values, list, f"{path}: [grid] {name}"),
            f"{path}: [grid] {name}",
        )


def _load_toml(path):
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise UsageError(
            f"config file {path} is not UTF-8 text, as TOML must be (byte "
            f"{error.start}: {error.reason}); save it as UTF-8"
        ) from None
    except FileNotFoundError:
        known = ", ".join(p.name for p in sorted(CONFIGS.glob("*.toml")))
        raise UsageError(f"config file {path} not found (shipped: {known})") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path} is not valid TOML: {error}") from None


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
    path = (
        CONFIGS / "quick.toml"
        if args.quick
        else args.config or CONFIGS / "default.toml"
    )
    config = read_config(path)
    apply_command_line(config, args)
    check(config, args.rerun_best)
    return config


# Flags that replace the config key of the same name (--batch-size: batch_size).
OVERRIDES = (
    "name", "models", "dataset", "epochs", "batch_size", "seed",
    "max_train_samples", "address",
)  # fmt: skip


def apply_command_line(config, args):
    """Lays the command line's flags over `config`, each axis's values checked."""
    if args.problems is not None and (args.models or args.dataset):
        raise UsageError("give --problems, or --dataset and --models, not both")
    if args.problems is not None:
        if not config.problems:  # the file's length and batches were its models'
            config.epochs = config.batch_size = None
        if not args.problems:
            raise UsageError(
                "--problems is empty; give one or more comma-separated values"
            )
        config.problems = {
            name: config.problems.get(name, {}) for name in args.problems
        }
    elif args.models is not None or args.dataset is not None:
        config.problems = {}
    if args.optimizers is not None:
        config.optimizers = {n: config.optimizers.get(n, {}) for n in args.optimizers}
    for axis in axes.AXES:
        if axis.plural and getattr(args, axis.plural) is not None:
            config.set_grid(axis.name, getattr(args, axis.plural), axis.flag)
    for assignment in args.grid or []:
        name, _, values = assignment.partition("=")
        name = name.strip()
        config.set_grid(name, cli.comma_list(values), f"--grid {name}")
    for key in OVERRIDES:
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    if args.workers is not None:
        config.workers = _workers(args.workers, "--workers")
    if not config.address:
        config.address = os.environ.get("RAY_ADDRESS", "")


def check(config, rerun_best):
    """Every check of a whole sweep; UsageError at the first that fails."""
    _check_names(config)
    if "learning_rate" not in config.grid and not all(
        "learning_rate" in settings.get("grid", {})
        for settings in config.optimizers.values()
    ):
        raise UsageError("no learning rate given; give one or more positive numbers")
    axes.axis("seed").check(config.seed)
    _check_schedule_settings(config)
    if rerun_best < 0 or rerun_best == 1 or (rerun_best and "seed" in config.grid):
        raise UsageError(
            "--rerun-best N needs N >= 2 (seed 0 and N - 1 more) and no --seeds/seeds "
            f"(it picks its own seeds), got {rerun_best}"
        )
    if rerun_best and config.seed + rerun_best - 1 > cli.MAX_SEED:
        raise UsageError(
            f"--rerun-best {rerun_best} from seed {config.seed} needs seeds up to "
            f"{config.seed + rerun_best - 1}; the largest is {cli.MAX_SEED}"
        )
    _check_numbers(config)
    problem_list = config.problem_list()
    for label, settings in config.optimizers.items():
        optimizer_tables.check_table(label, settings, problem_list)
        if settings.get("learning_rate_multipliers"):
            _check_multipliers(label, settings, problem_list)
    _check_optimizer_axes(config)
    _check_argument_values(config)
    config.classes = _classes(config.classes, "classes")
    if config.pretrain:
        _check_pretrain(config, rerun_best)


def _check_names(config):
    """Problems or models and dataset; every name that becomes a folder (the
    sweep's, each problem's, each optimizer table's label) a plain folder
    name, before anything is written (the tables' contents are checked by
    optimizer_tables.check_table)."""
    from experiments import models

    cli.folder_name(config.name, "sweep name")
    if config.problems:
        for name in config.problems:
            cli.folder_name(name, "problem name")
        known = [*PROBLEMS, *(n for n, table in config.problems.items() if table)]
        cli.names(list(config.problems), list(dict.fromkeys(known)), "problem")
    else:
        config.models = list(dict.fromkeys(config.models))
        cli.names(config.models, models.MODELS, "model")
        cli.names([config.dataset], data.DATASETS, "dataset")
    for label in config.optimizers:
        cli.folder_name(label, "optimizer label")


def _check_numbers(config):
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


def _check_optimizer_axes(config):
    """An optimizer argument on the grid must be used by one of the sweep's optimizers."""
    import custom_optimizers

    for axis in axes.AXES:
        if axis.goes_to != "optimizer" or axis.name not in config.grid:
            continue
        if not any(
            uses(probe(label, settings), axis.name)
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


def _check_argument_values(config):
    """Each gridded optimizer argument against each optimizer that uses it,
    by the optimizer's own rule: it is built with every value."""
    for label, settings in config.optimizers.items():
        grid = {**config.grid, **optimizer_tables.own_grid(settings)}
        built = probe(label, settings)
        for axis in axes.AXES:
            if axis.goes_to != "optimizer" or not uses(built, axis.name):
                continue
            for value in grid.get(axis.name, []):
                try:
                    optimizer_tables.checked_build(
                        label, settings, **{axis.name: value}
                    )
                except UsageError as error:
                    raise UsageError(f"grid {axis.name}: {error}") from None


def _check_multipliers(label, settings, problem_list):
    """Every per-layer pattern against each model it applies to, before any run."""
    from custom_optimizers.base import resolve_multipliers
    from experiments import models

    patterns = settings["learning_rate_multipliers"]
    shipped = [
        p.model
        for p in problem_list
        if applies_to(settings, p) and p.model in models.MODELS
    ]
    for name in dict.fromkeys(shipped):  # a user's model is checked at its first run
        paths = [v.path for v in models.build(name, seed=0).trainable_variables]
        try:
            resolve_multipliers(patterns, paths)
        except ValueError as error:
            raise UsageError(
                f"optimizer {label} on model {name}: {error} (list the models it "
                f"applies to with models = [...] in [optimizers.{label}])"
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
    cli.number(
        config.step_factor, "step_factor must be in (0, 1]", lambda x: 0 < x <= 1
    )
    cli.number(
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
    axes.axis("learning_rate").check(pretrain["learning_rate"])
    if pretrain["epochs"] < 1:
        raise UsageError(f"pretrain.epochs must be >= 1, got {pretrain['epochs']}")
    shipped = [p.model for p in config.problem_list() if p.model in models.MODELS]
    for model in dict.fromkeys(shipped):  # a user's model: at its first run
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
