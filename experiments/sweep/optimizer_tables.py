"""A sweep's `[optimizers.<label>]` tables: which optimizer each builds, with
which arguments, on which problems, over which of its own grid values.

Imports no TensorFlow until an optimizer is built.
"""

from experiments import cli
from experiments.cli import UsageError
from experiments.sweep import axes

# Keys of a table that are not optimizer arguments: `recipe` (the registry
# name, when the label is not one) and these.
TABLE_ONLY_KEYS = (
    "recipe",
    "from_scratch",  # fine-tuning: start from fresh weights
    "models",  # the sweep's models this table runs on (default: all)
    "problems",  # the sweep's problems this table runs on (default: all)
    "grid",  # this optimizer's own values of some axes, e.g. {learning_rate = [0.1]}
)


def arguments(settings):
    """A table's optimizer arguments: every key but TABLE_ONLY_KEYS."""
    return {k: v for k, v in settings.items() if k not in TABLE_ONLY_KEYS}


def make_optimizer(label, settings, **overrides):
    """The optimizer of table `label`: its `recipe` (default: the label
    itself) with the table's arguments, then `overrides`."""
    import custom_optimizers

    recipe = settings.get("recipe", label)
    return custom_optimizers.get(recipe, **{**arguments(settings), **overrides})


def uses(optimizer, argument):
    """Whether `optimizer` uses `argument`: has it set, and not to a number 0
    (sgd's momentum 0 is no momentum; a true/false setting is always used)."""
    value = getattr(optimizer, argument, None)
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
        name: checked_values(axes.axis(name), values, f"grid.{name}")
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
    for name in settings:
        known = {a.name: a for a in axes.AXES}
        if name in known and known[name].goes_to != "optimizer":
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
    try:
        built = make_optimizer(label, settings)
        grid = own_grid(settings)
    except (ValueError, TypeError) as error:
        raise UsageError(f"optimizer {label}: {error}") from None
    for name in grid:
        if axes.axis(name).goes_to == "optimizer" and not uses(built, name):
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
