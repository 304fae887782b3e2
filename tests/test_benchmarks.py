"""The benchmark commands take bad input as every command does: one line, exit 2."""

import pytest

from experiments import benchmark_backends, benchmark_optimizers, benchmark_sweep

pytestmark = pytest.mark.slow  # sweeps, subprocesses, Ray or a browser


@pytest.mark.parametrize(
    "main, argv, message",
    [
        (benchmark_optimizers.main, ["--rounds", "x"],
         "--rounds must be an integer >= 1, got 'x'"),
        (benchmark_optimizers.main, ["--steps", "0"],
         "--steps must be an integer >= 1, got '0'"),
        (benchmark_optimizers.main, ["--optimizers", "lion"],
         "unknown optimizer 'lion'; allowed: sgd, momentum"),
        (benchmark_sweep.main, ["--rounds", "0"],
         "--rounds must be an integer >= 1, got '0'"),
        (benchmark_sweep.main, ["--models", "resnet"],
         "unknown model 'resnet'; allowed: mlp, cnn"),
        (benchmark_backends.main, ["--models", "rnn"],
         "unknown model 'rnn'; allowed: mlp, cnn, deepobs_2c2d"),
        (benchmark_backends.main, ["--images", "0"],
         "--images must be an integer >= 1, got '0'"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(main, argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_the_backend_benchmark_times_each_model_s_epochs(capsys):
    """A row per model under this backend's name: a positive time per round,
    as by default and repeatable, and their ratio from the best of each."""
    import keras

    argv = ["--models", "mlp", "--images", "128", "--epochs", "1", "--rounds", "2"]
    assert benchmark_backends.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{keras.backend.backend()}, Keras {keras.__version__}")
    (row,) = [line for line in out.splitlines() if line.startswith("| mlp |")]
    free, repeatable, ratio = (cell.split() for cell in row.strip("|").split("|")[1:])
    repeatable, free = [float(t) for t in repeatable], [float(t) for t in free]
    assert len(repeatable) == len(free) == 2 and min(repeatable + free) > 0
    # The cells hold three significant digits, the ratio two decimals.
    fastest, fastest_free = min(repeatable), min(free)
    low = fastest * (1 - 0.005) / (fastest_free * (1 + 0.005))
    high = fastest * (1 + 0.005) / (fastest_free * (1 - 0.005))
    assert low - 0.005 <= float(ratio[0]) <= high + 0.005
