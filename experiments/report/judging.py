"""What ranks a problem's entries: its judged metric (problems.JUDGED_METRICS),
validation accuracy (higher is better) or validation loss (lower is better,
as a language model is judged). Every ranking, choice and target of the
report reads a run or setting through here, so none reads accuracy where
a problem is judged by loss.

A *score* is a value turned so that higher is better (a loss negated):
what picks and ranks. What is shown is the value itself.
"""

import math

from experiments.problems import JUDGED_METRICS, Problem

DEFAULT_METRIC = Problem.metric  # runs recorded before problems declared one
# Time to result: the first evaluation at which a run's judged value is
# within this share of its problem's best (accuracy ≥ 99% of the best,
# loss ≤ the best / 0.99).
TARGET_SHARE = 0.99
# The forgiving range: the learning rates within this much of the best, in
# the metric's units (one point of accuracy; 0.01 nats of loss).
FORGIVING_MARGIN = 0.01


def metric(row):
    """The metric that judges the row's problem: "val_accuracy" or "val_loss"."""
    return row.get("metric") or DEFAULT_METRIC


def lower_is_better(row):
    return JUDGED_METRICS[metric(row)] == "lower"


def value(row, prefix=""):
    """The row's judged value (`prefix` "tuning_": on its tuning seeds)."""
    return row[f"{prefix}{metric(row)}"]


def by_seed(row):
    """The judged value of each of the setting's seeds that did not diverge."""
    return row[f"{metric(row)}_by_seed"]


def score(row, number):
    """`number`, a value of the row's metric, turned so that higher is better."""
    return -number if lower_is_better(row) else number


def best_first(row):
    """A sort key that puts the best judged value first; unusable ones last."""
    number = value(row)
    return -score(row, number) if usable(number) else math.inf


def reached(row, number, target):
    return number <= target if lower_is_better(row) else number >= target


def target(row, best):
    """The time-to-result target from the problem's best judged value."""
    return best / TARGET_SHARE if lower_is_better(row) else TARGET_SHARE * best


def target_rule(row, whose):
    """How `target` was made: "99% of this sweep's best final one"."""
    if lower_is_better(row):
        return f"{whose} best final one ÷ {TARGET_SHARE:g}"
    return f"{100 * TARGET_SHARE:g}% of {whose} best final one"


def within_margin(row, number, best):
    """Whether `number` is within FORGIVING_MARGIN of `best`."""
    return score(row, number) >= score(row, best) - FORGIVING_MARGIN


def failed_value(row):
    """What a grid setting that diverged counts as in the tuning statistics:
    no usable model, so accuracy 0, or the loss at which a run is stopped."""
    if lower_is_better(row):
        return row.get("protocol", {}).get("divergence_loss", math.inf)
    return 0.0


def error(row, number):
    """The value as an error, lower is better, for performance profiles:
    1 − accuracy, or the loss itself."""
    return number if lower_is_better(row) else 1 - number


def name(row, metric_name=None):
    """ "validation accuracy", "validation loss", "test accuracy"."""
    part, _, kind = (metric_name or metric(row)).partition("_")
    return f"{'validation' if part == 'val' else part} {kind}"


def units(row):
    """(The unit a difference is given in, its scale from the metric's value)."""
    return ("nats", 1.0) if lower_is_better(row) else ("points", 100.0)


def formatted(metric_name, number, spread=math.nan, n=None):
    """ "93.25% ± 1.20 (3 seeds)" for an accuracy, "1.8712 ± 0.0150 (3 seeds)"
    for a loss; "n/a" for none."""
    if not usable(number):
        return "n/a"
    accuracy = metric_name.endswith("accuracy")
    shown = f"{100 * number:.2f}%" if accuracy else f"{number:.4f}"
    if not usable(spread):
        return shown
    seeds = f" ({n} seeds)" if n else ""
    return f"{shown} ± {100 * spread if accuracy else spread:.{2 if accuracy else 4}f}{seeds}"


def usable(number):
    """Not None and not NaN."""
    return number is not None and not (isinstance(number, float) and math.isnan(number))
