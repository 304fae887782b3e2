"""Several seeds per setting, --rerun-best, and the learning rate × weight decay grid."""

import csv
import json
import math

import pytest
from PIL import Image

from experiments.report import statistics, tables
from experiments.sweep import command as sweep

TINY = [
    "--quick",
    "--offline",
    "--models",
    "mlp",
    "--epochs",
    "1",
    "--max-train-samples",
    "256",
]


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def fake_run(optimizer, learning_rate, seed, val_accuracy, diverged=False):
    return {
        "problem": "mlp",
        "model": "mlp",
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "seed": seed,
        "dataset": "mnist",
        "epochs_run": 2,
        "train_loss": 1.0 - val_accuracy,
        "val_loss": 0.5,
        "val_accuracy": math.nan if diverged else val_accuracy,
        "test_accuracy": val_accuracy - 0.01,
        "diverged": diverged,
        "seconds": 2.0,
        "weight_decay": 0.0,
        "data_source": "test",
        "train_samples": 10,
        "in_decay_grid": False,
        "history": {
            "loss": [2.0, 1.0 - val_accuracy],
            "val_accuracy": [0.5, val_accuracy],
        },
    }


def test_aggregation_gives_mean_and_sample_standard_deviation():
    runs = [fake_run("adam", 0.01, s, a) for s, a in enumerate([0.90, 0.92, 0.97])]
    runs.append(fake_run("sgd", 0.1, 0, 0.5))
    by_optimizer = {s["optimizer"]: s for s in statistics.aggregate(runs)}
    adam = by_optimizer["adam"]
    assert adam["n_seeds"] == 3 and adam["seeds"] == "0 1 2"
    assert adam["val_accuracy"] == pytest.approx(0.93)
    assert adam["val_accuracy_std"] == pytest.approx(0.036055513, rel=1e-6)  # ddof=1
    assert adam["test_accuracy"] == pytest.approx(0.92)
    assert adam["history"]["val_accuracy"] == pytest.approx([0.5, 0.93])
    assert adam["history_std"]["val_accuracy"][1] == pytest.approx(
        0.036055513, rel=1e-6
    )
    assert by_optimizer["sgd"]["n_seeds"] == 1 and math.isnan(
        by_optimizer["sgd"]["val_accuracy_std"]
    )


def test_a_diverged_seed_is_left_out_of_the_mean_and_marks_the_setting():
    runs = [fake_run("adam", 1.0, 0, 0.8), fake_run("adam", 1.0, 1, 0.0, diverged=True)]
    (setting,) = statistics.aggregate(runs)
    assert setting["diverged"] and setting["diverged_seeds"] == 1
    assert setting["val_accuracy"] == pytest.approx(0.8)


def test_best_setting_is_the_rerun_one_not_a_single_lucky_seed():
    runs = [fake_run("adam", 0.001, s, a) for s, a in enumerate([0.95, 0.90, 0.91])]
    runs.append(fake_run("adam", 0.003, 0, 0.94))
    ((top, near),) = statistics.best_settings(statistics.aggregate(runs)).values()
    assert top["learning_rate"] == 0.001 and top["n_seeds"] == 3
    assert near == [0.001, 0.003]


def ranking_rows(summary):
    """{entry: its row} of summary.md's first ranking table."""
    table = summary[summary.index("| rank |") : summary.index("Time to result")]
    return {line.split(" | ")[1]: line for line in table.splitlines()[2:] if line}


def test_the_verdict_against_the_best_is_welch_s_interval_not_an_overlap(tmp_path):
    """adam and adamw: seeds that cannot be told apart; sgd: clearly worse. The
    old rule (mean ± std overlap) would have said nothing of frozen below."""
    runs = [fake_run("adam", 0.01, s, a) for s, a in enumerate([0.90, 0.94])]
    runs += [fake_run("adamw", 0.01, s, a) for s, a in enumerate([0.91, 0.95])]
    runs += [fake_run("sgd", 0.1, s, a) for s, a in enumerate([0.50, 0.51])]
    runs += [fake_run("frozen", 0.1, s, a) for s, a in enumerate([0.759, 0.88, 0.64])]
    runs += [fake_run("lone", 0.1, 0, 0.99)]
    tables.write_markdown(statistics.aggregate(runs), tmp_path / "summary.md", "test")
    text = (tmp_path / "summary.md").read_text()
    assert "| 1 | lone |" in text  # one seed: ranked, but no verdict for the others
    lines = ranking_rows(text)
    assert "one seed: no verdict" in lines["adamw"]
    # against adamw, with the lone one left out of the comparison:
    runs.pop()
    tables.write_markdown(statistics.aggregate(runs), tmp_path / "summary.md", "test")
    text = (tmp_path / "summary.md").read_text()
    lines = ranking_rows(text)
    assert "| best |" in lines["adamw"]
    assert "cannot tell apart with these seeds" in lines["adam"]
    assert "| worse |" in lines["sgd"]
    # 2 seeds: mean 0.93, std 0.0283, t(0.975, 1) = 12.706: ± 25.41 points
    assert "93.00% ± 25.41 (2 seeds)" in lines["adamw"]
    assert "≈" not in text


@pytest.mark.slow
def test_seeds_flag_runs_every_setting_per_seed(tmp_path):
    assert (
        sweep.main(
            [
                *TINY,
                "--optimizers",
                "adam",
                "--learning-rates",
                "0.01",
                "--seeds",
                "0,1",
                "--logdir",
                str(tmp_path),
            ]
        )
        == 0
    )
    root = tmp_path / "quick"
    assert sorted(p.name for p in (root / "mlp" / "adam").iterdir()) == [
        "lr=0.01",
        "lr=0.01,seed=1",
    ]
    (setting,) = rows(root / "summary.csv")
    assert setting["n_seeds"] == "2" and setting["seeds"] == "0 1"
    per_seed = [float(r["val_accuracy"]) for r in rows(root / "runs.csv")]
    assert float(setting["val_accuracy"]) == pytest.approx(sum(per_seed) / 2)
    assert float(setting["val_accuracy_std"]) == pytest.approx(
        abs(per_seed[0] - per_seed[1]) / 2**0.5
    )
    assert (
        per_seed[0] != per_seed[1]
    )  # the seed changes initial weights and batch order


@pytest.mark.slow
def test_rerun_best_reruns_exactly_each_optimizers_best_setting(tmp_path, capsys):
    assert (
        sweep.main(
            [
                *TINY,
                "--optimizers",
                "momentum,adam",
                "--learning-rates",
                "0.003,0.03",
                "--rerun-best",
                "3",
                "--logdir",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "best setting over 3 seeds: 4 runs to train" in capsys.readouterr().out
    root = tmp_path / "quick" / "mlp"
    for optimizer in ("momentum", "adam"):
        grid = {
            p.name: json.loads((p / "result.json").read_text())["val_accuracy"]
            for p in (root / optimizer).glob("lr=*")
            if "seed" not in p.name
        }
        best = max(grid, key=grid.get)
        assert sorted(p.name for p in (root / optimizer).iterdir()) == sorted(
            [*grid, f"{best},seed=1", f"{best},seed=2"]
        )
    summary = rows(tmp_path / "quick" / "summary.csv")
    assert sorted(r["n_seeds"] for r in summary) == ["1", "1", "3", "3"]


@pytest.mark.slow
def test_rerun_best_reruns_each_schedule_s_best_as_the_report_ranks_them(tmp_path):
    """The report ranks sgd and sgd+cosine apart, so each gets its best rerun."""
    argv = [*TINY, "--optimizers", "sgd", "--learning-rates", "0.03,0.3",
            "--schedules", "constant,cosine", "--rerun-best", "3",
            "--logdir", str(tmp_path)]  # fmt: skip
    assert sweep.main(argv) == 0
    summary = rows(tmp_path / "quick" / "summary.csv")
    seeds = {(r["optimizer"], r["learning_rate"]): r["n_seeds"] for r in summary}
    assert sorted(seeds.values()) == ["1", "1", "3", "3"]
    assert {name for (name, _), n in seeds.items() if n == "3"} == {"sgd", "sgd+cosine"}
    table = (tmp_path / "quick" / "summary.md").read_text()
    assert table.count("(3 seeds)") == 4  # validation and test, for both entries


@pytest.mark.slow
def test_weight_decay_grid_gives_a_heatmap_and_a_row_per_cell(tmp_path):
    assert (
        sweep.main(
            [
                *TINY,
                "--optimizers",
                "momentum_l2,adamw,sgd",
                "--learning-rates",
                "0.03,50",
                "--weight-decays",
                "0.001,0.1",
                "--logdir",
                str(tmp_path),
            ]
        )
        == 0
    )
    root = tmp_path / "quick"
    summary = rows(root / "summary.csv")
    cells = {
        (r["optimizer"], float(r["learning_rate"]), float(r["weight_decay"]))
        for r in summary
    }
    assert cells == {
        (o, lr, wd)
        for o in ("momentum_l2", "adamw")
        for lr in (0.03, 50.0)
        for wd in (0.001, 0.1)
    } | {("sgd", 0.03, 0.0), ("sgd", 50.0, 0.0)}  # sgd does not decay: no grid
    assert all(
        r["diverged"] == "True" for r in summary if float(r["learning_rate"]) == 50.0
    )
    assert (root / "mlp" / "adamw" / "lr=0.03,wd=0.1" / "result.json").exists()
    with Image.open(root / "weight_decay_mlp.png") as image:
        image.verify()
        assert image.format == "PNG"
    assert "| weight decay |" in (root / "summary.md").read_text()


SEED_RANGE = "a seed must be an integer from 0 to 4294967295 (the seeds Keras takes)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "0,-1"], f"{SEED_RANGE}, got '-1'"),
        (["--seeds", "0,1.5"], f"{SEED_RANGE}, got '1.5'"),
        (["--seeds", "0,4294967296"], f"{SEED_RANGE}, got '4294967296'"),
        (["--seeds", ","], "--seeds is empty"),
        (
            ["--optimizers", "momentum_l2", "--weight-decays", "0.01,-0.1"],
            "grid weight_decay: optimizer momentum_l2: `weight_decay` must be in "
            "[0, inf); got -0.1",
        ),
        (["--weight-decays", ""], "--weight-decays is empty"),
        (["--learning-rates", ""], "--learning-rates is empty"),
        (["--seed", "-3"], f"{SEED_RANGE}, got -3"),
        (["--seed", "4294967296"], f"{SEED_RANGE}, got 4294967296"),
        (
            ["--seed", "4294967294", "--rerun-best", "3"],
            "--rerun-best 3 from seed 4294967294 needs seeds up to 4294967296",
        ),
        (
            ["--rerun-best", "3", "--seeds", "0,1"],
            "--rerun-best N needs N >= 2 (seed 0 and N - 1 more) and no --seeds",
        ),
    ],
)
@pytest.mark.slow
def test_bad_seeds_and_grids_exit_2_and_write_nothing(argv, message, tmp_path, capsys):
    logdir = tmp_path / "logs"
    assert sweep.main([*TINY, "--logdir", str(logdir), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not logdir.exists()
