"""The learning-rate range test."""

import contextlib
import csv
import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from experiments import lr_finder
from tests.helpers import events, values


def test_smoothing_is_a_bias_corrected_moving_average():
    np.testing.assert_allclose(lr_finder.smoothed([2.0, 2.0, 2.0]), [2.0, 2.0, 2.0])
    assert lr_finder.smoothed([1.0, 3.0])[1] == pytest.approx(
        (0.98 * 0.02 * 1 + 0.02 * 3) / (1 - 0.98**2)
    )


def test_suggestions_on_a_known_curve():
    """A loss that falls fastest around η = 1e-3 and is lowest near 1e-1."""
    rates = np.logspace(-6, 1, 400)
    log_rate = np.log10(rates)
    losses = (
        2.3 - 1.0 * np.tanh(3 * (log_rate + 3)) + 0.8 * np.maximum(log_rate + 1, 0) ** 2
    )
    found = lr_finder.suggestions(rates, losses)
    smooth = lr_finder.smoothed(losses)
    assert found["minimum/10"] == pytest.approx(rates[np.argmin(smooth)] / 10)
    assert 1e-3 <= found["steepest"] <= 1e-2  # the moving average lags a little
    assert found["steepest"] < found["minimum/10"] * 10


def test_suggestions_ignore_a_non_finite_last_loss():
    found = lr_finder.suggestions(
        [1e-3, 1e-2, 0.1, 1, 10], [2.3, 2.0, 1.5, 1.4, np.nan]
    )
    assert found["minimum/10"] == pytest.approx(0.1)
    assert found["steepest"] in (1e-3, 1e-2, 0.1, 1)


def test_no_suggestion_when_the_loss_never_falls():
    rates = np.logspace(2, 6, 20)
    assert lr_finder.suggestions(rates, np.linspace(2.3, 40, 20)) == {}
    assert lr_finder.suggestions(rates[:3], [2.3, np.inf, 5.0]) == {}


@pytest.mark.slow
def test_a_range_where_nothing_trains_warns_and_suggests_a_lower_start(
    tmp_path, capsys
):
    argv = ["--optimizer", "sgd", "--start", "100", "--end", "1e6", "--steps", "10",
            "--max-train-samples", "1024", "--offline", "--out", str(tmp_path)]  # fmt: skip
    assert lr_finder.main(argv) == 0
    out, err = capsys.readouterr()
    row = next(line for line in out.splitlines() if line.startswith("mlp"))
    assert row.split()[-2:] == ["-", "-"]
    assert "the loss never fell in [100, 1e+06] for mlp/sgd" in err
    assert "try a lower --start (e.g. 0.1)" in err
    assert (tmp_path / "mlp" / "sgd" / "lr_finder.png").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("lr_finder")
    argv = ["--optimizer", "sgd,adam", "--model", "mlp", "--steps", "80",
            "--max-train-samples", "1024", "--offline", "--out", str(out)]  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert lr_finder.main(argv) == 0
    return SimpleNamespace(folder=out, out=stdout.getvalue(), err=stderr.getvalue())


@pytest.mark.slow
def test_writes_a_plot_a_csv_and_tensorboard_scalars(finished):
    for optimizer in ("sgd", "adam"):
        folder = finished.folder / "mlp" / optimizer
        with Image.open(folder / "lr_finder.png") as image:
            assert image.format == "PNG"
        with open(folder / "lr_finder.csv") as f:
            rows = list(csv.DictReader(f))
        rates = np.array([float(r["learning_rate"]) for r in rows])
        ratios = rates[1:] / rates[:-1]
        np.testing.assert_allclose(ratios, (10 / 1e-6) ** (1 / 79), rtol=1e-6)
        assert rates[0] == pytest.approx(1e-6)
        logged = events(folder)
        assert values(logged, "lr_finder/learning_rate") == pytest.approx(
            rates.tolist(), rel=1e-6
        )
        assert len(values(logged, "lr_finder/loss")) == len(rows)


@pytest.mark.slow
def test_says_how_often_small_data_was_cycled(finished):
    """74 batches of 64 over 1,024 images is 4.6 passes; the table and a note say so."""
    rows = [line.split() for line in finished.out.splitlines() if line[:3] == "mlp"]
    assert [row[1] for row in rows] == ["sgd", "adam"]
    for _, _, steps, passes, *_ in rows:
        assert float(passes) == pytest.approx(int(steps) * 64 / 1024, abs=0.005)
    assert rows[0][2:4] == ["74", "4.62"]  # sgd explodes at step 74
    assert "went over the 1024 training images up to 4.6 times" in finished.err


@pytest.mark.slow
def test_stops_once_the_loss_explodes(finished):
    with open(finished.folder / "mlp" / "adam" / "lr_finder.csv") as f:
        rows = list(csv.DictReader(f))
    smooth = [float(r["smoothed_loss"]) for r in rows]
    assert len(rows) < 80  # η = 10 is far past where Adam blows up
    assert smooth[-1] > lr_finder.EXPLODED * min(smooth)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "0"], "--start must be a number from 1.18e-38 (the smallest "),
        (["--end", "1e-7"], "--end must be a number above --start and at most "),
        (["--optimizer", "adamax"], "unknown optimizer 'adamax'"),
        (["--model", "resnet"], "unknown model 'resnet'"),
        (["--steps", "5"], "--steps must be an integer >= 10, got '5'"),
        (["--seed", "4294967296"],
         "--seed must be an integer from 0 to 4294967295 (the seeds Keras takes)"),
    ],
)
@pytest.mark.slow
def test_bad_flags_exit_2_and_write_nothing(argv, message, tmp_path, capsys):
    assert lr_finder.main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_smoothed_loss_step_by_step_equals_the_whole_curve_s():
    """range_test updates it one loss at a time (O(1) a step), as `smoothed` does."""
    losses = np.random.default_rng(0).uniform(0.5, 3.0, 500)
    smoothing = lr_finder.SmoothedLoss()
    step_by_step = [smoothing.add(loss) for loss in losses]
    np.testing.assert_array_equal(step_by_step, lr_finder.smoothed(losses))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "1000000000"], "--steps must be at most "),
        (["--start", "1e-308", "--end", "1e308"],
         "--start must be a number from 1.18e-38 (the smallest normal float32"),
        (["--end", "1e39"], "--end must be a number above --start and at most 3.4e+38"),
        (["--max-train-samples", "1", "--batch-size", "64"],
         "--batch-size 64 is more than the 1 training samples; give at most that"),
    ],
)  # fmt: skip
def test_a_range_or_length_it_cannot_hold_exits_2_with_one_line(
    tmp_path, capsys, argv, message
):
    assert lr_finder.main([*argv, "--offline", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: {message}"), err
    assert not (tmp_path / "out").exists()
