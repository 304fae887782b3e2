"""The benchmark commands take bad input as every command does: one line, exit 2."""

import pytest

from experiments import benchmark_optimizers, benchmark_sweep

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
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(main, argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
