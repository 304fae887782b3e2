"""The cells and lines of summary.md's ranking tables: an entry's row (its
interval, verdict, difference, tuning budget), the table's head, and the
notes under it. Pure functions of the report's settings."""

import math

from experiments.report import judging
from experiments.report.columns import STEP_AXIS
from experiments.report.intervals import detectable_difference
from experiments.report.statistics import TUNING_DRAWS, usable


def percent(value, spread=math.nan, n=None):
    """A percentage, ± `spread` where there is one, with its seeds where more than one."""
    return judging.formatted("accuracy", value, spread, n)


def shown(row):
    """The two metrics a ranking shows: the judged one, then test accuracy
    (a problem judged by loss: validation accuracy, its next-token accuracy)."""
    judged = judging.metric(row)
    return judged, "val_accuracy" if judging.lower_is_better(row) else "test_accuracy"


def table_head(extra, first):
    """The ranking's head; `first` an entry of it, which says its metric."""
    unit, _ = judging.units(first)
    names = ["rank", "optimizer", "best lr", *extra,
             *(judging.name(first, m).replace("validation", "val") for m in shown(first)),
             "against the best", f"difference ({unit}, 95%)", "tuned over",
             f"expected best of {TUNING_DRAWS}", "forgiving range (lrs)",
             "diverged at lr"]  # fmt: skip
    aligned = [":" if n not in ("optimizer", "against the best") else "" for n in names]
    return [
        "| " + " | ".join(names) + " |",
        "|" + "|".join(f"---{a}" for a in aligned) + "|",
    ]


def row(optimizer, top, standing, extra, tuned_over, expected, near, diverged):
    """One entry's row; `top` None where every setting diverged."""
    if top is None:
        cells = ["–", *extra, "diverged", "diverged", "–", "–"]
    else:
        _, against, bounds = standing
        cells = [f"{top[STEP_AXIS]:g}", *extra,
                 *(interval(top, metric) for metric in shown(top)), against,
                 difference_cell(top, bounds) if against != "best" else "–"]  # fmt: skip
    forgiving = f"{near[0]:g} – {near[-1]:g} ({len(near)})" if near else "–"
    rank_cell = "–" if top is None or standing[0] is None else str(standing[0])
    cells = [rank_cell, optimizer, *cells, tuned_over, expected, forgiving,
             ", ".join(diverged) or "–"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def difference_cell(row, bounds):
    """ "-0.42 (-1.10 to +0.26)": the difference from the best in the metric's
    units (points of accuracy, nats of loss), and Welch's 95% interval of it."""
    if bounds is None or not usable(bounds[1]):
        return "–"
    _, scale = judging.units(row)
    digits = 2 if scale == 100 else 4
    difference, low, high = (scale * v for v in bounds)
    return f"{difference:+.{digits}f} ({low:+.{digits}f} to {high:+.{digits}f})"


def budget(settings, tuning_seeds):
    """ "9 settings × 1 seed": how much search chose an entry's best."""
    if settings == 1:
        return "1 setting (nothing chosen)"
    seeds = len(tuning_seeds.split()) or 1
    return f"{settings} setting{'s' * (settings != 1)} × {seeds} seed{'s' * (seeds != 1)}"


def drawn(row, means, spreads):
    """The expected best of TUNING_DRAWS settings, as the row's metric shows it."""
    k = min(TUNING_DRAWS, len(means)) - 1
    return judging.formatted(judging.metric(row), means[k], spreads[k]) if means else "–"


def notes(tops, budgets):
    """The lines under a ranking: what its seeds can detect, one seed, or
    unequal tuning budgets."""
    notes = []
    smallest, n = detectable_difference(tops)
    if usable(smallest):
        ours = next((t["protocol"]["data"] for t in tops if "protocol" in t), {})
        images = ours.get("validation")
        unit, scale = judging.units(tops[0])
        per_image = (
            f"; one of its {images} validation images is {100 / images:.2g} points"
            if images and unit == "points"
            else ""
        )
        shown_smallest = f"{scale * smallest:.{2 if unit == 'points' else 4}f}"
        notes.append(
            f"Differences under {shown_smallest} {unit} are invisible here: with "
            f"{n} seeds an entry and the median spread of these entries' seeds, "
            f"Welch's 95% interval of a difference is about that wide either side{per_image}."
        )
    if tops and all(len(judging.by_seed(t)) < 2 for t in tops):
        notes.append(
            "One seed per entry: the order is of single runs and ranks nothing; "
            "`--rerun-best N` measures each best setting on N more seeds."
        )
    elif any(len(judging.by_seed(t)) < 2 for t in tops):
        notes.append(
            "An entry of one seed has no rank: it cannot be told apart from the best."
        )
    if len(set(budgets)) > 1:
        notes.append(
            "The entries were tuned over unequal budgets (*tuned over*): a larger "
            "search finds a better best by chance alone."
        )
    return [line for note in notes for line in ("", note)]


VERDICT_NOTE = (
    "*Against the best*: Welch's 95% interval for the difference between an "
    "entry's mean judged value over its seeds (validation accuracy; a language "
    "model's validation loss, lower is better) and the best entry's (the best "
    "mean of two or more seeds), given beside it: "
    "*worse* (or *better*) when it excludes 0, else *cannot tell apart with "
    "these seeds*; one seed on either side gives no verdict. *Rank*: 1 + the "
    "entries shown better, so entries that cannot be told apart share one. "
    "Values are the mean ± the half-width of its 95% t-interval over the "
    "seeds (a t-interval, not a bootstrap: three seeds give a bootstrap ten "
    "resamples). "
)


def interval(setting, metric):
    """ "93.25% ± 1.20 (3 seeds)": the mean and its 95% t-interval's half-width."""
    return judging.formatted(
        metric, setting.get(metric), setting.get(f"{metric}_ci95"), setting["n_seeds"]
    )
