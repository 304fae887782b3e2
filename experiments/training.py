"""One training run: a model, an optimizer, a learning rate, logged for TensorBoard."""

import json
import math
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import custom_optimizers
from experiments import models
from experiments.run_files import (
    CONFIG_FILE,
    HYPERPARAMETERS,
    RESULT_FILE,
    write_json,
)


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

    @property
    def folder(self):
        """<model>/<optimizer>/lr=<η>[,wd=<wd>][,seed=<seed>]: seed 0 and no grid add nothing."""
        name = f"lr={self.learning_rate:g}"
        if self.weight_decay is not None:
            name += f",wd={self.weight_decay:g}"
        if self.seed != 0:
            name += f",seed={self.seed}"
        return Path(self.model) / self.optimizer / name

    def build_optimizer(self):
        settings = dict(self.optimizer_settings)
        if self.weight_decay is not None:
            settings["weight_decay"] = self.weight_decay
        return custom_optimizers.get(
            self.optimizer, learning_rate=self.learning_rate, **settings
        )

    def differences(self, saved):
        """Fields on which a saved `asdict(spec)` disagrees; absent ones had their default."""
        mine = json.loads(json.dumps(asdict(self)))
        defaults = {f.name: f.default for f in fields(self) if f.default is not MISSING}
        return [k for k in mine if saved.get(k, defaults.get(k)) != mine[k]]


class RunLogger(keras.callbacks.Callback):
    """What Keras's TensorBoard callback leaves out, and divergence detection.

    Writes to `<run>/train`: per-batch training loss (`batch_loss`, the loss
    of that batch alone, recovered from Keras's running epoch mean), weight
    histograms named by full variable path (`weights/<layer>/<name>`),
    optimizer diagnostics per epoch (`optimizer/update_norm`, the global
    norm of the epoch's change in the weights, and `optimizer/weight_norm`),
    and the data source as text. Stops training at the first batch whose
    loss is NaN, infinite or above `divergence_loss`.
    """

    def __init__(
        self, log_dir, train_samples, batch_size, data_description, divergence_loss
    ):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.train_samples = train_samples
        self.batch_size = batch_size
        self.data_description = data_description
        self.divergence_loss = divergence_loss
        self.steps_per_epoch = math.ceil(train_samples / batch_size)
        self.diverged = False

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(str(self.log_dir / "train"))
        with self.writer.as_default():
            tf.summary.text("data", self.data_description, step=0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_start_weights = [w.numpy() for w in self.model.trainable_weights]
        self.seen, self.previous_total = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        size = min(self.batch_size, self.train_samples - self.seen)
        self.seen += size
        total = float(logs["loss"]) * self.seen  # Keras logs the epoch's running mean
        batch_loss = (total - self.previous_total) / size
        self.previous_total = total
        step = self.epoch * self.steps_per_epoch + batch + 1
        with self.writer.as_default():
            tf.summary.scalar("batch_loss", batch_loss, step=step)
        if not batch_loss <= self.divergence_loss:  # also true for NaN
            self.diverged = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        weights = self.model.trainable_weights
        change = [w.numpy() - w0 for w, w0 in zip(weights, self.epoch_start_weights)]
        with self.writer.as_default():
            tf.summary.scalar("optimizer/update_norm", _global_norm(change), step=epoch)
            tf.summary.scalar(
                "optimizer/weight_norm",
                _global_norm([w.numpy() for w in weights]),
                step=epoch,
            )
            if not self.diverged:
                for w in weights:
                    tf.summary.histogram(f"weights/{w.path}", w.numpy(), step=epoch)
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            self.diverged = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.writer.close()


def _global_norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a, dtype="float64")) for a in arrays)))


def batches(x, y, batch_size, seed):
    """A reshuffled-every-epoch batch order that depends on `seed` alone."""
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )


def train(spec, dataset, run_dir, verbose=False):
    """Trains one run into `run_dir` and returns its result (also saved there)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    optimizer = spec.build_optimizer()
    settings = hyperparameters(optimizer)
    write_json(
        run_dir / CONFIG_FILE,
        {
            "run": asdict(spec),
            "hyperparameters": settings,
            "optimizer_config": optimizer.get_config(),
            "data": dataset.identity,
        },
    )
    keras.utils.set_random_seed(spec.seed)
    model = models.build(spec.model, spec.seed)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    logger = RunLogger(
        run_dir,
        len(dataset.x_train),
        spec.batch_size,
        dataset.describe(),
        spec.divergence_loss,
    )
    started = time.perf_counter()
    history = model.fit(
        batches(dataset.x_train, dataset.y_train, spec.batch_size, spec.seed),
        validation_data=(dataset.x_val, dataset.y_val),
        validation_batch_size=1024,
        epochs=spec.epochs,
        shuffle=False,  # `batches` shuffles, by seed
        verbose=1 if verbose else 0,
        callbacks=[
            keras.callbacks.TensorBoard(str(run_dir), write_graph=False),
            logger,
        ],
    ).history
    seconds = time.perf_counter() - started
    test_accuracy = math.nan
    if not logger.diverged:
        test_accuracy = model.evaluate(
            dataset.x_test, dataset.y_test, batch_size=1024, verbose=0, return_dict=True
        )["accuracy"]
    result = {
        "epochs_run": len(history["loss"]),
        "train_loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1],
        "val_accuracy": history["val_accuracy"][-1],
        "test_accuracy": test_accuracy,
        "diverged": logger.diverged,
        "seconds": seconds,
        "history": history,
    }
    _log_final_metrics(run_dir, spec, settings, result)
    write_json(run_dir / RESULT_FILE, result)
    return result


def _log_final_metrics(run_dir, spec, hyperparameters, result):
    """The run's HParams session and the metrics the HParams dashboard shows."""
    from tensorboard.plugins.hparams import api as hp

    with tf.summary.create_file_writer(str(run_dir / "final")).as_default():
        for name in ("train_loss", "val_loss", "val_accuracy", "test_accuracy"):
            tf.summary.scalar(name, result[name], step=result["epochs_run"])
        tf.summary.scalar(
            "diverged", float(result["diverged"]), step=result["epochs_run"]
        )
    with tf.summary.create_file_writer(str(run_dir)).as_default():
        hp.hparams(
            {
                "model": spec.model,
                "optimizer": spec.optimizer,
                "learning_rate": spec.learning_rate,
                "seed": spec.seed,
                **hyperparameters,
            },
            trial_id=str(spec.folder),
        )
