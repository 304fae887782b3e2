"""The report's statistics against hand-computed values: the expected best of
k settings (tuning budget) and the time to result."""

import itertools
import math

import numpy as np
import pytest

from experiments.report import intervals, loading, statistics, tables


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
        "tuning_val_accuracy": math.nan if diverged else val_accuracy,
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
    means, spreads = curves[("mlp", "sgd")]
    assert means == pytest.approx([(0.5 + 0.9 + 0.0) / 3, (0.9 + 0.9 + 0.5) / 3, 0.9])
    assert spreads[-1] == 0.0  # every setting drawn: always the best
    assert curves[("cnn", "adam")] == ([0.8], [0.0])


def test_the_spread_of_the_expected_best_is_dodge_s_and_equals_enumeration():
    """Draws of 2 of (0.2, 0.5, 0.9): best 0.5, 0.9, 0.9; E = 2.3/3, E[x²] = 1.87/3."""
    assert statistics.expected_best_spread([0.9, 0.2, 0.5], 2) == pytest.approx(
        math.sqrt(1.87 / 3 - (2.3 / 3) ** 2)
    )
    values = [0.61, 0.12, 0.9, 0.47, 0.33, 0.8]
    for k in range(1, len(values) + 1):
        bests = [max(draw) for draw in itertools.combinations(values, k)]
        assert statistics.expected_best_spread(values, k) == pytest.approx(
            np.std(bests)
        )


def test_the_t_interval_of_three_seeds_is_4_30_standard_errors():
    mean, half = intervals.t_interval([0.90, 0.92, 0.94])
    assert mean == pytest.approx(0.92)
    assert half == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-6)
    assert math.isnan(intervals.t_interval([0.9])[1])


def test_welch_s_interval_matches_the_hand_computation_and_scipy():
    """[1, 2, 3] − [4, 5, 6]: −3, standard error √(2/3), Welch-Satterthwaite
    degrees of freedom (4/9) / (1/9 · 1/2 · 2) = 4, t(0.975, 4) = 2.776445."""
    difference, low, high = intervals.welch_interval([1, 2, 3], [4, 5, 6])
    half = 2.776445 * math.sqrt(2 / 3)
    assert (difference, low, high) == pytest.approx(
        (-3, -3 - half, -3 + half), rel=1e-6
    )
    from scipy import stats

    a, b = [0.91, 0.95, 0.9], [0.93, 0.96, 0.97, 0.95]
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert intervals.welch_interval(a, b)[1:] == pytest.approx(tuple(expected))


@pytest.mark.parametrize(
    "values, best, said",
    [
        ([0.90, 0.91, 0.92], [0.95, 0.96, 0.97], "worse"),
        ([0.95, 0.96, 0.97], [0.90, 0.91, 0.92], "better"),
        ([0.93, 0.96, 0.94], [0.95, 0.96, 0.97], "cannot tell apart with these seeds"),
        ([0.90], [0.95, 0.96, 0.97], "one seed: no verdict"),
    ],
)
def test_the_verdict_follows_the_interval_of_the_difference(values, best, said):
    assert intervals.verdict(values, best) == said


def test_the_performance_profile_counts_the_problems_within_tau_of_the_best():
    """x is best on A, twice the best error on B; y the reverse; z only ran on A."""
    scores = {"A": {"x": 0.10, "y": 0.20, "z": 0.15}, "B": {"x": 0.30, "y": 0.15}}
    profile = statistics.performance_profile(scores, [1.0, 1.5, 2.0, 4.0])
    assert profile == {
        "x": [0.5, 0.5, 1.0, 1.0],
        "y": [0.5, 0.5, 1.0, 1.0],
        "z": [0.0, 0.5, 0.5, 0.5],
    }
    diverged = statistics.performance_profile({"A": {"x": 0.1, "y": math.nan}}, [1e9])
    assert diverged == {"x": [1.0], "y": [0.0]}


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


def test_the_detectable_difference_is_welch_s_half_width_at_the_median_spread():
    """Standard deviations 0.01, 0.02 and 0.2 over 3 seeds each: the median,
    0.02, gives t(0.975, 4) · 0.02 · √(2/3) = 2.776445 · 0.02 · 0.816497."""
    entries = [{"val_accuracy_by_seed": v} for v in (
        [0.90, 0.91, 0.92], [0.80, 0.82, 0.84], [0.5, 0.7, 0.9], [0.99])]  # fmt: skip
    smallest, n = intervals.detectable_difference(entries)
    assert n == 3 and smallest == pytest.approx(2.776445 * 0.02 * math.sqrt(2 / 3))
    # Two entries with exactly that spread, that far apart: the interval's edge.
    a = [0.90, 0.92, 0.94]
    b = [v + smallest for v in a]
    assert intervals.welch_interval(b, a)[1] == pytest.approx(0, abs=1e-9)
    assert math.isnan(intervals.detectable_difference(entries[3:])[0])


def test_time_to_result_with_every_setting_diverged_beside_stored_entries():
    """Nothing of ours to take the target from: the table still lists the stored."""
    stored = {"optimizer": "adam (stored)", "learning_rate": 0.001,
              "epochs_to_target": 3.0, "seconds_to_target": 12.0}  # fmt: skip
    lines = tables._time_to_target_table([("adam", None, [])], [stored])
    assert "| 1 | adam (stored) | 0.001 | 3 | 12 s |" in lines


def test_time_to_result_of_a_problem_trained_for_steps_counts_steps():
    """An "epoch" of a step problem is `eval_every` steps: the table says
    steps, not evaluations (the transformer's 2.5 evaluations of 250)."""
    adam = {"optimizer": "adam", "learning_rate": 0.003, "metric": "val_loss",
            "protocol": {"eval_every": 250}, "target": 1.9,
            "target_from": "this sweep's best", "epochs_to_target": 2.5,
            "seconds_to_target": 75.0}  # fmt: skip
    lines = tables._time_to_target_table([("adam", adam, [])], [])
    assert "| rank | optimizer | best lr | steps | training time |" in lines
    assert "| 1 | adam | 0.003 | 625 | 75 s |" in lines
    assert "the first evaluation at which validation loss reached" in lines[1]


def test_the_first_steps_share_the_median_best_rate_whatever_the_entries_names():
    from experiments.report.figures import shared_rate

    def top(rate):
        return ({"learning_rate": rate, "val_accuracy": 0.9}, [])

    best = {("digits", name): top(rate) for name, rate in
            (("mine", 0.3), ("sgd", 0.1), ("other", 1e-3), ("adam", 1e-3), ("x", 3e-4))}
    best[("digits", "failed")] = (None, [])
    best.update({("text", "a"): top(3e-3), ("text", "b"): top(1.0)})
    assert shared_rate(best, "digits") == 1e-3
    assert shared_rate(best, "text") == 3e-3  # the lower of two
    assert shared_rate(best, "elsewhere") is None
