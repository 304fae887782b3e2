"""An interactive page: the optimizers on the 2-D problems, at any η and β.

    python -m experiments.explorer                  # logs/explorer/index.html
    python -m experiments.explorer --steps 100 --out logs/explorer

Every path on the page is computed here, in Python, by the library's
optimizer classes through `trajectories.py` (the same code as the GIFs),
for every problem, optimizer, learning rate on a log grid, momentum β and
start point; the page only picks which precomputed paths to draw. It is
one self-contained HTML file (Bokeh, inlined): open it from disk, with no
network and no server. The page honours URL parameters, e.g.
index.html?problem=ravine&lr=0.1&beta=0.9&start=1&step=0&play=1.

Beside the paths, on the ravine (a quadratic with curvatures μ and L), the
page and this command print the textbook predictions for gradient descent
and heavy-ball momentum next to the steps the real optimizers took.
"""

import sys
import time
from pathlib import Path

from experiments import cli
from experiments.landscapes import page, theory
from experiments.landscapes.surfaces import SURFACES


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.explorer", __doc__)
    parser.add_argument("--out", default="logs/explorer", help="output folder")
    parser.add_argument("--steps", default="100", help="optimizer steps per path")
    parser.add_argument("--problems", default=",".join(SURFACES),
                        help=f"comma-separated: {', '.join(SURFACES)}")  # fmt: skip
    parser.add_argument(
        "--learning-rates",
        default=",".join(f"{r:g}" for r in page.LEARNING_RATES),
        help="comma-separated (default: 13 from 1e-3 to 1, four per decade)",
    )
    args = parser.parse_args(argv)
    problems = cli.names(cli.comma_list(args.problems), SURFACES, "problem")
    rates = [cli.number(r, "learning rate must be a positive number",
                        lambda x: x > 0) for r in cli.comma_list(args.learning_rates)]  # fmt: skip
    steps = cli.at_most_in_memory(
        args.steps, "--steps", 1, page.bytes_per_step(problems, rates)
    )
    cli.check_writable(args.out, kind="output")
    started = time.perf_counter()
    paths = page.compute_paths(problems, page.OPTIMIZERS, rates, steps)
    ravine = theory.ravine_theory() if "ravine" in problems else None
    for line in theory.theory_lines(ravine) if ravine else []:
        print(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page.page(paths, ravine, problems, page.OPTIMIZERS, rates, steps))
    print(
        f"{index}: {len(paths)} paths, {index.stat().st_size / 2**20:.1f} MB, "
        f"{time.perf_counter() - started:.0f} s; open it in a browser (no network needed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
