"""A sweep's `[optimizers.<label>]` tables: which optimizer each builds, with
which arguments, on which problems, over which of its own grid values.

Imports no TensorFlow until an optimizer is built.
"""

import inspect
import json

from experiments import cli, plugins
from experiments.cli import UsageError
from experiments.sweep import axes

# Keys of a table that are not optimizer arguments.
TABLE_ONLY_KEYS = (
    "recipe",  # the registry's name (custom_optimizers.available()) when the label is not one
    "class",  # or any keras.optimizers.Optimizer, by its place (experiments/plugins.py)
    "from_scratch",  # fine-tuning: start from fresh weights
    "models",  # the sweep's models this table runs on (default: all)
    "problems",  # the sweep's problems this table runs on (default: all)
    "grid",  # this optimizer's own values of some axes, e.g. {learning_rate = [0.1]}
)


# Keys that choose which runs a table makes, not how any one of them trains.
SELECTION_KEYS = ("models", "problems", "grid")


def run_settings(settings):
    """What a table gives each of its runs: every key but SELECTION_KEYS
    (so a run stays finished when its table's grid grows)."""
    return {k: v for k, v in settings.items() if k not in SELECTION_KEYS}


def arguments(settings):
    """A table's optimizer arguments: every key but TABLE_ONLY_KEYS."""
    return {k: v for k, v in settings.items() if k not in TABLE_ONLY_KEYS}


def optimizer_class(label, settings):
    """(The class table `label` builds, the defaults its recipe adds); UsageError
    naming the table when its `class` cannot be had or is no Keras optimizer."""
    if "class" not in settings:
        import custom_optimizers

        recipe = settings.get("recipe", label)
        cli.names([recipe], custom_optimizers.available(), "optimizer")
        found = custom_optimizers.RECIPES[recipe]
        return found.optimizer_class, found.defaults
    import keras

    if "recipe" in settings:
        raise UsageError(f"optimizer {label}: give recipe or class, not both")
    try:
        found = plugins.load(settings["class"])
    except plugins.PluginError as error:
        raise UsageError(f"optimizer {label}: class {error}") from None
    if not (isinstance(found, type) and issubclass(found, keras.optimizers.Optimizer)):
        raise UsageError(
            f"optimizer {label}: class {settings['class']} is "
            f"{getattr(found, '__name__', repr(found))}, not a subclass of "
            "keras.optimizers.Optimizer"
        )
    return found, {}


def class_name(label, settings):
    """The optimizer's class as runs record it: the table's `class` (a file by
    its absolute path, as reading made it), or the registry class's module
    and name."""
    if "class" in settings:
        return settings["class"]
    found, _ = optimizer_class(label, settings)
    return f"{found.__module__}.{found.__qualname__}"


def make_optimizer(label, settings, **overrides):
    """The optimizer of table `label`: its class with the recipe's defaults,
    the table's arguments, then `overrides`."""
    found, defaults = optimizer_class(label, settings)
    return found(**{**defaults, **arguments(settings), **overrides})


# The rate an optimizer is built with to be inspected before the sweep (each
# run's own comes from its learning_rate axis); a user's class may have no default.
PROBE_LEARNING_RATE = 0.01


_probed = {}  # (label, table, overrides) → the optimizer built for them


def probe(label, settings, **overrides):
    """Table `label`'s optimizer, built to be looked at, not to train: once
    per table and overrides, however many checks look (a user's constructor
    may be slow)."""
    key = json.dumps([label, settings, overrides], sort_keys=True, default=repr)
    if key not in _probed:
        _probed[key] = make_optimizer(
            label, settings, **{"learning_rate": PROBE_LEARNING_RATE, **overrides}
        )
    return _probed[key]


def keywords(optimizer_class):
    """{keyword: its inspect.Parameter} a constructor takes: its own, and
    keras.optimizers.Optimizer's where it passes **kwargs on (clipnorm, …)."""
    import keras

    own = dict(inspect.signature(optimizer_class.__init__).parameters)
    if any(p.kind is p.VAR_KEYWORD for p in own.values()):
        base = inspect.signature(keras.optimizers.Optimizer.__init__).parameters
        own = {**base, **own}
    return {k: p for k, p in own.items() if k != "self" and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}  # fmt: skip


def uses(optimizer, argument):
    """Whether `optimizer` uses `argument`: its constructor takes it, and, for
    a declared axis, it is set, and not to a number 0 (sgd's momentum 0 is
    no momentum; a true/false setting is always used). Keras's Lion and our
    Adam both use beta_1. Any other keyword is used where it is taken."""
    parameters = keywords(type(optimizer))
    if argument not in parameters:
        return False
    if argument in axes.arguments([argument]):
        return True
    value = getattr(optimizer, argument, parameters[argument].default)
    if value is inspect.Parameter.empty:
        return False
    return value is not None and (isinstance(value, bool) or value != 0)


def applies_to(settings, problem):
    """Whether a table runs on `problem` (its `problems` and `models` lists,
    when it has them)."""
    return problem.folder in settings.get(
        "problems", [problem.folder]
    ) and problem.model in settings.get("models", [problem.model])


def own_grid(settings):
    """A table's own `grid`, checked: {axis: values}."""
    grid = settings.get("grid", {})
    if not isinstance(grid, dict):
        raise UsageError("grid must be a table of lists, e.g. {learning_rate = [0.1]}")
    return {
        name: checked_values(axes.find(name), values, f"grid.{name}")
        for name, values in grid.items()
    }


def checked_values(axis, values, what):
    """`values` of `axis`, each checked, without repeats; UsageError for an
    empty list, or two values that would share a run folder (names use :g)."""
    if not isinstance(values, list):
        raise UsageError(f"{what} must be a list, got {values!r}")
    if not values:
        raise UsageError(f"{what} is empty; give one or more values")
    values = list(dict.fromkeys(axis.check(value) for value in values))
    names = {}
    for value in values:
        other = names.setdefault(axes.format_value(value), value)
        if other != value:
            raise UsageError(
                f"{(axis.plural or axis.name).replace('_', ' ')} {other!r} and "
                f"{value!r} would share the run folder name "
                f"{axes.format_value(value)}; give values that differ in 6 "
                "significant digits"
            )
    return values


def check_table(label, settings, problem_list):
    """Every key of one table against the sweep's problems, before any run."""
    _check_registry_label(label, settings)
    for name in settings:
        known = {a.name: a for a in axes.AXES}
        if name in known and not known[name].is_argument:
            how = (
                f"{known[name].plural} ({known[name].flag})"
                if known[name].plural
                else f"[grid] {name} (--grid {name}=…)"
            )
            raise UsageError(
                f"optimizer {label}: {name} is a grid axis of this sweep; set it "
                f"with {how}, not in [optimizers.{label}]"
            )
    if not isinstance(settings.get("from_scratch", False), bool):
        raise UsageError(f"optimizer {label}: from_scratch must be true or false")
    built = checked_build(label, settings)
    try:
        grid = own_grid(settings)
    except (ValueError, TypeError) as error:
        raise UsageError(f"optimizer {label}: {error}") from None
    for name in grid:
        if axes.find(name).is_argument and not uses(built, name):
            raise UsageError(
                f"optimizer {label}: grid.{name}: {label} does not use {name}"
            )
    for key, known in (
        ("models", [p.model for p in problem_list]),
        ("problems", [p.folder for p in problem_list]),
    ):
        listed = settings.get(key, known)
        if not isinstance(listed, list):
            raise UsageError(f"optimizer {label}: {key} must be a list of names")
        cli.names(
            listed, list(dict.fromkeys(known)), f"{key[:-1]} in [optimizers.{label}]"
        )


def _check_registry_label(label, settings):
    """A label that is the registry's name of an optimizer builds that
    optimizer: reports, the stored baselines and DeepOBS's comparison match
    entries by label, so `[optimizers.adam]` holding SGD would pass for Adam."""
    import custom_optimizers

    if label not in custom_optimizers.available():
        return
    own = settings.get("class") or settings.get("recipe", label)
    if own != label:
        raise UsageError(
            f"optimizer {label}: {label} is the library's name of "
            f"{class_name(label, {})}, so it cannot hold {own}; give this table "
            f"a label of its own (say [optimizers.my_{label}]): reports and "
            "stored baselines match entries by label"
        )


def checked_build(label, settings, **overrides):
    """`probe`, where anything the constructor raises (an argument it
    does not take, a value out of its range) is one line naming the table."""
    try:
        return probe(label, settings, **overrides)
    except UsageError:
        raise
    except (ValueError, TypeError) as error:  # the constructor's own words
        raise UsageError(f"optimizer {label}: {error}") from None
    except Exception as error:  # a user's class may raise anything
        raise UsageError(
            f"optimizer {label}: {type(error).__name__}: {error}"
        ) from None
