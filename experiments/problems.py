"""Test problems: a dataset, a model, and the batch size and length it trains with.

A sweep names problems (`problems = [...]`, `--problems`), or a dataset and
models (`dataset`, `models`), which make one unnamed problem per model. A
sweep's `[problems.<name>]` table declares a problem of its own (`from_table`):
a model and data named by their place (experiments/plugins.py), or a shipped
problem with another batch size or length.
Names that DeepOBS uses (Schneider et al. 2019) mean DeepOBS's problem
exactly; the project's own small networks have names that cannot be taken
for DeepOBS's (its `mnist_mlp` is a 1000-500-100 MLP, not this 256-128 one).
Imports no TensorFlow.
"""

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

from experiments.cli import of_kind

# An unnamed problem (a sweep's `dataset` and `models`) trains this long,
# with these batches, unless the sweep says otherwise.
UNNAMED_EPOCHS = 5
UNNAMED_BATCH_SIZE = 128


# What a problem may be judged by: its validation accuracy (higher is
# better) or its validation loss (lower is better, as a language model is).
JUDGED_METRICS = {"val_accuracy": "higher", "val_loss": "lower"}


@dataclass(frozen=True)
class Problem:
    name: str  # "" for an unnamed one: its runs are filed under the model's name
    dataset: str  # experiments.data.DATASETS, an .npz file or a loader's place
    model: str  # experiments.models.MODELS, or a builder's place
    batch_size: int
    # An epoch problem's epochs; a step problem's evaluations (steps / eval_every).
    epochs: int
    source: str = ""  # where its definition comes from
    steps: int = 0  # > 0: it trains this many steps, on randomly drawn batches
    eval_every: int = 0  # with `steps`: steps between two evaluations
    block_size: int = 0  # a text problem's window of characters
    model_options: tuple = ()  # (key, value) pairs the model's builder takes
    metric: str = "val_accuracy"  # JUDGED_METRICS: what ranks and picks settings
    divergence_loss: float = (
        0.0  # > 0: a batch loss above it ends a run; else the sweep's
    )
    decay_vectors: bool = True  # decoupled weight decay on vectors (norms, biases) too

    def __post_init__(self):  # run.json holds the options as lists
        options = tuple(tuple(pair) for pair in self.model_options)
        object.__setattr__(self, "model_options", options)

    @property
    def folder(self):
        """Its folder in a sweep, and its name in reports: the name, else the model's."""
        return self.name or self.model

    @property
    def lower_is_better(self):
        return JUDGED_METRICS[self.metric] == "lower"

    def recorded(self):
        """Its fields that decide a run, where they are not at their default
        (a run recorded before they existed had the default)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in RUN_FIELDS and getattr(self, f.name) != f.default
        }

    def describe(self):
        budget = (
            f"{self.steps} steps, evaluated every {self.eval_every}"
            if self.steps
            else f"{self.epochs} epochs"
        )
        return (
            f"{self.folder}: {self.model} on {self.dataset}, batches of "
            f"{self.batch_size}, {budget}"
        )


# The fields of a Problem beyond its data, model and length that change what
# a run computes: a run's identity holds them.
RUN_FIELDS = ("steps", "eval_every", "block_size", "model_options", "decay_vectors")


def run_field_defaults():
    """RUN_FIELDS at their defaults, as run.json would hold them."""
    defaults = {f.name: f.default for f in fields(Problem) if f.name in RUN_FIELDS}
    return json.loads(json.dumps(defaults))


def _small(dataset, prefix, model):
    return Problem(
        f"{prefix}_small_{model}",
        dataset,
        model,
        batch_size=64,
        epochs=8,
        # Not a config's: any sweep may name a shipped problem.
        source="this project's shipped problems (experiments/problems.py)",
    )


PROBLEMS = {
    problem.name: problem
    for problem in (
        _small("mnist", "mnist", "mlp"),
        _small("mnist", "mnist", "cnn"),
        _small("fashion_mnist", "fmnist", "mlp"),
        _small("fashion_mnist", "fmnist", "cnn"),
        # deepobs/tensorflow/testproblems/fmnist_2c2d.py: batch_size=128 and
        # 100 epochs (DeepOBS's runner default for this problem, baselines/).
        Problem(
            "fmnist_2c2d",
            "fashion_mnist",
            "deepobs_2c2d",
            batch_size=128,
            epochs=100,
            source="DeepOBS, fsschneider/DeepOBS deepobs/tensorflow/testproblems/"
            "fmnist_2c2d.py",
        ),
        # nanoGPT's CPU protocol (its README, "I only have a macbook"):
        # shakespeare_char with 4 layers, 4 heads, 128 wide, context 64,
        # batches of 12, 2000 steps, evaluated every 250 (train.py's
        # eval_interval), judged by validation loss.
        Problem(
            "shakespeare_char",
            "tinyshakespeare",
            "transformer",
            batch_size=12,
            epochs=2000 // 250,
            steps=2000,
            eval_every=250,
            block_size=64,
            model_options=(("n_layer", 4), ("n_head", 4), ("n_embd", 128)),
            metric="val_loss",
            # More than twice ln 65 ≈ 4.17, the loss of a uniform guess: a
            # model that much worse than guessing has blown up.
            divergence_loss=10.0,
            # nanoGPT's configure_optimizers: decay on matrices and embeddings.
            decay_vectors=False,
            source="nanoGPT, karpathy/nanoGPT config/train_shakespeare_char.py "
            "with its README's CPU settings",
        ),
    )
}


def unnamed(dataset, model, batch_size=None, epochs=None):
    """The problem a sweep's `dataset` and one of its `models` make."""
    return Problem(
        "",
        dataset,
        model,
        batch_size or UNNAMED_BATCH_SIZE,
        epochs or UNNAMED_EPOCHS,
    )


# The keys of a [problems.<name>] table, and their types.
TABLE_KEYS = {
    "model": str,
    "data": str,
    "batch_size": int,
    "epochs": int,
    "steps": int,
    "eval_every": int,
    "block_size": int,
    "n_layer": int,
    "n_head": int,
    "n_embd": int,
    "metric": str,
    "divergence_loss": float,
    "decay_vectors": bool,
}
MODEL_OPTIONS = ("n_layer", "n_head", "n_embd")  # the transformer's sizes
# A new problem on a .txt file starts from this one's settings.
TEXT_TEMPLATE = "shakespeare_char"


def from_table(name, table, path):
    """The problem a sweep's [problems.<name>] table makes; ValueError naming
    the key that is wrong. Empty: the shipped problem `name`. Keys override a
    shipped problem's, or declare a new one: a model, data, batch_size and
    epochs (or steps); on a .txt file, shakespeare_char's settings fill in
    what the table leaves out. Paths are made absolute against the folder
    of `path`, the TOML file."""
    from experiments import plugins, text_data

    where = f"[problems.{name}]"
    _check_table(table, where)
    if not table:
        if name not in PROBLEMS:
            raise ValueError(f"{where} is no shipped problem ({', '.join(PROBLEMS)})")
        return PROBLEMS[name]
    folder = Path(path).parent
    data = table.get("data")
    template = PROBLEMS.get(name) or (
        PROBLEMS[TEXT_TEMPLATE] if data and text_data.is_text(data) else None
    )
    if template is None:
        missing = [k for k in ("model", "data", "batch_size") if k not in table]
        if not {"epochs", "steps"} & set(table):
            missing.append("epochs (or steps)")
        if missing:
            raise ValueError(
                f"{where} is no shipped problem ({', '.join(PROBLEMS)}), so it "
                f"needs {', '.join(missing)}"
            )
    given = {k: table[k] for k in TABLE_KEYS if k in table and k != "data"}
    fields_ = {**(_fields(template) if template else {}), **given}
    if data and data.endswith((".npz", text_data.TEXT_SUFFIX)):
        fields_["dataset"] = str((folder / data).resolve())
    elif data:
        fields_["dataset"] = plugins.absolute(data, folder)
    if data and data.endswith(text_data.TEXT_SUFFIX) and "divergence_loss" not in table:
        fields_["divergence_loss"] = text_divergence_loss(fields_["dataset"])
    fields_["model"] = plugins.absolute(fields_["model"], folder)
    fields_["model_options"] = tuple(
        (k, fields_.pop(k)) for k in MODEL_OPTIONS if k in fields_
    )
    return Problem(name, **_budget(fields_, table, where), source=f"{where} of {path}")


def text_divergence_loss(path):
    """A language model's divergence limit on the text at `path`: 2.4 ln V
    for its V distinct characters, more than twice the loss of a uniform
    guess, ln V (shakespeare_char's 10 for its 65), and never below 10. A
    text that cannot be read keeps 10; loading it says why."""
    from experiments import text_data
    from experiments.data import DataError

    try:
        distinct = len(set(text_data.read(path)))
    except DataError:
        return 10.0
    return max(10.0, round(2.4 * math.log(distinct), 1))


def _check_table(table, where):
    unknown = sorted(set(table) - set(TABLE_KEYS))
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(TABLE_KEYS)}"
        )
    for key, kind in TABLE_KEYS.items():
        if key not in table:
            continue
        value = table[key]
        try:
            value = of_kind(value, kind)
        except TypeError:
            article = {int: "n integer", float: " number", bool: " boolean"}
            raise ValueError(
                f"{where}: {key} must be a{article.get(kind, ' string')}, got {value!r}"
            ) from None
        if kind is int and value < 1:
            raise ValueError(f"{where}: {key} must be >= 1, got {value!r}")
        if kind is float and not value > 0:
            raise ValueError(f"{where}: {key} must be > 0, got {value!r}")
    if "metric" in table and table["metric"] not in JUDGED_METRICS:
        raise ValueError(
            f"{where}: metric must be one of {', '.join(JUDGED_METRICS)}, got "
            f"{table['metric']!r}"
        )
    if "epochs" in table and "steps" in table:
        raise ValueError(f"{where}: give epochs or steps, not both")


def _fields(template):
    """A template problem's fields, its model options as keys of their own."""
    fields_ = {f.name: getattr(template, f.name) for f in fields(template)}
    for key in ("name", "source"):
        del fields_[key]
    fields_.update(fields_.pop("model_options"))
    return fields_


def _budget(fields_, table, where):
    """The fields with a consistent budget: epochs, or steps evaluated every
    `eval_every` (epochs then counts the evaluations)."""
    if "epochs" in table:
        return {**fields_, "steps": 0, "eval_every": 0}
    if not fields_["steps"]:
        return fields_
    steps, every = fields_["steps"], fields_.get("eval_every") or fields_["steps"]
    if steps % every:
        raise ValueError(
            f"{where}: steps ({steps}) must be a multiple of eval_every ({every})"
        )
    return {**fields_, "eval_every": every, "epochs": steps // every}
