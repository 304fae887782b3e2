"""Summarise a sweep: summary.csv, runs.csv, summary.md and plots, from its run folders.

    python -m experiments.report logs/<sweep-name>

Also runs at the end of every sweep. Reads each finished run's run.json and
result.json (unfinished runs are left out). A *setting* is a model,
optimizer, learning rate and weight decay; its runs over several seeds are
aggregated as mean and sample standard deviation.
"""

import argparse
import csv
import math
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from experiments.cli import pyplot  # noqa: E402
from experiments.run_files import (  # noqa: E402
    HYPERPARAMETERS,
    RESULT_FILE,
    UnreadableRun,
    failures,
    read_run,
)

METRICS = (
    "train_loss",
    "val_loss",
    "val_accuracy",
    "test_accuracy",
    "first_update_norm",
)
RUN_COLUMNS = (
    "model",
    "optimizer",
    "learning_rate",
    "schedule",
    "seed",
    "epochs_run",
    *METRICS,
    "diverged",
    "seconds",
    *HYPERPARAMETERS,
    "dataset",
    "data_source",
    "train_samples",
    "params",
)
SETTING_COLUMNS = (
    "model",
    "optimizer",
    "learning_rate",
    "schedule",
    "epochs_run",
    *[column for metric in METRICS for column in (metric, f"{metric}_std")],
    "diverged",
    "diverged_seeds",
    "n_seeds",
    "seeds",
    "seconds",
    *HYPERPARAMETERS,
    "dataset",
    "data_source",
    "train_samples",
)
FORGIVING_MARGIN = 0.01  # "within 1 point of the best accuracy"


def load_runs(sweep_dir):
    """One dict per finished run (the run columns plus its `history`)."""
    runs = []
    for result_path in sorted(Path(sweep_dir).rglob(RESULT_FILE)):
        try:
            config, result = read_run(result_path.parent)
        except UnreadableRun as error:
            print(
                f"warning: report skips {result_path.parent}: {error}",
                file=sys.stderr,
            )
            continue
        spec = config["run"]
        if spec.get("stage"):  # pre-training: a means, not a result to compare
            continue
        schedule = spec.get("schedule", "constant")
        runs.append(
            {
                **{
                    k: spec[k]
                    for k in ("model", "optimizer", "learning_rate", "seed", "dataset")
                },
                **{k: result[k] for k in RUN_COLUMNS if k in result},
                **config["hyperparameters"],
                "data_source": config["data"]["source"],
                "train_samples": config["data"]["train"],
                "params": config.get(
                    "params", ""
                ),  # runs before it was recorded: blank
                "history": result["history"],
                "first_batch_losses": result.get("first_batch_losses", []),
                "in_decay_grid": spec.get("weight_decay") is not None,
                "schedule": schedule,
                # Each schedule competes as an optimizer of its own, at its best η.
                **(
                    {"optimizer": f"{spec['optimizer']}+{schedule}"}
                    if schedule != "constant"
                    else {}
                ),
            }
        )
    runs.sort(
        key=lambda r: (
            r["model"],
            r["optimizer"],
            r["learning_rate"],
            r.get("weight_decay") or 0.0,
            r["seed"],
        )
    )
    return runs


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
        key = (
            run["model"],
            run["optimizer"],
            run["learning_rate"],
            run.get("weight_decay"),
        )
        groups.setdefault(key, []).append(run)
    settings = []
    for group in groups.values():
        trained = [r for r in group if not r["diverged"]]
        setting = {k: v for k, v in group[0].items() if k not in ("seed", "history")}
        for metric in METRICS:
            setting[metric], setting[f"{metric}_std"] = _mean_std(
                [r.get(metric) for r in trained]  # older runs lack newer metrics
            )
        setting.update(
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
    """{(model, optimizer): (best setting, forgiving learning rates)} by mean validation accuracy.

    A setting where any seed diverged is not eligible. Only the settings with
    the most seeds compete: after --rerun-best, a rerun setting's mean is not
    beaten by another learning rate's single lucky seed.
    """
    groups = {}
    for setting in settings:
        groups.setdefault((setting["model"], setting["optimizer"]), []).append(setting)
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
        f"within {100 * FORGIVING_MARGIN:g} point of that optimizer's best.",
    ]
    for model in sorted({s["model"] for s in settings}):
        ranked = sorted(
            ((opt, *best[(m, opt)]) for m, opt in best if m == model),
            key=lambda row: -(row[1]["val_accuracy"] if row[1] else -1),
        )
        lines += [
            "",
            f"## {model}",
            "",
            "| rank | optimizer | best lr | "
            + ("weight decay | " if has_grid else "")
            + "val accuracy | test accuracy | forgiving range (lrs) | diverged at lr |",
            "|---:|---|---:|" + ("---:|" if has_grid else "") + "---:|---:|---|---|",
        ]
        notes = []
        for rank, (optimizer, top, near) in enumerate(ranked, 1):
            diverged = sorted(
                {
                    f"{s['learning_rate']:g}"
                    for s in settings
                    if s["model"] == model
                    and s["optimizer"] == optimizer
                    and s["diverged"]
                },
                key=float,
            )
            if top is None:  # every setting diverged: not ranked
                cells = ["–"] * (2 if has_grid else 1) + ["diverged"] * 2 + ["–"]
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
                f"| {near[0]:g} – {near[-1]:g} ({len(near)}) | {', '.join(diverged) or '–'} |"
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
    if failed:
        lines += ["", "## Failed runs", "",
                  f"{len(failed)} runs raised an error and have no result; "
                  "running the sweep's command again retries them.", ""]  # fmt: skip
        lines += [f"- `{folder}`: {message}" for folder, message in failed.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def _colors(names):
    """A distinct colour per name: the default cycle, or 20 colours for more than 10."""
    plt = pyplot()
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(names) > len(cycle):
        cycle = [plt.cm.tab20(i) for i in range(20)]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def _best_per_learning_rate(settings):
    """For each (model, optimizer, lr), its best weight decay's setting (the only one without a grid)."""
    best = {}
    for s in settings:
        key = (s["model"], s["optimizer"], s["learning_rate"])
        score = (
            -1.0
            if s["diverged"] or not usable(s["val_accuracy"])
            else s["val_accuracy"]
        )
        if key not in best or score > best[key][0]:
            best[key] = (score, s)
    return [s for _, s in best.values()]


def plot_sensitivity(settings, path):
    """Final validation accuracy and training loss against learning rate, ± one std."""
    plt = pyplot()
    settings = _best_per_learning_rate(settings)
    model_names = sorted({s["model"] for s in settings})
    optimizers = list(dict.fromkeys(s["optimizer"] for s in settings))
    colors = _colors(optimizers)
    fig, axes = plt.subplots(
        2, len(model_names), figsize=(max(5.5 * len(model_names), 9), 8), squeeze=False
    )
    for column, model in enumerate(model_names):
        accuracy_axis, loss_axis = axes[0][column], axes[1][column]
        for index, optimizer in enumerate(optimizers):
            group = sorted(
                (
                    s
                    for s in settings
                    if s["model"] == model and s["optimizer"] == optimizer
                ),
                key=lambda s: s["learning_rate"],
            )
            ok = [s for s in group if not s["diverged"]]
            bad = [s["learning_rate"] for s in group if s["diverged"]]
            lr = [s["learning_rate"] for s in ok]
            for axis, metric in (
                (accuracy_axis, "val_accuracy"),
                (loss_axis, "train_loss"),
            ):
                std = [
                    s[f"{metric}_std"] if usable(s[f"{metric}_std"]) else 0.0
                    for s in ok
                ]
                axis.errorbar(
                    lr,
                    [s[metric] for s in ok],
                    yerr=std,
                    fmt="o-",
                    capsize=3,
                    color=colors[optimizer],
                    label=optimizer,
                )
            if bad:  # stacked a little per optimizer so coinciding marks stay visible
                accuracy_axis.plot(
                    bad,
                    [0.025 * index] * len(bad),
                    "x",
                    color=colors[optimizer],
                    ms=10,
                    mew=2,
                )
                loss_axis.plot(
                    bad,
                    [1.0 - 0.025 * index] * len(bad),
                    "x",
                    color=colors[optimizer],
                    ms=10,
                    mew=2,
                    transform=loss_axis.get_xaxis_transform(),
                )
        accuracy_axis.set(
            title=f"{model}: validation accuracy",
            ylabel="final validation accuracy",
            ylim=(-0.03, 1.0),
        )
        loss_axis.set(
            title=f"{model}: training loss",
            ylabel="final training loss (log)",
            yscale="log",
        )
        for axis in (accuracy_axis, loss_axis):
            axis.set_xscale("log")
            axis.set_xlabel("learning rate η (log)")
            axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], ls="", marker="x", color="k", ms=10, mew=2))
    labels.append("diverged")
    columns = min(len(labels), 7 if len(model_names) > 1 else 4)
    fig.legend(handles, labels, loc="lower center", ncol=columns, frameon=False)
    legend_rows = -(-len(labels) // columns)
    multi = max(s["n_seeds"] for s in settings) > 1
    fig.suptitle(
        "Learning-rate sensitivity: each optimizer across the grid"
        + (" (bars: ± one std over seeds)" if multi else "")
    )
    fig.tight_layout(rect=(0, 0.03 * (legend_rows + 1), 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_curves(axes_pair, setting, color, label):
    history, spread = setting["history"], setting["history_std"]
    epochs = np.arange(1, len(history["loss"]) + 1)
    for axis, key in zip(axes_pair, ("loss", "val_accuracy")):
        mean, std = np.array(history[key]), np.array(spread[key])
        axis.plot(epochs, mean, "-o", ms=3, color=color, label=label)
        if setting["n_seeds"] > 1:
            axis.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2)
    if setting["diverged"]:
        axes_pair[0].plot(
            [len(epochs)],
            [1.0],
            "x",
            color=color,
            ms=10,
            mew=2,
            transform=axes_pair[0].get_xaxis_transform(),
        )


def _curve_figure(settings_by_model, colors, labeler, title, path):
    plt = pyplot()
    fig, axes = plt.subplots(
        2,
        len(settings_by_model),
        figsize=(5.5 * len(settings_by_model), 8),
        squeeze=False,
    )
    for column, (model, settings) in enumerate(settings_by_model.items()):
        pair = (axes[0][column], axes[1][column])
        for setting in settings:
            _plot_curves(pair, setting, colors(setting), labeler(setting))
        pair[0].set(
            title=f"{model}: training loss", ylabel="training loss (log)", yscale="log"
        )
        pair[1].set(title=f"{model}: validation accuracy", ylabel="validation accuracy")
        for axis in pair:
            axis.set_xlabel("epoch")
            axis.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_best_curves(settings, path):
    """Training curves of every optimizer at its best setting (± one std band over seeds)."""
    best = best_settings(settings)
    colors = _colors(list(dict.fromkeys(s["optimizer"] for s in settings)))
    by_model = {}
    for (model, _), (top, _) in sorted(best.items()):
        if top is not None:
            by_model.setdefault(model, []).append(top)
    _curve_figure(
        by_model,
        lambda s: colors[s["optimizer"]],
        lambda s: (
            f"{s['optimizer']} (η={s['learning_rate']:g}"
            + (f", {s['n_seeds']} seeds)" if s["n_seeds"] > 1 else ")")
        ),
        "Each optimizer at its best learning rate",
        path,
    )


def plot_first_steps(settings, path):
    """Per-batch training loss of the first steps, per model: each optimizer at
    its best η, and all at Adam's best η (the first optimizer's, without
    Adam), where bias correction's effect shows."""
    plt = pyplot()
    best = best_settings(settings)
    optimizers = list(dict.fromkeys(s["optimizer"] for s in settings))
    colors = _colors(optimizers)
    models = list(dict.fromkeys(s["model"] for s in settings))
    fig, axes = plt.subplots(
        len(models), 2, figsize=(12, 4.2 * len(models)), squeeze=False
    )
    for row, model in enumerate(models):
        reference = "adam" if "adam" in optimizers else optimizers[0]
        anchor = best.get((model, reference), (None,))[0]
        shared = anchor["learning_rate"] if anchor else None
        for optimizer in optimizers:
            top = best.get((model, optimizer), (None,))[0]
            at_shared = [
                s
                for s in settings
                if (s["model"], s["optimizer"], s["learning_rate"])
                == (model, optimizer, shared)
            ]
            same_rate = at_shared[0] if at_shared else None
            for axis, setting in ((axes[row][0], top), (axes[row][1], same_rate)):
                if setting and setting["first_batch_losses"]:
                    losses = setting["first_batch_losses"]
                    axis.plot(
                        range(1, len(losses) + 1),
                        losses,
                        color=colors[optimizer],
                        label=f"{optimizer} (η={setting['learning_rate']:g})",
                    )
        axes[row][0].set_title(f"{model}: each optimizer at its best η")
        axes[row][1].set_title(f"{model}: all at η = {shared:g}" if shared else model)
        for axis in axes[row]:
            axis.set(xlabel="step", ylabel="batch loss (log)", yscale="log")
            axis.grid(alpha=0.3)
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=8)
    fig.suptitle("The first training steps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_rate_curves(settings, optimizer, path):
    """One optimizer's curves across learning rates: too small is slow, too large diverges."""
    plt = pyplot()
    chosen = sorted(
        (s for s in _best_per_learning_rate(settings) if s["optimizer"] == optimizer),
        key=lambda s: s["learning_rate"],
    )
    rates = sorted({s["learning_rate"] for s in chosen})
    cmap = plt.get_cmap("viridis")
    shade = {lr: cmap(i / max(len(rates) - 1, 1)) for i, lr in enumerate(rates)}
    by_model = {}
    for setting in chosen:
        by_model.setdefault(setting["model"], []).append(setting)
    _curve_figure(
        by_model,
        lambda s: shade[s["learning_rate"]],
        lambda s: (
            f"η={s['learning_rate']:g}" + (" (diverged)" if s["diverged"] else "")
        ),
        f"{optimizer} across learning rates",
        path,
    )


def plot_weight_decay_heatmaps(settings, model, path):
    """Validation accuracy and training loss over learning rate × weight decay, per optimizer.

    One column per optimizer (coupled and decoupled forms side by side), all
    on one colour scale per row; the best cell is boxed, diverged cells are
    grey with an X.
    """
    plt = pyplot()
    from matplotlib.colors import LogNorm

    chosen = [s for s in settings if s["model"] == model and s["in_decay_grid"]]
    optimizers = list(dict.fromkeys(s["optimizer"] for s in chosen))
    rates = sorted({s["learning_rate"] for s in chosen})
    decays = sorted({s["weight_decay"] for s in chosen})
    grids = {}
    for optimizer in optimizers:
        accuracy, loss = (
            np.full((len(decays), len(rates)), np.nan),
            np.full((len(decays), len(rates)), np.nan),
        )
        diverged = np.zeros_like(accuracy, bool)
        for s in chosen:
            if s["optimizer"] != optimizer:
                continue
            cell = decays.index(s["weight_decay"]), rates.index(s["learning_rate"])
            diverged[cell] = s["diverged"]
            if not s["diverged"]:
                accuracy[cell], loss[cell] = s["val_accuracy"], s["train_loss"]
        grids[optimizer] = (accuracy, loss, diverged)
    all_accuracy = np.concatenate([g[0].ravel() for g in grids.values()])
    all_loss = np.concatenate([g[1].ravel() for g in grids.values()])
    finite_loss = all_loss[np.isfinite(all_loss) & (all_loss > 0)]
    scales = [
        dict(
            cmap="viridis", vmin=np.nanmin(all_accuracy), vmax=np.nanmax(all_accuracy)
        ),
        dict(
            cmap="magma_r",
            norm=LogNorm(finite_loss.min(), finite_loss.max())
            if finite_loss.size
            else None,
        ),
    ]
    forms = {
        s["optimizer"]: "decoupled" if s.get("decoupled_weight_decay") else "coupled"
        for s in chosen
    }
    fig, axes = plt.subplots(
        2,
        len(optimizers),
        figsize=(4.2 * len(optimizers) + 1.5, 8.5),
        squeeze=False,
        layout="constrained",
    )
    for column, optimizer in enumerate(optimizers):
        accuracy, loss, diverged = grids[optimizer]
        for row, (values, scale, label) in enumerate(
            (
                (accuracy, scales[0], "validation accuracy"),
                (loss, scales[1], "training loss"),
            )
        ):
            axis = axes[row][column]
            cmap = plt.get_cmap(scale["cmap"]).with_extremes(bad="lightgrey")
            image = axis.imshow(
                np.ma.masked_invalid(values),
                origin="lower",
                aspect="auto",
                cmap=cmap,
                **{k: v for k, v in scale.items() if k != "cmap"},
            )
            for (i, j), bad in np.ndenumerate(diverged):
                if bad:
                    axis.text(
                        j, i, "X", ha="center", va="center", color="black", fontsize=11
                    )
                elif row == 0 and np.isfinite(values[i, j]):
                    axis.text(
                        j,
                        i,
                        f"{100 * values[i, j]:.0f}",
                        ha="center",
                        va="center",
                        color="white",
                        fontsize=8,
                    )
            if np.isfinite(accuracy).any():
                best = np.unravel_index(np.nanargmax(accuracy), accuracy.shape)
                axis.add_patch(
                    plt.Rectangle(
                        (best[1] - 0.5, best[0] - 0.5),
                        1,
                        1,
                        fill=False,
                        edgecolor="red",
                        lw=2.5,
                    )
                )
            axis.set_xticks(
                range(len(rates)), [f"{r:g}" for r in rates], rotation=45, fontsize=8
            )
            axis.set_yticks(range(len(decays)), [f"{d:g}" for d in decays], fontsize=8)
            axis.set(
                xlabel="learning rate η",
                ylabel="weight decay wd" if column == 0 else "",
                title=f"{optimizer} ({forms[optimizer]} decay)\n{label}",
            )
            if column == len(optimizers) - 1:
                fig.colorbar(image, ax=axes[row].tolist(), label=label, shrink=0.9)
    fig.suptitle(
        f"{model}: learning rate × weight decay (red box: best; grey X: diverged; "
        "numbers: validation accuracy %)"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(sweep_dir):
    """Writes the summaries and plots into `sweep_dir`; returns their paths."""
    sweep_dir = Path(sweep_dir)
    runs = load_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(
            f"{sweep_dir} holds no finished runs (no {RESULT_FILE} below it)"
        )
    settings = aggregate(runs)
    paths = [
        sweep_dir / name
        for name in ("summary.csv", "runs.csv", "summary.md", "sensitivity.png")
    ]
    write_csv(settings, SETTING_COLUMNS, paths[0])
    write_csv(runs, RUN_COLUMNS, paths[1])
    write_markdown(settings, paths[2], sweep_dir.name, failures(sweep_dir))
    plot_sensitivity(settings, paths[3])
    if any(top for top, _ in best_settings(settings).values()):  # else all diverged
        paths.append(sweep_dir / "best_curves.png")
        plot_best_curves(settings, paths[-1])
    for optimizer in dict.fromkeys(s["optimizer"] for s in settings):
        paths.append(sweep_dir / f"lr_curves_{optimizer}.png")
        plot_learning_rate_curves(settings, optimizer, paths[-1])
    if any(s["first_batch_losses"] for s in settings):
        paths.append(sweep_dir / "first_steps.png")
        plot_first_steps(settings, paths[-1])
    for model in dict.fromkeys(s["model"] for s in settings):
        if any(s["in_decay_grid"] for s in settings if s["model"] == model):
            paths.append(sweep_dir / f"weight_decay_{model}.png")
            plot_weight_decay_heatmaps(settings, model, paths[-1])
    return paths


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
