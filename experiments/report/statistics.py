"""The report's statistics: settings over seeds, each entry's best, how much
tuning it needs. Pure functions of the loaded runs; no files, no plots.

A *setting* is a problem, an optimizer and the values of every axis but
the seed (`axes.AXES`); its runs over several seeds are aggregated as mean
and sample standard deviation.

Tuning apart from evaluation: an entry's *tuning seeds* are its grid's
(`tuning_seeds`); a setting's other seeds are *evaluation seeds*
(--rerun-best's). A setting with evaluation seeds is measured on them
alone, so the seed that chose it never enters its mean or interval.
"""

import math
from math import comb

import numpy as np

from experiments.report import judging
from experiments.report.columns import METRICS, REPEAT_AXIS, STEP_AXIS
from experiments.report.intervals import t_interval
from experiments.report.judging import usable
from experiments.sweep import axes

TUNING_DRAWS = 3  # summary.md: the expected best after this many settings


def epochs_to(row, curve, target):
    """The first epoch (from 1) at which `curve`, of the row's judged metric,
    reached `target`, or None."""
    return next(
        (i for i, v in enumerate(curve, 1) if judging.reached(row, v, target)), None
    )


def expected_best(values, k):
    """The expected best of `k` of `values` drawn without replacement (Dodge
    et al. 2019, "Show Your Work"): with v(1) ≤ … ≤ v(N) sorted,
    Σᵢ v(i)·(C(i, k) − C(i−1, k)) / C(N, k), since v(i) is the best of a draw
    exactly when it is drawn with k − 1 of the i − 1 below it."""
    ordered = sorted(values)
    return sum(
        v * (comb(i, k) - comb(i - 1, k)) for i, v in enumerate(ordered, 1)
    ) / comb(len(ordered), k)


def expected_best_spread(values, k):
    """The standard deviation of the best of `k` drawn without replacement
    (Dodge et al. 2019): √(Σᵢ v(i)²·P(max = v(i)) − E[max]²), with
    P(max = v(i)) = (C(i, k) − C(i−1, k)) / C(N, k) as in `expected_best`."""
    ordered = sorted(values)
    total = comb(len(ordered), k)
    chances = [
        (comb(i, k) - comb(i - 1, k)) / total for i in range(1, len(ordered) + 1)
    ]
    mean = sum(v * p for v, p in zip(ordered, chances, strict=True))
    square = sum(v * v * p for v, p in zip(ordered, chances, strict=True))
    return math.sqrt(max(0.0, square - mean * mean))


def performance_profile(scores, taus):
    """Dolan & Moré (2002), as AlgoPerf scores submissions: {entry: [the share of
    problems on which its error is within τ times the best entry's, for each τ]}.
    `scores` maps problem → {entry: error (lower is better)}; an
    entry missing on a problem, or diverged there (NaN), never gets within τ."""
    problems = list(scores)
    entries = list(dict.fromkeys(e for p in problems for e in scores[p]))
    ratios = {entry: [] for entry in entries}
    for problem in problems:
        finite = [v for v in scores[problem].values() if math.isfinite(v)]
        best = min(finite) if finite else math.nan
        for entry in entries:
            error = scores[problem].get(entry, math.nan)
            ratio = error / best if best > 0 else (1.0 if error == best else math.inf)
            ratios[entry].append(ratio if math.isfinite(error) else math.inf)
    return {
        entry: [sum(r <= tau for r in ratios[entry]) / len(problems) for tau in taus]
        for entry in entries
    }


# The factors τ summary.md gives the performance profile at.
PROFILE_TAUS = (1.05, 1.25, 1.5, 2.0, 4.0)


def error_scores(settings):
    """{problem: {entry: its validation error (1 − accuracy, or the loss of a
    problem judged by loss) at its best setting, NaN where every setting
    diverged}}: what the profile ranks by."""
    scores = {}
    for (problem, entry), (top, _) in best_settings(settings).items():
        scores.setdefault(problem, {})[entry] = (
            judging.error(top, judging.value(top)) if top else math.nan
        )
    return scores


def grid_score(row, value, diverged):
    """A grid setting's judged value as the tuning statistics count it: one
    that diverged, or has none, gave no usable model (judging.failed_value)."""
    return value if not diverged and usable(value) else judging.failed_value(row)


def forgiving(row, rates_and_values, best):
    """The learning rates whose judged value is within the margin of `best`."""
    return sorted(
        {rate for rate, value in rates_and_values
         if judging.within_margin(row, value, best)}
    )  # fmt: skip


def grid_values(settings):
    """{(problem, entry): the judged value of each setting of its grid on the
    tuning seeds, as `grid_score` counts it}."""
    values = {}
    for s in settings:
        value = grid_score(s, judging.value(s, "tuning_"), s["diverged"])
        values.setdefault((s["problem"], s["optimizer"]), []).append(value)
    return values


def tuning_curves(settings):
    """{(problem, entry): ([expected best judged value of k settings drawn
    from the entry's grid, for k = 1 … its size], [its standard deviation,
    for each k])}."""
    firsts = {(s["problem"], s["optimizer"]): s for s in settings}
    return {
        key: tuning_curve(firsts[key], grid)
        for key, grid in grid_values(settings).items()
    }


def tuning_curve(row, grid):
    """(expected best, its spread) of k settings of `grid`, values of the
    row's judged metric, for k = 1 … its size: the best is the lowest loss."""
    scores = [judging.score(row, v) for v in grid]
    ks = range(1, len(grid) + 1)
    return (
        [judging.score(row, expected_best(scores, k)) for k in ks],
        [expected_best_spread(scores, k) for k in ks],
    )


def setting_key(row):
    """A run's setting: the values of every axis but the seed, on its problem and entry."""
    return (
        row["problem"],
        row["optimizer"],
        *(row.get(a.name) for a in axes.of(row.get("argument_axes", ()))
          if a.role != "repeat"),
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
    """One dict per setting: metric means and standard deviations over its
    seeds, its evaluation seeds where it has any (`evaluated`).

    Means use the seeds that did not diverge; `diverged` is true when any
    seed diverged, and `history` holds per-epoch means (`history_std` the
    deviations, `history_by_seed` each seed's curve) over the seeds that ran
    every epoch. `tuning_<metric>` is the setting's judged value on the
    tuning seeds, the one the grid was searched by.
    """
    groups = {}
    for run in runs:
        groups.setdefault(setting_key(run), []).append(run)
    tuning = tuning_seeds(groups.values())
    return [
        _setting(group, tuning[group[0]["problem"], group[0]["optimizer"]])
        for group in groups.values()
    ]


def tuning_seeds(groups):
    """{(problem, entry): its tuning seeds}, none for an entry of one setting,
    where nothing was chosen. A run read from a sweep folder says whether
    its seed is one its grid ran on (`tuning_seed`, from sweep.json); else
    they are the seeds most of the entry's settings ran on (more than half:
    the grid's, though a run failed)."""
    seeds, flagged = {}, {}
    for group in groups:
        key = group[0]["problem"], group[0]["optimizer"]
        seeds.setdefault(key, []).append({r[REPEAT_AXIS] for r in group})
        flagged.setdefault(key, set()).update(
            r[REPEAT_AXIS] for r in group if r.get("tuning_seed")
        )
    found = {}
    for key, sets in seeds.items():
        if len(sets) == 1:
            found[key] = set()
        elif flagged[key]:
            found[key] = flagged[key]
        else:
            found[key] = {
                seed for seed in set().union(*sets)
                if 2 * sum(seed in ran for ran in sets) > len(sets)
            }  # fmt: skip
    return found


def _setting(group, tuning):
    evaluation = [r for r in group if r[REPEAT_AXIS] not in tuning]
    tuned = [r for r in group if r[REPEAT_AXIS] in tuning]
    measured = evaluation if evaluation and tuned else group
    setting = _measured(measured)
    setting.update(
        evaluated=bool(evaluation and tuned),
        n_runs=len(group),
        runs_seconds=float(sum(r.get("seconds", math.nan) for r in group)),
        tuning_seeds=" ".join(str(seed) for seed in sorted(tuning)),
    )
    metric = judging.metric(setting)
    setting[f"tuning_{metric}"] = (
        _mean_std([r.get(metric) for r in tuned if not r["diverged"]])[0]
        if setting["evaluated"]
        else setting[metric]
    )
    return setting


def _measured(group):
    trained = [r for r in group if not r["diverged"]]
    setting = {
        k: v
        for k, v in group[0].items()
        if k not in (REPEAT_AXIS, "history", "epochs", "folder")
    }
    for metric in METRICS:
        values = [r.get(metric) for r in trained]  # older runs lack newer metrics
        setting[metric], setting[f"{metric}_std"] = _mean_std(values)
        setting[f"{metric}_ci95"] = t_interval(values)[1]
        setting[f"{metric}_by_seed"] = [v for v in values if usable(v)]
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
        seeds=" ".join(str(r[REPEAT_AXIS]) for r in group),
        # Of the runs it measures, those that did not diverge (samples.py).
        folders=[r.get("folder") for r in trained],
        seconds=float(np.mean([r.get("seconds", math.nan) for r in group])),
    )
    history = _history(trained or group)
    setting["history"], setting["history_std"], setting["history_by_seed"] = history
    setting["first_batch_losses"] = _mean_curve(
        [r.get("first_batch_losses", []) for r in trained or group]
    )
    return setting


def _history(runs):
    """(Per-epoch means, standard deviations, each seed's curve) over `runs`,
    cut to the epochs every one of them ran."""
    length = min(len(r["history"]["loss"]) for r in runs)
    mean, std, by_seed = {}, {}, {}
    for key in runs[0]["history"]:
        values = np.array([r["history"][key][:length] for r in runs], dtype=float)
        mean[key] = values.mean(axis=0).tolist()
        std[key] = (
            values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(length)
        ).tolist()
        by_seed[key] = values.tolist()
    return mean, std, by_seed


def _mean_curve(curves):
    """The mean of equal-length prefixes of `curves`."""
    length = min(len(c) for c in curves)
    return np.mean([c[:length] for c in curves], axis=0).tolist() if length else []


def best_settings(settings):
    """{(problem, entry): (best setting, forgiving learning rates)} by the
    mean of the problem's judged metric.

    After --rerun-best the evaluated setting is the best, chosen by its
    value on the tuning seeds (of several, the highest there), and measured
    on its evaluation seeds, even where one of those diverged: falling back
    to another setting would hide it. Otherwise a setting where any seed
    diverged is not eligible, and the settings with the most seeds compete,
    so a mean is not beaten by a single lucky seed. The forgiving range
    reads every setting on the tuning seeds.
    """
    groups = {}
    for setting in settings:
        groups.setdefault((setting["problem"], setting["optimizer"]), []).append(
            setting
        )
    best = {}
    for key, group in groups.items():
        trained = [
            s for s in group if not s["diverged"] and usable(judging.value(s))
        ]
        if not trained:
            best[key] = (None, [])
            continue
        first = group[0]
        tuned = f"tuning_{judging.metric(first)}"
        # Chosen on the tuning seeds, though an evaluation seed diverged.
        evaluated = [s for s in group if s["evaluated"] and usable(s[tuned])]
        most = max(s["n_seeds"] for s in trained)
        top = (
            max(evaluated, key=lambda s: judging.score(s, s[tuned]))
            if evaluated
            else max(
                (s for s in trained if s["n_seeds"] == most),
                key=lambda s: judging.score(s, judging.value(s)),
            )
        )
        near = forgiving(
            first, ((s[STEP_AXIS], s[tuned]) for s in trained), top[tuned]
        )
        best[key] = (top, near)
    return best
