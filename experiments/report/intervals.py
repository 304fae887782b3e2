"""How sure the report is: 95% intervals of a mean and of a difference,
the verdict against the best entry, shared ranks, and the smallest
difference a problem's seeds can show. Pure functions of seeds' values.
"""

import math

import numpy as np

from experiments.report import judging

CONFIDENCE = 0.95  # of every interval the report gives


def t_interval(values):
    """(mean, half-width) of the 95% t-interval of the mean of `values`
    (scipy's one-sample t-test); half-width NaN for fewer than two. A
    t-interval, not a bootstrap: with three seeds a bootstrap draws from 10
    distinct resamples and comes out too narrow, where t(0.975, 2) = 4.30
    widens the interval honestly."""
    from scipy import stats

    values = np.asarray([v for v in values if v is not None and math.isfinite(v)])
    mean = float(values.mean()) if len(values) else math.nan
    if len(values) < 2 or not np.ptp(values):  # scipy warns on equal values
        return mean, math.nan if len(values) < 2 else 0.0
    low, high = stats.ttest_1samp(values, mean).confidence_interval(CONFIDENCE)
    return mean, float(high - low) / 2


def welch_interval(a, b):
    """(difference of means a − b, low, high): Welch's 95% interval (scipy's
    t-test with unequal variances, the Welch–Satterthwaite degrees of
    freedom); NaN bounds below two values each."""
    from scipy import stats

    a, b = (np.asarray([v for v in x if math.isfinite(v)], float) for x in (a, b))
    difference = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return difference, math.nan, math.nan
    if not (np.ptp(a) or np.ptp(b)):  # no spread; scipy warns on equal values
        return difference, difference, difference
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(CONFIDENCE)
    return difference, float(interval.low), float(interval.high)


VERDICTS = (
    "better",
    "worse",
    "cannot tell apart with these seeds",
    "one seed: no verdict",
)


def verdict(values, best):
    """How an entry's seeds compare with the best entry's, by Welch's interval
    of the difference: "better" or "worse" when it excludes 0, else "cannot
    tell apart with these seeds"; "one seed: no verdict" below two each."""
    _, low, high = welch_interval(values, best)
    if math.isnan(low):
        return VERDICTS[3]
    if low > 0:
        return VERDICTS[0]
    if high < 0:
        return VERDICTS[1]
    return VERDICTS[2]


def standings(entries):
    """[(rank, against the best, (difference, low, high) or None)] for
    `entries` (settings, best mean first), by Welch's interval of the
    difference of their seeds' judged values (the difference in the metric's
    units; "better" is a lower loss where loss judges).

    The best is the first entry with at least two seeds. An entry's rank is
    1 + the number of entries its interval shows better than it, so entries
    that cannot be told apart share a rank; a one-seed entry shows nothing
    and gets no rank (None).
    """
    seeds = [judging.by_seed(e) for e in entries]
    scores = [[judging.score(e, v) for v in judging.by_seed(e)] for e in entries]
    best = next((i for i, values in enumerate(seeds) if len(values) > 1), None)
    found = []
    for values, scored, entry in zip(seeds, scores, entries, strict=True):
        if len(values) < 2:
            found.append((None, VERDICTS[3], None))
            continue
        better = sum(
            len(other) > 1 and welch_interval(other, scored)[1] > 0 for other in scores
        )
        difference = welch_interval(values, seeds[best])
        said = "best" if entry is entries[best] else verdict(scored, scores[best])
        found.append((1 + better, said, difference))
    return found


def detectable_difference(entries):
    """(The smallest difference of means, in the metric's units, that Welch's
    95% interval can tell from 0 between two typical entries of these, the
    seeds per entry): t(0.975, 2(n − 1))·s·√(2/n), with s the median of the
    entries' standard deviations over their seeds (one erratic entry does
    not set it) and n their median count of seeds. NaN below two entries of
    two or more seeds."""
    from scipy import stats

    seeds = [judging.by_seed(e) for e in entries]
    seeds = [v for v in seeds if len(v) > 1]
    if len(seeds) < 2:
        return math.nan, 0
    spread = float(np.median([np.std(v, ddof=1) for v in seeds]))
    n = int(np.median([len(v) for v in seeds]))
    return float(stats.t.ppf(0.975, 2 * (n - 1)) * spread * math.sqrt(2 / n)), n
