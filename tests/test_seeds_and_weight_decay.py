"""Several seeds per setting, --rerun-best, and the learning rate × weight decay grid."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

from experiments.report import intervals, statistics, tables
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


def test_the_rerun_setting_is_best_measured_on_its_evaluation_seeds_alone():
    """Seed 0 tuned (0.95 beat 0.94); seeds 1 and 2 measure: 0.905, though
    lower than 0.003's one lucky seed. The forgiving range reads seed 0."""
    runs = [fake_run("adam", 0.001, s, a) for s, a in enumerate([0.95, 0.90, 0.91])]
    runs.append(fake_run("adam", 0.003, 0, 0.94))
    ((top, near),) = statistics.best_settings(statistics.aggregate(runs)).values()
    assert top["learning_rate"] == 0.001
    assert (top["seeds"], top["tuning_seeds"]) == ("1 2", "0")
    assert top["val_accuracy"] == pytest.approx(0.905)
    assert top["val_accuracy_by_seed"] == [0.90, 0.91]
    assert top["n_runs"] == 3 and top["tuning_val_accuracy"] == 0.95
    assert near == [0.001, 0.003]


def test_an_entry_of_one_setting_has_no_tuning_seed():
    """Nothing was chosen (DeepOBS's tuned rates): every seed measures."""
    runs = [fake_run("sgd", 0.1, s, a) for s, a in enumerate([0.95, 0.90, 0.91])]
    ((top, _),) = statistics.best_settings(statistics.aggregate(runs)).values()
    assert (top["seeds"], top["tuning_seeds"], top["n_seeds"]) == ("0 1 2", "", 3)


def test_ranks_are_shared_by_entries_that_cannot_be_told_apart():
    """a and b tie exactly; c is shown worse than both; d than c too."""
    runs = [fake_run(o, 0.1, s, v) for o, values in {
        "a": [0.94, 0.95, 0.96], "b": [0.96, 0.95, 0.94],
        "c": [0.90, 0.905, 0.91], "d": [0.80, 0.81, 0.82]}.items()
        for s, v in enumerate(values)]  # fmt: skip
    tops = [top for top, _ in statistics.best_settings(statistics.aggregate(runs)).values()]
    tops.sort(key=lambda t: -t["val_accuracy"])
    found = intervals.standings(tops)
    assert [rank for rank, _, _ in found] == [1, 1, 3, 4]
    assert [said for _, said, _ in found][1:] == [
        "cannot tell apart with these seeds", "worse", "worse"]
    from scipy import stats

    c, best = tops[2]["val_accuracy_by_seed"], tops[0]["val_accuracy_by_seed"]
    interval = stats.ttest_ind(c, best, equal_var=False).confidence_interval(0.95)
    assert found[2][2] == pytest.approx((np.mean(c) - np.mean(best), *interval))


def ranking_rows(summary):
    """{entry: its row} of summary.md's first ranking table."""
    table = summary[summary.index("| rank |") : summary.index("Time to result")]
    return {line.split(" | ")[1]: line for line in table.splitlines()[2:] if line.startswith("| ")}


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
    lines = ranking_rows(text)
    # One seed shows nothing: no rank, no verdict, and it is not "best".
    assert lines["lone"].startswith("| – | lone |")
    assert "one seed: no verdict" in lines["lone"]
    assert "An entry of one seed has no rank" in text
    assert lines["adamw"].startswith("| 1 | adamw |") and "| best |" in lines["adamw"]
    # adam cannot be told from adamw: the same rank; sgd is shown worse than
    # adamw and adam (and frozen?): its rank counts the entries shown better.
    assert lines["adam"].startswith("| 1 | adam |")
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
    assert "best setting on 3 evaluation seeds: 6 runs to train" in capsys.readouterr().out
    root = tmp_path / "quick" / "mlp"
    summary = rows(tmp_path / "quick" / "summary.csv")
    assert sorted(r["n_seeds"] for r in summary) == ["1", "1", "3", "3"]
    for optimizer in ("momentum", "adam"):
        grid = {
            p.name: json.loads((p / "result.json").read_text())["val_accuracy"]
            for p in (root / optimizer).glob("lr=*")
            if "seed" not in p.name
        }
        best = max(grid, key=grid.get)
        evaluation = [f"{best},seed={seed}" for seed in (1, 2, 3)]
        assert sorted(p.name for p in (root / optimizer).iterdir()) == sorted(
            [*grid, *evaluation]
        )
        # The tuning seed chose the setting; only the other three measure it.
        measured = [json.loads((root / optimizer / f / "result.json").read_text())
                    ["val_accuracy"] for f in evaluation]  # fmt: skip
        (row,) = [r for r in summary if r["optimizer"] == optimizer and r["n_seeds"] == "3"]
        assert (row["seeds"], row["tuning_seeds"]) == ("1 2 3", "0")
        assert float(row["val_accuracy"]) == pytest.approx(np.mean(measured))
        assert float(row["val_accuracy_std"]) == pytest.approx(np.std(measured, ddof=1))


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
            "--rerun-best 3 after tuning seed 4294967294 needs seeds up to 4294967297",
        ),
        (
            ["--rerun-best", "3", "--seeds", "0,1"],
            "--rerun-best N needs N >= 1 evaluation seeds and no --seeds/seeds",
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


def test_a_failed_grid_run_does_not_turn_a_tuning_seed_into_an_evaluation_seed():
    """A --seeds 0,1 grid whose run at (0.01, seed 1) failed: seed 1 is still
    a tuning seed, so 0.1's lucky seed 1 does not make it an evaluated best."""
    runs = [fake_run("sgd", 0.01, 0, 0.90)]
    runs += [fake_run("sgd", 0.1, s, a) for s, a in enumerate([0.70, 0.85])]
    runs += [fake_run("sgd", 1.0, s, a) for s, a in enumerate([0.80, 0.81])]
    settings = statistics.aggregate(runs)
    assert {s["tuning_seeds"] for s in settings} == {"0 1"}
    assert not any(s["evaluated"] for s in settings)
    ((top, _),) = statistics.best_settings(settings).values()
    assert (top["learning_rate"], top["seeds"]) == (1.0, "0 1")  # the most seeds


def test_of_two_rerun_settings_the_tuning_seed_chooses_and_a_diverged_seed_shows():
    """A grid extended after a rerun: two settings have evaluation seeds. The
    choice reads the tuning seed (0.93 beats 0.92), not the evaluation means;
    the chosen one stays best though an evaluation seed diverged."""
    runs = [fake_run("adam", 0.001, 0, 0.93), fake_run("adam", 0.001, 1, 0.90),
            fake_run("adam", 0.001, 2, math.nan, diverged=True),
            fake_run("adam", 0.003, 0, 0.92), fake_run("adam", 0.003, 1, 0.97),
            fake_run("adam", 0.003, 2, 0.97), fake_run("adam", 0.01, 0, 0.5)]  # fmt: skip
    for run in runs:  # as load_runs marks them from sweep.json: seed 0 tuned
        run["tuning_seed"] = run["seed"] == 0
    ((top, _),) = statistics.best_settings(statistics.aggregate(runs)).values()
    assert top["learning_rate"] == 0.001 and top["diverged"]
    assert top["val_accuracy_by_seed"] == [0.90]
