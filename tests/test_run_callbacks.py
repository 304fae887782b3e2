"""A run's pieces (experiments/sweep/run_callbacks.py), each alone, without
training: the sweep's end-to-end tests (test_sweep.py) see them together."""

import math
import types

import pytest

from experiments.sweep.run_callbacks import BatchLosses, DivergenceStop, EpochSteps


class Recorded:
    """RunEvents' interface, keeping (folder, tag, step) instead of files."""

    def __init__(self):
        self.written = []

    def write(self, folder, summary, step):
        self.written.append((folder, summary.value[0].tag, step))


def test_batch_losses_are_recovered_in_order_from_running_means_out_of_order():
    """Batches of 4, 4 and 2 (10 examples) with losses 1, 3 and 6: Keras
    logs the running means 1, 2 and 2.8 (28 / 10); hooks arrive as 2, 0, 1."""
    events = Recorded()
    losses = BatchLosses(10, 4, 3, events)
    losses.on_epoch_begin(1)
    for batch, mean in ((2, 2.8), (0, 1.0), (1, 2.0)):
        losses.on_train_batch_end(batch, {"loss": mean})
    assert losses.losses == pytest.approx([1.0, 3.0, 6.0])
    assert events.written == [("train", "batch_loss", s) for s in (4, 5, 6)]


def stop_after(batch_losses, divergence_loss=10.0, epoch_logs=None):
    """(diverged, stop_training) once the training loop asks before the next
    batch, or at the epoch's end when `epoch_logs` is given."""
    losses = types.SimpleNamespace(losses=batch_losses)
    stop = DivergenceStop(losses, divergence_loss)
    stop.set_model(types.SimpleNamespace(stop_training=False))
    if epoch_logs is None:
        stop.on_train_batch_begin(len(batch_losses))
    else:
        stop.on_epoch_end(0, epoch_logs)
    return stop.diverged, stop.model.stop_training


@pytest.mark.parametrize("last", [math.nan, math.inf, 10.5])
def test_a_batch_loss_nan_infinite_or_above_the_limit_stops_the_run(last):
    assert stop_after([2.3, 2.2, last]) == (True, True)


def test_losses_at_or_below_the_limit_train_on():
    assert stop_after([2.3, 10.0]) == (False, False)


def test_an_epoch_ending_on_a_metric_that_is_not_finite_stops_the_run():
    assert stop_after([2.3], epoch_logs={"loss": 2.3, "val_loss": math.nan}) == (
        True,
        True,
    )
    assert stop_after([2.3], epoch_logs={"loss": 2.3, "val_loss": 2.4}) == (
        False,
        False,
    )


def test_a_diverged_run_stays_diverged_after_later_finite_losses():
    losses = types.SimpleNamespace(losses=[math.nan])
    stop = DivergenceStop(losses, 10.0)
    stop.set_model(types.SimpleNamespace(stop_training=False))
    stop.on_train_batch_begin(1)
    losses.losses.append(1.0)
    stop.on_train_batch_begin(2)
    assert stop.diverged and stop.checked == 2


def test_epoch_summaries_sit_at_the_epoch_or_at_its_last_step():
    assert [EpochSteps(250, False).at(e) for e in (0, 1)] == [0, 1]
    assert [EpochSteps(250, True).at(e) for e in (0, 1)] == [250, 500]


def test_a_run_s_pieces_come_in_the_order_their_epoch_end_hooks_need():
    """The divergence check before the test set (skipped once diverged) and
    the curves (no histograms of a diverged run); the test set before
    epochs.csv, which writes its scores."""
    import numpy as np

    from experiments.sweep.training import run_pieces

    problem = types.SimpleNamespace(steps=0, eval_every=0)
    spec = types.SimpleNamespace(
        problem=problem, divergence_loss=10.0, test_every_epoch=True,
        values={"batch_size": 4, "seed": 0, "shuffle_buffer": 0,
                "drop_remainder": False},
    )  # fmt: skip
    digits = np.zeros((10, 2), "float32")
    dataset = types.SimpleNamespace(x_train=digits, y_train=digits[:, 0],
                                    x_test=digits, y_test=digits[:, 0],
                                    describe=lambda: "ten zeros")  # fmt: skip
    pieces = run_pieces(spec, dataset, "unused", Recorded())
    assert list(pieces) == ["batch_losses", "divergence", "first_update", "test",
                            "curves", "epochs_csv"]  # fmt: skip
    assert pieces["batch_losses"].train_samples == 10
    assert pieces["epochs_csv"].test is pieces["test"]
