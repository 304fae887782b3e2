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
variables (one row per start point) with autodiff gradients
(experiments/landscapes/).
"""

import sys
from pathlib import Path

from experiments import cli
from experiments.cli import UsageError
from experiments.landscapes import drawing, paths
from experiments.landscapes.surfaces import SURFACES

DEFAULT_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam"]
DEFAULT_LEARNING_RATES = [0.01, 0.1, 0.3]


def parse_args(argv):
    parser = cli.parser("python -m experiments.trajectories", __doc__)
    parser.add_argument(
        "--problems",
        default=",".join(SURFACES),
        help=f"comma-separated: {', '.join(SURFACES)}",
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
    return parser.parse_args(argv)


def resolve(args):
    """The checked settings: problems, optimizers, rates, steps, frames, start."""
    import custom_optimizers

    settings = {
        "problems": cli.names(cli.comma_list(args.problems), SURFACES, "problem"),
        "optimizers": cli.names(
            cli.comma_list(args.optimizers), custom_optimizers.available(), "optimizer"
        ),
        "rates": [
            cli.number(t, "learning rate must be a positive number", lambda x: x > 0)
            for t in args.learning_rates.split(",")
        ],
        "steps": cli.at_most_in_memory(
            args.steps, "--steps", 1, drawing.BYTES_PER_STEP * drawing.BASIN_STARTS
        ),
        "frames": cli.integer(args.frames, "--frames", 1),
        "start": None,
    }
    if args.start:
        start = tuple(
            cli.number(v, f"start must be two numbers x,y (got {args.start!r}): bad value",
                       lambda x: True)
            for v in args.start.split(",")
        )  # fmt: skip
        if len(start) != 2:
            raise UsageError(f"start must be two numbers x,y, got {args.start!r}")
        if args.basins:
            raise UsageError(
                "--start does not combine with --basins, which starts from a "
                "grid of points; leave out one of them"
            )
        settings["start"] = start
    cli.check_writable(args.out, kind="output")
    return settings


def write_basins(settings, out):
    for name in settings["problems"]:
        path = out / f"{name}_basins.png"
        shares = drawing.basin_map(SURFACES[name], settings["optimizers"],
                                   settings["rates"], settings["steps"], path)  # fmt: skip
        for (optimizer, rate), share in shares.items():
            print(f"{name} {optimizer} η={rate:g}: " + ", ".join(
                f"{share[end]:.0%} {end}" for end in drawing.ENDINGS))  # fmt: skip
        print(f"{path}", flush=True)


def write_animations(settings, out):
    steps = settings["steps"]
    for name in settings["problems"]:
        surface = SURFACES[name]
        for rate in settings["rates"]:
            stem = f"{out}/{name}_lr={rate:g}"  # not Path.with_suffix: η has a dot
            found = paths.run(
                surface, settings["optimizers"], rate, steps, settings["start"]
            )
            drawing.write_csv(found, f"{stem}.csv")
            drawing.animate(surface, found, rate, steps, f"{stem}.gif", f"{stem}.png",
                            settings["frames"])  # fmt: skip
            finals = ", ".join(
                f"{optimizer} {'diverged' if len(losses) < steps + 1 else f'{losses[-1]:.3g}'}"
                for optimizer, (_, losses) in found.items()
            )
            print(f"{stem}.gif: final loss {finals}", flush=True)


@cli.command
def main(argv=None):
    args = parse_args(argv)
    settings = resolve(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (write_basins if args.basins else write_animations)(settings, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
