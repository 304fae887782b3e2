"""Test problems: a dataset, a model, and the batch size and length it trains with.

A sweep names problems (`problems = [...]`, `--problems`), or a dataset and
models (`dataset`, `models`), which make one unnamed problem per model.
Names that DeepOBS uses (Schneider et al. 2019) mean DeepOBS's problem
exactly; the project's own small networks have names that cannot be taken
for DeepOBS's (its `mnist_mlp` is a 1000-500-100 MLP, not this 256-128 one).
Imports no TensorFlow.
"""

from dataclasses import dataclass

# An unnamed problem (a sweep's `dataset` and `models`) trains this long,
# with these batches, unless the sweep says otherwise.
UNNAMED_EPOCHS = 5
UNNAMED_BATCH_SIZE = 128


@dataclass(frozen=True)
class Problem:
    name: str  # "" for an unnamed one: its runs are filed under the model's name
    dataset: str  # experiments.data.DATASETS
    model: str  # experiments.models.MODELS
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
        source="this project's default comparison (configs/default.toml)",
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
