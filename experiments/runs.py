"""What a sweep plans: one run's settings, its folder, its optimizer and schedule.

Imports no TensorFlow (Keras and the optimizers are imported only when an
optimizer is built), so planning, validating and resuming a sweep stay
light; `training.py` trains what is planned here.
"""

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from experiments.run_files import HYPERPARAMETERS

# Keys of a sweep's [optimizers.<label>] table that are not optimizer arguments:
# `recipe` (the registry name, when the label is not one) and these.
TABLE_ONLY_KEYS = (
    "from_scratch",  # fine-tuning: start from fresh weights
    "models",  # the sweep's models this table runs on (default: all)
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


@dataclass(frozen=True)
class RunSpec:
    model: str
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    seed: int
    dataset: str
    optimizer_settings: dict = field(default_factory=dict)  # overrides the registry's
    divergence_loss: float = 1e3  # a batch loss above this (or NaN/inf) ends the run
    weight_decay: float = (
        None  # a point of a weight-decay grid; overrides the settings'
    )
    schedule: str = "constant"  # how η changes over training: SCHEDULES
    schedule_settings: dict = field(default_factory=dict)  # see make_schedule
    stage: str = ""  # "pretrain" for a run whose weights others start from
    init: str = ""  # the run folder (in this sweep) whose weights this run starts from
    new_layers: tuple = ()  # with `init`: layers that start afresh instead
    save_weights: bool = False  # keep the trained weights (WEIGHTS_FILE)

    @property
    def folder(self):
        """[<stage>/]<model>/<optimizer>/lr=<η>[,wd=<wd>][,seed=<seed>]: seed 0 and no grid add nothing."""
        name = f"lr={self.learning_rate:g}"
        if self.weight_decay is not None:
            name += f",wd={self.weight_decay:g}"
        if self.schedule != "constant":
            name += f",schedule={self.schedule}"
        if self.seed != 0:
            name += f",seed={self.seed}"
        return Path(self.stage) / self.model / self.optimizer / name

    def build_optimizer(self, steps_per_epoch):
        settings = dict(self.optimizer_settings)
        if self.weight_decay is not None:
            settings["weight_decay"] = self.weight_decay
        learning_rate = make_schedule(
            self.schedule,
            self.learning_rate,
            self.epochs * steps_per_epoch,
            **self.schedule_settings,
        )
        return make_optimizer(self.optimizer, settings, learning_rate=learning_rate)

    def differences(self, saved):
        """Fields on which a saved `asdict(spec)` disagrees; absent ones had their default."""
        mine = json.loads(json.dumps(asdict(self)))
        defaults = json.loads(
            json.dumps(
                {
                    f.name: f.default_factory() if f.default is MISSING else f.default
                    for f in fields(self)
                    if f.default is not MISSING or f.default_factory is not MISSING
                }
            )
        )
        return [k for k in mine if saved.get(k, defaults.get(k)) != mine[k]]
