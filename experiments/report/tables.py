"""The report's tables: summary.csv and runs.csv, and summary.md, which ranks
each problem's entries at their best setting."""

import csv
import math
from pathlib import Path

import numpy as np

from experiments.cli import writing
from experiments.report import baselines, judging
from experiments.report.columns import DECAY_AXIS, STEP_AXIS
from experiments.report.intervals import standings, t_interval
from experiments.report.ranking_rows import (
    VERDICT_NOTE,
    budget,
    drawn,
    notes,
    percent,
    row,
    table_head,
)
from experiments.report.statistics import (
    PROFILE_TAUS,
    TUNING_DRAWS,
    best_settings,
    error_scores,
    performance_profile,
    tuning_curves,
    usable,
)
from experiments.sweep.run_files import trained_on


def write_csv(rows, columns, path):
    with writing(path), open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})


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
            key=lambda row: judging.best_first(row[1]) if row[1] else math.inf,
        )
        lines += _ranking(problem, ranked, settings, curves)
        lines += _time_to_target_table(ranked, _comparable_entries(settings, problem))
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
    runs = sum(s["n_runs"] for s in settings)
    return [
        f"# Sweep `{sweep_name}`",
        "",
        f"{first['dataset']} from {first['data_source']}, {first['train_samples']} "
        f"training samples; {runs} runs of {len(settings)} settings, "
        f"{sum(s['diverged_seeds'] for s in settings)} diverged; "
        f"{sum(s['runs_seconds'] for s in settings) / 60:.1f} minutes of training.",
        "",
        "Each optimizer's best setting by its problem's judged metric: validation "
        "accuracy, or a language model's validation loss (the test set is only "
        "reported). "
        + VERDICT_NOTE
        + "*Forgiving range*: the learning rates within "
        f"{judging.FORGIVING_MARGIN:g} of that optimizer's best (one point of "
        f"accuracy, or {judging.FORGIVING_MARGIN:g} nats of loss). "
        f"*Expected best of {TUNING_DRAWS}*: the mean best value "
        f"of {TUNING_DRAWS} of its grid's settings drawn at random, ± its "
        "standard deviation (Dodge et al. 2019; a diverged setting counts as "
        "accuracy 0, or as the loss that stops a run): what an optimizer gives "
        "without a full search.",
        "",
        _seeds_note(settings),
    ]


def _seeds_note(settings):
    """Which seeds chose the best settings and which measure them."""
    evaluated = [s for s in settings if s["evaluated"]]
    chosen = {(s["problem"], s["optimizer"]) for s in settings if s["tuning_seeds"]}
    unmeasured = chosen - {(s["problem"], s["optimizer"]) for s in evaluated}
    lines = []
    if evaluated:
        tuning = sorted({s["tuning_seeds"] for s in evaluated})
        measured = sorted({s["seeds"] for s in evaluated})
        lines.append(
            f"A best setting rerun by --rerun-best was chosen on tuning seed "
            f"{', '.join(tuning)} and is measured on its evaluation seeds alone "
            f"({'; '.join(measured)}), as AlgoPerf tunes and scores on separate "
            "runs; the grid's other settings, the forgiving range and the "
            "expected best read the tuning seed."
        )
    if unmeasured:
        lines.append(
            f"{len(unmeasured)} entr{'ies were' if len(unmeasured) > 1 else 'y was'} "
            "chosen and measured on the same seeds: that value carries the luck "
            "that chose it. With one tuning seed (no `seeds` grid), `--rerun-best N` "
            "measures each best on N seeds of its own."
        )
    return " ".join(lines) or (
        "Each entry ran one setting: nothing was chosen, so every seed measures."
    )


def _ranking(problem, ranked, settings, curves):
    """One problem's ranking table: each entry at its best setting, with its
    verdict against the best entry's seeds and its tuning budget."""
    has_grid = any(s["in_decay_grid"] for s in settings)
    lines = ["", f"## {problem}", ""]
    first = next(s for s in settings if s["problem"] == problem)
    lines += table_head(["weight decay"] if has_grid else [], first)
    tops = [top for _, top, _ in ranked if top is not None]
    standing = dict(zip(map(id, tops), standings(tops), strict=True))
    budgets = []
    for optimizer, top, near in ranked:
        grid = [s for s in settings if (s["problem"], s["optimizer"]) == (problem, optimizer)]
        tuned_over = budget(len(grid), grid[0]["tuning_seeds"])
        budgets.append(tuned_over)
        means, spreads = curves[(problem, optimizer)]
        extra = [f"{top.get(DECAY_AXIS) or 0:g}" if top else "–"] if has_grid else []
        lines.append(row(optimizer, top, standing.get(id(top)), extra, tuned_over,
                          drawn(first, means, spreads), near,
                          _diverged_rates(settings, problem, optimizer)))  # fmt: skip
    return lines + notes(tops, budgets)


def _diverged_rates(settings, problem, optimizer):
    return sorted(
        {
            f"{s[STEP_AXIS]:g}"
            for s in settings
            if s["problem"] == problem and s["optimizer"] == optimizer and s["diverged"]
        },
        key=float,
    )


def _comparable_entries(settings, problem):
    """The stored entries of `problem` under the sweep's protocol."""
    return [
        entry
        for p, baseline, differ in baselines.comparisons(settings)
        if p == problem and not differ and not baseline["protocol"].get("per_epoch")
        for entry in baselines.entries(baseline)
    ]


def _time_to_target_table(ranked, stored):
    """summary.md's time-to-result table: each entry at its best setting, and
    the stored entries under the same protocol, fastest first."""
    timed = sorted(
        [*((top["optimizer"], top) for _, top, _ in ranked if top is not None),
         *((entry["optimizer"], entry) for entry in stored)],
        key=lambda row: (
            not usable(row[1]["epochs_to_target"]),
            row[1]["epochs_to_target"],
            row[1]["seconds_to_target"],
        ),
    )  # fmt: skip
    if not timed:
        return []
    first = next((top for _, top, _ in ranked if top is not None), {})
    # A problem trained for steps is evaluated every `eval_every` steps.
    every = first.get("protocol", {}).get("eval_every")
    lines = [
        "",
        f"Time to result: the first {'evaluation' if every else 'epoch'} at "
        f"which {judging.name(first)} reached {_target(first)}, and the "
        "training time to the end of it; each entry at its best setting "
        "(the mean over its seeds; – where a seed never got there). A stored "
        "entry's time is its own machine's.",
        "",
        f"| rank | optimizer | best lr | {'steps' if every else 'epochs'} "
        "| training time |",
        "|---:|---|---:|---:|---:|",
    ]
    for rank, (optimizer, top) in enumerate(timed, 1):
        epochs, seconds = top["epochs_to_target"], top["seconds_to_target"]
        cells = [
            "–" if not usable(epochs)
            else f"{epochs * every:,.0f}" if every else f"{epochs:.3g}",
            f"{seconds:.0f} s" if usable(seconds) else "–",
        ]  # fmt: skip
        lines.append(
            f"| {rank if usable(epochs) else '–'} | {optimizer} "
            f"| {top[STEP_AXIS]:g} | {' | '.join(cells)} |"
        )
    return lines


def _target(setting):
    """ "93.10% (stored with its baselines ...)": the time-to-result target."""
    if "target" not in setting:  # not read by loading.load_runs, or all diverged
        return "its target"
    shown = judging.formatted(judging.metric(setting), setting["target"])
    return f"{shown} ({setting['target_from']})"


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
        "error (1 − accuracy, or the loss of a problem judged by loss) at its "
        "best setting is within τ times the best entry's there "
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
    """The sweep's entries ranked together with the stored ones, under one
    protocol, each with its tuning budget, expected best and forgiving range."""
    curves = tuning_curves(settings)
    rows = [
        (top, len([s for s in settings if (s["problem"], s["optimizer"]) == key]),
         top["tuning_seeds"], curves[key], near,
         _diverged_rates(settings, *key))
        for key, (top, near) in best.items() if key[0] == problem and top
    ]  # fmt: skip
    stored_curves = baselines.grid_curves(baseline)
    for entry in baselines.entries(baseline):
        rows.append((entry, entry["grid_size"], entry["tuning_seeds"],
                     stored_curves.get(entry["optimizer"], ([], [])),
                     entry["forgiving"], entry["diverged_rates"]))  # fmt: skip
    if not rows:
        return []
    rows.sort(key=lambda row: judging.best_first(row[0]))
    tops = [row[0] for row in rows]
    mine = {s["backend"] for s in settings if s["problem"] == problem}
    lines = [
        "",
        f"## {problem} beside its stored baselines",
        "",
        f"This sweep's entries at their best setting ({trained_on(mine)}) and the "
        f"stored ones from {name} ({trained_on(baselines.backends(baseline))}), made by "
        f"`{baseline['command']}`, under the same protocol. {VERDICT_NOTE}",
        "",
        *table_head([], tops[0]),
    ]
    budgets = []
    for (top, size, seeds, (means, spreads), near, diverged), standing in zip(
        rows, standings(tops), strict=True
    ):
        budgets.append(budget(size, seeds))
        lines.append(row(top["optimizer"], top, standing, [], budgets[-1],
                          drawn(top, means, spreads), near, diverged))  # fmt: skip
    if "evaluation_seeds" not in baseline["protocol"]:
        lines += ["", "The stored entries were made before tuning and evaluation "
                  "seeds were kept apart: each one's seeds include the seed that "
                  "chose its setting, so its mean leans high."]  # fmt: skip
    return lines + notes(tops, budgets)


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
                    f"| {setting['optimizer']} | {setting[STEP_AXIS]:.3g} | {label} "
                    f"| {epoch} | {percent(*t_interval(mine), len(mine))} "
                    f"| {percent(*t_interval(published), len(published))} "
                    f"| {100 * (np.mean(mine) - published.mean()):+.2f} |"
                )
    return lines
