"""One planned run: its problem, optimizer, axis values, folder and identity.

Imports no TensorFlow (Keras and the optimizers are imported only when an
optimizer is built), so planning, validating and resuming a sweep stay
light; `training.py` trains what is planned here.
"""

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from experiments import plugins, problems
from experiments.sweep import axes
from experiments.sweep.optimizer_tables import class_name, make_optimizer
from experiments.sweep.run_files import HYPERPARAMETERS
from experiments.sweep.schedules import make_schedule

# A batch loss above this (or NaN or inf) ends a run as diverged.
DIVERGENCE_LOSS = 1e3


def hyperparameters(optimizer):
    """The optimizer's settings that runs are compared by (no decay → 0): the
    HYPERPARAMETERS it has, and every declared axis that is its argument, so
    a run at the optimizer's own value records it."""
    names = dict.fromkeys(
        (*HYPERPARAMETERS, *(a.name for a in axes.AXES if a.is_argument))
    )
    values = {k: getattr(optimizer, k) for k in names if hasattr(optimizer, k)}
    values["weight_decay"] = values["weight_decay"] or 0.0
    return values


# RunSpec's fields that run.json's `run` does not hold as such.
NOT_RECORDED = ("problem", "values", "spelled")


@dataclass(frozen=True)
class RunSpec:
    problem: problems.Problem
    optimizer: str  # the label of the sweep's [optimizers.<label>] table
    epochs: int
    values: dict  # axis name → value; an axis left out takes its default
    optimizer_settings: dict = field(default_factory=dict)  # override the registry's
    divergence_loss: float = DIVERGENCE_LOSS
    schedule_settings: dict = field(default_factory=dict)  # see make_schedule
    init: str = ""  # the run folder, in the log folder, whose weights this run starts from
    new_layers: tuple = ()  # with `init`: layers that start afresh instead
    save_weights: bool = False  # keep the trained weights (WEIGHTS_FILE)
    test_every_epoch: bool = False  # evaluate the test set after every epoch
    # Not recorded: the optimizer arguments a grid gave the value the run
    # takes anyway ((axis, value) pairs). The run is the one without them;
    # before, their folder spelled them out, and such a folder is reused.
    spelled: tuple = field(default=(), compare=False)

    def __post_init__(self):
        defaults = {a.name: a.default_on(self.problem) for a in axes.of(self.values)}
        object.__setattr__(self, "values", {**defaults, **self.values})

    @property
    def model(self):
        return self.problem.model

    @property
    def dataset(self):
        return self.problem.dataset

    def at(self, **values):
        """This run with other axis values (say, another seed)."""
        return replace(self, values={**self.values, **values})

    @property
    def folder(self):
        """<problem>/<optimizer>/lr=<η>[,<tag>=<value>…]: each axis not
        at its default adds its tag, in AXES' order (lr, wd, schedule, …, seed)."""
        name = ",".join(
            a.label(self.values[a.name])
            for a in axes.of(self.values)
            if not a.is_default(self.values[a.name], self.problem)
        )
        return Path(self.problem.folder) / self.optimizer / name

    @property
    def optimizer_class(self):
        """The optimizer's class, as run.json and the CSVs record it."""
        return class_name(self.optimizer, self.optimizer_settings)

    @property
    def entry(self):
        return axes.entry(self.problem.folder, self.optimizer, self.values)

    def build_optimizer(self, steps_per_epoch):
        arguments = {
            name: value
            for name, value in axes.reaching(axes.OPTIMIZER, self.values).items()
            if value is not None
        }
        learning_rate = make_schedule(
            self.values["schedule"],
            self.values["learning_rate"],
            self.epochs * steps_per_epoch,
            **self.schedule_settings,
        )
        return make_optimizer(
            self.optimizer,
            {**self.optimizer_settings, **arguments},
            learning_rate=learning_rate,
        )

    def spelled_out(self):
        """This run as its folder was named before a grid value equal to the
        optimizer's own was the plain run: that value on the axis, not in
        the table."""
        names = {name for name, _ in self.spelled}
        return replace(
            self,
            values={**self.values, **dict(self.spelled)},
            optimizer_settings={
                k: v for k, v in self.optimizer_settings.items() if k not in names
            },
            spelled=(),
        )

    @property
    def setting_folder(self):
        """The folder without its seed: what the seeds of one setting share."""
        seed = axes.axis("seed")
        return self.at(seed=seed.default_on(self.problem)).folder

    def code(self):
        """{CODE_KEYS: a digest of the file} for a model or optimizer class
        from a user's file: editing the file makes another run."""
        digests = {
            "model_code": plugins.code_digest(self.model),
            "optimizer_code": plugins.code_digest(self.optimizer_settings.get("class")),
        }
        return {key: digest for key, digest in digests.items() if digest}

    def identity(self):
        """The run as run.json records it: what must match for a finished run to be reused."""
        fixed = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in NOT_RECORDED
        }
        arguments = axes.arguments(self.values)
        return json.loads(json.dumps({
            "problem": self.problem.name,
            "model": self.model,
            "dataset": self.dataset,
            **self.problem.recorded(),
            **fixed,
            **self.values,
            # Which keys are optimizer arguments beyond the declared axes.
            **({ARGUMENTS_KEY: arguments} if arguments else {}),
            **self.code(),
        }))  # fmt: skip

    @classmethod
    def from_identity(cls, saved, problem):
        """The RunSpec a run.json records, in the form `migrations.current_run`
        gives it: its `run` and its `problem`."""
        axis_names = {a.name for a in axes.of(saved.get(ARGUMENTS_KEY, ()))}
        return cls(
            problem=problems.Problem(**problem),
            values={k: v for k, v in saved.items() if k in axis_names},
            **{
                f.name: tuple(saved[f.name])
                if f.name == "new_layers"
                else saved[f.name]
                for f in fields(cls)
                if f.name not in NOT_RECORDED
            },
        )

    def differences(self, saved):
        """Keys on which a saved identity (as `migrations.current_run` gives
        it) disagrees, but a file's digest that it lacks: runs from before
        digests were recorded are taken as run with the file as it is."""
        # A problem's field at its default is in neither identity.
        unrecorded = problems.run_field_defaults()
        mine = {**unrecorded, **self.identity()}
        mine.pop(ARGUMENTS_KEY, None)  # follows from the values, compared below
        saved = {**unrecorded, **saved}
        return [
            describe_code_change(k, self.model, self.optimizer_settings)
            if k in CODE_KEYS
            else k
            for k in mine
            if saved.get(k, mine[k] if k in CODE_KEYS else None) != mine[k]
        ]


# The identity's list of the optimizer arguments it holds beyond AXES.
ARGUMENTS_KEY = "grid_arguments"

# What a run.json records of a user's files' contents (RunSpec.code).
CODE_KEYS = ("model_code", "optimizer_code")


def describe_code_change(key, model, optimizer_settings):
    """A changed digest, as the refusal to reuse the run names it."""
    spec = model if key == "model_code" else optimizer_settings["class"]
    return f"{key} (the contents of {spec.rpartition(':')[0]} changed)"
