"""The axes a sweep can vary from run to run, each declared once in `AXES`.

Everything reads this table: the config's and the command line's checks
and flags, the plan, folder names, resume's identity check, HParams, both
CSVs and the report's grouping. Adding an axis is one entry here. Any
other keyword of an optimizer's constructor is an axis too, made when a
grid names it (`argument`); `of` gives the axes of a grid or a run.
Imports no TensorFlow.
"""

from dataclasses import dataclass

from experiments import cli
from experiments.sweep.schedules import SCHEDULES

# An axis whose default is the problem's own value (its batch size).
PROBLEMS_OWN = "the problem's own"
# Where an axis's value goes (Axis.goes_to): an argument of the optimizers
# that take it, η over training, the batches, or the initial weights and
# batch order.
OPTIMIZER, SCHEDULE, DATA, TRAINING = "optimizer", "schedule", "data", "training"


@dataclass(frozen=True)
class Axis:
    """One thing a sweep can vary from run to run: a column of its grid."""

    name: str  # the [grid] key, `--grid <name>=…`, the CSV and HParams column
    check: object  # a value from the config or command line → the value, or UsageError
    # A run at the default leaves the axis out of its folder name, so
    # folders from before the axis existed keep their names. None: unset
    # (an optimizer argument then keeps its table's or recipe's value).
    default: object
    tag: str  # in the run's folder name: <tag>=<value>
    # How the report treats the axis: "tuned" (each entry at its best
    # value), "compared" (each value ranks as an entry of its own, as
    # `sgd+cosine` or `momentum+momentum=0.5`) or "repeat" (the seeds: a
    # setting's runs, averaged). Tuned and compared axes are HParams columns.
    role: str
    goes_to: str  # OPTIMIZER, SCHEDULE, DATA or TRAINING
    plural: str = ""  # the older config key of its list (and its --flag)

    @property
    def is_argument(self):
        """Its value is an argument of the optimizers that take it."""
        return self.goes_to == OPTIMIZER

    def default_on(self, problem):
        """The value a run on `problem` takes when nothing sets this axis."""
        return problem.batch_size if self.default == PROBLEMS_OWN else self.default

    def is_default(self, value, problem):
        return value == self.default_on(problem)

    def label(self, value):
        """The value as the folder name and the report's entry write it."""
        return f"{self.tag}={format_value(value)}"

    @property
    def flag(self):
        """The older plural flag, `--learning-rates`; "" for an axis without one."""
        return f"--{self.plural.replace('_', '-')}" if self.plural else ""


def format_value(value):
    """Numbers as :g (1e-3, 0.1), so 0.001 and 1e-3 name one folder; else as is."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _number(requirement, valid):
    return lambda value: cli.number(value, requirement, valid)


def _true_or_false(name):
    def check(value):
        if str(value).lower() not in ("true", "false"):
            raise cli.UsageError(f"{name} must be true or false, got {value!r}")
        return str(value).lower() == "true"

    return check


def _argument(name):
    """An optimizer argument's value: a number here; its range is the
    optimizer's own, checked by building each optimizer with it."""
    return _number(f"{name} must be a number", lambda x: True)


AXES = (
    Axis(
        "learning_rate",
        _number("learning rate must be a positive number", lambda x: x > 0),
        None, "lr", "tuned", SCHEDULE, "learning_rates",
    ),
    Axis(
        "weight_decay", _argument("weight decay"),
        None, "wd", "tuned", OPTIMIZER, "weight_decays",
    ),
    Axis(
        "schedule",
        lambda value: cli.names([value], SCHEDULES, "schedule")[0],
        "constant", "schedule", "compared", SCHEDULE, "schedules",
    ),
    Axis(
        "batch_size",
        lambda value: cli.integer(value, "batch_size", 1),
        PROBLEMS_OWN, "batch_size", "compared", DATA,
    ),
    Axis(
        "shuffle_buffer",
        lambda value: cli.integer(value, "shuffle_buffer", 0),
        0, "shuffle_buffer", "compared", DATA,
    ),
    Axis(
        "drop_remainder", _true_or_false("drop_remainder"),
        False, "drop_remainder", "compared", DATA,
    ),
    Axis("momentum", _argument("momentum"), None, "momentum", "compared", OPTIMIZER),
    Axis("beta_1", _argument("beta_1"), None, "beta_1", "compared", OPTIMIZER),
    Axis("beta_2", _argument("beta_2"), None, "beta_2", "compared", OPTIMIZER),
    Axis("epsilon", _argument("epsilon"), None, "epsilon", "compared", OPTIMIZER),
    Axis("seed", cli.seed, 0, "seed", "repeat", TRAINING, "seeds"),
)  # fmt: skip


def axis(name):
    """The axis `name` of AXES; UsageError naming the known ones."""
    known = {a.name: a for a in AXES}
    cli.names([name], list(known), "grid axis")
    return known[name]


# Keywords of every Keras optimizer that are not a run's argument to vary.
NOT_ARGUMENTS = ("self", "name", "kwargs")


def find(name):
    """The declared axis `name`, else the optimizer argument `name`: any
    keyword of a constructor (checks.py holds it against the sweep's
    optimizers' signatures). UsageError for a name no keyword can have."""
    declared = {a.name: a for a in AXES}
    if name in declared:
        return declared[name]
    if not name.isidentifier() or name in NOT_ARGUMENTS:
        raise cli.UsageError(
            f"unknown grid axis {name!r}; give one of {', '.join(declared)} or a "
            "keyword of the optimizers' constructors"
        )
    return argument(name)


def argument(name):
    """An optimizer argument that is not a declared axis, as an axis: each
    value ranks as an entry of its own, and unset, the optimizer keeps its own."""
    return Axis(name, _given, None, name, "compared", OPTIMIZER)


def _given(value):
    """A value from TOML as it is; from the command line, true/false, an
    integer, a number or else the text. Its type is checked against each
    constructor that takes it (checks.py)."""
    if not isinstance(value, str):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            pass
    return value


def of(names):
    """The axes of a grid or a run whose values are keyed by `names`: AXES,
    with an argument axis for each other name, by name, before the seed."""
    declared = [a.name for a in AXES]
    others = sorted(set(names) - set(declared))
    return (*AXES[:-1], *map(argument, others), AXES[-1])


def arguments(names):
    """Of `names`, those that are optimizer arguments made by `argument`."""
    declared = {a.name for a in AXES}
    return sorted(set(names) - declared)


def reaching(destination, values):
    """{axis: its value} of the axes in `values` whose value goes to
    `destination` (DATA: the batches' keywords)."""
    return {a.name: values[a.name] for a in of(values) if a.goes_to == destination}


def entry(problem_folder, optimizer, values):
    """What the report ranks as one optimizer, and --rerun-best reruns the best
    of: an optimizer on a problem, at one value of each compared axis."""
    return (
        problem_folder,
        optimizer,
        *(values.get(a.name) for a in of(values) if a.role == "compared"),
    )


def entry_label(optimizer, values, problem):
    """The entry's name in reports: the optimizer, plus each compared axis not
    at its default (a schedule by its name: `sgd+cosine`)."""
    parts = [optimizer]
    for a in of(values):
        value = values.get(a.name, a.default)
        if a.role == "compared" and not a.is_default(value, problem):
            named = a.goes_to == SCHEDULE and isinstance(value, str)  # sgd+cosine
            parts.append(value if named else a.label(value))
    return "+".join(parts)
