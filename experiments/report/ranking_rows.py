"""The cells and lines of summary.md's ranking tables: an entry's row (its
interval, verdict, difference, tuning budget), the table's head, and the
notes under it. Pure functions of the report's settings."""

import math

from experiments.report.intervals import detectable_difference
from experiments.report.statistics import TUNING_DRAWS, usable
from experiments.sweep.run_files import SELECTED_BY


def percent(value, spread=math.nan, n=None):
    """A percentage, ± `spread` where there is one, with its seeds where more than one."""
    if not usable(value):
        return "n/a"
    if usable(spread):
        seeds = f" ({n} seeds)" if n else ""
        return f"{100 * value:.2f}% ± {100 * spread:.2f}{seeds}"
    return f"{100 * value:.2f}%"


def table_head(extra):
    names = ["rank", "optimizer", "best lr", *extra, "val accuracy", "test accuracy",
             "against the best", "difference (points, 95%)", "tuned over",
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
        cells = [f"{top['learning_rate']:g}", *extra, interval(top, SELECTED_BY),
                 interval(top, "test_accuracy"), against,
                 difference_cell(bounds) if against != "best" else "–"]  # fmt: skip
    forgiving = f"{near[0]:g} – {near[-1]:g} ({len(near)})" if near else "–"
    rank_cell = "–" if top is None or standing[0] is None else str(standing[0])
    cells = [rank_cell, optimizer, *cells, tuned_over, expected, forgiving,
             ", ".join(diverged) or "–"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def difference_cell(bounds):
    """ "-0.42 (-1.10 to +0.26)": the difference from the best in points, and
    Welch's 95% interval of it."""
    if bounds is None or not usable(bounds[1]):
        return "–"
    difference, low, high = (100 * v for v in bounds)
    return f"{difference:+.2f} ({low:+.2f} to {high:+.2f})"


def budget(settings, tuning_seeds):
    """ "9 settings × 1 seed": how much search chose an entry's best."""
    if settings == 1:
        return "1 setting (nothing chosen)"
    seeds = len(tuning_seeds.split()) or 1
    return f"{settings} setting{'s' * (settings != 1)} × {seeds} seed{'s' * (seeds != 1)}"


def drawn(means, spreads):
    k = min(TUNING_DRAWS, len(means)) - 1
    return percent(means[k], spreads[k]) if means else "–"


def notes(tops, budgets):
    """The lines under a ranking: what its seeds can detect, one seed, or
    unequal tuning budgets."""
    notes = []
    smallest, n = detectable_difference(tops)
    if usable(smallest):
        ours = next((t["protocol"]["data"] for t in tops if "protocol" in t), {})
        images = ours.get("validation")
        per_image = f"; one of its {images} validation images is {100 / images:.2g} points" if images else ""
        notes.append(
            f"Differences under {100 * smallest:.2f} points are invisible here: with "
            f"{n} seeds an entry and the median spread of these entries' seeds, "
            f"Welch's 95% interval of a difference is about that wide either side{per_image}."
        )
    if tops and all(len(t[f"{SELECTED_BY}_by_seed"]) < 2 for t in tops):
        notes.append(
            "One seed per entry: the order is of single runs and ranks nothing; "
            "`--rerun-best N` measures each best setting on N more seeds."
        )
    elif any(len(t[f"{SELECTED_BY}_by_seed"]) < 2 for t in tops):
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
    "entry's mean validation accuracy over its seeds and the best entry's "
    "(the best mean of two or more seeds), given in points beside it: "
    "*worse* (or *better*) when it excludes 0, else *cannot tell apart with "
    "these seeds*; one seed on either side gives no verdict. *Rank*: 1 + the "
    "entries shown better, so entries that cannot be told apart share one. "
    "Accuracies are the mean ± the half-width of its 95% t-interval over the "
    "seeds (a t-interval, not a bootstrap: three seeds give a bootstrap ten "
    "resamples). "
)


def interval(setting, metric):
    """ "93.25% ± 1.20 (3 seeds)": the mean and its 95% t-interval's half-width."""
    return percent(setting[metric], setting[f"{metric}_ci95"], setting["n_seeds"])
