"""Summarise a sweep: summary.csv, runs.csv, summary.md and plots, from its run folders.

The statistics (runs, settings over seeds, each optimizer's best) and the
tables are here; the plots are in `figures.py`.

    python -m experiments.report logs/<sweep-name>

Also runs at the end of every sweep. Reads each finished run's run.json and
result.json (unfinished runs are left out). A *setting* is a problem, an
optimizer and the values of every axis but the seed (`runs.AXES`); its runs
over several seeds are aggregated as mean and sample standard deviation.
"""

import argparse
import csv
import json
import math
from math import comb
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from experiments import runs as run_specs  # noqa: E402
from experiments.run_files import (  # noqa: E402
    FINAL_METRICS,
    HYPERPARAMETERS,
    EPOCHS_FILE,
    RESULT_FILE,
    UnreadableRun,
    failures,
    read_run,
)
from experiments.runs import RunSpec, entry_label  # noqa: E402

METRICS = (*FINAL_METRICS[:-1], "first_update_norm")  # diverged is a flag, not averaged


def _axis_columns():
    """The axes not already among the optimizer's HYPERPARAMETERS, in AXES' order."""
    return [a.name for a in run_specs.AXES if a.name not in HYPERPARAMETERS]


IDENTITY_COLUMNS = ("problem", "model", "optimizer")
TIME_COLUMNS = ("seconds", "epochs_to_target", "seconds_to_target")
DESCRIPTION_COLUMNS = (*HYPERPARAMETERS, "dataset", "data_source", "train_samples")


def run_columns():
    """runs.csv's columns: one row per finished run."""
    return (
        *IDENTITY_COLUMNS,
        *_axis_columns(),
        "epochs_run",
        *METRICS,
        "diverged",
        *TIME_COLUMNS,
        *DESCRIPTION_COLUMNS,
        "params",
    )


def setting_columns():
    """summary.csv's columns: one row per setting, its seeds aggregated."""
    return (
        *IDENTITY_COLUMNS,
        *(name for name in _axis_columns() if name != "seed"),
        "epochs_run",
        *[column for metric in METRICS for column in (metric, f"{metric}_std")],
        "diverged",
        "diverged_seeds",
        "n_seeds",
        "seeds",
        *TIME_COLUMNS,
        *DESCRIPTION_COLUMNS,
    )


FORGIVING_MARGIN = 0.01  # "within 1 point of the best accuracy"
# Time to result: the first epoch at which a run's validation accuracy
# reaches this share of the best final validation accuracy on its problem.
TARGET_SHARE = 0.99
TUNING_DRAWS = 3  # summary.md: the expected best after this many settings
# DeepOBS's published per-epoch test accuracies of its tuned SGD, Momentum
# and Adam on fmnist_2c2d, and the epochs summary.md compares them at.
DEEPOBS_BASELINES = Path(__file__).parent / "deepobs_baselines.json"
COMPARED_EPOCHS = (10, 20)


def load_runs(sweep_dir):
    """One dict per finished run (the run columns plus its `history`).

    Its `optimizer` is the entry the report ranks: the optimizer, plus each
    compared axis away from its default (`sgd+cosine`).
    """
    runs_found = []
    for result_path in sorted(Path(sweep_dir).rglob(RESULT_FILE)):
        try:
            config, result = read_run(result_path.parent)
        except UnreadableRun as error:
            print(
                f"warning: report skips {result_path.parent}: {error}",
                file=sys.stderr,
            )
            continue
        spec = RunSpec.from_identity(config["run"], config.get("problem"))
        if spec.stage:  # pre-training: a means, not a result to compare
            continue
        runs_found.append(
            {
                "problem": spec.problem.folder,
                "model": spec.model,
                "dataset": spec.dataset,
                **spec.values,
                **{k: result[k] for k in run_columns() if k in result},
                **config["hyperparameters"],  # the optimizer's values of its axes
                "optimizer": entry_label(spec.optimizer, spec.values, spec.problem),
                "base_optimizer": spec.optimizer,
                "data_source": config["data"]["source"],
                "validation_fraction": config["data"].get("validation_fraction"),
                "train_samples": config["data"]["train"],
                "params": config.get("params", ""),  # not recorded before: blank
                "history": result["history"],
                "epochs": _epochs_file(result_path.parent),
                "first_batch_losses": result.get("first_batch_losses", []),
                "in_decay_grid": spec.weight_decay is not None,
            }
        )
    add_time_to_target(runs_found)
    runs_found.sort(key=lambda r: (r["problem"], r["optimizer"], *_sort_key(r)))
    return runs_found


def _epochs_file(run_dir):
    """The run's epochs.csv as {column: [value per epoch]} ({} if it has none)."""
    try:
        with open(run_dir / EPOCHS_FILE) as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return {}
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else ())}


def add_time_to_target(runs):
    """Adds each run's time to result: `epochs_to_target`, the first epoch
    whose validation accuracy reached TARGET_SHARE of the best final one on
    its problem in this sweep, and `seconds_to_target`, the training time
    to the end of that epoch (from epochs.csv; without it, the run's time
    shared equally among its epochs). NaN for a run that never got there."""
    best = {}
    for run in runs:
        if not run["diverged"] and usable(run["val_accuracy"]):
            best[run["problem"]] = max(
                best.get(run["problem"], 0.0), run["val_accuracy"]
            )
    for run in runs:
        run["epochs_to_target"] = run["seconds_to_target"] = math.nan
        target = TARGET_SHARE * best.get(run["problem"], math.inf)
        curve = run["history"].get("val_accuracy", [])
        reached = next((i for i, a in enumerate(curve) if a >= target), None)
        if reached is None:
            continue
        run["epochs_to_target"] = reached + 1
        seconds = run["epochs"].get("seconds")
        run["seconds_to_target"] = (
            seconds[reached] if seconds else run["seconds"] * (reached + 1) / len(curve)
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


def tuning_curves(settings):
    """{(problem, entry): [expected best validation accuracy of k settings
    drawn from the entry's grid, for k = 1 … its size]}. A setting that
    diverged counts as 0: it gave no usable model."""
    values = {}
    for s in settings:
        accuracy = (
            s["val_accuracy"]
            if not s["diverged"] and usable(s["val_accuracy"])
            else 0.0
        )
        values.setdefault((s["problem"], s["optimizer"]), []).append(accuracy)
    return {
        key: [expected_best(grid, k) for k in range(1, len(grid) + 1)]
        for key, grid in values.items()
    }


# DeepOBS's curves (deepobs_baselines.json's keys) and the history holding
# ours: its train_eval images are training images, as our validation images
# are when a sweep holds none out (validation_fraction = 0).
DEEPOBS_CURVES = {
    "test_accuracy": "test_accuracy",
    "train_eval_accuracy": "val_accuracy",
}


def deepobs_baselines():
    """(problem, {optimizer: (η, {curve: accuracy by seed and epoch, 0 = before
    training})}), the curves of DEEPOBS_CURVES."""
    data = json.loads(DEEPOBS_BASELINES.read_text())
    return data["problem"], {
        name: (
            entry["learning_rate"],
            {
                curve: np.array(list(entry[f"{curve}_by_seed"].values()))
                for curve in DEEPOBS_CURVES
            },
        )
        for name, entry in data["optimizers"].items()
    }


def against_deepobs(settings):
    """This sweep's settings that DeepOBS published a baseline for (its problem,
    optimizer and η, whatever the other axes), each with the curves it can be
    held against: [(setting, {curve: (our history's key, DeepOBS's accuracies
    by seed and epoch)})]. train_eval only where the validation images were
    training images."""
    problem, baselines = deepobs_baselines()
    pairs = []
    for s in settings:
        if s["problem"] != problem or s["base_optimizer"] not in baselines:
            continue
        learning_rate, curves = baselines[s["base_optimizer"]]
        if not math.isclose(s["learning_rate"], learning_rate, rel_tol=1e-6):
            continue
        comparable = {
            curve: (ours, curves[curve])
            for curve, ours in DEEPOBS_CURVES.items()
            if ours in s["history"]
            and (curve != "train_eval_accuracy" or s.get("validation_fraction") == 0)
        }
        if "test_accuracy" in comparable:
            pairs.append((s, comparable))
    return pairs


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


def _sort_key(row):
    """Axes in AXES' order, seed last; an unset axis before any value."""
    first = ("learning_rate", "weight_decay")
    order = [
        *first,
        *(a.name for a in run_specs.AXES if a.name not in (*first, "seed")),
        "seed",
    ]
    return [
        (
            row.get(name) is not None,
            row.get(name)
            if isinstance(row.get(name), (int, float))
            else str(row.get(name)),
        )
        for name in order
    ]


def setting_key(row):
    """A run's setting: the values of every axis but the seed, on its problem and entry."""
    return (
        row["problem"],
        row["optimizer"],
        *(row.get(a.name) for a in run_specs.AXES if a.role != "repeat"),
    )


def _mean_std(values):
    """Mean and sample standard deviation (NaN when undefined) of the finite values."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(
        values
    ) > 1 else math.nan


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
    settings = []
    for group in groups.values():
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
            seconds=float(np.mean([r["seconds"] for r in group])),
        )
        setting["history"], setting["history_std"] = _history(trained or group)
        setting["first_batch_losses"] = _mean_curve(
            [r.get("first_batch_losses", []) for r in trained or group]
        )
        settings.append(setting)
    return settings


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


def usable(value):
    return value is not None and not (isinstance(value, float) and math.isnan(value))


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
        trained = [s for s in group if not s["diverged"] and usable(s["val_accuracy"])]
        if not trained:
            best[key] = (None, [])
            continue
        most = max(s["n_seeds"] for s in trained)
        top = max(
            (s for s in trained if s["n_seeds"] == most),
            key=lambda s: s["val_accuracy"],
        )
        near = {
            s["learning_rate"]
            for s in trained
            if s["val_accuracy"] >= top["val_accuracy"] - FORGIVING_MARGIN
        }
        best[key] = (top, sorted(near))
    return best


def overlap(a, b):
    """Whether two settings' mean ± one standard deviation intervals overlap (needs ≥ 2 seeds each)."""
    if a["n_seeds"] < 2 or b["n_seeds"] < 2:
        return False
    low_a, high_a = (
        a["val_accuracy"] - a["val_accuracy_std"],
        a["val_accuracy"] + a["val_accuracy_std"],
    )
    low_b, high_b = (
        b["val_accuracy"] - b["val_accuracy_std"],
        b["val_accuracy"] + b["val_accuracy_std"],
    )
    return low_a <= high_b and low_b <= high_a


def write_csv(rows, columns, path):
    with open(path, "w", newline="") as f:
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


def write_markdown(settings, path, sweep_name, failed=None):
    """summary.md: per model, each optimizer's best setting, ranked; then the
    runs that failed (`failed`: {run folder: its error's first line})."""
    best = best_settings(settings)
    curves = tuning_curves(settings)
    first = settings[0]
    runs = sum(s["n_seeds"] for s in settings)
    has_grid = any(s["in_decay_grid"] for s in settings)
    lines = [
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
    for problem in sorted({s["problem"] for s in settings}):
        ranked = sorted(
            ((opt, *best[(p, opt)]) for p, opt in best if p == problem),
            key=lambda row: -(row[1]["val_accuracy"] if row[1] else -1),
        )
        lines += [
            "",
            f"## {problem}",
            "",
            "| rank | optimizer | best lr | "
            + ("weight decay | " if has_grid else "")
            + f"val accuracy | test accuracy | expected best of {TUNING_DRAWS} "
            "| forgiving range (lrs) | diverged at lr |",
            "|---:|---|---:|"
            + ("---:|" if has_grid else "")
            + "---:|---:|---:|---|---|",
        ]
        notes = []
        for rank, (optimizer, top, near) in enumerate(ranked, 1):
            curve = curves[(problem, optimizer)]
            drawn = _percent(curve[min(TUNING_DRAWS, len(curve)) - 1])
            diverged = sorted(
                {
                    f"{s['learning_rate']:g}"
                    for s in settings
                    if s["problem"] == problem
                    and s["optimizer"] == optimizer
                    and s["diverged"]
                },
                key=float,
            )
            if top is None:  # every setting diverged: not ranked
                cells = ["–"] * (2 if has_grid else 1) + ["diverged"] * 2 + [drawn, "–"]
                lines.append(
                    f"| – | {optimizer} | {' | '.join(cells)} | {', '.join(diverged)} |"
                )
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
                f"| {', '.join(diverged) or '–'} |"
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
        lines += _time_to_target_table(ranked)
    lines += _deepobs_table(settings)
    if failed:
        lines += ["", "## Failed runs", "",
                  f"{len(failed)} runs raised an error and have no result; "
                  "running the sweep's command again retries them.", ""]  # fmt: skip
        lines += [f"- `{folder}`: {message}" for folder, message in failed.items()]
    Path(path).write_text("\n".join(lines) + "\n")


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


def write_report(sweep_dir):
    """Writes the summaries and plots into `sweep_dir`; returns their paths."""
    sweep_dir = Path(sweep_dir)
    runs = load_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(
            f"{sweep_dir} holds no finished runs (no {RESULT_FILE} below it)"
        )
    settings = aggregate(runs)
    paths = [sweep_dir / name for name in ("summary.csv", "runs.csv", "summary.md")]
    write_csv(settings, setting_columns(), paths[0])
    write_csv(runs, run_columns(), paths[1])
    write_markdown(settings, paths[2], sweep_dir.name, failures(sweep_dir))
    from experiments import figures

    return paths + figures.draw(settings, sweep_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m experiments.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("sweep_dir", help="a sweep folder, e.g. logs/default")
    args = parser.parse_args(argv)
    try:
        for path in write_report(args.sweep_dir):
            print(path)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
