"""A run's pieces, one Keras callback each: its batch losses, the divergence
stop, the first update's size, the test set after every epoch, and
epochs.csv. TensorBoard's scalars and histograms are `tensorboard_logs`'s
`TrainingCurves`; every piece that writes for TensorBoard writes through
the run's one `RunEvents`.

`training.run_pieces` lists them in the order their epoch-end hooks
depend on: the divergence check first, then the test set (skipped once a
run diverged), then what records the epoch.
"""

import csv
import math
import threading
import time
from dataclasses import dataclass

import keras
import numpy as np
from tensorboard.plugins.scalar.summary_v2 import scalar_pb

from experiments import models
from experiments.cli import writing

FIRST_STEPS = 100  # batch losses kept in result.json: how a run starts


@dataclass(frozen=True)
class EpochSteps:
    """Where an epoch's summaries sit on TensorBoard's step axis: at the
    epoch's index, or, for a problem trained for steps (an "epoch" is
    `eval_every` steps), at the training step the epoch ends on."""

    per_epoch: int
    per_step: bool

    def at(self, epoch):
        return (epoch + 1) * self.per_epoch if self.per_step else epoch


class BatchLosses(keras.callbacks.Callback):
    """Each batch's own loss, in order (`losses`), logged as `batch_loss`:
    Keras logs the epoch's running mean, from which each batch's loss is
    recovered.

    The batch hook is `async_safe`: Keras runs it on a helper thread, so the
    training loop does not wait for each batch's loss to reach Python (with
    Keras's TensorBoard callback, or any hook that is not, it does). Hooks
    may arrive out of order; they are taken in order.
    """

    async_safe = True

    def __init__(self, train_samples, batch_size, steps_per_epoch, events=None):
        super().__init__()
        self.train_samples = train_samples
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.events = events
        self.losses = []  # every step's, the first step's first
        self.lock = threading.Lock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.running_means, self.next_batch, self.previous_total = {}, 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        with self.lock:
            self.running_means[batch] = mean
            while self.next_batch in self.running_means:
                self._take(self.next_batch, self.running_means.pop(self.next_batch))
                self.next_batch += 1

    def _take(self, batch, running_mean):
        seen = min((batch + 1) * self.batch_size, self.train_samples)
        size = seen - batch * self.batch_size
        total = running_mean * seen
        loss = (total - self.previous_total) / size
        self.previous_total = total
        step = self.epoch * self.steps_per_epoch + batch + 1
        if self.events is not None:  # none where the losses are only read back (the chapter)
            self.events.write("train", scalar_pb("batch_loss", loss), step)
        self.losses.append(loss)


class DivergenceStop(keras.callbacks.Callback):
    """Stops training once a batch's loss is NaN, infinite or above
    `divergence_loss`, or an epoch ends on a metric that is not finite."""

    def __init__(self, batch_losses, divergence_loss):
        super().__init__()
        self.batch_losses = batch_losses
        self.divergence_loss = divergence_loss
        self.checked = 0  # batch losses looked at so far
        self.diverged = False

    def _look(self):
        fresh = self.batch_losses.losses[self.checked :]
        self.checked += len(fresh)
        if not all(loss <= self.divergence_loss for loss in fresh):  # NaN too
            self.diverged = True

    def on_train_batch_begin(self, batch, logs=None):
        # The stop is asked for here, in the training loop's thread: asked
        # from the batch hook's helper thread, it can race Keras's JAX loop,
        # which then loses its state.
        self._look()
        if self.diverged:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self._look()
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            self.diverged = True
        if self.diverged:
            self.model.stop_training = True


class FirstUpdate(keras.callbacks.Callback):
    """The global norm of the very first update, `norm`, also logged as
    `optimizer/first_update_norm` (η·√N for Adam's bias-corrected first step)."""

    def __init__(self, events):
        super().__init__()
        self.events = events
        self.norm = math.nan

    def on_train_begin(self, logs=None):
        self.initial = [w.numpy() for w in self.model.trainable_weights]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == 0 and batch == 1:  # the first update has been applied
            weights = self.model.trainable_weights
            self.norm = global_norm(
                [w.numpy() - w0 for w, w0 in zip(weights, self.initial)]
            )
            self.events.write(
                "train", scalar_pb("optimizer/first_update_norm", self.norm), 1
            )
            del self.initial


class TestEvaluation(keras.callbacks.Callback):
    """The test set's loss and accuracy after every epoch (`latest`, and
    `history` as Keras keeps its own), logged under `<run>/test`; NaN once
    the run diverged."""

    def __init__(self, x, y, divergence, events, epoch_steps):
        super().__init__()
        self.x, self.y = x, y
        self.divergence = divergence
        self.events = events
        self.epoch_steps = epoch_steps
        self.history = {}  # {"test_loss": [...], "test_accuracy": [...]}

    def on_epoch_end(self, epoch, logs=None):
        scores = {"loss": math.nan, "accuracy": math.nan}
        if not self.divergence.diverged:
            scores = models.evaluate(self.model, self.x, self.y)
        at = self.epoch_steps.at(epoch)
        for name, value in scores.items():
            self.events.write("test", scalar_pb(f"epoch_{name}", value), at)
            self.history.setdefault(f"test_{name}", []).append(float(value))
        self.latest = {f"test_{name}": value for name, value in scores.items()}


class EpochsCsv(keras.callbacks.Callback):
    """epochs.csv: one row per epoch as it ends (a spreadsheet's view of a
    run, readable while it trains): Keras's metrics, the learning rate of
    the epoch's last step, the test set's scores where it is evaluated, and
    the seconds since training began. The columns are the first row's."""

    def __init__(self, path, epoch_steps, test=None):
        super().__init__()
        self.path = path
        self.epoch_steps = epoch_steps
        self.test = test

    def on_train_begin(self, logs=None):
        with writing(self.path):
            self.file = open(self.path, "w", newline="")
        self.writer = None
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        if self.epoch_steps.per_step:
            row["step"] = self.epoch_steps.at(epoch)
        row.update(logs or {}, learning_rate=last_learning_rate(self.model.optimizer))
        if self.test is not None:
            row.update(self.test.latest)
        self._write({**row, "seconds": time.perf_counter() - self.started})

    def _write(self, row):
        with writing(self.path):
            if self.writer is None:
                self.writer = csv.DictWriter(self.file, fieldnames=list(row))
                self.writer.writeheader()
            self.writer.writerow(
                {k: v if k in ("epoch", "step") else float(v) for k, v in row.items()}
            )
            self.file.flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Closes the file (again: harmless), also where `fit` raised."""
        if getattr(self, "file", None) is not None:
            with writing(self.path):
                self.file.close()


def schedule_of(optimizer):
    """The optimizer's learning-rate schedule, or None for a constant rate."""
    rate = optimizer._learning_rate  # Keras keeps the schedule object only here
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return rate
    return None


def last_learning_rate(optimizer):
    """The learning rate of the step just taken: Keras's `learning_rate`
    is the next step's under a schedule."""
    schedule = schedule_of(optimizer)
    if schedule is None:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    return float(keras.ops.convert_to_numpy(schedule(int(optimizer.iterations) - 1)))


def global_norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a, dtype="float64")) for a in arrays)))
