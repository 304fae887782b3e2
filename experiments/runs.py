"""What a sweep plans: the axes it varies, and one run's settings, folder,
optimizer and schedule.

Imports no TensorFlow (Keras and the optimizers are imported only when an
optimizer is built), so planning, validating and resuming a sweep stay
light; `training.py` trains what is planned here.
"""

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from experiments import cli, problems
from experiments.run_files import HYPERPARAMETERS

# Keys of a sweep's [optimizers.<label>] table that are not optimizer arguments:
# `recipe` (the registry name, when the label is not one) and these.
TABLE_ONLY_KEYS = (
    "from_scratch",  # fine-tuning: start from fresh weights
    "models",  # the sweep's models this table runs on (default: all)
    "problems",  # the sweep's problems this table runs on (default: all)
    "grid",  # this optimizer's own values of some axes, e.g. {learning_rate = [0.1]}
)

# Each schedule and the settings (make_schedule's arguments) it uses.
SCHEDULE_SETTINGS = {
    "constant": (),
    "step": ("step_fractions", "step_factor"),
    "cosine": (),
    "warmup_cosine": ("warmup_fraction",),
}
SCHEDULES = tuple(SCHEDULE_SETTINGS)


def make_schedule(
    name,
    learning_rate,
    total_steps,
    step_fractions=(0.5, 0.75),
    step_factor=0.1,
    warmup_fraction=0.05,
):
    """η over training, built from `keras.optimizers.schedules` (so it serializes).

    constant: η throughout. step: η, multiplied by `step_factor` at each of
    `step_fractions` of training. cosine: η·(1 + cos(π·t/T))/2, down to 0
    at the end. warmup_cosine: linearly from 0 to η over the first
    `warmup_fraction` of training (at least one step, and at most all but
    the last), then cosine to 0; a run of one step takes it at η.
    """
    import keras

    schedules = keras.optimizers.schedules
    if name == "constant":
        return learning_rate
    if name == "step":
        # PiecewiseConstantDecay keeps a value up to and including its boundary.
        boundaries = [max(0, round(f * total_steps) - 1) for f in step_fractions]
        values = [learning_rate * step_factor**i for i in range(len(boundaries) + 1)]
        return schedules.PiecewiseConstantDecay(boundaries, values)
    if name == "cosine":
        return schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    if name == "warmup_cosine":
        # At least one step of warm-up and one of decay; a one-step run has
        # no room for warm-up and takes its step at η.
        warmup = min(max(1, round(warmup_fraction * total_steps)), total_steps - 1)
        if warmup < 1:
            return schedules.CosineDecay(learning_rate, decay_steps=total_steps)
        return schedules.CosineDecay(
            0.0,
            decay_steps=total_steps - warmup,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
    raise ValueError(f"Unknown schedule {name!r}; known: {', '.join(SCHEDULES)}.")


def make_optimizer(label, settings, **arguments):
    """The optimizer of a sweep's [optimizers.<label>] table: its `recipe`
    (default: the label itself) with the table's other optimizer settings."""
    import custom_optimizers

    settings = {k: v for k, v in settings.items() if k not in TABLE_ONLY_KEYS}
    recipe = settings.pop("recipe", label)
    return custom_optimizers.get(recipe, **settings, **arguments)


def hyperparameters(optimizer):
    """The optimizer's settings that runs are compared by (no decay → 0)."""
    values = {
        k: getattr(optimizer, k) for k in HYPERPARAMETERS if hasattr(optimizer, k)
    }
    values["weight_decay"] = values["weight_decay"] or 0.0
    return values


def _seed(value):
    try:
        seed = int(value)
    except (TypeError, ValueError):
        seed = -1
    if isinstance(value, bool) or seed < 0 or str(seed) != str(value).strip():
        raise cli.UsageError(f"seeds must be non-negative integers, got {value!r}")
    return seed


def _number(requirement, valid):
    return lambda value: cli.number(value, requirement, valid)


# An axis whose default is the problem's own value (its batch size).
PROBLEMS_OWN = "the problem's own"


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
    # Where the value goes: "optimizer" (an argument of the optimizers that
    # use it, as `momentum`), "schedule" (η over training), "data" (the
    # batches) or "training" (initial weights and batch order).
    goes_to: str
    plural: str = ""  # the older config key of its list (and its --flag)

    def default_on(self, problem):
        """The value a run on `problem` takes when nothing sets this axis."""
        return problem.batch_size if self.default == PROBLEMS_OWN else self.default

    def is_default(self, value, problem):
        return value == self.default_on(problem)

    def label(self, value):
        """The value as the folder name and the report's entry write it."""
        return f"{self.tag}={format_value(value)}"


def format_value(value):
    """Numbers as :g (1e-3, 0.1), so 0.001 and 1e-3 name one folder; else as is."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _true_or_false(name):
    def check(value):
        if str(value).lower() not in ("true", "false"):
            raise cli.UsageError(f"{name} must be true or false, got {value!r}")
        return str(value).lower() == "true"

    return check


def _fraction(name):
    return _number(f"{name} must be in [0, 1)", lambda x: 0 <= x < 1)


AXES = (
    Axis(
        "learning_rate",
        _number("learning rate must be a positive number", lambda x: x > 0),
        None, "lr", "tuned", "schedule", "learning_rates",
    ),
    Axis(
        "weight_decay",
        _number("weight decay must be a number >= 0", lambda x: x >= 0),
        None, "wd", "tuned", "optimizer", "weight_decays",
    ),
    Axis(
        "schedule",
        lambda value: cli.names([value], SCHEDULES, "schedule")[0],
        "constant", "schedule", "compared", "schedule", "schedules",
    ),
    Axis(
        "batch_size",
        lambda value: cli.integer(value, "batch_size", 1),
        PROBLEMS_OWN, "batch_size", "compared", "data",
    ),
    Axis(
        "shuffle_buffer",
        lambda value: cli.integer(value, "shuffle_buffer", 0),
        0, "shuffle_buffer", "compared", "data",
    ),
    Axis(
        "drop_remainder", _true_or_false("drop_remainder"),
        False, "drop_remainder", "compared", "data",
    ),
    Axis("momentum", _fraction("momentum"), None, "momentum", "compared", "optimizer"),
    Axis("beta_1", _fraction("beta_1"), None, "beta_1", "compared", "optimizer"),
    Axis("beta_2", _fraction("beta_2"), None, "beta_2", "compared", "optimizer"),
    Axis(
        "epsilon",
        _number("epsilon must be a positive number", lambda x: x > 0),
        None, "epsilon", "compared", "optimizer",
    ),
    Axis("seed", _seed, 0, "seed", "repeat", "training", "seeds"),
)  # fmt: skip


def axis(name):
    """The axis `name` of AXES; UsageError naming the known ones."""
    known = {a.name: a for a in AXES}
    cli.names([name], list(known), "grid axis")
    return known[name]


def entry(problem_folder, optimizer, values):
    """What the report ranks as one optimizer, and --rerun-best reruns the best
    of: an optimizer on a problem, at one value of each compared axis."""
    return (
        problem_folder,
        optimizer,
        *(values.get(a.name) for a in AXES if a.role == "compared"),
    )


def entry_label(optimizer, values, problem):
    """The entry's name in reports: the optimizer, plus each compared axis not
    at its default (a schedule by its name: `sgd+cosine`)."""
    parts = [optimizer]
    for a in AXES:
        value = values.get(a.name, a.default)
        if a.role == "compared" and not a.is_default(value, problem):
            parts.append(value if isinstance(value, str) else a.label(value))
    return "+".join(parts)


@dataclass(frozen=True)
class RunSpec:
    problem: problems.Problem
    optimizer: str  # the label of the sweep's [optimizers.<label>] table
    epochs: int
    values: dict  # axis name → value; an axis left out takes its default
    optimizer_settings: dict = field(default_factory=dict)  # override the registry's
    divergence_loss: float = 1e3  # a batch loss above this (or NaN/inf) ends the run
    schedule_settings: dict = field(default_factory=dict)  # see make_schedule
    stage: str = ""  # "pretrain" for a run whose weights others start from
    init: str = ""  # the run folder (in this sweep) whose weights this run starts from
    new_layers: tuple = ()  # with `init`: layers that start afresh instead
    save_weights: bool = False  # keep the trained weights (WEIGHTS_FILE)
    test_every_epoch: bool = False  # evaluate the test set after every epoch

    def __post_init__(self):
        defaults = {a.name: a.default_on(self.problem) for a in AXES}
        object.__setattr__(self, "values", {**defaults, **self.values})

    def __getattr__(self, name):
        """An axis's value as an attribute: `spec.learning_rate`, `spec.seed`."""
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def model(self):
        return self.problem.model

    @property
    def dataset(self):
        return self.problem.dataset

    def at(self, **values):
        """This run with other axis values (say, another seed)."""
        return RunSpec(**{
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "values": {**self.values, **values},
        })  # fmt: skip

    @property
    def folder(self):
        """[<stage>/]<problem>/<optimizer>/lr=<η>[,<tag>=<value>…]: each axis not
        at its default adds its tag, in AXES' order (lr, wd, schedule, …, seed)."""
        name = ",".join(
            a.label(self.values[a.name])
            for a in AXES
            if not a.is_default(self.values[a.name], self.problem)
        )
        return Path(self.stage) / self.problem.folder / self.optimizer / name

    @property
    def entry(self):
        return entry(self.problem.folder, self.optimizer, self.values)

    def build_optimizer(self, steps_per_epoch):
        arguments = {
            a.name: self.values[a.name]
            for a in AXES
            if a.goes_to == "optimizer" and self.values[a.name] is not None
        }
        learning_rate = make_schedule(
            self.schedule,
            self.learning_rate,
            self.epochs * steps_per_epoch,
            **self.schedule_settings,
        )
        return make_optimizer(
            self.optimizer,
            {**self.optimizer_settings, **arguments},
            learning_rate=learning_rate,
        )

    def identity(self):
        """The run as run.json records it: what must match for a finished run to be reused."""
        fixed = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("problem", "values")
        }
        return json.loads(json.dumps({
            "problem": self.problem.name,
            "model": self.model,
            "dataset": self.dataset,
            **fixed,
            **self.values,
        }))  # fmt: skip

    @classmethod
    def from_identity(cls, saved, problem=None):
        """The RunSpec a run.json records: its `run` (absent keys had their
        default) and its `problem` (not recorded before problems existed:
        then a problem whose batch size is the run's)."""
        saved = {**cls.identity_defaults(), **saved}
        axis_names = {a.name for a in AXES}
        problem = (
            problems.Problem(**problem)
            if problem
            else problems.Problem(
                saved["problem"],
                saved["dataset"],
                saved["model"],
                saved["batch_size"],
                saved["epochs"],
            )
        )
        return cls(
            problem=problem,
            values={k: v for k, v in saved.items() if k in axis_names},
            **{
                f.name: tuple(saved[f.name])
                if f.name == "new_layers"
                else saved[f.name]
                for f in fields(cls)
                if f.name not in ("problem", "values")
            },
        )

    @classmethod
    def identity_defaults(cls):
        """What a run saved before a key of its identity existed had: the
        field's or axis's default (no problem: ""), as run.json holds it."""
        return json.loads(json.dumps({
            "problem": "",
            **{
                f.name: f.default_factory() if f.default is MISSING else f.default
                for f in fields(cls)
                if f.default is not MISSING or f.default_factory is not MISSING
            },
            **{a.name: a.default for a in AXES if a.default != PROBLEMS_OWN},
        }))  # fmt: skip

    def differences(self, saved):
        """Keys on which a saved identity disagrees; absent ones had their default."""
        mine = self.identity()
        defaults = self.identity_defaults()
        return [k for k in mine if saved.get(k, defaults.get(k)) != mine[k]]
