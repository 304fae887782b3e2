"""The report's figures, one function each; `draw` lists them all.

Each takes the settings `report.aggregate` makes and a path to write.
"""

import numpy as np

from experiments.plotting import (
    STORED,
    diverged_legend,
    diverged_mark,
    pyplot,
    save,
    styles_for,
    within_range,
)
from experiments.report import baselines, judging
from experiments.report.columns import STEP_AXIS
from experiments.report.decay_figures import plot_weight_decay_heatmaps
from experiments.report.statistics import (
    PROFILE_TAUS,
    best_settings,
    error_scores,
    performance_profile,
    tuning_curves,
    usable,
)
from experiments.report.stored_figures import plot_beside_stored, plot_per_epoch

PANEL_WIDTH = 5.5  # inches, one problem's column


def draw(settings, sweep_dir):
    """Every figure that applies to these settings; returns their paths."""
    paths = []

    def add(name, plot, *args):
        paths.append(sweep_dir / name)
        plot(settings, *args, paths[-1])

    add("sensitivity.png", plot_sensitivity)
    if any(len(means) > 1 for means, _ in tuning_curves(settings).values()):
        add("tuning_budget.png", plot_tuning_budget)
    if any(top for top, _ in best_settings(settings).values()):  # else all diverged
        add("best_curves.png", plot_best_curves)
    for optimizer in dict.fromkeys(s["optimizer"] for s in settings):
        add(f"lr_curves_{optimizer}.png", plot_learning_rate_curves, optimizer)
    if any(s["first_batch_losses"] for s in settings):
        add("first_steps.png", plot_first_steps)
    if len({s["problem"] for s in settings}) > 1:
        add("performance_profile.png", plot_performance_profile)
    for problem, baseline, differ in baselines.comparisons(settings):
        if differ:
            continue
        if not baseline["protocol"].get("per_epoch"):
            add(f"stored_{problem}.png", plot_beside_stored, problem, baseline)
        elif baselines.per_epoch_pairs(settings, problem, baseline):
            add(f"{baseline['source'].lower()}_{problem}.png", plot_per_epoch,
                problem, baseline)  # fmt: skip
    for problem in dict.fromkeys(s["problem"] for s in settings):
        if any(s["in_decay_grid"] for s in settings if s["problem"] == problem):
            add(f"weight_decay_{problem}.png", plot_weight_decay_heatmaps, problem)
    return paths


def _best_per_learning_rate(settings):
    """For each (problem, optimizer, lr), its best weight decay's setting (the only one without a grid)."""
    best = {}
    for s in settings:
        key = (s["problem"], s["optimizer"], s[STEP_AXIS])
        value = judging.value(s)
        score = (
            -np.inf if s["diverged"] or not usable(value) else judging.score(s, value)
        )
        if key not in best or score > best[key][0]:
            best[key] = (score, s)
    return [s for _, s in best.values()]


def plot_tuning_budget(settings, path):
    """Expected best judged value after k settings of each entry's grid,
    drawn at random, ± its standard deviation as a band (Dodge et al. 2019),
    per problem; stored baselines' grids beside them (hollow squares), where
    the protocols match."""
    plt = pyplot()
    curves = tuning_curves(settings)
    for problem, baseline, differ in baselines.comparisons(settings):
        if not differ:
            curves.update(
                ((problem, entry), curve)
                for entry, curve in baselines.grid_curves(baseline).items()
            )
    problem_names = sorted({problem for problem, _ in curves})
    judged = {s["problem"]: s for s in settings}
    styles = styles_for([entry.removesuffix(" (stored)") for _, entry in curves])
    fig, axes = plt.subplots(1, len(problem_names),
                             figsize=(PANEL_WIDTH * len(problem_names) + 1, 4.5), squeeze=False)  # fmt: skip
    for axis, problem in zip(axes[0], problem_names, strict=True):
        for (curve_problem, entry), (means, spreads) in curves.items():
            if curve_problem != problem:
                continue
            draws = np.arange(1, len(means) + 1)
            style = styles[entry.removesuffix(" (stored)")]
            marks = STORED if entry.endswith("(stored)") else {"marker": "o", "ms": 3}
            means, spreads = np.array(means), np.array(spreads)
            axis.plot(draws, means, **style, **marks, label=entry)
            band = within_range(
                judging.metric(judged[problem]), means - spreads, means + spreads
            )
            axis.fill_between(draws, *band, color=style["color"], alpha=0.1)
        axis.set(
            title=f"{problem}: how much tuning each needs",
            xlabel="settings tried, drawn at random from the grid (k)",
            ylabel=f"expected best {judging.name(judged[problem])} (± std)",
        )
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    save(fig, path)


def plot_sensitivity(settings, path):
    """Final judged value (validation accuracy, or loss) and training loss
    against learning rate, ± one std."""
    plt = pyplot()
    settings = _best_per_learning_rate(settings)
    problem_names = sorted({s["problem"] for s in settings})
    optimizers = list(dict.fromkeys(s["optimizer"] for s in settings))
    styles = styles_for(optimizers)
    fig, axes = plt.subplots(
        2,
        len(problem_names),
        figsize=(max(PANEL_WIDTH * len(problem_names), 9), 8),
        squeeze=False,
    )
    for column, problem in enumerate(problem_names):
        accuracy_axis, loss_axis = axes[0][column], axes[1][column]
        judged = next(s for s in settings if s["problem"] == problem)
        for index, optimizer in enumerate(optimizers):
            group = sorted(
                (
                    s
                    for s in settings
                    if s["problem"] == problem and s["optimizer"] == optimizer
                ),
                key=lambda s: s[STEP_AXIS],
            )
            _sensitivity_lines(accuracy_axis, loss_axis, group, styles[optimizer],
                               optimizer, index)  # fmt: skip
        accuracy_axis.set(
            title=f"{problem}: {judging.name(judged)}",
            ylabel=f"final {judging.name(judged)}",
        )
        if not judging.lower_is_better(judged):
            accuracy_axis.set_ylim(-0.03, 1.0)
        loss_axis.set(
            title=f"{problem}: training loss",
            ylabel="final training loss (log)",
            yscale="log",
        )
        for axis in (accuracy_axis, loss_axis):
            axis.set_xscale("log")
            axis.set_xlabel("learning rate η (log)")
            axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    diverged = {s["optimizer"] for s in settings if s["diverged"]}
    marks, meanings = diverged_legend([styles[o] for o in optimizers if o in diverged])
    handles, labels = handles + marks, labels + meanings
    columns = _legend_columns(labels, fig.get_figwidth())
    fig.legend(handles, labels, loc="lower center", ncol=columns, frameon=False)
    legend_rows = -(-len(labels) // columns)
    multi = max(s["n_seeds"] for s in settings) > 1
    fig.suptitle(
        "Learning-rate sensitivity: each optimizer across the grid"
        + (" (bars: ± one std over seeds)" if multi else "")
    )
    save(fig, path, rect=(0, 0.03 * (legend_rows + 1), 1, 0.97))


def _legend_columns(labels, width, fontsize=10):
    """As many legend columns as `width` inches hold at the longest label
    (about 11 characters an inch at 10 points), at most 7."""
    longest = max(map(len, labels)) + 4  # the marker and the gap
    return max(1, min(len(labels), 7, int(width * 11 * 10 / fontsize // longest)))


def _sensitivity_lines(accuracy_axis, loss_axis, group, style, optimizer, index):
    """One optimizer's judged value and training loss across η; a mark
    (diverged_mark) where it diverged."""
    ok = [s for s in group if not s["diverged"]]
    bad = [s[STEP_AXIS] for s in group if s["diverged"]]
    lr = [s[STEP_AXIS] for s in ok]
    judged = judging.metric(group[0]) if group else ""
    for axis, metric in ((accuracy_axis, judged), (loss_axis, "train_loss")):
        std = [s[f"{metric}_std"] if usable(s[f"{metric}_std"]) else 0.0 for s in ok]
        axis.errorbar(lr, [s[metric] for s in ok], yerr=std, marker="o", capsize=3,
                      **style, label=optimizer)  # fmt: skip
    if bad:  # stacked a little per optimizer so coinciding marks stay visible
        mark = diverged_mark(style)
        accuracy_axis.plot(bad, [0.025 * index] * len(bad), **mark,
                           transform=accuracy_axis.get_xaxis_transform())  # fmt: skip
        loss_axis.plot(bad, [1.0 - 0.025 * index] * len(bad), **mark,
                       transform=loss_axis.get_xaxis_transform())  # fmt: skip


def _plot_curves(axes_pair, setting, style, label):
    history, spread = setting["history"], setting["history_std"]
    epochs = np.arange(1, len(history["loss"]) + 1)
    for axis, key in zip(axes_pair, ("loss", judging.metric(setting))):
        mean, std = np.array(history[key]), np.array(spread[key])
        axis.plot(epochs, mean, marker="o", ms=3, **style, label=label)
        if setting["n_seeds"] > 1:
            band = within_range(key, mean - std, mean + std)
            axis.fill_between(epochs, *band, color=style["color"], alpha=0.2)
    if setting["diverged"]:
        axes_pair[0].plot(
            [len(epochs)],
            [1.0],
            **diverged_mark(style),
            transform=axes_pair[0].get_xaxis_transform(),
        )


def _curve_figure(settings_by_problem, styles, labeler, title, path):
    plt = pyplot()
    fig, axes = plt.subplots(
        2,
        len(settings_by_problem),
        figsize=(PANEL_WIDTH * len(settings_by_problem), 8),
        squeeze=False,
    )
    for column, (problem, settings) in enumerate(settings_by_problem.items()):
        pair = (axes[0][column], axes[1][column])
        for setting in settings:
            _plot_curves(pair, setting, styles(setting), labeler(setting))
        pair[0].set(
            title=f"{problem}: training loss",
            ylabel="training loss (log)",
            yscale="log",
        )
        judged = judging.name(settings[0])
        pair[1].set(title=f"{problem}: {judged}", ylabel=judged)
        for axis in pair:
            axis.set_xlabel(_epoch_label(settings[0]))
            axis.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
            axis.grid(alpha=0.3)
        # One legend per column, below it: the curves fill both panels.
        labels = pair[1].get_legend_handles_labels()[1]
        pair[1].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                       ncol=_legend_columns(labels, PANEL_WIDTH, fontsize=8),
                       frameon=False)  # fmt: skip
    fig.suptitle(title)
    save(fig, path)


def _epoch_label(setting):
    """ "epoch", or for a problem trained for steps what one of its epochs is."""
    every = setting.get("protocol", {}).get("eval_every")
    return f"evaluation (every {every} steps)" if every else "epoch"


def plot_best_curves(settings, path):
    """Training curves of every optimizer at its best setting (± one std band over seeds)."""
    best = best_settings(settings)
    styles = styles_for([s["optimizer"] for s in settings])
    by_problem = {}
    for (problem, _), (top, _) in sorted(best.items()):
        if top is not None:
            by_problem.setdefault(problem, []).append(top)
    _curve_figure(
        by_problem,
        lambda s: styles[s["optimizer"]],
        lambda s: (
            f"{s['optimizer']} (η={s[STEP_AXIS]:g}"
            + (f", {s['n_seeds']} seeds)" if s["n_seeds"] > 1 else ")")
        ),
        "Each optimizer at its best learning rate",
        path,
    )


def plot_first_steps(settings, path):
    """Per-batch training loss of the first steps, per problem: each optimizer at
    its best η, and all at one shared η (`shared_rate`), where a difference
    in the first steps (bias correction's, say) is not a difference in η."""
    plt = pyplot()
    best = best_settings(settings)
    optimizers = list(dict.fromkeys(s["optimizer"] for s in settings))
    styles = styles_for(optimizers)
    problem_list = list(dict.fromkeys(s["problem"] for s in settings))
    fig, axes = plt.subplots(
        len(problem_list), 2, figsize=(12, 4.2 * len(problem_list)), squeeze=False
    )
    for row, problem in enumerate(problem_list):
        shared = shared_rate(best, problem)
        for optimizer in optimizers:
            top = best.get((problem, optimizer), (None,))[0]
            at_shared = [
                s
                for s in settings
                if (s["problem"], s["optimizer"], s[STEP_AXIS])
                == (problem, optimizer, shared)
            ]
            same_rate = at_shared[0] if at_shared else None
            for axis, setting in ((axes[row][0], top), (axes[row][1], same_rate)):
                if setting and setting["first_batch_losses"]:
                    losses = setting["first_batch_losses"]
                    axis.plot(
                        range(1, len(losses) + 1),
                        losses,
                        **styles[optimizer],
                        label=f"{optimizer} (η={setting[STEP_AXIS]:g})",
                    )
        axes[row][0].set_title(f"{problem}: each optimizer at its best η")
        axes[row][1].set_title(
            f"{problem}: all at η = {shared:g}" if shared else problem
        )
        for axis in axes[row]:
            axis.set(xlabel="step", ylabel="batch loss (log)", yscale="log")
            axis.grid(alpha=0.3)
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=8)
    fig.suptitle("The first training steps")
    save(fig, path)


def shared_rate(best, problem):
    """The median of the problem's entries' best η (of an even count, the
    lower middle one), from best_settings' answer, so that no entry is
    shown only far from its own best; None where no entry trained."""
    rates = sorted(top[STEP_AXIS] for (where, _), (top, _) in best.items()
                   if where == problem and top)  # fmt: skip
    return rates[(len(rates) - 1) // 2] if rates else None


def plot_learning_rate_curves(settings, optimizer, path):
    """One optimizer's curves across learning rates: too small is slow, too large diverges."""
    plt = pyplot()
    chosen = sorted(
        (s for s in _best_per_learning_rate(settings) if s["optimizer"] == optimizer),
        key=lambda s: s[STEP_AXIS],
    )
    rates = sorted({s[STEP_AXIS] for s in chosen})
    cmap = plt.get_cmap("viridis")
    shade = {lr: cmap(i / max(len(rates) - 1, 1)) for i, lr in enumerate(rates)}
    by_problem = {}
    for setting in chosen:
        by_problem.setdefault(setting["problem"], []).append(setting)
    _curve_figure(
        by_problem,
        lambda s: {"color": shade[s[STEP_AXIS]]},
        lambda s: (
            f"η={s[STEP_AXIS]:g}" + (" (diverged)" if s["diverged"] else "")
        ),
        f"{optimizer} across learning rates",
        path,
    )


def plot_performance_profile(settings, path):
    """Dolan & Moré's performance profile over the sweep's problems: for each
    entry, the share of problems on which its validation error at its best
    setting is within τ times the best entry's (statistics.performance_profile)."""
    plt = pyplot()
    taus = np.geomspace(1, PROFILE_TAUS[-1], 200)
    profile = performance_profile(error_scores(settings), taus)
    styles = styles_for(list(profile))
    fig, axis = plt.subplots(figsize=(7, 4.5))
    for entry, shares in profile.items():
        axis.step(taus, shares, where="post", **styles[entry], label=entry)
    problems = len({s["problem"] for s in settings})
    axis.set_xscale("log")
    axis.set_xticks(PROFILE_TAUS, [f"{tau:g}" for tau in PROFILE_TAUS])
    axis.xaxis.set_minor_formatter(plt.NullFormatter())
    axis.set(xlabel="τ: error within τ × the best entry's (log)",
             ylabel=f"share of the {problems} problems", ylim=(-0.03, 1.03),
             title="Performance profile (Dolan & Moré 2002): validation error")  # fmt: skip
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    save(fig, path)
