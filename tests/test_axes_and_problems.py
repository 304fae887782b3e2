"""Sweep axes from one table (axes.AXES), and test problems as data (problems.py)."""

import csv
import json
from pathlib import Path

import pytest
from tensorboard.plugins.hparams import plugin_data_pb2

from experiments import problems
from experiments.sweep import axes
from experiments.sweep import command as sweep
from tests.helpers import TINY, events, run_sweep

FASHION = Path("/usr/share/datasets/fashion-mnist")


def planned(*argv):
    config = sweep.resolve(sweep.parse_args(["--quick", "--offline", *argv]))
    return config.runs()


def planned_from(tmp_path, toml):
    """The runs a config file with this text lays out."""
    config = tmp_path / "sweep.toml"
    config.write_text(toml)
    return sweep.resolve(sweep.parse_args(["--config", str(config)])).runs()


def table(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def hparams(path):
    """The HParams plugin data of the event files in `path`, by tag."""
    return {
        tag: plugin_data_pb2.HParamsPluginData.FromString(content)
        for tag, content in events(path).PluginTagToContent("hparams").items()
    }


def test_a_new_optimizer_argument_axis_is_recorded_without_a_second_table(monkeypatch):
    """A declared axis that is an optimizer argument, here Keras's
    `ema_momentum`, is recorded for a run at the optimizer's own value (the
    CSVs' column), though run_files.HYPERPARAMETERS does not list it."""
    from custom_optimizers import Adam
    from experiments.report.columns import run_columns
    from experiments.sweep.run_files import HYPERPARAMETERS
    from experiments.sweep.spec import hyperparameters

    ema = axes.Axis("ema_momentum", float, None, "ema", "compared", axes.OPTIMIZER)
    monkeypatch.setattr(axes, "AXES", (*axes.AXES[:-1], ema, axes.AXES[-1]))
    assert "ema_momentum" not in HYPERPARAMETERS
    assert hyperparameters(Adam(ema_momentum=0.9))["ema_momentum"] == 0.9
    assert "ema_momentum" in run_columns()
    values = {**{a.name: None for a in axes.AXES}, "ema_momentum": 0.9, "seed": 0}
    assert axes.reaching(axes.OPTIMIZER, values)["ema_momentum"] == 0.9


@pytest.mark.slow
def test_a_new_axis_is_one_table_entry(tmp_path, monkeypatch):
    """An axis declared here, and nowhere else, reaches the folder names, the
    HParams config and sessions, both CSVs, the report's ranking and --rerun-best."""
    throwaway = axes.Axis(
        "throwaway",
        lambda value: axes.cli.integer(value, "throwaway", 0),
        default=0,
        tag="tw",
        role="compared",
        goes_to="training",
    )
    monkeypatch.setattr(axes, "AXES", (*axes.AXES[:-1], throwaway, axes.AXES[-1]))
    assert (
        run_sweep(
            tmp_path,
            "--optimizers", "adam",
            "--learning-rates", "0.003,0.03",
            "--grid", "throwaway=0,5",
            "--rerun-best", "2",
        )
        == 0
    )  # fmt: skip
    sweep_dir = tmp_path / "quick"
    folders = sorted(
        str(p.parent.relative_to(sweep_dir)) for p in sweep_dir.rglob("result.json")
    )
    # Each entry's best η again on seeds 1 and 2: the two throwaway values rank apart.
    rows = table(sweep_dir / "summary.csv")
    best = {row["optimizer"]: row for row in rows if row["n_seeds"] == "2"}
    assert len(rows) == 4 and set(best) == {"adam", "adam+tw=5"}
    assert folders == sorted(
        [
            "mlp/adam/lr=0.003", "mlp/adam/lr=0.03",
            "mlp/adam/lr=0.003,tw=5", "mlp/adam/lr=0.03,tw=5",
            *(f"mlp/adam/lr={best['adam']['learning_rate']},seed={seed}"
              for seed in (1, 2)),
            *(f"mlp/adam/lr={best['adam+tw=5']['learning_rate']},tw=5,seed={seed}"
              for seed in (1, 2)),
        ]
    )  # fmt: skip
    assert {row["throwaway"] for row in table(sweep_dir / "runs.csv")} == {"0", "5"}
    assert best["adam+tw=5"]["throwaway"] == "5"
    markdown = (sweep_dir / "summary.md").read_text()
    assert "| adam+tw=5 |" in markdown and "| adam |" in markdown
    config = hparams(sweep_dir)["_hparams_/experiment"].experiment
    assert "throwaway" in [info.name for info in config.hparam_infos]
    session = hparams(sweep_dir / "mlp/adam/lr=0.03,tw=5")
    start = session["_hparams_/session_start_info"].session_start_info
    assert start.hparams["throwaway"].number_value == 5
    # A setting's seeds are one session group: TensorBoard aggregates them.
    tuned = best["adam+tw=5"]["learning_rate"]
    groups = {
        hparams(sweep_dir / f"mlp/adam/lr={tuned},tw=5{seed}")[
            "_hparams_/session_start_info"].session_start_info.group_name
        for seed in ("", ",seed=1", ",seed=2")
    }  # fmt: skip
    assert groups == {f"mlp/adam/lr={tuned},tw=5"}
    # Only the arguments Adam has are columns: no momentum, no nesterov.
    names = {info.name for info in config.hparam_infos}
    assert {"beta_1", "beta_2", "epsilon"} <= names
    assert "amsgrad" in names and not names & {"momentum", "nesterov"}


@pytest.mark.slow
def test_batch_size_is_a_grid_axis_and_the_batches_follow_it(tmp_path):
    """256 images: 8 batches of 32 or 4 of 64 (quick.toml's) per epoch, 2 epochs."""
    assert (
        run_sweep(tmp_path, "--optimizers", "sgd", "--learning-rates", "0.1",
                  "--grid", "batch_size=32,64")
        == 0
    )  # fmt: skip
    sweep_dir = tmp_path / "quick"
    for folder, steps in (("lr=0.1,batch_size=32", 16), ("lr=0.1", 8)):
        run = sweep_dir / "mlp/sgd" / folder
        assert len(events(run / "train").Tensors("batch_loss")) == steps
    rows = {row["batch_size"]: row for row in table(sweep_dir / "summary.csv")}
    assert {rows["32"]["optimizer"], rows["64"]["optimizer"]} == {
        "sgd+batch_size=32",
        "sgd",
    }


@pytest.mark.parametrize(
    "axis, values, optimizer",
    [
        ("momentum", "0.5,0.99", "momentum"),
        ("beta_1", "0.5,0.8", "adam"),
        ("beta_2", "0.9,0.99", "adam"),
        ("epsilon", "1e-3,1e-6", "adam"),
    ],
)
def test_an_optimizer_argument_on_the_grid_reaches_the_optimizers_that_use_it(
    axis, values, optimizer
):
    specs = planned("--optimizers", f"sgd,{optimizer}", "--learning-rates", "0.1",
                    "--grid", f"{axis}={values}")  # fmt: skip
    plain = [s for s in specs if s.optimizer == "sgd"]
    gridded = [s for s in specs if s.optimizer == optimizer]
    assert [str(s.folder) for s in plain] == ["mlp/sgd/lr=0.1"]  # uses none of them
    expected = [float(v) for v in values.split(",")]
    assert [getattr(s.build_optimizer(10), axis) for s in gridded] == expected
    assert [str(s.folder) for s in gridded] == [
        f"mlp/{optimizer}/lr=0.1,{axis}={v:g}" for v in expected
    ]


def test_grid_in_toml_and_the_grid_replaces_an_optimizer_table_s_value(tmp_path):
    specs = planned_from(
        tmp_path,
        "learning_rates = [0.1]\nmodels = ['mlp']\n"
        "[grid]\nmomentum = [0.5, 0.9]\n"
        "[optimizers.momentum]\nmomentum = 0.7\n",
    )
    assert [s.build_optimizer(10).momentum for s in specs] == [0.5, 0.9]
    assert all("momentum" not in s.optimizer_settings for s in specs)


def test_the_readme_weight_decay_command_takes_the_grid_over_the_table():
    """default.toml's momentum_l2 sets weight_decay = 5e-4; --weight-decays replaces it."""
    config = sweep.resolve(sweep.parse_args(
        ["--offline", "--optimizers", "momentum_l2,adamw", "--weight-decays", "1e-4,1e-2"]
    ))  # fmt: skip
    decays = {
        (s.optimizer, s.build_optimizer(10).weight_decay)
        for s in config.runs()
        if s.model == "mlp" and s.values["learning_rate"] == 0.1
    }
    assert decays == {
        ("momentum_l2", 1e-4), ("momentum_l2", 1e-2),
        ("adamw", 1e-4), ("adamw", 1e-2),
    }  # fmt: skip


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--optimizers", "sgd,momentum", "--grid", "beta_1=0.5"],
         "grid beta_1: none of this sweep's optimizers (sgd, momentum) uses beta_1; "
         "it applies to optimizers that do, such as adam, "),
        (["--grid", "warmth=1"], "grid warmth: none of this sweep's optimizers "
         "(momentum, adam) uses warmth; a grid axis is one of learning_rate, "),
        (["--grid", "momentum=0.5,1.5"],
         "grid momentum: optimizer momentum: `momentum` must be in [0, 1); got 1.5"),
        (["--grid", "batch_size=0"], "batch_size must be an integer >= 1, got '0'"),
        (["--grid", "drop_remainder=maybe"],
         "drop_remainder must be true or false, got 'maybe'"),
        (["--grid", "momentum="], "--grid momentum is empty"),
        (["--problems", "fmnist_2c2d"],
         "give --problems, or --dataset and --models, not both"),
    ],
)  # fmt: skip
def test_bad_axes_and_problems_exit_2_with_one_line(tmp_path, capsys, argv, message):
    assert run_sweep(tmp_path, *argv) == 2  # TINY names --models
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: {message}"), err[-1]
    assert not (tmp_path / "quick").exists()


@pytest.mark.parametrize(
    "toml, message",
    [
        ("problems = ['fmnist_2c2d']\nmodels = ['mlp']\n",
         "give problems, or dataset and models, not both"),
        ("learning_rates = [0.1]\n[grid]\nlearning_rate = [0.2]\n",
         "give learning_rates or [grid] learning_rate, not both"),
        ("[grid]\nmomentum = 0.5\n", "[grid] momentum must be a list, got 0.5"),
    ],
)  # fmt: skip
def test_bad_grid_and_problems_in_toml(tmp_path, capsys, toml, message):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    assert sweep.main(["--config", str(config), "--logdir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_problem_exits_2_naming_the_known_ones(tmp_path, capsys):
    assert (
        sweep.main(["--quick", "--problems", "mnist_mlp", "--logdir", str(tmp_path)])
        == 2
    )
    assert capsys.readouterr().err.startswith(
        "error: unknown problem 'mnist_mlp'; allowed: mnist_small_mlp, "
    )


def test_a_problem_brings_its_dataset_model_batch_size_and_length():
    """quick.toml's epochs and batch size were its models'; a problem has its own."""
    (spec,) = planned("--problems", "fmnist_2c2d", "--optimizers", "sgd",
                      "--learning-rates", "0.1")  # fmt: skip
    assert (spec.dataset, spec.model, spec.values["batch_size"], spec.epochs) == (
        "fashion_mnist", "deepobs_2c2d", 128, 100,
    )  # fmt: skip
    assert str(spec.folder) == "fmnist_2c2d/sgd/lr=0.1"
    (shorter,) = planned("--problems", "fmnist_2c2d", "--optimizers", "sgd",
                         "--learning-rates", "0.1", "--epochs", "2",
                         "--batch-size", "64")  # fmt: skip
    assert (shorter.epochs, shorter.values["batch_size"]) == (2, 64)
    assert str(shorter.folder) == "fmnist_2c2d/sgd/lr=0.1,batch_size=64"


def test_the_sweep_s_seed_and_batch_size_set_their_axes_until_a_grid_does():
    base = ("--problems", "fmnist_2c2d", "--optimizers", "sgd", "--learning-rates",
            "0.1", "--seed", "4", "--batch-size", "32")  # fmt: skip
    (spec,) = planned(*base)
    assert (spec.values["seed"], spec.values["batch_size"]) == (4, 32)
    gridded = planned(*base, "--grid", "seed=1,2", "--grid", "batch_size=16,128")
    assert sorted((s.values["seed"], s.values["batch_size"]) for s in gridded) == [
        (1, 16), (1, 128), (2, 16), (2, 128),
    ]  # fmt: skip
    assert "fmnist_2c2d/sgd/lr=0.1,seed=1" in {str(s.folder) for s in gridded}


def test_problem_names_never_borrow_deepobs_names_for_other_networks():
    """DeepOBS's mnist_mlp/fmnist_mlp are 1000-500-100 MLPs and *_2c2d its 2c2d;
    a shipped problem with one of its names is that problem exactly."""
    deepobs = {"mnist_mlp", "fmnist_mlp", "mnist_2c2d", "fmnist_2c2d",
               "mnist_logreg", "fmnist_logreg", "mnist_vae", "fmnist_vae"}  # fmt: skip
    borrowed = set(problems.PROBLEMS) & deepobs
    assert borrowed == {"fmnist_2c2d"}
    assert problems.PROBLEMS["fmnist_2c2d"].model == "deepobs_2c2d"


def test_an_optimizer_table_runs_on_the_problems_it_lists(tmp_path):
    specs = planned_from(
        tmp_path,
        "problems = ['mnist_small_mlp', 'mnist_small_cnn']\nlearning_rates = [0.1]\n"
        "[optimizers.sgd]\n"
        "[optimizers.momentum]\nproblems = ['mnist_small_cnn']\n",
    )
    assert sorted(str(s.folder) for s in specs) == [
        "mnist_small_cnn/momentum/lr=0.1",
        "mnist_small_cnn/sgd/lr=0.1",
        "mnist_small_mlp/sgd/lr=0.1",
    ]


@pytest.mark.skipif(
    not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist"
)
@pytest.mark.slow
def test_a_sweep_over_problems_on_two_datasets(tmp_path):
    """Each run trains on its problem's dataset and records its problem."""
    argv = ["--quick", "--offline", "--problems", "mnist_small_mlp,fmnist_small_mlp",
            "--optimizers", "sgd", "--learning-rates", "0.1", "--epochs", "1",
            "--max-train-samples", "256", "--logdir", str(tmp_path)]  # fmt: skip
    assert sweep.main(argv) == 0
    sweep_dir = tmp_path / "quick"
    rows = {row["problem"]: row for row in table(sweep_dir / "runs.csv")}
    assert {p: (r["dataset"], r["model"], r["params"]) for p, r in rows.items()} == {
        "mnist_small_mlp": ("mnist", "mlp", "235146"),
        "fmnist_small_mlp": ("fashion_mnist", "mlp", "235146"),
    }
    assert (
        rows["fmnist_small_mlp"]["data_source"]
        != rows["mnist_small_mlp"]["data_source"]
    )
    saved = json.loads((sweep_dir / "fmnist_small_mlp/sgd/lr=0.1/run.json").read_text())
    assert saved["run"]["problem"] == "fmnist_small_mlp"
    assert saved["problem"]["dataset"] == "fashion_mnist"
    markdown = (sweep_dir / "summary.md").read_text()
    assert "## fmnist_small_mlp" in markdown and "## mnist_small_mlp" in markdown
    # Resumes: nothing to train the second time.
    assert sweep.main(argv) == 0


def test_unnamed_problems_keep_the_folder_names_of_older_sweeps():
    specs = planned("--optimizers", "sgd", "--learning-rates", "0.1", "--seeds", "0,2",
                    "--schedules", "constant,cosine")  # fmt: skip
    assert [str(s.folder) for s in specs] == [
        "mlp/sgd/lr=0.1", "mlp/sgd/lr=0.1,seed=2",
        "mlp/sgd/lr=0.1,schedule=cosine", "mlp/sgd/lr=0.1,schedule=cosine,seed=2",
    ]  # fmt: skip
    assert all(s.identity()["problem"] == "" for s in specs)


@pytest.mark.slow
def test_test_metrics_after_every_epoch_reach_tensorboard_and_epochs_csv(tmp_path):
    assert run_sweep(tmp_path, "--optimizers", "adam", "--learning-rates", "0.003") == 0
    assert not (
        tmp_path / "quick/mlp/adam/lr=0.003/test"
    ).exists()  # off: once, at the end
    config = tmp_path / "every.toml"
    config.write_text(
        "test_every_epoch = true\n" + (sweep.CONFIGS / "quick.toml").read_text()
    )
    argv = [*TINY[1:], "--config", str(config), "--name", "every", "--logdir",
            str(tmp_path), "--optimizers", "adam", "--learning-rates", "0.003"]  # fmt: skip
    assert sweep.main(argv) == 0
    run = tmp_path / "every/mlp/adam/lr=0.003"
    with open(run / "epochs.csv") as f:
        rows = list(csv.DictReader(f))
    result = json.loads((run / "result.json").read_text())
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [float(r["test_accuracy"]) for r in rows] == pytest.approx(
        result["history"]["test_accuracy"]
    )
    # The last epoch's test accuracy is the one the run reports.
    assert float(rows[-1]["test_accuracy"]) == pytest.approx(result["test_accuracy"])
    assert [float(r["val_accuracy"]) for r in rows] == pytest.approx(
        result["history"]["val_accuracy"]
    )
    logged = events(run / "test").Tensors("epoch_accuracy")
    assert [e.step for e in logged] == [0, 1]


def test_an_optimizer_table_may_bring_its_own_grid(tmp_path, capsys):
    specs = planned_from(
        tmp_path,
        "models = ['mlp']\nlearning_rates = [0.1]\n"
        "[optimizers.sgd]\n"
        "[optimizers.adam]\ngrid = { learning_rate = [1e-3, 3e-3], beta_1 = [0.8] }\n",
    )
    assert [str(s.folder) for s in specs] == [
        "mlp/sgd/lr=0.1",
        "mlp/adam/lr=0.001,beta_1=0.8",
        "mlp/adam/lr=0.003,beta_1=0.8",
    ]
    config = tmp_path / "sweep.toml"
    config.write_text(
        "models = ['mlp']\n[optimizers.sgd]\ngrid = { momentum = [0.5] }\n"
    )
    assert sweep.main(["--config", str(config), "--logdir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: optimizer sgd: grid.momentum: sgd does not use momentum\n"
    )


def test_a_true_or_false_setting_refuses_other_types(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("test_every_epoch = 1\n")
    assert sweep.main(["--config", str(config), "--logdir", str(tmp_path)]) == 2
    assert "test_every_epoch must be true or false, got 1" in capsys.readouterr().err


@pytest.mark.slow
def test_dropping_the_remainder_is_an_axis_that_reaches_the_training_steps(tmp_path):
    """256 images in batches of 100: 3 steps an epoch, or 2 without the remainder."""
    assert run_sweep(tmp_path, "--optimizers", "sgd", "--learning-rates", "0.1",
                     "--batch-size", "100", "--epochs", "1",
                     "--grid", "drop_remainder=false,true") == 0  # fmt: skip
    runs_dir = tmp_path / "quick/mlp/sgd"
    for folder, steps in (("lr=0.1", 3), ("lr=0.1,drop_remainder=True", 2)):
        assert len(events(runs_dir / folder / "train").Tensors("batch_loss")) == steps
    labels = {row["optimizer"] for row in table(tmp_path / "quick/summary.csv")}
    assert labels == {"sgd", "sgd+drop_remainder=True"}


SCALED_SGD = '''
import keras


class ScaledSGD(keras.optimizers.Optimizer):
    """θ ← θ − η·scale·g, or η·scale·sign(g) with `signed`."""

    def __init__(self, learning_rate=0.01, scale=1.0, signed=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.scale, self.signed = scale, signed

    def update_step(self, gradient, variable, learning_rate):
        step = keras.ops.sign(gradient) if self.signed else gradient
        rate = keras.ops.cast(learning_rate, variable.dtype) * self.scale
        self.assign_sub(variable, rate * step)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "signed": self.signed}
'''


def scaled_sweep(tmp_path):
    """The command line of a tiny sweep of ScaledSGD, from a file."""
    (tmp_path / "scaled.py").write_text(SCALED_SGD)
    path = tmp_path / "scaled.toml"
    path.write_text('name = "scaled"\nlearning_rates = [0.01]\nworkers = 1\n'
                    '[optimizers.scaled]\nclass = "scaled.py:ScaledSGD"\n')  # fmt: skip
    return ["--config", str(path), "--offline", "--models", "mlp", "--epochs", "2",
            "--max-train-samples", "256", "--logdir", str(tmp_path / "logs")]  # fmt: skip


@pytest.mark.slow
def test_a_user_optimizer_s_own_argument_is_a_grid_axis(tmp_path, capsys):
    """`scale`, a keyword only ScaledSGD's constructor has, swept by --grid:
    its folders, both CSVs, HParams and the report name it, it changes what
    the run does, and the sweep resumes."""
    argv = [*scaled_sweep(tmp_path), "--grid", "scale=0.5,1.0,4"]
    assert sweep.main(argv) == 0
    sweep_dir = tmp_path / "logs" / "scaled"
    folders = sorted(str(p.parent.relative_to(sweep_dir)) for p in sweep_dir.rglob("result.json"))
    # 1.0 is the class's own: that run is the plain one, as for every axis.
    assert folders == ["mlp/scaled/lr=0.01", "mlp/scaled/lr=0.01,scale=0.5",
                       "mlp/scaled/lr=0.01,scale=4"]  # fmt: skip
    runs = {row["scale"]: row for row in table(sweep_dir / "runs.csv")}
    assert set(runs) == {"0.5", "1.0", "4"}
    assert runs["0.5"]["train_loss"] != runs["4"]["train_loss"]  # it reached the update
    summary = {row["optimizer"] for row in table(sweep_dir / "summary.csv")}
    assert summary == {"scaled+scale=0.5", "scaled+scale=1", "scaled+scale=4"}
    markdown = (sweep_dir / "summary.md").read_text()
    assert "| scaled+scale=0.5 |" in markdown and "| scaled+scale=4 |" in markdown
    config = hparams(sweep_dir)["_hparams_/experiment"].experiment
    assert "scale" in [info.name for info in config.hparam_infos]
    start = hparams(sweep_dir / "mlp/scaled/lr=0.01,scale=4")["_hparams_/session_start_info"]
    assert start.session_start_info.hparams["scale"].number_value == 4
    saved = json.loads((sweep_dir / "mlp/scaled/lr=0.01,scale=4/run.json").read_text())
    assert saved["optimizer_config"]["scale"] == 4
    capsys.readouterr()
    assert sweep.main(argv) == 0
    assert "0 runs to train, 3 already finished" in capsys.readouterr().out


@pytest.mark.parametrize("grid, said", [
    ("scale=abc", "grid scale: optimizer scaled takes scale as a number (its "
                  "default is 1.0), got 'abc'"),
    ("signed=1", "grid signed: optimizer scaled takes signed as true or false (its "
                 "default is False), got 1"),
    ("bogus=1", "grid bogus: none of this sweep's optimizers (scaled) uses bogus"),
    ("a-b=1", "unknown grid axis 'a-b'"),
])  # fmt: skip
def test_a_wrong_argument_value_is_one_line_and_exit_2(grid, said, tmp_path, capsys):
    argv = [*scaled_sweep(tmp_path), "--grid", grid]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
    assert not (tmp_path / "logs").exists()


def test_a_grid_of_a_new_argument_over_a_finished_sweep_reuses_its_runs():
    """A run recorded before `scale` was gridded is the run at the class's own
    value now: the identity's list of argument keywords is not a difference."""
    from experiments.sweep.spec import RunSpec

    problem = problems.PROBLEMS["mnist_small_mlp"]
    before = RunSpec(problem=problem, optimizer="scaled", epochs=2,
                     values={"learning_rate": 0.01})  # fmt: skip
    now = before.at(scale=None)
    assert now.folder == before.folder
    assert now.differences(before.identity()) == []
    assert before.differences(now.identity()) == []
    assert now.at(scale=4.0).differences(before.identity()) == ["scale"]


def test_a_finished_run_stays_finished_when_its_table_s_grid_grows(tmp_path):
    """A table's grid, models and problems choose its runs; they are not a
    run's settings, so a grid moved up past its best keeps the runs it had
    (runs recorded them once: read as this version reads them, their
    identity still matches)."""
    from experiments.sweep.migrations import current_run

    table = "models = ['mlp']\n[optimizers.momentum]\nmomentum = 0.9\n"
    first = planned_from(tmp_path, table + "grid = {learning_rate = [0.01, 0.03]}\n")
    moved = planned_from(tmp_path, table + "grid = {learning_rate = [0.03, 0.1]}\n"
                         "models = ['mlp']\n")  # fmt: skip
    assert moved[0].folder == first[1].folder
    assert moved[0].optimizer_settings == {"momentum": 0.9}
    assert moved[0].differences(first[1].identity()) == []
    recorded = current_run({"run": {**first[1].identity(), "optimizer_settings": {
        "momentum": 0.9, "grid": {"learning_rate": [0.01, 0.03]}}}})["run"]  # fmt: skip
    assert moved[0].differences(recorded) == []
    assert moved[0].at(momentum=0.5).differences(recorded) == ["momentum"]


def test_one_rule_reads_a_value_s_kind_for_every_file():
    """TOML configs, problem tables and run.json: an integer passes as a
    number, a bool is neither an integer nor a number, a number no bool."""
    from experiments.cli import of_kind

    assert of_kind(3, float) == 3.0 and isinstance(of_kind(3, float), float)
    assert of_kind(True, bool) is True and of_kind(2.5, (int, float)) == 2.5
    for value, kind in ((True, int), (False, float), (True, (int, float)), (1, bool),
                        ("3", float), (3.0, int)):  # fmt: skip
        with pytest.raises(TypeError):
            of_kind(value, kind)
