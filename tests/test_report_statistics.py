"""The report's statistics against hand-computed values: the expected best of
k settings (tuning budget) and the time to result."""

import itertools
import math

import numpy as np
import pytest

from experiments.report import deepobs, figures, loading, statistics, tables


def brute_force_expected_best(values, k):
    """The mean of max over every k-subset: what expected_best computes in closed form."""
    draws = list(itertools.combinations(values, k))
    return sum(max(draw) for draw in draws) / len(draws)


def test_expected_best_by_hand():
    # Pairs of {0.2, 0.5, 0.9}: best 0.5, 0.9, 0.9.
    assert statistics.expected_best([0.9, 0.2, 0.5], 2) == pytest.approx(
        (0.5 + 0.9 + 0.9) / 3
    )
    assert statistics.expected_best([0.9, 0.2, 0.5], 1) == pytest.approx(
        (0.2 + 0.5 + 0.9) / 3
    )
    assert statistics.expected_best([0.9, 0.2, 0.5], 3) == pytest.approx(0.9)


@pytest.mark.parametrize("seed", range(5))
def test_expected_best_equals_enumerating_every_draw(seed):
    rng = np.random.default_rng(seed)
    values = list(rng.choice([0.1, 0.5, 0.8, 0.85, 0.9], size=7))  # with ties
    for k in range(1, 8):
        assert statistics.expected_best(values, k) == pytest.approx(
            brute_force_expected_best(values, k)
        )


def setting(optimizer, learning_rate, val_accuracy, diverged=False, problem="mlp"):
    return {
        "problem": problem,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "val_accuracy": math.nan if diverged else val_accuracy,
        "diverged": diverged,
    }


def test_tuning_curves_count_a_diverged_setting_as_zero():
    settings = [
        setting("sgd", 0.01, 0.5),
        setting("sgd", 0.1, 0.9),
        setting("sgd", 1.0, None, diverged=True),
        setting("adam", 0.001, 0.8, problem="cnn"),
    ]
    curves = statistics.tuning_curves(settings)
    assert curves[("mlp", "sgd")] == pytest.approx(
        [(0.5 + 0.9 + 0.0) / 3, (0.9 + 0.9 + 0.5) / 3, 0.9]
    )
    assert curves[("cnn", "adam")] == [0.8]


def run(problem, curve, seconds, epochs_file=None, diverged=False):
    return {
        "problem": problem,
        "val_accuracy": curve[-1],
        "diverged": diverged,
        "seconds": seconds,
        "history": {"loss": [1.0] * len(curve), "val_accuracy": curve},
        "epochs": {"seconds": epochs_file} if epochs_file else {},
    }


def test_time_to_target_is_the_first_epoch_at_99_percent_of_the_problem_s_best():
    runs = [
        run("mlp", [0.5, 0.79, 0.80], 12.0, epochs_file=[10.0, 20.0, 30.0]),
        run("mlp", [0.795, 0.70, 0.75], 12.0),  # no epochs.csv: 12 s / 3 epochs
        run("mlp", [0.3, 0.4, 0.5], 12.0),  # never
        run("mlp", [0.99, math.nan], 5.0, diverged=True),  # not a best
        run("cnn", [0.4, 0.6], 8.0),  # its own problem: the best itself
    ]
    loading.add_time_to_target(runs)
    # 99% of the MLP's best final accuracy, 0.80: 0.792.
    assert [r["epochs_to_target"] for r in runs[:2]] == [3, 1]
    assert [r["seconds_to_target"] for r in runs[:2]] == [30.0, 4.0]
    assert math.isnan(runs[2]["epochs_to_target"])
    assert math.isnan(runs[2]["seconds_to_target"])
    assert (runs[4]["epochs_to_target"], runs[4]["seconds_to_target"]) == (2, 8.0)


def test_summary_ranks_the_entries_by_time_to_result(tmp_path):
    rows = []
    for optimizer, curve in (("sgd", [0.5, 0.7, 0.9]), ("adam", [0.9, 0.9, 0.9])):
        rows.append({
            **run("mlp", curve, 3.0), "model": "mlp", "optimizer": optimizer,
            "learning_rate": 0.1, "seed": 0, "dataset": "mnist", "epochs_run": 3,
            "train_loss": 0.1, "val_loss": 0.2, "test_accuracy": 0.8,
            "weight_decay": 0.0, "data_source": "test", "train_samples": 10,
            "in_decay_grid": False,
        })  # fmt: skip
    loading.add_time_to_target(rows)
    tables.write_markdown(statistics.aggregate(rows), tmp_path / "summary.md", "test")
    text = (tmp_path / "summary.md").read_text()
    assert "| 1 | adam | 0.1 | 1 | 1 s |" in text
    assert "| 2 | sgd | 0.1 | 3 | 3 s |" in text


def test_deepobs_baselines_hold_the_published_curves():
    problem, baselines = deepobs.deepobs_baselines()
    assert problem == "fmnist_2c2d"
    assert {name: lr for name, (lr, _) in baselines.items()} == {
        "sgd": 0.15848931925, "momentum": 0.0025118864315, "adam": 0.00025118864315,
    }  # fmt: skip
    for _, curves in baselines.values():
        test, train_eval = curves["test_accuracy"], curves["train_eval_accuracy"]
        assert test.shape == train_eval.shape
        assert test.shape[1] == 101  # before training, then 100 epochs
        assert np.all(test[:, 0] < 0.14)  # near chance before training
        # One initialization per seed: before training, both sets score alike.
        assert np.abs(test[:, 0] - train_eval[:, 0]).max() < 0.01
    # DeepOBS's one-seed Adam result, 92.9% after 100 epochs (seed 42).
    assert baselines["adam"][1]["test_accuracy"][0, 100] == pytest.approx(
        0.929387, abs=1e-6
    )
    # SGD, seed 43: the training images fitted by epoch 44 (train_accuracies).
    assert baselines["sgd"][1]["train_eval_accuracy"][0, 44:].min() == 1.0


def test_summary_sets_our_accuracy_beside_deepobs_s(tmp_path):
    """SGD after epoch 10 in DeepOBS's seven stored seeds (from the baseline
    files): test 0.902143, 0.890525, 0.909455, 0.895132, 0.910256, 0.904046,
    0.901943, mean 90.19%, std 0.72; train_eval 0.93119, 0.927584, 0.944211,
    0.925581, 0.945413, 0.939804, 0.938201, mean 93.60%, std 0.79."""
    ours = [0.80 + 0.01 * e for e in range(10)]  # 0.89 after epoch 10
    fitted = [0.90 + 0.005 * e for e in range(10)]  # 0.945 after epoch 10
    held_out = {
        "problem": "fmnist_2c2d", "optimizer": "sgd", "base_optimizer": "sgd",
        "learning_rate": 0.15848931925, "n_seeds": 1, "validation_fraction": 0.1,
        "history": {"test_accuracy": ours, "val_accuracy": fitted},
        "history_std": {"test_accuracy": [math.nan] * 10, "val_accuracy": [math.nan] * 10},
    }  # fmt: skip
    other = {**held_out, "learning_rate": 0.1}  # not DeepOBS's η: not compared
    assert [s for s, _ in deepobs.against_deepobs([held_out, other])] == [held_out]
    lines = tables._deepobs_table([held_out, other])
    assert (
        "| sgd | 0.158 | test | 10 | 89.00% | 90.19% ± 0.72 (7 seeds) | -1.19 |"
        in lines
    )
    # Held-out validation images are not DeepOBS's train_eval: no such row.
    assert not [line for line in lines if "| train_eval |" in line]
    on_training_images = {**held_out, "validation_fraction": 0}
    lines = tables._deepobs_table([on_training_images])
    assert (
        "| sgd | 0.158 | train_eval | 10 | 94.50% | 93.60% ± 0.79 (7 seeds) | +0.90 |"
        in lines
    )


def test_the_deepobs_figure_draws_each_of_our_entries_in_its_optimizer_s_panel(
    monkeypatch,
):
    """Runs with other data-order axes than DeepOBS's are lines beside the
    plain runs in the same optimizer's panel, not panels of their own; a
    second row holds train_eval where the validation images were training
    images."""
    plain = {
        "problem": "fmnist_2c2d", "optimizer": "sgd", "base_optimizer": "sgd",
        "learning_rate": 0.15848931925, "n_seeds": 3, "validation_fraction": 0,
        "history": {"test_accuracy": [0.85, 0.88], "val_accuracy": [0.86, 0.9]},
        "history_std": {"test_accuracy": [0.01, 0.01], "val_accuracy": [0.01, 0.01]},
    }  # fmt: skip
    shuffled = {**plain, "optimizer": "sgd+shuffle_buffer=20000"}
    adam = {**plain, "optimizer": "adam", "base_optimizer": "adam",
            "learning_rate": 0.00025118864315}  # fmt: skip
    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, path: drawn.update(fig=fig))
    figures.plot_against_deepobs([plain, shuffled, adam], "unused.png")
    panels = drawn["fig"].axes
    assert [(axis.get_title(), axis.get_ylabel()) for axis in panels] == [
        ("fmnist_2c2d: sgd, η = 0.158", "test accuracy"),
        ("fmnist_2c2d: adam, η = 0.000251", "test accuracy"),
        ("fmnist_2c2d: sgd, η = 0.158", "train_eval accuracy"),
        ("fmnist_2c2d: adam, η = 0.000251", "train_eval accuracy"),
    ]
    ours_and_deepobs = [
        ["sgd (3 seeds)", "sgd+shuffle_buffer=20000 (3 seeds)", "DeepOBS (7 seeds)"],
        ["adam (3 seeds)", "DeepOBS (6 seeds)"],
    ]
    assert [[line.get_label() for line in axis.get_lines()] for axis in panels] == (
        ours_and_deepobs * 2
    )
    sgd_train_eval = panels[2].get_lines()[0].get_ydata()
    assert list(sgd_train_eval) == [0.86, 0.9]
