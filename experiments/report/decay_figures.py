"""The weight-decay figure: the judged metric (validation accuracy, or loss)
and training loss over learning rate × weight decay, per optimizer.
`figures.draw` lists it.
"""

import numpy as np

from experiments.plotting import pyplot, save
from experiments.report import judging
from experiments.report.columns import DECAY_AXIS, STEP_AXIS


def plot_weight_decay_heatmaps(settings, problem, path):
    """The judged metric and training loss over learning rate × weight decay,
    per optimizer.

    One column per optimizer (coupled and decoupled forms side by side), all
    on one colour scale per row; the best cell is boxed, diverged cells are
    grey with an X.
    """
    plt = pyplot()
    chosen = [s for s in settings if s["problem"] == problem and s["in_decay_grid"]]
    judged = chosen[0]
    optimizers = list(dict.fromkeys(s["optimizer"] for s in chosen))
    rates = sorted({s[STEP_AXIS] for s in chosen})
    decays = sorted({s[DECAY_AXIS] for s in chosen})
    grids = {o: _decay_grid(chosen, o, rates, decays) for o in optimizers}
    scales = _decay_scales(grids, judging.lower_is_better(chosen[0]))
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
                (accuracy, scales[0], judging.name(judged)),
                (loss, scales[1], "training loss"),
            )
        ):
            axis = axes[row][column]
            scores = judging.score(judged, accuracy)
            shown = "{:.2f}" if judging.lower_is_better(judged) else "{:.0%}"
            image = _heatmap(axis, values, scale, diverged, scores,
                             shown if row == 0 else None)  # fmt: skip
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
        f"{problem}: learning rate × weight decay (red box: best; grey X: diverged; "
        f"numbers: {judging.name(judged)}{' %' * (not judging.lower_is_better(judged))})"
    )
    save(fig, path, tight=False)


def _decay_grid(chosen, optimizer, rates, decays):
    """(accuracy, loss, diverged) matrices of one optimizer: weight decay × η."""
    accuracy = np.full((len(decays), len(rates)), np.nan)
    loss = np.full((len(decays), len(rates)), np.nan)
    diverged = np.zeros_like(accuracy, bool)
    for s in chosen:
        if s["optimizer"] != optimizer:
            continue
        cell = decays.index(s[DECAY_AXIS]), rates.index(s[STEP_AXIS])
        diverged[cell] = s["diverged"]
        if not s["diverged"]:
            accuracy[cell], loss[cell] = judging.value(s), s["train_loss"]
    return accuracy, loss, diverged


def _decay_scales(grids, lower_is_better):
    """One colour scale per row, shared by every optimizer: the judged metric
    (bright where it is best), log training loss."""
    from matplotlib.colors import LogNorm

    all_accuracy = np.concatenate([g[0].ravel() for g in grids.values()])
    all_loss = np.concatenate([g[1].ravel() for g in grids.values()])
    finite_loss = all_loss[np.isfinite(all_loss) & (all_loss > 0)]
    return [
        dict(
            cmap="viridis_r" if lower_is_better else "viridis",
            vmin=np.nanmin(all_accuracy),
            vmax=np.nanmax(all_accuracy),
        ),
        dict(
            cmap="magma_r",
            norm=LogNorm(finite_loss.min(), finite_loss.max())
            if finite_loss.size
            else None,
        ),
    ]


def _heatmap(axis, values, scale, diverged, scores, numbers):
    """One matrix: diverged cells X, the best score's cell boxed in red; with
    `numbers` (a format), each cell's value written in it."""
    plt = pyplot()
    cmap = plt.get_cmap(scale["cmap"]).with_extremes(bad="lightgrey")
    image = axis.imshow(np.ma.masked_invalid(values), origin="lower", aspect="auto",
                        cmap=cmap, **{k: v for k, v in scale.items() if k != "cmap"})  # fmt: skip
    for (i, j), bad in np.ndenumerate(diverged):
        if bad:
            axis.text(j, i, "X", ha="center", va="center", color="black", fontsize=11)
        elif numbers and np.isfinite(values[i, j]):
            axis.text(j, i, numbers.format(values[i, j]).rstrip("%"), ha="center",
                      va="center", color="white", fontsize=8)  # fmt: skip
    if np.isfinite(scores).any():
        best = np.unravel_index(np.nanargmax(scores), scores.shape)
        axis.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False,
                                     edgecolor="red", lw=2.5))  # fmt: skip
    return image
