"""The figures that set a sweep beside stored baselines: ours and the stored
entries per epoch (`plot_beside_stored`), and a per-epoch comparison with
DeepOBS's published curves (`plot_per_epoch`). `figures.draw` lists them.
"""

import numpy as np

from experiments.plotting import STORED, pyplot, save, seeds, styles_for, within_range
from experiments.report import baselines, judging
from experiments.report.columns import STEP_AXIS
from experiments.report.intervals import t_interval
from experiments.report.statistics import best_settings


def plot_per_epoch(settings, problem, baseline, path):
    """Per stored optimizer (columns) and curve (rows: test accuracy, and
    train_eval accuracy where the sweep measured it): ours per epoch, a line
    per entry (as `sgd` and `sgd+shuffle_buffer=20000`), beside the stored
    curve (DeepOBS's) of the same optimizer and η; mean ± one std over seeds."""
    plt = pyplot()
    panels = {}  # (curve, optimizer) → [(setting, our curve, theirs)]
    for setting, curves in baselines.per_epoch_pairs(settings, problem, baseline):
        for name, (ours, theirs) in curves.items():
            panels.setdefault((name, setting["base_optimizer"]), []).append(
                (setting, name, theirs)
            )
    rows = list(dict.fromkeys(name for name, _ in panels))
    columns = list(dict.fromkeys(optimizer for _, optimizer in panels))
    fig, axes = plt.subplots(len(rows), len(columns),
                             figsize=(5.5 * len(columns), 4.2 * len(rows)), squeeze=False)  # fmt: skip
    for (name, optimizer), ours in panels.items():
        axis = axes[rows.index(name)][columns.index(optimizer)]
        theirs = ours[0][2]
        epochs_run = max(len(baselines.curve(s, name)) for s, _, _ in ours)
        published = theirs[:, :epochs_run]
        lines = [
            (f"{s['optimizer']} ({seeds(s['n_seeds'])})",
             np.array(baselines.curve(s, name)),
             np.array(s["history_std"][baselines.SAME_CURVE.get(name, name)]))
            for s, _, _ in ours
        ] + [(f"{baseline['source']} ({seeds(len(theirs))})", published.mean(0),
              published.std(0, ddof=1))]  # fmt: skip
        styles = styles_for([s["optimizer"] for s, _, _ in ours])
        drawn = [styles[s["optimizer"]] for s, _, _ in ours] + [{"color": "black"}]
        for (label, mean, std), style in zip(lines, drawn, strict=True):
            epochs = np.arange(1, len(mean) + 1)
            axis.plot(epochs, mean, **style, label=label)
            axis.fill_between(epochs, *within_range(name, mean - std, mean + std),
                              color=style["color"], alpha=0.15)  # fmt: skip
        setting = ours[0][0]
        axis.set(
            title=f"{problem}: {optimizer}, η = {setting[STEP_AXIS]:.3g}",
            xlabel="epoch",
            ylabel=f"{name.removesuffix('_accuracy')} accuracy",
        )
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right", fontsize="small")
    save(fig, path)


def plot_beside_stored(settings, problem, baseline, path):
    """The judged metric per epoch: this sweep's entries at their best setting
    and the stored ones (hollow squares), mean ± the 95% t-interval over seeds."""
    plt = pyplot()
    ours = [
        top
        for (p, _), (top, _) in best_settings(settings).items()
        if p == problem and top
    ]
    theirs = baselines.entries(baseline)
    styles = styles_for([s["optimizer"] for s in ours]
                        + [s["base_optimizer"] for s in theirs])
    metric = judging.metric(theirs[0] if theirs else ours[0])
    fig, axis = plt.subplots(figsize=(8, 5))
    for setting in ours:
        _band(axis, np.array(setting["history_by_seed"][metric]),
              styles[setting["optimizer"]], setting["optimizer"], metric)  # fmt: skip
    for setting in theirs:
        stored = {**styles[setting["base_optimizer"]], **STORED}
        _band(axis, setting["curves"][metric], stored, setting["optimizer"], metric)
    axis.set(title=f"{problem}: this sweep beside the stored baselines (hollow squares)",
             xlabel="epoch", ylabel=judging.name({"metric": metric}))  # fmt: skip
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", ncol=2)
    save(fig, path)


def _band(axis, by_seed, style, label, metric="accuracy"):
    """A mean curve over seeds (rows), drawn in `style` (plot's keywords),
    with its 95% t-interval as a band."""
    epochs = np.arange(1, by_seed.shape[1] + 1)
    means, halves = zip(*(t_interval(column) for column in by_seed.T), strict=True)
    means, halves = np.array(means), np.nan_to_num(np.array(halves))
    axis.plot(epochs, means, **style, label=f"{label} ({seeds(len(by_seed))})")
    band = within_range(metric, means - halves, means + halves)
    axis.fill_between(epochs, *band, color=style["color"], alpha=0.12)
