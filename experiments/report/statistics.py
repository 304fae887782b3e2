"""The report's statistics: settings over seeds, each entry's best, how much
tuning it needs. Pure functions of the loaded runs; no files, no plots.

A *setting* is a problem, an optimizer and the values of every axis but
the seed (`axes.AXES`); its runs over several seeds are aggregated as mean
and sample standard deviation.
"""

import math
from math import comb

import numpy as np

from experiments.report.columns import METRICS
from experiments.sweep import axes
from experiments.sweep.run_files import SELECTED_BY

FORGIVING_MARGIN = 0.01  # "within 1 point of the best accuracy"
# Time to result: the first epoch at which a run's validation accuracy
# reaches this share of the best final validation accuracy on its problem.
TARGET_SHARE = 0.99
TUNING_DRAWS = 3  # summary.md: the expected best after this many settings


def usable(value):
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def expected_best(values, k):
    """The expected best of `k` of `values` drawn without replacement (Dodge
    et al. 2019, "Show Your Work"): with v(1) ≤ … ≤ v(N) sorted,
    Σᵢ v(i)·(C(i, k) − C(i−1, k)) / C(N, k), since v(i) is the best of a draw
    exactly when it is drawn with k − 1 of the i − 1 below it."""
    ordered = sorted(values)
    return sum(
        v * (comb(i, k) - comb(i - 1, k)) for i, v in enumerate(ordered, 1)
    ) / comb(len(ordered), k)


def tuning_curves(settings):
    """{(problem, entry): [expected best validation accuracy of k settings
    drawn from the entry's grid, for k = 1 … its size]}. A setting that
    diverged counts as 0: it gave no usable model."""
    values = {}
    for s in settings:
        accuracy = (
            s[SELECTED_BY] if not s["diverged"] and usable(s[SELECTED_BY]) else 0.0
        )
        values.setdefault((s["problem"], s["optimizer"]), []).append(accuracy)
    return {
        key: [expected_best(grid, k) for k in range(1, len(grid) + 1)]
        for key, grid in values.items()
    }


def setting_key(row):
    """A run's setting: the values of every axis but the seed, on its problem and entry."""
    return (
        row["problem"],
        row["optimizer"],
        *(row.get(a.name) for a in axes.AXES if a.role != "repeat"),
    )


def _mean_std(values):
    """Mean and sample standard deviation (NaN when undefined) of the finite values."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    return float(np.mean(values)), std


def _whole(number):
    return int(number) if float(number).is_integer() else number


def aggregate(runs):
    """One dict per setting: metric means and standard deviations over its seeds.

    Means use the seeds that did not diverge; `diverged` is true when any
    seed diverged, and `history` holds per-epoch means (`history_std` the
    deviations) over the seeds that ran every epoch.
    """
    groups = {}
    for run in runs:
        groups.setdefault(setting_key(run), []).append(run)
    return [_setting(group) for group in groups.values()]


def _setting(group):
    trained = [r for r in group if not r["diverged"]]
    setting = {
        k: v for k, v in group[0].items() if k not in ("seed", "history", "epochs")
    }
    for metric in METRICS:
        setting[metric], setting[f"{metric}_std"] = _mean_std(
            [r.get(metric) for r in trained]  # older runs lack newer metrics
        )
    setting.update(
        # Over the seeds, when every one of them got there (else NaN).
        **{
            key: float(np.mean([r.get(key, math.nan) for r in group]))
            for key in ("epochs_to_target", "seconds_to_target")
        },
        epochs_run=_whole(np.mean([r["epochs_run"] for r in group])),
        diverged=len(trained) < len(group),
        diverged_seeds=len(group) - len(trained),
        n_seeds=len(group),
        seeds=" ".join(str(r["seed"]) for r in group),
        seconds=float(np.mean([r.get("seconds", math.nan) for r in group])),
    )
    setting["history"], setting["history_std"] = _history(trained or group)
    setting["first_batch_losses"] = _mean_curve(
        [r.get("first_batch_losses", []) for r in trained or group]
    )
    return setting


def _history(runs):
    length = min(len(r["history"]["loss"]) for r in runs)
    mean, std = {}, {}
    for key in runs[0]["history"]:
        values = np.array([r["history"][key][:length] for r in runs], dtype=float)
        mean[key] = values.mean(axis=0).tolist()
        std[key] = (
            values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(length)
        ).tolist()
    return mean, std


def _mean_curve(curves):
    """The mean of equal-length prefixes of `curves`."""
    length = min(len(c) for c in curves)
    return np.mean([c[:length] for c in curves], axis=0).tolist() if length else []


def best_settings(settings):
    """{(problem, entry): (best setting, forgiving learning rates)} by mean validation accuracy.

    A setting where any seed diverged is not eligible. Only the settings with
    the most seeds compete: after --rerun-best, a rerun setting's mean is not
    beaten by another learning rate's single lucky seed.
    """
    groups = {}
    for setting in settings:
        groups.setdefault((setting["problem"], setting["optimizer"]), []).append(
            setting
        )
    best = {}
    for key, group in groups.items():
        trained = [s for s in group if not s["diverged"] and usable(s[SELECTED_BY])]
        if not trained:
            best[key] = (None, [])
            continue
        most = max(s["n_seeds"] for s in trained)
        top = max(
            (s for s in trained if s["n_seeds"] == most),
            key=lambda s: s[SELECTED_BY],
        )
        near = {
            s["learning_rate"]
            for s in trained
            if s[SELECTED_BY] >= top[SELECTED_BY] - FORGIVING_MARGIN
        }
        best[key] = (top, sorted(near))
    return best


def overlap(a, b):
    """Whether two settings' mean ± one standard deviation intervals overlap (needs ≥ 2 seeds each)."""
    if a["n_seeds"] < 2 or b["n_seeds"] < 2:
        return False
    low_a, high_a = (
        a[SELECTED_BY] - a["val_accuracy_std"],
        a[SELECTED_BY] + a["val_accuracy_std"],
    )
    low_b, high_b = (
        b[SELECTED_BY] - b["val_accuracy_std"],
        b[SELECTED_BY] + b["val_accuracy_std"],
    )
    return low_a <= high_b and low_b <= high_a
