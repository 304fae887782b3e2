"""A sweep's settings (`SweepConfig`) and the runs they lay out.

`SweepConfig.runs` lays out the runs: each problem × optimizer × the grid
of every axis in `axes.AXES`. An axis's values live in one place,
`SweepConfig.grid`, checked when they are set. `reading` makes a config
from a TOML file and the command line; `checks` checks it whole.
Imports no TensorFlow.
"""

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from experiments import data
from experiments.problems import PROBLEMS, Problem, unnamed
from experiments.sweep import axes, optimizer_tables
from experiments.sweep.optimizer_tables import applies_to, probe, uses
from experiments.sweep.schedules import (
    RECORDED_AWAY_FROM_DEFAULT,
    SCHEDULE_SETTINGS,
    SETTING_DEFAULTS,
)
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
    final_fraction: float = SETTING_DEFAULTS["final_fraction"]
    # Optimizer label → its table: a registry name's overrides, or `recipe`.
    optimizers: dict = field(default_factory=lambda: {"sgd": {}, "adam": {}})
    # Unset: each problem's own (a dataset's and models' problems: 5 and 128).
    epochs: int = field(default=None, metadata={"type": int})
    batch_size: int = field(default=None, metadata={"type": int})
    seed: int = axes.axis("seed").default
    validation_fraction: float = data.VALIDATION_FRACTION
    max_train_samples: int = 0  # 0: all of them
    # Where mnist and fashion_mnist come from: "any" (Keras's cache or
    # download, else the embedded set) or "embedded" (always the embedded
    # set, online or not, as the stored baselines' protocol needs).
    data_source: str = data.ANY_SOURCE
    divergence_loss: float = DIVERGENCE_LOSS
    # Evaluate the test set after every epoch too (TensorBoard's `test` run,
    # epochs.csv); off, it is evaluated once, at the end.
    test_every_epoch: bool = False
    # Runs at once: 1 trains in this process; N > 1 or "auto" (one per core;
    # on a cluster, as many as it schedules) on Ray.
    workers: object = "auto"
    # The share of a GPU each run on Ray asks for (0 to 1): "auto" is
    # executors.GPU_SHARE where Ray and the backend find a GPU, else none.
    gpus_per_run: object = "auto"
    # A Ray cluster to run on ("auto", or host:port); empty: none.
    address: str = ""
    # Labels (digits) to train and evaluate on; empty: all.
    classes: list = field(default_factory=list)
    # Keep each run's trained weights (WEIGHTS_FILE), for sweeps that start from them.
    save_weights: bool = False
    # Start every run from another sweep's weights (see finetune.toml):
    # `sweep`, its TOML file; `new_layers`, the layers that start afresh;
    # and, filled in by `reading`, that sweep's `name` and its `runs`:
    # {start_key: [its run folders of that problem and seed, in the log folder]}.
    start_from: dict = field(default_factory=dict)

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
        specs = []
        for problem in self.problem_list():
            for label, settings in self.optimizers.items():
                if applies_to(settings, problem):
                    specs += self._table_runs(problem, label, settings)
        return specs

    def _table_runs(self, problem, label, settings):
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
            table = {
                k: v
                for k, v in optimizer_tables.run_settings(settings).items()
                if values.get(k) is None
            }
            specs.append(
                RunSpec(
                    problem=problem,
                    optimizer=label,
                    epochs=self.epochs or problem.epochs,
                    values=values,
                    optimizer_settings=table,
                    divergence_loss=problem.divergence_loss or self.divergence_loss,
                    schedule_settings=self.schedule_settings(values["schedule"]),
                    test_every_epoch=self.test_every_epoch,
                    save_weights=self.save_weights,
                    spelled=spelled,
                    **self._start(problem, values["seed"], settings),
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
            and (not axis.is_argument or uses(built, axis.name))
            else [self.fixed_value(axis, problem)]
            for axis in axes.of(grid)
        }

    def fixed_value(self, axis, problem):
        """An axis's one value when no grid sets it: the sweep's key of the
        axis's own name (`seed`, `batch_size`) when set, else its default."""
        own = getattr(self, axis.name, None) if axis in axes.AXES else None
        return axis.default_on(problem) if own is None else own

    def schedule_settings(self, schedule):
        """The settings `schedule` uses (none for constant, so old runs still match)."""
        return {
            key: getattr(self, key)
            for key in SCHEDULE_SETTINGS[schedule]
            if key not in RECORDED_AWAY_FROM_DEFAULT
            or getattr(self, key) != SETTING_DEFAULTS[key]
        }

    def _start(self, problem, seed, settings):
        """The weights a run starts from: the run of `start_from`'s sweep on
        the same problem and seed (`checks` makes sure there is one)."""
        if not self.start_from or settings.get("from_scratch"):
            return {}
        [start] = self.start_from["runs"][start_key(problem, seed)]
        return {"init": start, "new_layers": tuple(self.start_from["new_layers"])}

    def set_grid(self, name, values, what):
        """Sets the axis `name` to `values`, checked (`what` names their source)."""
        axis = axes.find(name)
        self.grid = {
            **self.grid,
            name: optimizer_tables.checked_values(axis, values, what),
        }


def start_key(problem, seed):
    """How `start_from`'s runs are found: by problem (its name, model and
    dataset: its weights must fit, and come from the same kind of data) and seed."""
    return f"{problem.folder} ({problem.model} on {problem.dataset}) with seed {seed}"


def _own_values(label, settings, values_of):
    """{argument: the value the table's optimizer takes without the grid} for
    each optimizer argument the grid varies for it."""
    built = probe(label, settings)
    return {
        axis.name: getattr(built, axis.name, None)
        for axis in axes.of(values_of)
        if axis.is_argument and values_of[axis.name] != [None]
    }
