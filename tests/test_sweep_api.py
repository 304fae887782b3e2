"""The sweep's Python API (experiments/sweep/api.py): load a config with
overrides, plan it, run it, report it; and the jobs built on it."""

import json
import signal

import pytest

from experiments import store_baselines
from experiments.cli import UsageError
from experiments.sweep import api
from experiments.sweep.config import CONFIGS

TINY = {"epochs": 1, "max_train_samples": 128, "workers": 1}


def test_load_lays_overrides_over_the_file_and_checks_them():
    config = api.load(CONFIGS / "quick.toml", optimizers=["adam", "momentum"],
                      grid={"learning_rate": [1e-3, 1e-2]}, name="mine", **TINY)  # fmt: skip
    assert (config.name, config.epochs, config.workers) == ("mine", 1, 1)
    assert sorted(str(s.folder) for s in config.runs()) == [
        "mlp/adam/lr=0.001", "mlp/adam/lr=0.01",
        "mlp/momentum/lr=0.001", "mlp/momentum/lr=0.01",
    ]  # fmt: skip
    with pytest.raises(UsageError, match="learning rate must be a positive number"):
        api.load(CONFIGS / "quick.toml", grid={"learning_rate": [-1]})
    with pytest.raises(UsageError, match="divergence_loss cannot be set here"):
        api.load(CONFIGS / "quick.toml", divergence_loss=5)
    with pytest.raises(UsageError, match="give problems, or dataset and models"):
        api.load(CONFIGS / "quick.toml", problems=["mnist_small_mlp"], models=["mlp"])
    with pytest.raises(UsageError, match="epochs must be an integer, got '3'"):
        api.load(CONFIGS / "quick.toml", epochs="3")


def test_run_checks_the_config_again_before_anything_is_written(tmp_path):
    """A config changed after `load`, or --rerun-best given to `run` alone."""
    config = api.load(CONFIGS / "quick.toml", **TINY)
    config.name = "../escaped"
    with pytest.raises(UsageError, match="sweep name '../escaped' has a path separator"):
        api.run(config, tmp_path / "logs", offline=True)
    config = api.load(CONFIGS / "quick.toml", seed=2**32 - 2, **TINY)
    with pytest.raises(UsageError, match="--rerun-best 3 after tuning seed 4294967294"):
        api.run(config, tmp_path / "logs", offline=True, rerun_best=3)
    assert not (tmp_path / "logs").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.slow
def test_run_trains_the_plan_and_reports_it(tmp_path):
    config = api.load(CONFIGS / "quick.toml", optimizers=["sgd"],
                      grid={"learning_rate": [0.1, 50.0]}, **TINY)  # fmt: skip
    assert api.run(config, tmp_path, offline=True) == []
    folder = api.folder(config, tmp_path)
    results = {p.parent.name: json.loads(p.read_text())["diverged"]
               for p in folder.rglob("result.json")}  # fmt: skip
    assert results == {"lr=0.1": False, "lr=50": True}
    assert "| 1 | sgd | 0.1 |" in (folder / "summary.md").read_text()
    assert api.run(config, tmp_path, offline=True) == []  # resumed: nothing to train


@pytest.mark.slow
def test_a_signal_that_stopped_an_earlier_job_does_not_stop_the_next(tmp_path):
    """A notebook's earlier sweep, stopped by Ctrl-C (or one whose Ctrl-C was
    lost in a finalizer), leaves its signal recorded; the next run trains."""
    from experiments import cli

    with pytest.raises(KeyboardInterrupt):
        cli.stop(signal.SIGINT)
    config = api.load(CONFIGS / "quick.toml", optimizers=["sgd"],
                      grid={"learning_rate": [0.1]}, **TINY)  # fmt: skip
    try:
        assert api.run(config, tmp_path, offline=True) == []
    except KeyboardInterrupt:
        pytest.fail("the signal that stopped the earlier job stopped this one")
    assert len(list(api.folder(config, tmp_path).rglob("result.json"))) == 1


@pytest.mark.slow
def test_store_baselines_runs_its_sweep_through_the_api(tmp_path, monkeypatch):
    """The job's wiring, on a two-run sweep instead of the full protocol."""
    tiny = tmp_path / "tiny.toml"
    tiny.write_text('learning_rates = [0.05]\nmax_train_samples = 128\nepochs = 1\n'
                    'workers = 1\n[optimizers.sgd]\n[optimizers.adam]\n')  # fmt: skip
    monkeypatch.setattr(store_baselines, "sweep_of", lambda problem: (
        tiny, {"problems": [problem], "name": "stored"}, 2))  # fmt: skip
    monkeypatch.setattr(store_baselines, "BASELINES", tmp_path)
    argv = ["--problems", "mnist_small_mlp", "--logdir", str(tmp_path / "logs")]
    assert store_baselines.main(argv) == 0
    stored = json.loads((tmp_path / "mnist_small_mlp.json").read_text())
    assert sorted(stored["entries"]) == ["adam", "sgd"]
    # One learning rate: nothing chosen, so every seed measures.
    assert stored["protocol"]["tuning_seeds"] == []
    assert stored["protocol"]["evaluation_seeds"] == [0, 1, 2]
    assert stored["protocol"]["model"] == "mlp"
