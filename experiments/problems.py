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

from dataclasses import dataclass
from pathlib import Path

# An unnamed problem (a sweep's `dataset` and `models`) trains this long,
# with these batches, unless the sweep says otherwise.
UNNAMED_EPOCHS = 5
UNNAMED_BATCH_SIZE = 128


@dataclass(frozen=True)
class Problem:
    name: str  # "" for an unnamed one: its runs are filed under the model's name
    dataset: str  # experiments.data.DATASETS, an .npz file or a loader's place
    model: str  # experiments.models.MODELS, or a builder's place
    batch_size: int
    epochs: int
    source: str = ""  # where its definition comes from

    @property
    def folder(self):
        """Its folder in a sweep, and its name in reports: the name, else the model's."""
        return self.name or self.model

    def describe(self):
        return (
            f"{self.folder}: {self.model} on {self.dataset}, batches of "
            f"{self.batch_size}, {self.epochs} epochs"
        )


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


# The keys of a [problems.<name>] table.
TABLE_KEYS = {"model": str, "data": str, "batch_size": int, "epochs": int}


def from_table(name, table, path):
    """The problem a sweep's [problems.<name>] table makes; ValueError naming
    the key that is wrong. Empty: the shipped problem `name`. Keys override a
    shipped problem's, or declare a new one (all four then). Paths are made
    absolute against the folder of `path`, the TOML file."""
    from experiments import plugins

    folder = Path(path).parent
    where = f"[problems.{name}]"
    unknown = sorted(set(table) - set(TABLE_KEYS))
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(TABLE_KEYS)}"
        )
    for key, kind in TABLE_KEYS.items():
        if key in table and (
            not isinstance(table[key], kind) or isinstance(table[key], bool)
        ):
            raise ValueError(
                f"{where}: {key} must be a{'n integer' if kind is int else ' string'}, got {table[key]!r}"
            )
        if kind is int and table.get(key, 1) < 1:
            raise ValueError(f"{where}: {key} must be >= 1, got {table[key]!r}")
    shipped = PROBLEMS.get(name)
    missing = [k for k in TABLE_KEYS if k not in table] if shipped is None else []
    if missing:
        raise ValueError(
            f"{where} is no shipped problem ({', '.join(PROBLEMS)}), so it needs "
            f"{', '.join(missing)}"
        )
    if not table:
        return shipped
    data = table.get("data", shipped.dataset if shipped else None)
    if data.endswith(".npz"):
        data = str((Path(folder) / data).resolve())
    return Problem(
        name,
        plugins.absolute(data, folder),
        plugins.absolute(
            table.get("model", shipped.model if shipped else None), folder
        ),
        table.get("batch_size", shipped.batch_size if shipped else None),
        table.get("epochs", shipped.epochs if shipped else None),
        source=f"{where} of {path}",
    )
