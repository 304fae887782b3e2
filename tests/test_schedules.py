"""Learning-rate schedules as a sweep axis."""

import csv

import keras
import numpy as np
import pytest

from experiments.sweep import command as sweep
from experiments.sweep.schedules import make_schedule
from tests.helpers import TINY, events, values

T = 100  # steps of training


def rates(schedule):
    return np.array([float(schedule(k)) for k in range(T)])


@pytest.mark.slow
def test_constant_is_the_plain_float():
    assert make_schedule("constant", 0.1, T) == 0.1


@pytest.mark.slow
def test_step_multiplies_by_the_factor_at_each_fraction():
    values_ = rates(make_schedule("step", 0.1, T))
    np.testing.assert_allclose(values_[[0, 49, 50, 74, 75, 99]],
                               [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)  # fmt: skip


def test_cosine_falls_from_eta_to_zero():
    values_ = rates(make_schedule("cosine", 0.1, T))
    assert values_[0] == pytest.approx(0.1)
    assert values_[50] == pytest.approx(0.05, rel=1e-5)
    assert float(make_schedule("cosine", 0.1, T)(T)) == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(values_) <= 0)


def test_warmup_cosine_rises_linearly_then_falls():
    schedule = make_schedule("warmup_cosine", 0.1, T, warmup_fraction=0.1)
    values_ = rates(schedule)
    np.testing.assert_allclose(values_[[0, 5, 10]], [0.0, 0.05, 0.1], atol=1e-7)
    assert np.all(np.diff(values_[10:]) <= 0) and values_[-1] < 1e-3


@pytest.mark.parametrize(
    "steps, fraction, expected",
    [
        (1, 0.05, [0.1]),
        (2, 0.75, [0.0, 0.1]),
        (2, 0.05, [0.0, 0.1]),
        (3, 0.9, [0.0, 0.05, 0.1]),
    ],
)
@pytest.mark.slow
def test_warmup_cosine_fits_runs_of_a_few_steps(steps, fraction, expected):
    """At least one step of warm-up and one of decay; one step alone is at η."""
    schedule = make_schedule("warmup_cosine", 0.1, steps, warmup_fraction=fraction)
    rates = [float(schedule(step)) for step in range(steps)]
    np.testing.assert_allclose(rates, expected, atol=1e-7)


def test_schedules_serialize_with_the_optimizer():
    from custom_optimizers import SGD

    optimizer = SGD(make_schedule("warmup_cosine", 0.1, T), momentum=0.9)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert float(restored.learning_rate) == float(optimizer.learning_rate)
    assert (
        restored.get_config()["learning_rate"]
        == optimizer.get_config()["learning_rate"]
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    argv = [*TINY, "--optimizers", "momentum", "--learning-rates", "0.03",
            "--schedules", "constant,cosine", "--logdir", str(logdir)]  # fmt: skip
    assert sweep.main(argv) == 0
    return logdir / "quick"


@pytest.mark.slow
def test_a_schedule_is_a_grid_axis_with_its_own_folder(finished):
    runs = sorted(p.parent.name for p in finished.rglob("result.json"))
    assert runs == ["lr=0.03", "lr=0.03,schedule=cosine"]


@pytest.mark.slow
def test_the_learning_rate_used_is_logged_per_epoch_and_per_batch(finished):
    train = events(finished / "mlp/momentum/lr=0.03,schedule=cosine/train")
    per_epoch = values(train, "epoch_learning_rate")
    assert per_epoch[0] < 0.03 and per_epoch[1] == pytest.approx(0.0, abs=1e-6)
    per_batch = values(train, "batch_learning_rate")
    assert len(per_batch) == 8  # 2 epochs of 4 batches
    assert per_batch[0] == pytest.approx(0.03) and np.all(np.diff(per_batch) < 0)
    constant = events(finished / "mlp/momentum/lr=0.03/train")
    assert "batch_learning_rate" not in constant.Tags()["tensors"]


@pytest.mark.slow
def test_the_report_compares_each_schedule_as_its_own_optimizer(finished):
    with open(finished / "summary.csv") as f:
        rows = {r["optimizer"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"momentum", "momentum+cosine"}
    assert rows["momentum+cosine"]["schedule"] == "cosine"
    assert "momentum+cosine" in (finished / "summary.md").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--schedules", "linear"],
         "unknown schedule 'linear'; allowed: constant, step, cosine, warmup_cosine"),
        (["--schedules", ""], "--schedules is empty"),
    ],
)  # fmt: skip
@pytest.mark.slow
def test_bad_schedules_exit_2(argv, message, tmp_path, capsys):
    assert sweep.main([*TINY, "--logdir", str(tmp_path / "logs"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "toml, message",
    [
        ("step_fractions = [0.75, 0.5]\n", "step_fractions must be increasing numbers"),
        ("step_fractions = [1.5]\n", "step_fractions must be increasing numbers"),
        ("step_factor = 0.0\n", "step_factor must be in (0, 1], got 0.0"),
        ("warmup_fraction = 1.0\n", "warmup_fraction must be in (0, 1), got 1.0"),
    ],
)
@pytest.mark.slow
def test_bad_schedule_settings_exit_2(toml, message, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    argv = ["--config", str(config), "--offline", "--logdir", str(tmp_path / "logs")]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_epochs_csv_holds_the_rate_the_epoch_s_last_step_used(tmp_path):
    """One step of cosine from 0.1: that step used 0.1 (batch_learning_rate),
    though the rate after it, Keras's epoch_learning_rate, is 0."""
    argv = [*TINY, "--optimizers", "momentum", "--learning-rates", "0.1",
            "--schedules", "cosine", "--epochs", "1", "--max-train-samples", "64",
            "--logdir", str(tmp_path)]  # fmt: skip
    assert sweep.main(argv) == 0
    run = tmp_path / "quick/mlp/momentum/lr=0.1,schedule=cosine"
    with open(run / "epochs.csv") as f:
        (row,) = csv.DictReader(f)
    train = events(run / "train")
    assert values(train, "batch_learning_rate") == [pytest.approx(0.1)]
    assert float(row["learning_rate"]) == pytest.approx(0.1)
    assert values(train, "epoch_learning_rate") == [pytest.approx(0.0, abs=1e-7)]
