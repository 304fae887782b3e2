"""What a sweep writes for TensorBoard: each run's logs.

`RunEvents` holds a run's event files; `TrainingCurves` writes its scalars
and histograms as it trains; `log_final_metrics` its HParams session
(hparams.py configures the dashboard's columns at the sweep's root).
"""

import itertools
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

from experiments import backend
from experiments.cli import writing
from experiments.sweep.run_callbacks import global_norm, schedule_of
from experiments.sweep.run_files import FINAL_METRICS


class TrainingCurves(keras.callbacks.Callback):
    """A run's curves for TensorBoard, as it trains.

    Writes what Keras's TensorBoard callback writes, under the same tags
    (`epoch_<metric>` in `<run>/train` and `<run>/validation`,
    `epoch_learning_rate`, `evaluation_<metric>_vs_iterations`), plus what
    it leaves out: weight histograms named by full variable path
    (`weights/<layer>/<name>`, until the run diverges), the learning rate
    of every batch under a schedule (`batch_learning_rate`), optimizer
    diagnostics per epoch (`optimizer/update_norm`, the global norm of the
    epoch's change in the weights, and `optimizer/weight_norm`), and the
    data source as text. The other pieces of a run (run_callbacks.py) add
    the batch losses, the first update's norm and the test set's curves.
    """

    def __init__(self, events, data_description, epoch_steps, divergence):
        super().__init__()
        self.events = events
        self.data_description = data_description
        self.epoch_steps = epoch_steps
        self.divergence = divergence

    def on_train_begin(self, logs=None):
        self.events.write("train", text_pb("data", self.data_description), 0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start_weights = [w.numpy() for w in self.model.trainable_weights]

    def on_test_end(self, logs=None):
        step = int(self.model.optimizer.iterations)
        for name, value in (logs or {}).items():
            summary = scalar_pb(f"evaluation_{name}_vs_iterations", value)
            self.events.write("validation", summary, step)

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        schedule = schedule_of(optimizer)
        if schedule is not None:
            first = epoch * self.epoch_steps.per_epoch  # step k + 1 uses schedule(k)
            for k in range(first, first + self.epoch_steps.per_epoch):
                rate = float(keras.ops.convert_to_numpy(schedule(k)))
                self.events.write(
                    "train", scalar_pb("batch_learning_rate", rate), k + 1
                )
        # Keras's tag holds the rate of the next step.
        learning_rate = keras.ops.convert_to_numpy(optimizer.learning_rate)
        at = self.epoch_steps.at(epoch)
        for name, value in {**(logs or {}), "learning_rate": learning_rate}.items():
            folder = "validation" if name.startswith("val_") else "train"
            summary = scalar_pb(f"epoch_{name.removeprefix('val_')}", value)
            self.events.write(folder, summary, at)
        weights = self.model.trainable_weights
        values = [w.numpy() for w in weights]
        change = [w - w0 for w, w0 in zip(values, self.epoch_start_weights)]
        for name, norm in (("update_norm", change), ("weight_norm", values)):
            summary = scalar_pb(f"optimizer/{name}", global_norm(norm))
            self.events.write("train", summary, at)
        if not self.divergence.diverged:
            for w, value in zip(weights, values):
                self.events.write("train", histogram_pb(f"weights/{w.path}", value), at)


class RunEvents:
    """A run's event files, one per TensorBoard run folder ("train",
    "validation", "test"), each opened on its first write and shared by
    every callback that writes there; a lock keeps the batch hooks' helper
    thread and the training loop from interleaving records."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.logs = {}
        self.lock = threading.Lock()

    def write(self, folder, summary, step):
        with self.lock:
            if folder not in self.logs:
                self.logs[folder] = EventLog(self.run_dir / folder)
            self.logs[folder].write(summary, step)

    def close(self):
        for log in self.logs.values():
            log.close()


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
