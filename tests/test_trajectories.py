"""The text's claims, checked in numbers on the 2-D problems."""

import csv

import keras
import numpy as np
import pytest
from PIL import Image

import custom_optimizers as co
from experiments import trajectories as command
from experiments.landscapes import drawing, surfaces
from experiments.landscapes.paths import at_rates, run, trajectories, trajectory
from tests.reference import ReferenceAdam

RAVINE = surfaces.SURFACES["ravine"]
L = surfaces.RAVINE_CURVATURE


def losses(name, learning_rate, steps, problem=RAVINE):
    return trajectory(problem, co.get(name, learning_rate=learning_rate), steps)[1]


def test_gradient_descent_diverges_above_two_over_l_and_converges_below():
    assert len(losses("sgd", 2.2 / L, 300)) < 301  # stopped: left the plot
    converging = losses("sgd", 1.8 / L, 1000)
    assert len(converging) == 1001 and converging[-1] < 1e-3 * converging[0]


def test_small_learning_rate_is_slow():
    slow, good = losses("sgd", 0.01 / L, 300), losses("sgd", 1.0 / L, 300)
    assert slow[-1] > 0.1 * slow[0]
    assert good[-1] < 1e-3 * good[0]


def steps_to_reach(curve, tolerance):
    return (
        int(np.argmax(curve < tolerance)) if (curve < tolerance).any() else len(curve)
    )


def test_momentum_reaches_the_tolerance_in_fewer_steps_than_gradient_descent():
    eta = 0.1
    gd = steps_to_reach(losses("sgd", eta, 800), 1e-3)
    momentum = steps_to_reach(losses("momentum", eta, 800), 1e-3)
    assert gd < 800  # both get there
    assert momentum < gd / 2, (momentum, gd)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_adams_first_step_is_eta_per_coordinate_whatever_the_scale(scale):
    eta = 0.1
    theta = keras.Variable(np.zeros(2, "float32"))
    gradient = np.array([scale, -scale * 7], "float32")
    co.Adam(eta).apply_gradients([(gradient, theta)])
    np.testing.assert_allclose(np.abs(theta.numpy()), [eta, eta], rtol=1e-4)
    # Without bias correction the same step is (1−β1)/√(1−β2) ≈ 3.16 times larger.
    unbiased = ReferenceAdam(eta, bias_correction=False).step(
        [np.zeros(2, "float32")], [gradient]
    )[0]
    np.testing.assert_allclose(np.abs(unbiased), 0.1 / np.sqrt(0.001) * eta, rtol=1e-3)


def test_outputs_frames_and_csv_match_the_optimizers_own_updates(tmp_path):
    steps = 12
    assert (
        command.main(
            [
                "--problems",
                "ravine",
                "--optimizers",
                "sgd,adam",
                "--learning-rates",
                "0.1",
                "--steps",
                str(steps),
                "--frames",
                "5",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    with Image.open(tmp_path / "ravine_lr=0.1.gif") as gif:
        assert gif.n_frames == len(drawing.frame_indices(steps, 5)) == 5
    with Image.open(tmp_path / "ravine_lr=0.1.png") as png:
        assert png.format == "PNG"
    with open(tmp_path / "ravine_lr=0.1.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["optimizer"] == "adam"]
    theta = keras.Variable(np.array(RAVINE.start, "float32"))
    optimizer = co.Adam(0.1)
    for row in rows:
        np.testing.assert_allclose(
            [float(row["x"]), float(row["y"])], theta.numpy(), rtol=1e-6
        )
        x, y = theta.numpy()
        gradient = np.array(
            [surfaces.RAVINE_SLOW_CURVATURE * x, L * y], "float32"
        )  # ∇ of the ravine
        optimizer.apply_gradients([(gradient, theta)])
    assert len(rows) == steps + 1


def test_start_point_can_be_set(tmp_path):
    assert (
        command.main(
            [
                "--problems",
                "saddle",
                "--optimizers",
                "sgd",
                "--learning-rates",
                "0.1",
                "--steps",
                "2",
                "--start",
                "0,-0.25",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    with open(tmp_path / "saddle_lr=0.1.csv") as f:
        first = next(csv.DictReader(f))
    assert (float(first["x"]), float(first["y"])) == (0.0, -0.25)


def test_diverging_path_ends_while_others_go_on():
    paths = run(surfaces.SURFACES["rosenbrock"], ["sgd", "adam"], 0.1, 30)
    assert len(paths["sgd"][0]) < 31
    assert len(paths["adam"][0]) == 31


def test_a_diverged_mark_sits_whole_inside_the_plot_and_later_paths_are_thinner():
    """The frame's ✕ was pinned to the very edge, half of it cut off; and a
    path drawn over another (Nesterov's over gradient descent's) hid it."""
    from experiments.plotting import pyplot

    ravine = surfaces.SURFACES["ravine"]
    x_min, x_max, y_min, y_max = ravine.extent
    gone = np.array([[0.0, 0.0], [10 * x_max, 10 * y_max]], "float32")
    fig, (plane, curve) = pyplot().subplots(1, 2)
    first, second = (drawing._path_artists(plane, curve, name, gone, np.ones(2),
                                           "k", layer)
                     for layer, name in enumerate(["sgd", "nesterov"]))  # fmt: skip
    drawing._draw_step(second, 5, 5, ravine.extent)
    (x,), (y,) = second["end"].get_data()
    inset = drawing.EDGE_INSET
    assert x_min < x < x_max and y_min < y < y_max
    assert x == pytest.approx(x_max - inset * (x_max - x_min))
    assert y == pytest.approx(y_max - inset * (y_max - y_min))
    assert second["line"].get_linewidth() < first["line"].get_linewidth()
    assert second["end"].get_markersize() < first["end"].get_markersize()
    pyplot().close(fig)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--problems", "himmelblau"], "unknown problem 'himmelblau'; allowed: ravine"),
        (["--optimizers", "adagrad"], "unknown optimizer 'adagrad'; allowed: sgd"),
        (
            ["--learning-rates", "0.1,-1"],
            "learning rate must be a positive number, got '-1'",
        ),
        (["--steps", "0"], "--steps must be an integer >= 1, got '0'"),
        (["--steps", "2.5"], "--steps must be an integer >= 1, got '2.5'"),
        (["--start", "1,2,3"], "start must be two numbers x,y, got '1,2,3'"),
        (["--basins", "--start", "1,2"], "--start does not combine with --basins"),
        (
            ["--start", "1,up"],
            "start must be two numbers x,y (got '1,up'): bad value, got 'up'",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert command.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_unwritable_output_folder_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert command.main(["--out", str(blocker / "out")]) == 2
    assert "cannot be written" in capsys.readouterr().err


DOUBLE_WELL = surfaces.SURFACES["double_well"]


def test_double_well_minima_are_where_the_gradient_vanishes():
    import keras

    from experiments import backend

    global_f, local_f = (DOUBLE_WELL.function(x, y) for x, y in DOUBLE_WELL.minima)
    assert global_f < local_f  # the first listed is the global one
    for x, y in (*DOUBLE_WELL.minima, (surfaces.DOUBLE_WELL_BARRIER, 0.0)):
        point = keras.Variable([x, y])
        _, (gradient,) = backend.value_and_gradients(
            lambda p: DOUBLE_WELL.function(p[0], p[1]), [point]
        )
        np.testing.assert_allclose(keras.ops.convert_to_numpy(gradient), 0.0, atol=1e-5)


@pytest.mark.parametrize(
    "name, ends_in", [("sgd", "local"), ("momentum", "global"), ("adam", "local")]
)
def test_from_the_right_momentum_crosses_to_the_global_minimum(name, ends_in):
    """From (2, 0.5) at η = 0.01: gradient descent and Adam settle in the
    nearer, local valley; momentum's velocity carries it over the barrier."""
    optimizer = co.get(name, learning_rate=0.01)
    positions, _ = trajectory(DOUBLE_WELL, optimizer, 600)
    assert drawing.basin(DOUBLE_WELL, positions, 600) == ends_in
    expected = (
        surfaces.DOUBLE_WELL_GLOBAL
        if ends_in == "global"
        else surfaces.DOUBLE_WELL_LOCAL
    )
    np.testing.assert_allclose(positions[-1], [expected, 0.0], atol=5e-3)


def test_basin_map_marks_where_each_start_ends(tmp_path):
    shares = drawing.basin_map(
        DOUBLE_WELL, ["sgd"], [0.03], 300, tmp_path / "basins.png"
    )
    # The 15 columns of starts run x = -2, -1.68, ..., 2.5; the first 7 lie left
    # of the barrier (x = 0.075): plain gradient descent at a small η never
    # crosses it, so every row ends where its column started.
    assert drawing.BASIN_COLUMNS == 15
    assert shares == {
        ("sgd", 0.03): pytest.approx(
            {"global": 7 / 15, "local": 8 / 15, "not converged": 0, "diverged": 0}
        )
    }
    with Image.open(tmp_path / "basins.png") as image:
        assert image.format == "PNG" and image.size[0] > 200


def test_the_basin_map_keeps_its_edge_starts_whole_and_tells_the_minima_apart(
    tmp_path, monkeypatch
):
    drawn = []
    monkeypatch.setattr(drawing, "save", lambda fig, path, **_: drawn.append(fig))
    drawing.basin_map(DOUBLE_WELL, ["sgd"], [0.03], 10, tmp_path / "basins.png")
    axis = drawn[0].axes[0]
    x_min, x_max, y_min, y_max = DOUBLE_WELL.extent
    (left, right), (bottom, top) = axis.get_xlim(), axis.get_ylim()
    assert left < x_min and right > x_max and bottom < y_min and top > y_max
    stars = [line.get_color() for line in axis.lines if line.get_marker() == "*"]
    assert sorted(stars) == ["gold", "white"]  # the global minimum, the local one


@pytest.mark.parametrize("end", [(0.0, 1.0), (0.0, -1.0)])
def test_minima_of_equal_value_are_all_global(end):
    """The saddle's two minima at (0, ±1) have the same f: either is global."""
    saddle = surfaces.SURFACES["saddle"]
    positions = np.array([[1.0, 0.5], [end[0] + 0.01, end[1] - 0.02]])
    assert drawing.basin(saddle, positions, 1) == "global"
    assert drawing.basin(saddle, np.array([[1.0, 0.5], [0.0, 0.02]]), 1) == "local"


def test_a_path_that_ends_between_minima_has_not_converged():
    optimizer = co.get("sgd", learning_rate=0.01)
    positions, _ = trajectory(DOUBLE_WELL, optimizer, 3, start=(2.0, 0.5))
    assert len(positions) == 4
    assert drawing.basin(DOUBLE_WELL, positions, 3) == "not converged"
    assert drawing.basin(DOUBLE_WELL, positions[:2], 3) == "diverged"


@pytest.mark.parametrize("name", ["sgd", "nesterov", "adam", "rmsprop"])
def test_paths_from_many_starts_at_once_equal_each_alone(name):
    problem = surfaces.SURFACES["rosenbrock"]
    starts = [(-1.5, 2.0), (1.5, -0.5), (-1.9, 2.9)]
    together = trajectories(problem, co.get(name, learning_rate=0.02), 40, starts)
    for start, (positions, losses) in zip(starts, together, strict=True):
        alone = trajectory(problem, co.get(name, learning_rate=0.02), 40, start)
        np.testing.assert_array_equal(positions, alone[0])
        np.testing.assert_array_equal(losses, alone[1])


def test_a_path_that_leaves_ends_alone_while_the_others_go_on():
    """Above η = 2/L, θ₂ grows 1.1× a step; on the floor (θ₂ = 0) nothing grows."""
    sgd = co.get("sgd", learning_rate=0.21)
    (floor, _), (wall, _) = trajectories(RAVINE, sgd, 100, [(-4, 0), (-4, 1.9)])
    assert len(floor) == 101 and np.abs(floor[-1, 0]) < 4 * 0.98**100
    assert len(wall) < 101 and np.all(np.isfinite(wall))


@pytest.mark.parametrize("name, settings", [("momentum", {"momentum": 0.5}),
                                            ("adam", {}), ("nesterov", {})])  # fmt: skip
def test_several_rates_in_one_optimizer_give_each_rate_s_own_path(name, settings):
    starts = [(-1.5, 2.0), (1.5, -0.5)]
    rates = [0.003, 0.02, 0.1]
    problem = surfaces.SURFACES["rosenbrock"]
    together = at_rates(problem, name, rates, 30, starts, **settings)
    assert list(together) == rates
    for rate in rates:
        for start, (positions, losses) in zip(starts, together[rate], strict=True):
            optimizer = co.get(name, learning_rate=rate, **settings)
            alone = trajectory(problem, optimizer, 30, start)
            np.testing.assert_array_equal(positions, alone[0])
            np.testing.assert_array_equal(losses, alone[1])


def test_more_steps_than_memory_holds_exit_2_with_the_largest_that_fits(
    tmp_path, capsys
):
    assert command.main(["--steps", "1000000000000", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --steps must be at most ") and err.count("\n") == 1
