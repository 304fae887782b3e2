"""The report's tables: summary.csv and runs.csv, and summary.md, which ranks
each problem's entries at their best setting."""

import csv
import math
from pathlib import Path

from experiments.cli import writing
from experiments.report.deepobs import (
    COMPARED_EPOCHS,
    DEEPOBS_BASELINES,
    against_deepobs,
)
from experiments.report.statistics import (
    FORGIVING_MARGIN,
    TARGET_SHARE,
    TUNING_DRAWS,
    best_settings,
    overlap,
    tuning_curves,
    usable,
)
from experiments.sweep.run_files import SELECTED_BY


def write_csv(rows, columns, path):
    with writing(path), open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})


def _percent(value, std=math.nan, n=1):
    if not usable(value):
        return "n/a"
    if n > 1 and usable(std):
        return f"{100 * value:.2f}% ± {100 * std:.2f} ({n} seeds)"
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
    lines += _deepobs_table(settings)
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
        "only reported), as mean ± sample standard deviation where it ran on "
        "several seeds. *Forgiving range*: the learning rates whose accuracy is "
        f"within {100 * FORGIVING_MARGIN:g} point of that optimizer's best. "
        f"*Expected best of {TUNING_DRAWS}*: the mean best validation accuracy "
        f"of {TUNING_DRAWS} of its grid's settings drawn at random (Dodge et al. "
        "2019; a diverged setting counts as 0): what an optimizer gives "
        "without a full search.",
    ]


def _ranking(problem, ranked, settings, curves):
    """One problem's ranking table, and the ≈ notes under it."""
    has_grid = any(s["in_decay_grid"] for s in settings)
    lines = [
        "",
        f"## {problem}",
        "",
        "| rank | optimizer | best lr | "
        + ("weight decay | " if has_grid else "")
        + f"val accuracy | test accuracy | expected best of {TUNING_DRAWS} "
        "| forgiving range (lrs) | diverged at lr |",
        "|---:|---|---:|" + ("---:|" if has_grid else "") + "---:|---:|---:|---|---|",
    ]
    notes = []
    for rank, (optimizer, top, near) in enumerate(ranked, 1):
        curve = curves[(problem, optimizer)]
        drawn = _percent(curve[min(TUNING_DRAWS, len(curve)) - 1])
        diverged = ", ".join(_diverged_rates(settings, problem, optimizer))
        if top is None:  # every setting diverged: not ranked
            cells = ["–"] * (2 if has_grid else 1) + ["diverged"] * 2 + [drawn, "–"]
            lines.append(f"| – | {optimizer} | {' | '.join(cells)} | {diverged} |")
            continue
        tied = [
            o
            for o, other, _ in ranked
            if other and o != optimizer and overlap(top, other)
        ]
        if tied:
            notes.append(f"{optimizer} overlaps {', '.join(tied)}")
        decay = f"{top.get('weight_decay') or 0:g} | " if has_grid else ""
        lines.append(
            f"| {rank}{' ≈' if tied else ''} | {optimizer} | {top['learning_rate']:g} | {decay}"
            f"{_percent(top['val_accuracy'], top['val_accuracy_std'], top['n_seeds'])} "
            f"| {_percent(top['test_accuracy'], top['test_accuracy_std'], top['n_seeds'])} "
            f"| {drawn} | {near[0]:g} – {near[-1]:g} ({len(near)}) "
            f"| {diverged or '–'} |"
        )
    if notes:
        lines += [
            "",
            "≈: within one standard deviation of another optimizer's result "
            "(mean ± std intervals overlap), so these seeds do not tell them "
            "apart and the ranking between them means nothing: "
            + "; ".join(notes)
            + ".",
        ]
    return lines


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


def _deepobs_table(settings):
    """summary.md's comparison with DeepOBS's published accuracies."""
    pairs = against_deepobs(settings)
    if not pairs:
        return []
    lines = [
        "",
        "## Against DeepOBS's published baselines",
        "",
        "Accuracy after the epoch, mean ± sample standard deviation over the "
        "seeds, on the test images (ours 10,000, DeepOBS's 9,984) and, where "
        "this sweep's validation images were training images, on those "
        "(train_eval: ours 10,000, DeepOBS's 9,984) "
        f"({DEEPOBS_BASELINES.name}: its baselines/ folder, the same optimizer "
        "and η).",
        "",
        "| optimizer | η | images | epoch | ours | DeepOBS | difference |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for setting, curves in pairs:
        for curve, (key, theirs) in curves.items():
            ours = setting["history"][key]
            spread = setting["history_std"][key]
            epochs = sorted(
                {e for e in COMPARED_EPOCHS if e <= len(ours)} | {len(ours)}
            )
            for epoch in epochs:
                published = theirs[:, epoch]
                lines.append(
                    f"| {setting['optimizer']} | {setting['learning_rate']:.3g} "
                    f"| {curve.removesuffix('_accuracy')} | {epoch} "
                    f"| {_percent(ours[epoch - 1], spread[epoch - 1], setting['n_seeds'])} "
                    f"| {_percent(published.mean(), published.std(ddof=1), len(published))} "
                    f"| {100 * (ours[epoch - 1] - published.mean()):+.2f} |"
                )
    return lines
