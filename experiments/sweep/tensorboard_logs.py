"""What a sweep writes for TensorBoard: each run's logs.

`RunLogger` writes a run's scalars and histograms as it trains;
`log_final_metrics` its HParams session (hparams.py configures the
dashboard's columns at the sweep's root).
"""

import csv
import itertools
import math
import os
import socket
import threading
import time
from pathlib import Path

import keras
import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.hparams.summary_v2 import hparams_pb
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.plugins.text.summary_v2 import text_pb
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from experiments import backend, models
from experiments.cli import writing
from experiments.sweep.run_files import EPOCHS_FILE, FINAL_METRICS

FIRST_STEPS = 100  # batch losses kept in result.json: how a run starts


class RunLogger(keras.callbacks.Callback):
    """A run's TensorBoard logs, and divergence detection, in one callback.

    Writes what Keras's TensorBoard callback writes, under the same tags
    (`epoch_<metric>` in `<run>/train` and `<run>/validation`,
    `epoch_learning_rate`, `evaluation_<metric>_vs_iterations`), plus what
    it leaves out: per-batch training loss (`batch_loss`, the loss of that
    batch alone, recovered from Keras's running epoch mean), weight
    histograms named by full variable path (`weights/<layer>/<name>`),
    the learning rate of every batch under a schedule (`batch_learning_rate`),
    optimizer diagnostics per epoch (`optimizer/update_norm`, the global
    norm of the epoch's change in the weights, and `optimizer/weight_norm`),
    the global norm of the very first update (`optimizer/first_update_norm`),
    and the data source as text. Stops training once a batch's loss is NaN,
    infinite or above `divergence_loss`.

    The batch hook is `async_safe`: Keras runs it on a helper thread, so the
    training loop does not wait for each batch's loss to reach Python (with
    Keras's TensorBoard callback, or any hook that is not, it does). Hooks
    may arrive out of order; they are logged in order.
    """

    async_safe = True

    def __init__(
        self,
        log_dir,
        train_samples,
        batch_size,
        steps_per_epoch,
        data_description,
        divergence_loss,
        test_data=None,
        per_step=False,
    ):
        super().__init__()
        # Epoch summaries at the training step they end on, not the epoch's
        # index (a problem trained for steps: an "epoch" is `eval_every` steps).
        self.per_step = per_step
        self.test_data = test_data  # (x, y) to evaluate after every epoch, or None
        self.test_history = {}  # {"test_loss": [...], "test_accuracy": [...]}
        self.log_dir = Path(log_dir)
        self.train_samples = train_samples
        self.batch_size = batch_size
        self.data_description = data_description
        self.divergence_loss = divergence_loss
        self.steps_per_epoch = steps_per_epoch
        self.diverged = False
        self.lock = threading.Lock()
        self.first_batch_losses = []  # the first FIRST_STEPS, for the report
        self.first_update_norm = math.nan

    def on_train_begin(self, logs=None):
        self.train_log = EventLog(self.log_dir / "train")
        self.validation_log = EventLog(self.log_dir / "validation")
        self.test_log = EventLog(self.log_dir / "test") if self.test_data else None
        self.epoch_rows = EpochsFile(self.log_dir / EPOCHS_FILE)
        self.started = time.perf_counter()
        self.train_log.write(text_pb("data", self.data_description), step=0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_start_weights = [w.numpy() for w in self.model.trainable_weights]
        self.running_means, self.next_batch, self.previous_total = {}, 0, 0.0

    def on_train_batch_begin(self, batch, logs=None):
        # The stop is asked for here, in the training loop's thread: set from
        # the batch hook's helper thread, it can race Keras's JAX loop, which
        # then loses its state.
        if self.diverged:
            self.model.stop_training = True
        if self.epoch == 0 and batch == 1:  # the first update has been applied
            weights = self.model.trainable_weights
            self.first_update_norm = _global_norm(
                [w.numpy() - w0 for w, w0 in zip(weights, self.epoch_start_weights)]
            )
            self.train_log.write(
                scalar_pb("optimizer/first_update_norm", self.first_update_norm), 1
            )

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])  # Keras logs the epoch's running mean
        with self.lock:
            self.running_means[batch] = mean
            while self.next_batch in self.running_means:
                self._log_batch(
                    self.next_batch, self.running_means.pop(self.next_batch)
                )
                self.next_batch += 1

    def _log_batch(self, batch, running_mean):
        seen = min((batch + 1) * self.batch_size, self.train_samples)
        size = seen - batch * self.batch_size
        total = running_mean * seen
        batch_loss = (total - self.previous_total) / size
        self.previous_total = total
        step = self.epoch * self.steps_per_epoch + batch + 1
        self.train_log.write(scalar_pb("batch_loss", batch_loss), step)
        if step <= FIRST_STEPS:
            self.first_batch_losses.append(batch_loss)
        if not batch_loss <= self.divergence_loss:  # also true for NaN
            self.diverged = True

    def on_test_end(self, logs=None):
        step = int(self.model.optimizer.iterations)
        for name, value in (logs or {}).items():
            self.validation_log.write(
                scalar_pb(f"evaluation_{name}_vs_iterations", value), step
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        schedule = self.model.optimizer._learning_rate
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            first = epoch * self.steps_per_epoch  # the step k + 1 uses schedule(k)
            for k in range(first, first + self.steps_per_epoch):
                rate = float(keras.ops.convert_to_numpy(schedule(k)))
                self.train_log.write(scalar_pb("batch_learning_rate", rate), k + 1)
        # Keras's tag holds the rate of the next step; epochs.csv that of the
        # epoch's last step, the batch_learning_rate at that step.
        learning_rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        last_used = learning_rate
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            last_step = int(self.model.optimizer.iterations) - 1
            last_used = keras.ops.convert_to_numpy(schedule(last_step))
        row = {"epoch": epoch + 1}
        if self.per_step:
            row["step"] = (epoch + 1) * self.steps_per_epoch
        at = row["step"] if self.per_step else epoch
        for name, value in {**logs, "learning_rate": learning_rate}.items():
            log = self.validation_log if name.startswith("val_") else self.train_log
            log.write(scalar_pb(f"epoch_{name.removeprefix('val_')}", value), at)
        weights = self.model.trainable_weights
        values = [w.numpy() for w in weights]
        change = [w - w0 for w, w0 in zip(values, self.epoch_start_weights)]
        self.train_log.write(
            scalar_pb("optimizer/update_norm", _global_norm(change)), at
        )
        self.train_log.write(
            scalar_pb("optimizer/weight_norm", _global_norm(values)), at
        )
        if not self.diverged:
            for w, value in zip(weights, values):
                self.train_log.write(histogram_pb(f"weights/{w.path}", value), at)
        if not all(math.isfinite(float(v)) for v in logs.values()):
            self.diverged = True
        if self.diverged:
            self.model.stop_training = True
        row.update(logs, learning_rate=float(last_used))
        if self.test_data is not None:
            row.update(self._test(at))
        self.epoch_rows.write({**row, "seconds": time.perf_counter() - self.started})

    def _test(self, at):
        """Test loss and accuracy after this epoch, logged at step `at` (NaN
        once the run diverged)."""
        scores = {"loss": math.nan, "accuracy": math.nan}
        if not self.diverged:
            x, y = self.test_data
            scores = models.evaluate(self.model, x, y)
        for name, value in scores.items():
            self.test_log.write(scalar_pb(f"epoch_{name}", value), at)
            self.test_history.setdefault(f"test_{name}", []).append(float(value))
        return {f"test_{name}": value for name, value in scores.items()}

    def on_train_end(self, logs=None):
        self.train_log.close()
        self.validation_log.close()
        if self.test_log:
            self.test_log.close()
        self.epoch_rows.close()


class EpochsFile:
    """epochs.csv: one row per epoch as it ends (a spreadsheet's view of a run,
    readable while it trains); the columns are the first row's."""

    def __init__(self, path):
        self.path = path
        with writing(path):
            self.file = open(path, "w", newline="")
        self.writer = None

    def write(self, row):
        with writing(self.path):
            if self.writer is None:
                self.writer = csv.DictWriter(self.file, fieldnames=list(row))
                self.writer.writeheader()
            self.writer.writerow(
                {k: v if k in ("epoch", "step") else float(v) for k, v in row.items()}
            )
            self.file.flush()

    def close(self):
        with writing(self.path):
            self.file.close()


class EventLog:
    """A TensorBoard event file written in Python, without a TensorFlow op per value.

    `tf.summary` runs an eager op for every scalar; once per batch that cost
    about a tenth of a small model's training time. The records go straight
    to the file, as TensorBoard's `EventFileWriter` frames them but without
    its writer thread, so a failed write (a full disk) raises here, in the
    run, naming the file.
    """

    def __init__(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_EVENT_FILES)}"
        )
        with writing(self.path):
            self.file = open(self.path, "wb")
        self.records = RecordWriter(self.file)
        self._add(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def write(self, summary, step):
        self._add(
            event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
        )

    def _add(self, event):
        with writing(self.path):
            self.records.write(event.SerializeToString())

    def close(self):
        with writing(self.path):
            self.file.close()


_EVENT_FILES = itertools.count()  # tells apart two event files of one second


def histogram_pb(tag, values, buckets=30):
    """TensorBoard's `histogram_pb` (same buckets and proto), counted by `bincount`.

    TensorBoard's own builds a values × buckets one-hot matrix, which made
    the weight histograms a few percent of a small model's training time.
    """
    data = np.asarray(values, dtype="float64").ravel()
    low, high = data.min(), data.max()
    if high == low:
        left = right = np.full(buckets, low)
        counts = np.zeros(buckets)
        counts[-1] = data.size
    else:
        index = np.floor((data - low) / ((high - low) / buckets)).astype(int)
        counts = np.bincount(np.minimum(index, buckets - 1), minlength=buckets)
        edges = np.linspace(low, high, buckets + 1)
        left, right = edges[:-1], edges[1:]
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag,
        metadata=histogram_metadata.create_summary_metadata(None, None),
        tensor=tensor_util.make_tensor_proto(
            np.array([left, right, counts], dtype="float64").T, dtype=np.float64
        ),
    )
    return summary


def _global_norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a, dtype="float64")) for a in arrays)))


def log_final_metrics(run_dir, spec, hyperparameters, result):
    """The run's HParams session and the metrics the HParams dashboard shows."""
    final = EventLog(run_dir / "final")
    for name in FINAL_METRICS:
        final.write(scalar_pb(name, float(result[name])), result["epochs_run"])
    final.close()
    axes = {name: value for name, value in spec.values.items() if value is not None}
    session = EventLog(run_dir)
    session.write(
        hparams_pb(
            {
                "problem": spec.problem.folder,
                "model": spec.model,
                "backend": backend.name(),
                "optimizer": spec.optimizer,
                **axes,
                **hyperparameters,
            },
            # One group per setting: TensorBoard aggregates its seeds.
            trial_id=str(spec.setting_folder),
        ),
        step=0,
    )
    session.close()
