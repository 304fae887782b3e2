"""A sweep's config from its TOML file and its overrides.

`read_config` turns a TOML file into a `SweepConfig`, every key typed;
`load` lays overrides over it (a script's, or the command line's through
`resolve`), puts its lists in their one form (`normalize`), then runs
every check (`checks.check`) before anything is written. The older plural
keys and flags (`learning_rates`, `--seeds`) are translated into the grid
here. Imports no TensorFlow.
"""

import os
import tomllib
from dataclasses import asdict, fields, replace
from pathlib import Path

from experiments import cli, plugins, problems
from experiments.cli import UsageError
from experiments.sweep import axes
from experiments.sweep.checks import check
from experiments.sweep.config import CONFIGS, SweepConfig, start_key

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


def _key_type(key):
    """The type a config key holds (its field's declared one, else its default's)."""
    declared = {f.name: f for f in fields(SweepConfig)}[key]
    return declared.metadata.get("type", type(getattr(SweepConfig(), key)))


def read_config(path):
    """A `SweepConfig` from a TOML file; unknown keys and wrong types are errors."""
    raw = _load_toml(path)
    known = {f.name: f for f in fields(SweepConfig) if f.name != "grid"}
    allowed = [*known, *PLURAL_KEYS, "grid"]
    if "pretrain" in raw:
        raise UsageError(
            f"{path}: [pretrain] is now a sweep of its own: move its settings to "
            "a TOML file with save_weights = true and name it in [start_from] "
            "(experiments/configs/finetune.toml)"
        )
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
    settings = {}
    for key, value in raw.items():
        if key in PLURAL_KEYS or key == "grid":
            continue
        if key in OR_AUTO:
            settings[key] = OR_AUTO[key](value, f"{path}: {key}")
        elif key == "problems":
            settings[key] = _problem_tables(value, path)
        else:
            settings[key] = _typed(value, _key_type(key), f"{path}: {key}")
    if "optimizers" in settings:
        settings["optimizers"] = _optimizer_tables(settings["optimizers"], path)
    if "start_from" in settings:
        settings["start_from"] = _start_table(settings["start_from"], path)
    config = replace(SweepConfig(), **settings)
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


# The keys of [start_from] a file sets (`reading` adds `name` and `runs`).
START_KEYS = {"sweep": str, "new_layers": list}


def _start_table(table, path):
    """[start_from], typed, its `sweep` file made absolute against this file's folder."""
    unknown = sorted(set(table) - set(START_KEYS))
    if unknown or "sweep" not in table:
        raise UsageError(
            f"{path}: start_from: "
            + (f"unknown key {unknown[0]!r}" if unknown else "no sweep given")
            + "; give sweep (its TOML file) and new_layers"
        )
    typed = {
        key: _typed(table.get(key, []), kind, f"{path}: start_from.{key}")
        for key, kind in START_KEYS.items()
    }
    return {**typed, "sweep": str((Path(path).parent / typed["sweep"]).resolve())}


def _with_start_runs(start_from, name):
    """`start_from` with the name of the sweep it names and its runs by
    problem and seed; that sweep is loaded and checked whole."""
    path = start_from["sweep"]
    if read_config(path).start_from:
        raise UsageError(
            f"start_from: {path} starts from another sweep itself; name that one"
        )
    start = load(path)
    if not start.save_weights:
        raise UsageError(
            f"start_from: {path} does not keep its runs' weights; set "
            "save_weights = true there"
        )
    if start.name == name:
        raise UsageError(
            f"start_from: {path} has this sweep's name, {name!r}; they need two folders"
        )
    runs = {}
    for spec in start.runs():
        key = start_key(spec.problem, spec.values["seed"])
        runs.setdefault(key, []).append(str(Path(start.name) / spec.folder))
    return {**start_from, "name": start.name, "runs": runs}


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
    try:
        value = cli.of_kind(value, expected)
    except TypeError:
        raise UsageError(f"{what} must be {TYPE_NAMES[expected]}, got {value!r}") from None
    if expected is list and any(isinstance(item, (list, dict)) for item in value):
        raise UsageError(
            f"{what} must be a list of plain values (names or numbers), got {value!r}"
        )
    return value


def resolve(args):
    """The config file with the command line's overrides, checked in full."""
    path = CONFIGS / "quick.toml" if args.quick else args.config
    grid = [
        (axis.name, getattr(args, axis.plural), axis.flag)
        for axis in axes.AXES
        if axis.plural and getattr(args, axis.plural) is not None
    ]
    for assignment in args.grid or []:
        name, _, values = assignment.partition("=")
        grid.append((name.strip(), cli.comma_list(values), f"--grid {name.strip()}"))
    settings = {key: getattr(args, key) for key in (*OVERRIDES, *OR_AUTO)}
    return load(
        path,
        problems=args.problems,
        models=args.models,
        dataset=args.dataset,
        optimizers=args.optimizers,
        grid=grid,
        rerun_best=args.rerun_best,
        flags=True,
        **{key: value for key, value in settings.items() if value is not None},
    )


def load(path=None, *, problems=None, models=None, dataset=None, optimizers=None,
         grid=(), rerun_best=0, flags=False, **settings):  # fmt: skip
    """A sweep's config, checked in full before anything is written: the TOML
    file `path` (default: configs/default.toml) with overrides.

    `problems` (names), or `models` and `dataset`; `optimizers` (labels of
    the file's tables or the registry's names); `grid`, each axis's values,
    as {axis: values} or as (axis, values, where they came from) triples;
    `rerun_best`, as --rerun-best; and any key of the file (`name`,
    `epochs`, `workers`, ...). UsageError names what is wrong, as a flag
    when `flags` (the command line's own names).
    """
    config = read_config(path or CONFIGS / "default.toml")
    if isinstance(grid, dict):
        grid = [(name, values, f"grid {name}") for name, values in grid.items()]
    choose_problems(config, problems, models, dataset, flags)
    if optimizers is not None:
        config.optimizers = {n: config.optimizers.get(n, {}) for n in optimizers}
    for name, values, where in grid:
        config.set_grid(name, values, where)
    for key, value in settings.items():
        if key not in (*OVERRIDES, *OR_AUTO):
            raise UsageError(
                f"{key} cannot be set here; give one of {', '.join(OVERRIDES)}, "
                f"{', '.join(OR_AUTO)}, or the grid's axes"
            )
        what = f"--{key.replace('_', '-')}" if flags else key
        setattr(config, key, OR_AUTO[key](value, what) if key in OR_AUTO
                else _typed(value, _key_type(key), what))  # fmt: skip
    if not config.address:
        config.address = os.environ.get("RAY_ADDRESS", "")
    normalize(config)
    if config.start_from:
        config.start_from = _with_start_runs(config.start_from, config.name)
    check(config, rerun_best)
    return config


# Keys a flag (or `load`) replaces in the file (--batch-size: batch_size).
OVERRIDES = (
    "name", "epochs", "batch_size", "seed", "max_train_samples", "address",
)  # fmt: skip


def choose_problems(config, problems, models, dataset, flags):
    """Lays the chosen problems, or models and dataset, over the file's."""
    where = "--problems" if flags else "problems"
    if problems is not None and (models or dataset):
        raise UsageError(
            "give --problems, or --dataset and --models, not both"
            if flags
            else "give problems, or dataset and models, not both"
        )
    if problems is not None:
        if not config.problems:  # the file's length and batches were its models'
            config.epochs = config.batch_size = None
        if not problems:
            raise UsageError(f"{where} is empty; give one or more comma-separated values")
        config.problems = {name: config.problems.get(name, {}) for name in problems}
    elif models is not None or dataset is not None:
        config.problems = {}
    if models is not None:
        config.models = models
    if dataset is not None:
        config.dataset = dataset


def normalize(config):
    """Puts `config`'s lists in their one form: models without repeats,
    classes sorted; UsageError for a value of the wrong kind."""
    config.models = list(dict.fromkeys(config.models))
    config.classes = _classes(config.classes, "classes")


def _classes(values, what):
    """Unique class labels 0-9, sorted."""
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 9 for v in values
    ):
        raise UsageError(f"{what} must be digits 0-9, got {values!r}")
    return sorted(set(values))


def _or_auto(parse, described):
    """A reader of "auto" or what `parse` accepts (None: refused), for
    settings that Ray's side may choose; `described` names what it accepts."""

    def read(value, what):
        if value == "auto":
            return value
        number = None if isinstance(value, bool) else parse(value)
        if number is None:
            raise UsageError(f"{what} must be {described} or auto, got {value!r}")
        return number

    return read


def _count(value):
    try:
        count = int(value)
    except (TypeError, ValueError):
        return None
    return count if count >= 1 and str(count) == str(value).strip() else None


def _share(value):
    try:
        share = float(value)
    except (TypeError, ValueError):
        return None
    return share if 0 <= share <= 1 else None


# The settings that take a value or "auto".
OR_AUTO = {"workers": _or_auto(_count, "an integer >= 1"),
           "gpus_per_run": _or_auto(_share, "a number in [0, 1]")}  # fmt: skip
