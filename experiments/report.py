"""Summarise a sweep: summary.csv, summary.md and plots, from its run folders.

    python -m experiments.report logs/<sweep-name>

Also runs at the end of every sweep. Reads each finished run's run.json and
result.json; unfinished runs are left out.
"""

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from experiments.training import CONFIG_FILE, HYPERPARAMETERS, RESULT_FILE

COLUMNS = (
    "model",
    "optimizer",
    "learning_rate",
    "epochs_run",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "test_accuracy",
    "diverged",
    "seconds",
    *HYPERPARAMETERS,
    "seed",
    "dataset",
    "data_source",
    "train_samples",
)
FORGIVING_MARGIN = 0.01  # "within 1 point of the best accuracy"


def load_runs(sweep_dir):
    """One dict per finished run (the summary columns plus its `history`)."""
    runs = []
    for result_path in sorted(Path(sweep_dir).glob(f"*/*/lr=*/{RESULT_FILE}")):
        config = json.loads((result_path.parent / CONFIG_FILE).read_text())
        result = json.loads(result_path.read_text())
        spec = config["run"]
        runs.append(
            {
                **{k: spec[k] for k in ("model", "optimizer", "learning_rate", "seed", "dataset")},
                **{k: result[k] for k in COLUMNS if k in result},
                **config["hyperparameters"],
                "data_source": config["data"]["source"],
                "train_samples": config["data"]["train"],
                "history": result["history"],
            }
        )
    runs.sort(key=lambda r: (r["model"], r["optimizer"], r["learning_rate"]))
    return runs


def usable(value):
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def best_runs(runs):
    """{(model, optimizer): (best run, forgiving learning rates)} by validation accuracy."""
    groups = {}
    for run in runs:
        groups.setdefault((run["model"], run["optimizer"]), []).append(run)
    best = {}
    for key, group in groups.items():
        trained = [r for r in group if not r["diverged"] and usable(r["val_accuracy"])]
        if not trained:
            best[key] = (None, [])
            continue
        top = max(trained, key=lambda r: r["val_accuracy"])
        near = [
            r["learning_rate"]
            for r in trained
            if r["val_accuracy"] >= top["val_accuracy"] - FORGIVING_MARGIN
        ]
        best[key] = (top, sorted(near))
    return best


def write_csv(runs, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for run in runs:
            writer.writerow({k: run.get(k, "") for k in COLUMNS})


def _percent(value):
    return f"{100 * value:.2f}%" if usable(value) else "n/a"


def write_markdown(runs, path, sweep_name):
    best = best_runs(runs)
    first = runs[0]
    lines = [
        f"# Sweep `{sweep_name}`",
        "",
        f"{first['dataset']} from {first['data_source']}, {first['train_samples']} "
        f"training samples; {len(runs)} runs, "
        f"{sum(r['diverged'] for r in runs)} diverged; "
        f"{sum(r['seconds'] for r in runs) / 60:.1f} minutes of training.",
        "",
        "Each optimizer's best learning rate by validation accuracy (the test "
        "set is only reported). *Forgiving range*: the learning rates whose "
        f"accuracy is within {100 * FORGIVING_MARGIN:g} point of that optimizer's best.",
    ]
    for model in sorted({r["model"] for r in runs}):
        ranked = sorted(
            ((opt, *best[(m, opt)]) for m, opt in best if m == model),
            key=lambda row: -(row[1]["val_accuracy"] if row[1] else -1),
        )
        lines += [
            "",
            f"## {model}",
            "",
            "| rank | optimizer | best lr | val accuracy | test accuracy "
            "| forgiving range (lrs) | diverged at lr |",
            "|---:|---|---:|---:|---:|---|---|",
        ]
        for rank, (optimizer, top, near) in enumerate(ranked, 1):
            diverged = [
                f"{r['learning_rate']:g}"
                for r in runs
                if r["model"] == model and r["optimizer"] == optimizer and r["diverged"]
            ]
            if top is None:
                lines.append(f"| {rank} | {optimizer} | – | – | – | – | {', '.join(diverged)} |")
                continue
            lines.append(
                f"| {rank} | {optimizer} | {top['learning_rate']:g} "
                f"| {_percent(top['val_accuracy'])} | {_percent(top['test_accuracy'])} "
                f"| {near[0]:g} – {near[-1]:g} ({len(near)}) | {', '.join(diverged) or '–'} |"
            )
    Path(path).write_text("\n".join(lines) + "\n")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(names):
    plt = _pyplot()
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def plot_sensitivity(runs, path):
    """Final validation accuracy and training loss against learning rate."""
    plt = _pyplot()
    model_names = sorted({r["model"] for r in runs})
    optimizers = list(dict.fromkeys(r["optimizer"] for r in runs))
    colors = _colors(optimizers)
    fig, axes = plt.subplots(
        2, len(model_names), figsize=(5.5 * len(model_names), 8), squeeze=False
    )
    for column, model in enumerate(model_names):
        accuracy_axis, loss_axis = axes[0][column], axes[1][column]
        for optimizer in optimizers:
            group = [r for r in runs if r["model"] == model and r["optimizer"] == optimizer]
            ok = [r for r in group if not r["diverged"]]
            bad = [r for r in group if r["diverged"]]
            lr = [r["learning_rate"] for r in ok]
            accuracy_axis.plot(lr, [r["val_accuracy"] for r in ok], "o-", color=colors[optimizer], label=optimizer)
            loss_axis.plot(lr, [r["train_loss"] for r in ok], "o-", color=colors[optimizer], label=optimizer)
            if bad:
                bad_lr = [r["learning_rate"] for r in bad]
                accuracy_axis.plot(bad_lr, [0.0] * len(bad), "x", color=colors[optimizer], ms=10, mew=2)
                loss_axis.plot(bad_lr, [1.0] * len(bad), "x", color=colors[optimizer], ms=10, mew=2,
                               transform=loss_axis.get_xaxis_transform())
        accuracy_axis.set(title=f"{model}: validation accuracy", ylabel="final validation accuracy", ylim=(-0.03, 1.0))
        loss_axis.set(title=f"{model}: training loss", ylabel="final training loss (log)", yscale="log")
        for axis in (accuracy_axis, loss_axis):
            axis.set_xscale("log")
            axis.set_xlabel("learning rate η (log)")
            axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], ls="", marker="x", color="k", ms=10, mew=2))
    labels.append("diverged")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False)
    fig.suptitle("Learning-rate sensitivity: each optimizer across the grid")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_curves(axes_pair, run, color, label):
    history = run["history"]
    epochs = range(1, len(history["loss"]) + 1)
    loss_axis, accuracy_axis = axes_pair
    loss_axis.plot(epochs, history["loss"], "-o", ms=3, color=color, label=label)
    accuracy_axis.plot(epochs, history["val_accuracy"], "-o", ms=3, color=color, label=label)
    if run["diverged"]:
        loss_axis.plot([len(history["loss"])], [1.0], "x", color=color, ms=10, mew=2,
                       transform=loss_axis.get_xaxis_transform())


def _curve_figure(runs_by_model, colors, labeler, title, path):
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(runs_by_model), figsize=(5.5 * len(runs_by_model), 8), squeeze=False)
    for column, (model, runs) in enumerate(runs_by_model.items()):
        pair = (axes[0][column], axes[1][column])
        for run in runs:
            _plot_curves(pair, run, colors(run), labeler(run))
        pair[0].set(title=f"{model}: training loss", ylabel="training loss (log)", yscale="log")
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


def plot_best_curves(runs, path):
    """Training curves of every optimizer at its best learning rate."""
    best = best_runs(runs)
    colors = _colors(list(dict.fromkeys(r["optimizer"] for r in runs)))
    by_model = {}
    for (model, _), (top, _) in sorted(best.items()):
        if top is not None:
            by_model.setdefault(model, []).append(top)
    _curve_figure(
        by_model,
        lambda r: colors[r["optimizer"]],
        lambda r: f"{r['optimizer']} (η={r['learning_rate']:g})",
        "Each optimizer at its best learning rate",
        path,
    )


def plot_learning_rate_curves(runs, optimizer, path):
    """One optimizer's curves across learning rates: too small is slow, too large diverges."""
    plt = _pyplot()
    chosen = [r for r in runs if r["optimizer"] == optimizer]
    rates = sorted({r["learning_rate"] for r in chosen})
    cmap = plt.get_cmap("viridis")
    shade = {lr: cmap(i / max(len(rates) - 1, 1)) for i, lr in enumerate(rates)}
    by_model = {}
    for run in chosen:
        by_model.setdefault(run["model"], []).append(run)
    _curve_figure(
        by_model,
        lambda r: shade[r["learning_rate"]],
        lambda r: f"η={r['learning_rate']:g}" + (" (diverged)" if r["diverged"] else ""),
        f"{optimizer} across learning rates",
        path,
    )


def write_report(sweep_dir):
    """Writes summary.csv, summary.md and the plots into `sweep_dir`; returns their paths."""
    sweep_dir = Path(sweep_dir)
    runs = load_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(f"{sweep_dir} holds no finished runs (*/*/lr=*/{RESULT_FILE})")
    paths = [sweep_dir / "summary.csv", sweep_dir / "summary.md", sweep_dir / "sensitivity.png",
             sweep_dir / "best_curves.png"]
    write_csv(runs, paths[0])
    write_markdown(runs, paths[1], sweep_dir.name)
    plot_sensitivity(runs, paths[2])
    plot_best_curves(runs, paths[3])
    for optimizer in dict.fromkeys(r["optimizer"] for r in runs):
        paths.append(sweep_dir / f"lr_curves_{optimizer}.png")
        plot_learning_rate_curves(runs, optimizer, paths[-1])
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__.split("\n")[0])
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
