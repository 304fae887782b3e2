"""Animate the optimizers on 2-D problems at several learning rates.

    python -m experiments.trajectories
    python -m experiments.trajectories --problems ravine,rosenbrock \
        --optimizers sgd,momentum,adam --learning-rates 0.01,0.1 --steps 200 \
        --out logs/trajectories
    python -m experiments.trajectories --basins --problems double_well \
        --optimizers sgd,momentum,adam --learning-rates 0.01,0.03,0.1 --steps 400

For each problem and learning rate it writes <problem>_lr=<η>.gif (every
optimizer's path over the contour plot, beside its loss per iteration),
<problem>_lr=<η>.png (the last frame) and <problem>_lr=<η>.csv (positions
and losses per step). With --basins it instead writes
<problem>_basins.png: where paths from a grid of starts end (a global
minimum, another marked point, not converged within 0.05 of one, or
diverged), and prints each ending's share.
The paths come from the real custom_optimizers classes, applied to Keras
variables (one row per start point) with autodiff gradients.
"""

import csv
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

DEFAULT_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam"]
DEFAULT_LEARNING_RATES = [0.01, 0.1, 0.3]


@dataclass(frozen=True)
class Problem:
    """f(θ) on the plane, written in keras.ops so autodiff gives ∇f."""

    name: str
    function: object  # (x, y) -> loss
    start: tuple
    minima: tuple  # known minima (or the saddle point), marked on the plot
    extent: tuple  # (x_min, x_max, y_min, y_max) of the plot
    gradient_noise: float = 0.0  # std of noise added to ∇f, as mini-batches give

    @property
    def lowest(self):
        """f at the best marked point: the loss plot shows f − lowest, on a log axis."""
        return min(float(self.function(x, y)) for x, y in self.minima)


def _ravine(x, y):
    return 0.5 * (RAVINE_SLOW_CURVATURE * x**2 + RAVINE_CURVATURE * y**2)


def _rosenbrock(x, y):
    # b = 10 instead of the usual 100: the same curved valley, on which the
    # learning rates that suit the other problems do not all blow up at once.
    return (1 - x) ** 2 + 10 * (y - x**2) ** 2


def _beale(x, y):
    return (
        (1.5 - x + x * y) ** 2
        + (2.25 - x + x * y**2) ** 2
        + (2.625 - x + x * y**3) ** 2
    )


def _saddle(x, y):
    return x**2 + y**4 / 4 - y**2 / 2  # saddle at (0, 0), minima at (0, ±1)


def _double_well(x, y):
    # Two valleys along θ₁, the left one lower: a local minimum beside the global.
    return (x**2 - 1) ** 2 + DOUBLE_WELL_TILT * x + 0.5 * y**2


DOUBLE_WELL_TILT = 0.3
# Roots of f' = 4x³ − 4x + 0.3: the global minimum, the barrier's top, the local minimum.
DOUBLE_WELL_GLOBAL, DOUBLE_WELL_BARRIER, DOUBLE_WELL_LOCAL = (
    -1.0355787140888542,
    0.0754291585697482,
    0.9601495555191059,
)
RAVINE_CURVATURE = (
    10.0  # L, the largest curvature: gradient descent diverges for η > 2/L
)
RAVINE_SLOW_CURVATURE = (
    0.1  # along the ravine's floor; L / 0.1 = 100 is its condition number
)
PROBLEMS = {
    p.name: p
    for p in [
        Problem("ravine", _ravine, (-4.0, 1.0), ((0.0, 0.0),), (-5, 5, -2, 2)),
        Problem("rosenbrock", _rosenbrock, (-1.5, 2.0), ((1.0, 1.0),), (-2, 2, -1, 3)),
        Problem("beale", _beale, (1.0, 1.4), ((3.0, 0.5),), (-1, 4, -1.5, 2)),
        Problem(
            "saddle",
            _saddle,
            (-1.5, 1e-3),
            ((0.0, 1.0), (0.0, -1.0), (0.0, 0.0)),
            (-2, 2, -1.6, 1.6),
        ),
        Problem(
            "double_well",
            _double_well,
            (2.0, 0.5),
            ((DOUBLE_WELL_GLOBAL, 0.0), (DOUBLE_WELL_LOCAL, 0.0)),
            (-2, 2.5, -1.5, 1.5),
        ),
        Problem(
            "noisy_ravine",
            _ravine,
            (-4.0, 1.0),
            ((0.0, 0.0),),
            (-5, 5, -2, 2),
            gradient_noise=2.0,
        ),
    ]
}


def trajectory(problem, optimizer, steps, start=None, seed=0):
    """Positions (steps+1, 2) and losses (steps+1,) of `optimizer` on `problem`.

    The path ends early, marked by fewer rows, once the position or loss is
    not finite or the position is far off the plot.
    """
    return trajectories(problem, optimizer, steps, [start or problem.start], seed)[0]


def trajectories(problem, optimizer, steps, starts, seed=0, groups=1):
    """`trajectory` from each of `starts` at once: a list of (positions, losses).

    One (len(starts), 2) variable holds every start, and its loss is the sum
    of f over the rows, so each row's gradient is its own point's ∇f and
    every optimizer here, being element-wise, moves each row exactly as it
    would move that point alone. A path that ends stops being recorded; its
    row goes on but touches no other. With `groups` > 1 the starts are split
    into that many variables, `rate_0`, `rate_1`, ... (see `at_rates`).
    """
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    chunks = np.split(np.asarray(starts, "float32").reshape(-1, 2), groups)
    thetas = [keras.Variable(c, name=f"rate_{i}") for i, c in enumerate(chunks)]
    x_min, x_max, y_min, y_max = problem.extent
    limit = 10 * max(x_max - x_min, y_max - y_min)
    count = len(starts)
    positions = np.full((steps + 1, count, 2), np.nan, "float32")
    losses = np.full((steps + 1, count), np.nan)
    lengths = np.full(count, steps + 1)
    going = np.ones(count, bool)
    for step in range(steps + 1):
        with tf.GradientTape() as tape:
            stacked = tf.concat(thetas, 0)
            loss = problem.function(stacked[:, 0], stacked[:, 1])
            total = tf.reduce_sum(loss)
        position, loss_value = stacked.numpy(), loss.numpy().astype("float64")
        with np.errstate(invalid="ignore", over="ignore"):
            ended = going & ~(
                np.isfinite(position).all(1)
                & np.isfinite(loss_value)
                & (np.abs(position).max(1) <= limit)
            )
        lengths[ended] = step
        going &= ~ended
        positions[step, going], losses[step, going] = position[going], loss_value[going]
        if step == steps or not going.any():
            break
        gradients = tape.gradient(total, thetas)
        if problem.gradient_noise:
            noise = rng.normal(0, problem.gradient_noise, (count, 2)).astype("float32")
            gradients = [g + n for g, n in zip(gradients, np.split(noise, groups))]
        optimizer.apply_gradients(zip(gradients, thetas))
    return [(positions[: lengths[i], i], losses[: lengths[i], i]) for i in range(count)]


def at_rates(problem, name, learning_rates, steps, starts, seed=0, **hyperparameters):
    """{η: `trajectories` of optimizer `name` at η}, every η in one optimizer.

    The optimizer runs at η = 1 and gives each η's variable (`rate_<i>`) the
    per-layer multiplier η: its step is then 1·η, the same float32 number
    as η itself, so each path is the one a run at that η alone would take.
    """
    import custom_optimizers

    multipliers = {f"^rate_{i}$": float(rate) for i, rate in enumerate(learning_rates)}
    optimizer = custom_optimizers.get(
        name,
        learning_rate=1.0,
        learning_rate_multipliers=multipliers,
        **hyperparameters,
    )
    paths = trajectories(
        problem, optimizer, steps, list(starts) * len(learning_rates), seed,
        groups=len(learning_rates),
    )  # fmt: skip
    count = len(starts)
    return {
        rate: paths[i * count : (i + 1) * count]
        for i, rate in enumerate(learning_rates)
    }


def frame_indices(steps, max_frames):
    """Which steps become GIF frames: evenly spaced, always the last."""
    stride = max(1, math.ceil((steps + 1) / max_frames))
    return sorted(set(range(0, steps + 1, stride)) | {steps})


def run(problem, optimizer_names, learning_rate, steps, start=None):
    import custom_optimizers

    return {
        name: trajectory(
            problem,
            custom_optimizers.get(name, learning_rate=learning_rate),
            steps,
            start,
        )
        for name in optimizer_names
    }


def write_csv(paths, path):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["optimizer", "step", "x", "y", "loss"])
        for name, (positions, losses) in paths.items():
            for step, ((x, y), loss) in enumerate(zip(positions, losses)):
                writer.writerow(
                    [name, step, repr(float(x)), repr(float(y)), repr(float(loss))]
                )


def animate(problem, paths, learning_rate, steps, gif_path, png_path, max_frames=60):
    """Writes the GIF (Pillow, no ffmpeg) and its last frame as a PNG."""
    from experiments.cli import pyplot

    plt = pyplot()
    from matplotlib.animation import FuncAnimation, PillowWriter

    x_min, x_max, y_min, y_max = problem.extent
    grid_x, grid_y = np.meshgrid(
        np.linspace(x_min, x_max, 200), np.linspace(y_min, y_max, 200)
    )
    surface = problem.function(grid_x, grid_y)
    fig, (plane, curve) = plt.subplots(1, 2, figsize=(11, 4.5))
    plane.contour(
        grid_x,
        grid_y,
        np.log1p(surface - surface.min()),
        levels=25,
        cmap="Greys",
        alpha=0.6,
    )
    for mx, my in problem.minima:
        plane.plot(mx, my, "*", color="gold", ms=16, mec="k", zorder=5)
    plane.set(
        xlim=(x_min, x_max),
        ylim=(y_min, y_max),
        xlabel="θ₁",
        ylabel="θ₂",
        title=f"{problem.name}, η = {learning_rate:g} (★ known minimum)",
    )
    curve.set(
        yscale="log",
        xlim=(0, steps),
        xlabel="iteration",
        ylabel="loss − minimum (log)",
        title="loss per iteration",
    )
    curve.grid(alpha=0.3)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    artists = {}
    for i, (name, (positions, losses)) in enumerate(paths.items()):
        losses = np.maximum(losses - problem.lowest, 1e-16)
        color = colors[i % len(colors)]
        (line,) = plane.plot([], [], "-", color=color, lw=1.5, label=name)
        (head,) = plane.plot([], [], "o", color=color, ms=6)
        (loss_line,) = curve.plot([], [], "-", color=color, label=name)
        (end,) = plane.plot([], [], "X", color=color, ms=12, mec="k", zorder=6)
        (loss_end,) = curve.plot([], [], "X", color=color, ms=12, mec="k")
        artists[name] = (line, head, loss_line, end, loss_end, positions, losses)
    floor = min(
        (
            losses[losses > 0].min()
            for *_, losses in artists.values()
            if (losses > 0).any()
        ),
        default=1e-12,
    )
    ceiling = max(
        (losses.max() for *_, losses in artists.values() if len(losses)), default=1.0
    )
    curve.set_ylim(max(floor, 1e-12) / 2, ceiling * 2)
    plane.legend(loc="upper right", fontsize=8, title="X: diverged", title_fontsize=8)
    step_text = plane.text(0.02, 0.95, "", transform=plane.transAxes, fontsize=10)

    def draw(step):
        for line, head, loss_line, end, loss_end, positions, losses in artists.values():
            shown = positions[: step + 1]
            line.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
            loss_line.set_data(
                np.arange(min(step + 1, len(losses))), losses[: step + 1]
            )
            ended = len(positions) < steps + 1 and step >= len(positions)
            # The path left the plot: mark where it was last seen, pinned to the edge.
            mark = (
                np.clip(shown[-1:], [x_min, y_min], [x_max, y_max])
                if ended
                else shown[:0]
            )
            end.set_data(mark[:, 0], mark[:, 1])
            loss_end.set_data(
                [len(losses) - 1] if ended else [], losses[-1:] if ended else []
            )
        step_text.set_text(f"step {step}")

    frames = frame_indices(steps, max_frames)
    fig.tight_layout()
    FuncAnimation(fig, draw, frames=frames).save(gif_path, writer=PillowWriter(fps=12))
    draw(steps)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


CONVERGED_WITHIN = 0.05  # a path has converged if it ends this close to a marked point


def basin(problem, positions, steps):
    """Where a path of `steps` steps ended: "global", "local", "not converged"
    or "diverged".

    "global" is within CONVERGED_WITHIN of a marked point of the lowest f
    (the saddle's two minima at (0, ±1) both count), "local" within it of
    another marked point (a local minimum, or the saddle point itself).
    """
    if len(positions) < steps + 1:
        return "diverged"
    lowest = problem.lowest
    for x, y in problem.minima:
        if np.hypot(*(positions[-1] - np.array([x, y]))) <= CONVERGED_WITHIN:
            value = float(problem.function(x, y))
            return "global" if value <= lowest + 1e-9 * max(1, abs(lowest)) else "local"
    return "not converged"


ENDINGS = {  # colour and marker of each ending on the basin map
    "global": ("tab:green", "o"),
    "local": ("tab:red", "o"),
    "not converged": ("tab:orange", "s"),
    "diverged": ("k", "x"),
}


def basin_map(problem, optimizer_names, learning_rates, steps, png_path, columns=15):
    """Where paths from a grid of starts end, per optimizer (row) and η (column).

    Each start is coloured by how its path ends (`basin`). Returns
    {(optimizer, η): {ending: share of starts}}, every ending listed.
    """
    from experiments.cli import pyplot

    plt = pyplot()

    import custom_optimizers

    x_min, x_max, y_min, y_max = problem.extent
    starts = [
        (x, y)
        for y in np.linspace(y_min * 0.7, y_max * 0.7, 3)
        for x in np.linspace(x_min, x_max, columns)
    ]
    grid_x, grid_y = np.meshgrid(
        np.linspace(x_min, x_max, 200), np.linspace(y_min, y_max, 200)
    )
    surface = problem.function(grid_x, grid_y)
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
            axis.contour(grid_x, grid_y, np.log1p(surface - surface.min()),
                         levels=15, cmap="Greys", alpha=0.5)  # fmt: skip
            optimizer = custom_optimizers.get(name, learning_rate=rate)
            paths = trajectories(problem, optimizer, steps, starts)
            ends = [basin(problem, positions, steps) for positions, _ in paths]
            for (x, y), end in zip(starts, ends):
                colour, marker = ENDINGS[end]
                axis.plot(x, y, marker, color=colour, ms=4 if marker != "x" else 5)
            for mx, my in problem.minima:
                axis.plot(mx, my, "*", color="gold", ms=12, mec="k")
            shares[(name, rate)] = {end: ends.count(end) / len(ends) for end in ENDINGS}
            axis.set_title(
                f"{name}, η = {rate:g}: {shares[(name, rate)]['global']:.0%} global",
                fontsize=9,
            )
            axis.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xticks=[], yticks=[])
    fig.suptitle(
        f"{problem.name}: where {steps} steps from each start end\n(green: a "
        f"global minimum, red: another marked point, orange square: not within "
        f"{CONVERGED_WITHIN:g} of one, x: diverged)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return shares


def main(argv=None):
    from experiments import cli

    parser = cli.parser("python -m experiments.trajectories", __doc__)
    parser.add_argument(
        "--problems",
        default=",".join(PROBLEMS),
        help=f"comma-separated: {', '.join(PROBLEMS)}",
    )
    parser.add_argument(
        "--optimizers",
        default=",".join(DEFAULT_OPTIMIZERS),
        help="custom_optimizers short names",
    )
    parser.add_argument(
        "--learning-rates", default=",".join(map(str, DEFAULT_LEARNING_RATES))
    )
    parser.add_argument("--steps", default="150", help="optimizer steps per path")
    parser.add_argument(
        "--start",
        help="start point x,y for every problem (default: each problem's own)",
    )
    parser.add_argument("--frames", default="60", help="at most this many GIF frames")
    parser.add_argument("--out", default="logs/trajectories", help="output folder")
    parser.add_argument(
        "--basins",
        action="store_true",
        help="instead of animations: <problem>_basins.png, where paths from a grid "
        "of starts end, for problems with several minima",
    )
    args = parser.parse_args(argv)
    try:
        import custom_optimizers
        from experiments.cli import check_writable, comma_list, number

        problems = cli.names(comma_list(args.problems), PROBLEMS, "problem")
        optimizers = cli.names(
            comma_list(args.optimizers), custom_optimizers.available(), "optimizer"
        )
        rates = [
            number(t, "learning rate must be a positive number", lambda x: x > 0)
            for t in args.learning_rates.split(",")
        ]
        steps, frames = (
            int(
                number(
                    text,
                    f"{what} must be a positive integer",
                    lambda x: x >= 1 and x.is_integer(),
                )
            )
            for text, what in ((args.steps, "steps"), (args.frames, "frames"))
        )
        start = None
        if args.start:
            start = tuple(
                number(
                    v,
                    f"start must be two numbers x,y (got {args.start!r}): bad value",
                    lambda x: True,
                )
                for v in args.start.split(",")
            )
            if len(start) != 2:
                raise ValueError(f"start must be two numbers x,y, got {args.start!r}")
            if args.basins:
                raise ValueError(
                    "--start does not combine with --basins, which starts from a "
                    "grid of points; leave out one of them"
                )
        check_writable(args.out, kind="output")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.basins:
        for problem_name in problems:
            problem = PROBLEMS[problem_name]
            path = out / f"{problem_name}_basins.png"
            shares = basin_map(problem, optimizers, rates, steps, path)
            for (name, rate), share in shares.items():
                print(f"{problem_name} {name} η={rate:g}: " + ", ".join(
                    f"{share[end]:.0%} {end}" for end in ENDINGS))  # fmt: skip
            print(f"{path}", flush=True)
        return 0
    for problem_name in problems:
        problem = PROBLEMS[problem_name]
        for rate in rates:
            stem = (
                f"{out}/{problem_name}_lr={rate:g}"  # not Path.with_suffix: η has a dot
            )
            paths = run(problem, optimizers, rate, steps, start)
            write_csv(paths, f"{stem}.csv")
            animate(problem, paths, rate, steps, f"{stem}.gif", f"{stem}.png", frames)
            finals = ", ".join(
                f"{name} {'diverged' if len(losses) < steps + 1 else f'{losses[-1]:.3g}'}"
                for name, (_, losses) in paths.items()
            )
            print(f"{stem}.gif: final loss {finals}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
