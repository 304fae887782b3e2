"""The report's tables: summary.csv and runs.csv, and summary.md, which ranks
each problem's entries at their best setting."""

import csv
import math
from pathlib import Path

import numpy as np

from experiments.cli import writing
from experiments.report import baselines
from experiments.report.statistics import (
    FORGIVING_MARGIN,
    PROFILE_TAUS,
    TARGET_SHARE,
    TUNING_DRAWS,
    best_settings,
    error_scores,
    performance_profile,
    t_interval,
    tuning_curves,
    usable,
    verdict,
)
from experiments.sweep.run_files import SELECTED_BY


def write_csv(rows, columns, path):
    with writing(path), open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})


def _percent(value, spread=math.nan, n=None):
    """A percentage, ± `spread` where there is one, with its seeds where more than one."""
    if not usable(value):
        return "n/a"
    if usable(spread):
        seeds = f" ({n} seeds)" if n else ""
        return f"{100 * value:.2f}% ± {100 * spread:.2f}{seeds}"
    return f"{100 * value:.2f}%"


def write_markdown(settings, path, sweep_name, failed=None, notes=()):
    """summary.md: per problem, each entry's best setting, ranked; then the
    runs that failed (`failed`: {run folder: its error's first line}).
    `notes`: lines said under the header."""
    best = best_settings(settings)
    curves = tuning_curves(settings)
    lines = _header(settings, sweep_name)
    lines += [line for note in notes for line in ("", note)]
    for problem in sorted({s["problem"] for s in settings}):
        ranked = sorted(
            ((opt, *best[(p, opt)]) for p, opt in best if p == problem),
            key=lambda row: -(row[1][SELECTED_BY] if row[1] else -1),
        )
        lines += _ranking(problem, ranked, settings, curves)
        lines += _time_to_target_table(ranked)
    lines += _profile_table(settings)
    lines += _stored_sections(settings, best)
    if failed:
        lines += ["", "## Failed runs", "",
                  f"{len(failed)} runs raised an error and have no result; "
                  "running the sweep's command again retries them.", ""]  # fmt: skip
        lines += [f"- `{folder}`: {message}" for folder, message in failed.items()]
    with writing(path):
        Path(path).write_text("\n".join(lines) + "\n")


def _header(settings, sweep_name):
    first = settings[0]
    runs = sum(s["n_seeds"] for s in settings)
    return [
        f"# Sweep `{sweep_name}`",
        "",
        f"{first['dataset']} from {first['data_source']}, {first['train_samples']} "
        f"training samples; {runs} runs of {len(settings)} settings, "
        f"{sum(s['diverged_seeds'] for s in settings)} diverged; "
        f"{sum(s['seconds'] * s['n_seeds'] for s in settings) / 60:.1f} minutes of training.",
        "",
        "Each optimizer's best setting by validation accuracy (the test set is "
        "only reported). "
        + VERDICT_NOTE
        + "*Forgiving range*: the learning rates whose accuracy is "
        f"within {100 * FORGIVING_MARGIN:g} point of that optimizer's best. "
        f"*Expected best of {TUNING_DRAWS}*: the mean best validation accuracy "
        f"of {TUNING_DRAWS} of its grid's settings drawn at random, ± its "
        "standard deviation (Dodge et al. 2019; a diverged setting counts as 0): "
        "what an optimizer gives without a full search.",
    ]


def _ranking(problem, ranked, settings, curves):
    """One problem's ranking table: each entry at its best setting, with its
    verdict against the best entry's seeds."""
    has_grid = any(s["in_decay_grid"] for s in settings)
    lines = [
        "",
        f"## {problem}",
        "",
        "| rank | optimizer | best lr | "
        + ("weight decay | " if has_grid else "")
        + "val accuracy | test accuracy | against the best "
        + f"| expected best of {TUNING_DRAWS} | forgiving range (lrs) | diverged at lr |",
        "|---:|---|---:|"
        + ("---:|" if has_grid else "")
        + "---:|---:|---|---:|---|---|",
    ]
    leader = ranked[0][1] if ranked else None
    for rank, (optimizer, top, near) in enumerate(ranked, 1):
        means, spreads = curves[(problem, optimizer)]
        k = min(TUNING_DRAWS, len(means)) - 1
        drawn = _percent(means[k], spreads[k])
        diverged = ", ".join(_diverged_rates(settings, problem, optimizer))
        if top is None:  # every setting diverged: not ranked
            cells = (
                ["–"] * (2 if has_grid else 1) + ["diverged"] * 2 + ["–", drawn, "–"]
            )
            lines.append(f"| – | {optimizer} | {' | '.join(cells)} | {diverged} |")
            continue
        against = "best" if top is leader else verdict(
            top[f"{SELECTED_BY}_by_seed"], leader[f"{SELECTED_BY}_by_seed"]
        )  # fmt: skip
        decay = f"{top.get('weight_decay') or 0:g} | " if has_grid else ""
        lines.append(
            f"| {rank} | {optimizer} | {top['learning_rate']:g} | {decay}"
            f"{_interval(top, SELECTED_BY)} | {_interval(top, 'test_accuracy')} "
            f"| {against} | {drawn} | {near[0]:g} – {near[-1]:g} ({len(near)}) "
            f"| {diverged or '–'} |"
        )
    return lines


VERDICT_NOTE = (
    "*Against the best*: Welch's 95% interval for the difference between an "
    "entry's mean validation accuracy over its seeds and the best entry's: "
    "*worse* (or *better*) when it excludes 0, else *cannot tell apart with "
    "these seeds*; one seed on either side gives no verdict. Accuracies are "
    "the mean ± the half-width of its 95% t-interval over the seeds (a "
    "t-interval, not a bootstrap: three seeds give a bootstrap ten resamples). "
)


def _interval(setting, metric):
    """ "93.25% ± 1.20 (3 seeds)": the mean and its 95% t-interval's half-width."""
    return _percent(setting[metric], setting[f"{metric}_ci95"], setting["n_seeds"])


def _diverged_rates(settings, problem, optimizer):
    return sorted(
        {
            f"{s['learning_rate']:g}"
            for s in settings
            if s["problem"] == problem and s["optimizer"] == optimizer and s["diverged"]
        },
        key=float,
    )


def _time_to_target_table(ranked):
    """summary.md's time-to-result table: each entry at its best setting, fastest first."""
    timed = sorted(
        ((optimizer, top) for optimizer, top, _ in ranked if top is not None),
        key=lambda row: (
            not usable(row[1]["epochs_to_target"]),
            row[1]["epochs_to_target"],
            row[1]["seconds_to_target"],
        ),
    )
    if not timed:
        return []
    lines = [
        "",
        f"Time to result: the first epoch at which validation accuracy reached "
        f"{100 * TARGET_SHARE:g}% of the best final one on this problem, and the "
        "training time to the end of it; each entry at its best setting "
        "(the mean over its seeds; – where a seed never got there).",
        "",
        "| rank | optimizer | best lr | epochs | training time |",
        "|---:|---|---:|---:|---:|",
    ]
    for rank, (optimizer, top) in enumerate(timed, 1):
        epochs, seconds = top["epochs_to_target"], top["seconds_to_target"]
        cells = [f"{epochs:.3g}", f"{seconds:.0f} s"] if usable(epochs) else ["–", "–"]
        lines.append(
            f"| {rank if usable(epochs) else '–'} | {optimizer} "
            f"| {top['learning_rate']:g} | {' | '.join(cells)} |"
        )
    return lines


def _profile_table(settings):
    """Across problems: the performance profile at a few factors τ."""
    scores = error_scores(settings)
    if len(scores) < 2:
        return []
    profile = performance_profile(scores, PROFILE_TAUS)
    lines = [
        "",
        "## Across problems",
        "",
        f"Performance profile (Dolan & Moré 2002, as AlgoPerf scores submissions): "
        f"the share of the {len(scores)} problems on which each entry's validation "
        "error at its best setting is within τ times the best entry's there "
        "(performance_profile.png draws it for every τ).",
        "",
        "| optimizer | " + " | ".join(f"τ = {tau:g}" for tau in PROFILE_TAUS) + " |",
        "|---|" + "---:|" * len(PROFILE_TAUS),
    ]
    for entry, shares in sorted(
        profile.items(), key=lambda item: [-v for v in item[1]]
    ):
        lines.append(f"| {entry} | " + " | ".join(f"{v:.0%}" for v in shares) + " |")
    return lines


# The epochs a per-epoch comparison (DeepOBS's) sets side by side, and the last.
COMPARED_EPOCHS = (10, 20)


def _stored_sections(settings, best):
    """summary.md's comparisons with the stored baselines of the sweep's
    problems: one line where the protocols differ, else a table."""
    lines = []
    for problem, baseline, differ in baselines.comparisons(settings):
        name = f"{baseline['source']} ({baseline['file']})"
        if differ:
            lines += ["", f"Stored baselines of {problem} from {name} not compared: "
                      f"another protocol ({'; '.join(differ)})."]  # fmt: skip
        elif baseline["protocol"].get("per_epoch"):
            lines += _per_epoch_table(settings, problem, baseline, name)
        else:
            lines += _stored_ranking(settings, best, problem, baseline, name)
    return lines


def _stored_ranking(settings, best, problem, baseline, name):
    """The sweep's entries ranked together with the stored ones, under one protocol."""
    ours = [top for (p, _), (top, _) in best.items() if p == problem and top]
    ranked = sorted(
        [*ours, *baselines.entries(baseline)], key=lambda s: -s[SELECTED_BY]
    )
    lines = [
        "",
        f"## {problem} beside its stored baselines",
        "",
        f"This sweep's entries at their best setting and the stored ones from {name}, "
        f"made by `{baseline['command']}`, under the same protocol. {VERDICT_NOTE}",
        "",
        "| rank | optimizer | best lr | val accuracy | test accuracy | against the best |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for rank, s in enumerate(ranked, 1):
        against = "best" if s is ranked[0] else verdict(
            s[f"{SELECTED_BY}_by_seed"], ranked[0][f"{SELECTED_BY}_by_seed"]
        )  # fmt: skip
        lines.append(
            f"| {rank} | {s['optimizer']} | {s['learning_rate']:g} "
            f"| {_interval(s, SELECTED_BY)} | {_interval(s, 'test_accuracy')} | {against} |"
        )
    return lines


def _per_epoch_table(settings, problem, baseline, name):
    """Ours and the stored curves after epochs 10, 20 and the last, where they meet."""
    pairs = baselines.per_epoch_pairs(settings, problem, baseline)
    if not pairs:
        return []
    lines = [
        "",
        f"## {problem} against {baseline['source']}'s published runs",
        "",
        "Accuracy after the epoch, the mean ± the half-width of its 95% "
        "t-interval over the seeds, each side on the images counted "
        f"({name}: the same optimizer and η; {baseline['citation'].split(';')[0]}).",
        "",
        f"| optimizer | η | curve | epoch | ours | {baseline['source']} | difference |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for setting, curves in pairs:
        for curve_name, (ours, theirs) in curves.items():
            counts = baselines.images(setting, curve_name, baseline)
            label = f"{curve_name.removesuffix('_accuracy')} ({counts[0]} / {counts[1]} images)"
            last = min(len(ours), theirs.shape[1])
            for epoch in sorted({e for e in COMPARED_EPOCHS if e <= last} | {last}):
                published = theirs[:, epoch - 1]
                mine = [r[epoch - 1] for r in setting["history_by_seed"][
                    baselines.SAME_CURVE.get(curve_name, curve_name)]]  # fmt: skip
                lines.append(
                    f"| {setting['optimizer']} | {setting['learning_rate']:.3g} | {label} "
                    f"| {epoch} | {_percent(*t_interval(mine), len(mine))} "
                    f"| {_percent(*t_interval(published), len(published))} "
                    f"| {100 * (np.mean(mine) - published.mean()):+.2f} |"
                )
    return lines
