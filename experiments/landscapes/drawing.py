"""Pictures of the paths: the animation over the contour plot, its CSV, and the
map of where paths from a grid of starts end (the basins)."""

import csv
import math

import numpy as np

from experiments.landscapes.paths import trajectories
from experiments.plotting import DPI, colors_for, pyplot, save


def frame_indices(steps, max_frames):
    """Which steps become GIF frames: evenly spaced, always the last."""
    stride = max(1, math.ceil((steps + 1) / max_frames))
    return sorted(set(range(0, steps + 1, stride)) | {steps})


def write_csv(paths, path):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["optimizer", "step", "x", "y", "loss"])
        for name, (positions, losses) in paths.items():
            for step, ((x, y), loss) in enumerate(zip(positions, losses)):
                writer.writerow(
                    [name, step, repr(float(x)), repr(float(y)), repr(float(loss))]
                )


def contours(axis, surface, levels, alpha):
    """The surface's contours on `axis`: log(1 + f − min f) over its extent."""
    grid_x, grid_y, values = surface.grid(CONTOUR_POINTS)
    axis.contour(grid_x, grid_y, np.log1p(values - values.min()), levels=levels,
                 cmap="Greys", alpha=alpha)  # fmt: skip


CONTOUR_POINTS = 200  # per side of the grid a surface's contours are drawn from


def animate(surface, paths, learning_rate, steps, gif_path, png_path, max_frames=60):
    """Writes the GIF (Pillow, no ffmpeg) and its last frame as a PNG."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    plt = pyplot()
    fig, (plane, curve) = plt.subplots(1, 2, figsize=(11, 4.5))
    _frame_axes(plane, curve, surface, steps)
    colors = colors_for(list(paths))
    artists = [
        _path_artists(plane, curve, name, positions,
                      np.maximum(losses - surface.lowest, 1e-16), colors[name],
                      layer)
        for layer, (name, (positions, losses)) in enumerate(paths.items())
    ]  # fmt: skip
    losses = [a["losses"] for a in artists]
    floor = min((c[c > 0].min() for c in losses if (c > 0).any()), default=1e-12)
    ceiling = max((c.max() for c in losses if len(c)), default=1.0)
    curve.set_ylim(max(floor, 1e-12) / 2, ceiling * 2)
    plane.legend(loc="upper right", fontsize=8, title="X: diverged", title_fontsize=8)

    def draw(step):  # the step in the title, where no path can cross it
        for artist in artists:
            _draw_step(artist, step, steps, surface.extent)
        plane.set_title(f"{surface.name}, η = {learning_rate:g}, step {step} "
                        "(★ known minimum)")  # fmt: skip

    fig.tight_layout()
    FuncAnimation(fig, draw, frames=frame_indices(steps, max_frames)).save(
        gif_path, writer=PillowWriter(fps=12), dpi=DPI
    )
    draw(steps)
    save(fig, png_path)


def _frame_axes(plane, curve, surface, steps):
    contours(plane, surface, levels=25, alpha=0.6)
    for mx, my in surface.minima:
        plane.plot(mx, my, "*", color="gold", ms=16, mec="k", zorder=5)
    x_min, x_max, y_min, y_max = surface.extent
    plane.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="θ₁", ylabel="θ₂")
    curve.set(yscale="log", xlim=(0, steps), xlabel="iteration",
              ylabel="loss − minimum (log)", title="loss per iteration")  # fmt: skip
    curve.grid(alpha=0.3)


def _path_artists(plane, curve, name, positions, losses, color, layer):
    """One optimizer's line, head, loss curve and end marks, empty until drawn.

    Each `layer` drawn later is thinner, with smaller marks, so a path that
    runs on top of an earlier one (Nesterov's over gradient descent's) or
    ends at the same point leaves the earlier one showing around it."""
    width, mark = max(2.6 - 0.5 * layer, 1.0), max(13 - 2 * layer, 6)
    return {
        "line": plane.plot([], [], "-", color=color, lw=width, label=name)[0],
        "head": plane.plot([], [], "o", color=color, ms=mark / 2 + 2)[0],
        "loss_line": curve.plot([], [], "-", color=color, lw=width, label=name)[0],
        "end": plane.plot([], [], "X", color=color, ms=mark, mec="k", zorder=6)[0],
        "loss_end": curve.plot([], [], "X", color=color, ms=mark, mec="k")[0],
        "positions": positions,
        "losses": losses,
    }


def _draw_step(artist, step, steps, extent):
    positions, losses = artist["positions"], artist["losses"]
    shown = positions[: step + 1]
    artist["line"].set_data(shown[:, 0], shown[:, 1])
    artist["head"].set_data(shown[-1:, 0], shown[-1:, 1])
    artist["loss_line"].set_data(
        np.arange(min(step + 1, len(losses))), losses[: step + 1]
    )
    ended = len(positions) < steps + 1 and step >= len(positions)
    # The path left the plot: mark where it was last seen, pinned just inside
    # the edge, so the whole mark shows.
    x_min, x_max, y_min, y_max = extent
    inset = EDGE_INSET * np.array([x_max - x_min, y_max - y_min])
    low, high = np.array([x_min, y_min]) + inset, np.array([x_max, y_max]) - inset
    mark = np.clip(shown[-1:], low, high) if ended else shown[:0]
    artist["end"].set_data(mark[:, 0], mark[:, 1])
    artist["loss_end"].set_data(
        [len(losses) - 1] if ended else [], losses[-1:] if ended else []
    )


EDGE_INSET = 0.03  # of the plot's width and height: a diverged mark's margin
CONVERGED_WITHIN = 0.05  # a path has converged if it ends this close to a marked point
BASIN_COLUMNS, BASIN_ROWS = 15, 3  # the grid of starts on a basin map
BASIN_STARTS = BASIN_COLUMNS * BASIN_ROWS
BYTES_PER_STEP = 16  # a step of one path in memory: x, y in float32, f in float64


def basin(surface, positions, steps):
    """Where a path of `steps` steps ended: "global", "local", "not converged"
    or "diverged".

    "global" is within CONVERGED_WITHIN of a marked point of the lowest f
    (the saddle's two minima at (0, ±1) both count), "local" within it of
    another marked point (a local minimum, or the saddle point itself).
    """
    if len(positions) < steps + 1:
        return "diverged"
    for x, y in surface.minima:
        if np.hypot(*(positions[-1] - np.array([x, y]))) <= CONVERGED_WITHIN:
            return "global" if is_global(surface, x, y) else "local"
    return "not converged"


def is_global(surface, x, y):
    """Whether f at (x, y) is the surface's lowest marked value."""
    lowest = surface.lowest
    return float(surface.function(x, y)) <= lowest + 1e-9 * max(1, abs(lowest))


ENDINGS = {  # colour and marker of each ending on the basin map
    "global": ("tab:green", "o"),
    "local": ("tab:red", "o"),
    "not converged": ("tab:orange", "s"),
    "diverged": ("k", "x"),
}


def basin_map(surface, optimizer_names, learning_rates, steps, png_path):
    """Where paths from a grid of starts end, per optimizer (row) and η (column).

    Each start is coloured by how its path ends (`basin`). Returns
    {(optimizer, η): {ending: share of starts}}, every ending listed.
    """
    import custom_optimizers

    plt = pyplot()
    x_min, x_max, y_min, y_max = surface.extent
    starts = [
        (x, y)
        for y in np.linspace(y_min * 0.7, y_max * 0.7, BASIN_ROWS)
        for x in np.linspace(x_min, x_max, BASIN_COLUMNS)
    ]
    fig, axes = plt.subplots(
        len(optimizer_names),
        len(learning_rates),
        figsize=(3.6 * len(learning_rates), 2.6 * len(optimizer_names)),
        squeeze=False,
    )
    shares = {}
    for row, name in enumerate(optimizer_names):
        for column, rate in enumerate(learning_rates):
            axis = axes[row][column]
            contours(axis, surface, levels=15, alpha=0.5)
            optimizer = custom_optimizers.get(name, learning_rate=rate)
            paths = trajectories(surface, optimizer, steps, starts)
            ends = [basin(surface, positions, steps) for positions, _ in paths]
            for (x, y), end in zip(starts, ends, strict=True):
                colour, marker = ENDINGS[end]
                axis.plot(x, y, marker, color=colour, ms=4 if marker != "x" else 5)
            for mx, my in surface.minima:
                colour = "gold" if is_global(surface, mx, my) else "white"
                axis.plot(mx, my, "*", color=colour, ms=12, mec="k")
            shares[(name, rate)] = {end: ends.count(end) / len(ends) for end in ENDINGS}
            axis.set_title(
                f"{name}, η = {rate:g}: {shares[(name, rate)]['global']:.0%} global",
                fontsize=9,
            )
            margin = 0.04 * (x_max - x_min)  # the starts on the frame stay whole
            axis.set(xlim=(x_min - margin, x_max + margin),
                     ylim=(y_min - margin, y_max + margin), xticks=[], yticks=[],
                     xlabel="θ₁" if row == len(optimizer_names) - 1 else "",
                     ylabel="θ₂" if column == 0 else "")  # fmt: skip
    fig.suptitle(
        f"{surface.name}: where {steps} steps from each start end\n(green: in a "
        f"global minimum, gold star; red: in another marked point, white star; "
        f"orange square: within {CONVERGED_WITHIN:g} of neither; x: diverged)",
        fontsize=10,
        wrap=True,  # a one-column map is narrower than the legend line
    )
    save(fig, png_path)
    return shares
