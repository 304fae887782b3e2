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

import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from experiments import cli  # noqa: E402
from experiments import trajectories as tr  # noqa: E402

OPTIMIZERS = [
    "sgd",
    "momentum",
    "nesterov",
    "rmsprop",
    "adam_no_bias_correction",
    "adam",
]
WITH_BETA = ("momentum", "nesterov")  # the optimizers whose β the page varies
BETAS = [0.0, 0.5, 0.9, 0.99]
# 13 points from 1e-3 to 1, four per decade, so 0.01 and 0.1 are on it.
LEARNING_RATES = [float(f"{10 ** (k / 4 - 3):.3g}") for k in range(13)]
STARTS = {  # the problem's own start first
    "ravine": [(-4.0, 1.0), (4.5, -1.5), (-1.0, 1.8)],
    "rosenbrock": [(-1.5, 2.0), (1.8, 0.0), (-0.5, -0.5)],
    "beale": [(1.0, 1.4), (3.5, 1.5), (0.0, -1.0)],
    "saddle": [(-1.5, 1e-3), (1.5, 0.2), (-1.0, -0.5)],
    "double_well": [(2.0, 0.5), (-1.8, 1.0), (0.5, -1.0)],
}
STARTS["noisy_ravine"] = STARTS["ravine"]
LOSS_FLOOR = 1e-16  # the loss plot shows f − lowest on a log axis, floored here
TOLERANCE = 1e-6  # the ravine's f* is 0: "converged" once f stays below this


def settings(name):
    """Every (β, optimizer settings) the page offers for optimizer `name`."""
    if name in WITH_BETA:
        return [(beta, {"momentum": beta}) for beta in BETAS]
    return [(None, {})]


def key(problem, name, rate, beta, start):
    """How the page finds one path: must match `pathKey` in the page's script."""
    return f"{problem}|{name}|{rate:g}|{'-' if beta is None else f'{beta:g}'}|{start}"


def compute_paths(problems, optimizers, rates, steps):
    """{key: (positions, losses)} for every combination the page offers."""
    paths = {}
    for problem_name in problems:
        problem, starts = tr.PROBLEMS[problem_name], STARTS[problem_name]
        for name in optimizers:
            for beta, hyperparameters in settings(name):
                by_rate = tr.at_rates(problem, name, rates, steps, starts,
                                      **hyperparameters)  # fmt: skip
                for rate, ends in by_rate.items():
                    for index, path in enumerate(ends):
                        paths[key(problem_name, name, rate, beta, index)] = path
    return paths


def steps_to_tolerance(losses, steps):
    """Steps after which the loss stays below TOLERANCE; None if it never does."""
    above = np.flatnonzero(np.asarray(losses) >= TOLERANCE)
    if len(losses) < steps + 1 or (len(above) and above[-1] == steps):
        return None
    return 0 if not len(above) else int(above[-1]) + 1


def contraction(rate, beta, curvatures):
    """How much θ − θ* shrinks per step, asymptotically, on a quadratic.

    Per curvature λ, heavy-ball momentum (β = 0: gradient descent) is the
    linear map (θ_k, θ_k−1) → ((1 + β − ηλ)θ_k − βθ_k−1, θ_k); its spectral
    radius is the rate, and the slowest direction sets the pace.
    """
    return max(
        max(abs(np.linalg.eigvals([[1 + beta - rate * curvature, -beta], [1, 0]])))
        for curvature in curvatures
    )


def predicted_steps(rate, beta, curvatures, start_loss):
    """Steps for f to fall from `start_loss` below TOLERANCE at that rate; None: never."""
    shrink = contraction(rate, beta, curvatures)
    if shrink >= 1:
        return None
    return math.ceil(math.log(TOLERANCE / start_loss) / (2 * math.log(shrink)))


def ravine_theory(steps=2000):
    """The textbook's predictions on the ravine beside what the real optimizers did.

    Goh (2017), "Why Momentum Really Works", for curvatures μ ≤ L,
    κ = L/μ: gradient descent converges for 0 < η < 2/L and is fastest at
    η = 2/(L + μ), where θ − θ* shrinks by (κ − 1)/(κ + 1) a step;
    heavy-ball momentum (his z ← βz + ∇f, w ← w − αz is the library's
    m ← βm + ηg with α = η) is fastest at β = ((√κ − 1)/(√κ + 1))² and
    η = (2/(√L + √μ))², with rate (√κ − 1)/(√κ + 1). Returns those numbers
    and `rows` of (optimizer, η, β, predicted steps, measured steps), with
    None where it never gets there (predicted: diverges).
    """
    mu, big_l = tr.RAVINE_SLOW_CURVATURE, tr.RAVINE_CURVATURE
    kappa = big_l / mu
    problem = tr.PROBLEMS["ravine"]
    start_loss = float(problem.function(*problem.start))
    gd_best = 2 / (big_l + mu)
    gd_rate = (kappa - 1) / (kappa + 1)
    momentum_rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    beta_best = momentum_rate**2
    eta_best = (2 / (math.sqrt(big_l) + math.sqrt(mu))) ** 2

    def measured(name, rates, **hyperparameters):
        paths = tr.at_rates(problem, name, rates, steps, [problem.start],
                            **hyperparameters)  # fmt: skip
        return {
            rate: steps_to_tolerance(ends[0][1], steps) for rate, ends in paths.items()
        }

    curvatures = (mu, big_l)
    rows = []

    def add(name, beta, found):
        for rate, steps_taken in found.items():
            predicted = predicted_steps(rate, beta, curvatures, start_loss)
            rows.append((name, rate, beta, predicted, steps_taken))

    gd_rates = [0.05, 0.1, 0.15, 0.18, 0.19, 0.195, round(gd_best, 4), 0.2, 0.21]
    add("gradient descent", 0.0, measured("sgd", gd_rates))
    for beta in (0.0, 0.5, 0.6, 0.65, round(beta_best, 4), 0.7, 0.75, 0.8, 0.9, 0.99):
        add("momentum", beta, measured("momentum", [round(eta_best, 4)], momentum=beta))
    add("momentum", round(beta_best, 4),
        measured("momentum", [0.25, 0.3, 0.36, 0.4], momentum=round(beta_best, 4)))  # fmt: skip
    return {
        "mu": mu, "L": big_l, "kappa": kappa, "start_loss": start_loss,
        "gd_limit": 2 / big_l, "gd_best": gd_best, "gd_rate": gd_rate,
        "beta_best": beta_best, "eta_best": eta_best, "momentum_rate": momentum_rate,
        "rows": rows, "steps": steps,
    }  # fmt: skip


def theory_lines(theory):
    """The comparison as plain text lines (the command prints them)."""
    t = theory
    lines = [
        f"ravine: μ = {t['mu']:g}, L = {t['L']:g}, κ = {t['kappa']:g}; f from "
        f"{t['start_loss']:g} to below {TOLERANCE:g}, at most {t['steps']} steps",
        f"gradient descent: converges for η < 2/L = {t['gd_limit']:g}, fastest at "
        f"η = 2/(L + μ) = {t['gd_best']:.4g} (rate {t['gd_rate']:.4g} a step)",
        f"momentum: fastest at β = {t['beta_best']:.4g}, η = {t['eta_best']:.4g} "
        f"(rate {t['momentum_rate']:.4g} a step)",
        f"{'optimizer':17} {'η':>7} {'β':>6} {'predicted steps':>16} {'measured':>9}",
    ]
    for name, rate, beta, predicted, found in t["rows"]:
        lines.append(
            f"{name:17} {rate:7.4g} {beta:6.4g} {_steps(predicted, 'diverges'):>16} "
            f"{_steps(found, 'never'):>9}"
        )
    return lines


def _steps(count, otherwise):
    return otherwise if count is None else str(count)


def theory_html(theory):
    t = theory
    rows = "".join(
        f"<tr><td>{name}</td><td>{rate:.4g}</td><td>{beta:.4g}</td>"
        f"<td>{_steps(predicted, 'diverges')}</td><td>{_steps(found, 'never')}</td></tr>"
        for name, rate, beta, predicted, found in t["rows"]
    )
    return (
        "<h3>Theory beside measurement: the ravine</h3>"
        f"<p>f(θ) = ½(μθ₁² + Lθ₂²) with μ = {t['mu']:g}, L = {t['L']:g}, "
        f"κ = L/μ = {t['kappa']:g}. Gradient descent converges only for "
        f"η &lt; 2/L = {t['gd_limit']:g} and is fastest at η = 2/(L + μ) = "
        f"{t['gd_best']:.4g}, where θ − θ* shrinks by (κ − 1)/(κ + 1) = "
        f"{t['gd_rate']:.4g} a step. Momentum is fastest at β = ((√κ − 1)/(√κ + 1))² "
        f"= {t['beta_best']:.4g} with η = (2/(√L + √μ))² = {t['eta_best']:.4g}, "
        f"rate (√κ − 1)/(√κ + 1) = {t['momentum_rate']:.4g} (Goh 2017, "
        "<i>Why Momentum Really Works</i>). Steps until f stays below "
        f"{TOLERANCE:g}, from ({', '.join(f'{v:g}' for v in tr.PROBLEMS['ravine'].start)}) "
        f"where f = {t['start_loss']:g}; predicted from the rate alone as "
        "ln(tolerance/f₀) / (2 ln ρ), ρ the spectral radius of the step's linear "
        "map in the slowest direction; measured with the library's own "
        f"classes (at most {t['steps']} steps):</p>"
        "<table class='theory'><tr><th>optimizer</th><th>η</th><th>β</th>"
        f"<th>predicted</th><th>measured</th></tr>{rows}</table>"
    )


# The page's own script: it only chooses which precomputed paths to show.
UPDATE_JS = """
const pathKey = (name, start) => [problem.value, name, eta.value,
    with_beta.includes(name) ? beta.labels[beta.active] : "-", start].join("|");
const extent = extents[problem.value];
plane.x_range.start = extent[0]; plane.x_range.end = extent[1];
plane.y_range.start = extent[2]; plane.y_range.end = extent[3];
for (const [name, renderer] of Object.entries(contours))
    renderer.visible = name === problem.value;
stars.data = minima[problem.value];
const shownStep = step.value, status = [];
let lowest = Infinity, highest = 0;
names.forEach((name, i) => {
    const shown = shown_names.active.includes(i);
    const k = pathKey(name, starts.active);
    const xs = store.data[k + "|x"], ys = store.data[k + "|y"];
    const ls = store.data[k + "|loss"], length = lengths[k];
    const last = Math.min(shownStep, length - 1);
    const ended = length < xs.length && shownStep >= length;
    const clip = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    paths[i].data = {x: Array.from(xs.slice(0, last + 1)),
                     y: Array.from(ys.slice(0, last + 1))};
    heads[i].data = ended ? {x: [], y: []} : {x: [xs[last]], y: [ys[last]]};
    losses[i].data = {x: Array.from({length: last + 1}, (_, j) => j),
                      y: Array.from(ls.slice(0, last + 1))};
    ends[i].data = ended ? {x: [clip(xs[length - 1], extent[0], extent[1])],
                            y: [clip(ys[length - 1], extent[2], extent[3])]}
                         : {x: [], y: []};
    loss_ends[i].data = ended ? {x: [length - 1], y: [ls[length - 1]]}
                              : {x: [], y: []};
    for (const group of [paths, heads, losses, ends, loss_ends])
        group[i].visible = shown;
    if (shown) {
        for (let j = 0; j < length; j++) {
            lowest = Math.min(lowest, ls[j]); highest = Math.max(highest, ls[j]);
        }
        status.push(name + ": " + (length < xs.length
            ? "diverged at step " + length
            : "f − lowest = " + ls[length - 1].toPrecision(3) + " at step " + (length - 1)));
    }
});
if (isFinite(lowest)) {
    curve.y_range.start = lowest / 2; curve.y_range.end = highest * 2;
}
const note = document.getElementById("status");
if (note) note.textContent = problem.value + ", η = " + eta.value +
    (", β = " + beta.labels[beta.active]) + ", start " + (starts.active + 1) +
    ", step " + shownStep + ": " + status.join("; ");
"""

URL_JS = """
const query = new URLSearchParams(window.location.search);
if (query.has("start")) starts.active = Math.max(0, parseInt(query.get("start")) - 1);
if (query.has("beta")) {
    const at = beta.labels.indexOf(String(parseFloat(query.get("beta"))));
    if (at >= 0) beta.active = at;
}
if (query.has("lr")) {
    const wanted = parseFloat(query.get("lr"));
    eta.value = eta.options.reduce((a, b) =>
        Math.abs(Math.log(b / wanted)) < Math.abs(Math.log(a / wanted)) ? b : a);
}
if (query.has("step")) step.value = Math.min(step.end, parseInt(query.get("step")));
if (query.has("problem") && problem.options.includes(query.get("problem")))
    problem.value = query.get("problem");
if (query.get("play") === "1") play.active = true;
"""

PLAY_JS = """
if (play.active) {
    if (step.value >= step.end) step.value = 0;
    window.explorerTimer = setInterval(() => {
        if (step.value >= step.end) { play.active = false; return; }
        step.value = step.value + 1;
    }, 50);
} else {
    clearInterval(window.explorerTimer);
}
"""

TEMPLATE = """{% from macros import embed %}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
{{ bokeh_css | indent(4) if bokeh_css }}
{{ bokeh_js | indent(4) if bokeh_js }}
<style>
body { font-family: sans-serif; margin: 1em 2em; max-width: 1400px; }
#status { font-family: monospace; font-size: 13px; }
table.theory { border-collapse: collapse; font-size: 13px; }
table.theory td, table.theory th { border: 1px solid #ccc; padding: 2px 8px; }
</style>
</head>
<body>
<h2>{{ title }}</h2>
<p>{{ intro }}</p>
{{ plot_div | indent(4) }}
<p id="status"></p>
{{ theory }}
{{ plot_script | indent(4) }}
</body>
</html>
"""


def stored_paths(paths, steps):
    """Columns `<key>|x`, `|y`, `|loss` (f − lowest), padded with NaN, and each length."""
    store, lengths = {}, {}
    for path_key, (positions, losses) in paths.items():
        problem = tr.PROBLEMS[path_key.split("|")[0]]
        padded = np.full((steps + 1, 3), np.nan, "float32")
        padded[: len(positions), :2] = positions
        padded[: len(losses), 2] = np.maximum(losses - problem.lowest, LOSS_FLOOR)
        for index, name in enumerate(("x", "y", "loss")):
            store[f"{path_key}|{name}"] = padded[:, index]
        lengths[path_key] = len(positions)
    return store, lengths


def plane_and_curve(problems, optimizers, steps):
    """The contour plane and the loss plot, with one empty source per drawn piece.

    Returns the two figures and the script's arguments for them: every
    problem's contours, extent and minima, and per optimizer the sources of
    its path, head, end mark (diverged) and loss curve.
    """
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.palettes import Category10
    from bokeh.plotting import figure

    first = tr.PROBLEMS[problems[0]]
    plane = figure(width=560, height=460, title="paths (★ known minimum, X diverged)",
                   x_range=Range1d(*first.extent[:2]), y_range=Range1d(*first.extent[2:]),
                   x_axis_label="θ₁", y_axis_label="θ₂")  # fmt: skip
    curve = figure(width=520, height=460, title="loss − lowest per iteration",
                   y_axis_type="log", x_range=Range1d(0, steps),
                   y_range=Range1d(1e-12, 10), x_axis_label="iteration")  # fmt: skip
    contours = {}
    for name in problems:
        problem = tr.PROBLEMS[name]
        x_min, x_max, y_min, y_max = problem.extent
        grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, 160),
                                     np.linspace(y_min, y_max, 160))  # fmt: skip
        surface = np.log1p(problem.function(grid_x, grid_y) - problem.lowest + 1e-12)
        levels = np.linspace(surface.min(), surface.max(), 20)[1:]
        contours[name] = plane.contour(grid_x, grid_y, surface, levels,
                                       line_color="#999999", line_alpha=0.6)  # fmt: skip
        contours[name].visible = name == problems[0]
    minima = {name: {"x": [x for x, _ in tr.PROBLEMS[name].minima],
                     "y": [y for _, y in tr.PROBLEMS[name].minima]}
              for name in problems}  # fmt: skip
    stars = ColumnDataSource(minima[problems[0]])
    plane.scatter("x", "y", source=stars, marker="star", size=18,
                  fill_color="gold", line_color="black")  # fmt: skip
    pieces = {"paths": [], "heads": [], "ends": [], "losses": [], "loss_ends": []}
    cross = {"marker": "x", "size": 15, "line_width": 3}
    for i, name in enumerate(optimizers):
        colour = Category10[10][i % 10]

        def style():  # each piece has a source of its own, which the script fills
            return {"x": "x", "y": "y", "color": colour,
                    "source": ColumnDataSource({"x": [], "y": []})}  # fmt: skip

        drawn = {
            "paths": plane.line(line_width=2, **style()),
            "heads": plane.scatter(size=8, **style()),
            "ends": plane.scatter(**cross, **style()),
            "losses": curve.line(line_width=2, legend_label=name, **style()),
            "loss_ends": curve.scatter(**cross, **style()),
        }
        for piece, renderer in drawn.items():
            pieces[piece].append(renderer.data_source)
    curve.legend.location = "top_right"
    curve.legend.label_text_font_size = "9pt"
    curve.legend.background_fill_alpha = 0.6
    extents = {name: tr.PROBLEMS[name].extent for name in problems}
    drawing = dict(plane=plane, curve=curve, contours=contours, extents=extents,
                   minima=minima, stars=stars, **pieces)  # fmt: skip
    return plane, curve, drawing


def page(paths, theory, problems, optimizers, rates, steps):
    """The page as one HTML string, every path stored in it."""
    from bokeh.document import Document
    from bokeh.embed import file_html
    from bokeh.layouts import column, row
    from bokeh.models import (
        CheckboxGroup,
        ColumnDataSource,
        CustomJS,
        Div,
        RadioButtonGroup,
        Select,
        Slider,
        Toggle,
    )
    from bokeh.resources import Resources
    from jinja2 import Template

    store, lengths = stored_paths(paths, steps)
    plane, curve, drawing = plane_and_curve(problems, optimizers, steps)
    near_tenth = min(rates, key=lambda rate: abs(math.log(rate / 0.1)))
    controls = dict(
        problem=Select(title="problem", value=problems[0], options=list(problems)),
        eta=Select(title="learning rate η", value=f"{near_tenth:g}",
                   options=[f"{rate:g}" for rate in rates]),
        beta=RadioButtonGroup(labels=[f"{beta:g}" for beta in BETAS], active=2),
        starts=RadioButtonGroup(labels=["start 1", "start 2", "start 3"], active=0),
        shown_names=CheckboxGroup(labels=list(optimizers),
                                  active=list(range(len(optimizers)))),
        step=Slider(title="step", start=0, end=steps, value=steps, step=1),
    )  # fmt: skip
    update = CustomJS(
        args=dict(store=ColumnDataSource(store), lengths=lengths, names=list(optimizers),
                  with_beta=list(WITH_BETA), **drawing, **controls),
        code=UPDATE_JS,
    )  # fmt: skip
    for widget in controls.values():  # selects and slider: value; buttons: active
        widget.js_on_change("value" if hasattr(widget, "value") else "active", update)
    play = Toggle(label="▶ play / pause", active=False)
    play.js_on_change("active", CustomJS(args=dict(play=play, step=controls["step"]),
                                         code=PLAY_JS))  # fmt: skip
    c = controls
    layout = row(
        column(c["problem"], c["eta"], Div(text="momentum β (momentum, nesterov)"),
               c["beta"], Div(text="start point"), c["starts"],
               Div(text="optimizers shown"), c["shown_names"], c["step"], play,
               width=240),
        plane, curve,
    )  # fmt: skip
    document = Document()
    document.add_root(layout)
    from_url = CustomJS(args=dict(play=play, **controls), code=URL_JS)
    document.js_on_event("document_ready", from_url, update)
    intro = (
        "Choose a problem, η, momentum's β (for momentum and nesterov) and a start; "
        "press play to watch the steps. Each path was computed in Python by the "
        "same custom_optimizers classes that go into model.compile; the page only "
        "chooses which to draw. X marks where a diverging path left."
    )
    return file_html(
        document, Resources(mode="inline"),  # Bokeh leaves out what is unused
        title="The optimizers on 2-D problems: every path from the library's classes",
        template=Template(TEMPLATE),
        template_variables={"theory": theory_html(theory) if theory else "",
                            "intro": intro},
    )  # fmt: skip


def main(argv=None):
    parser = cli.parser("python -m experiments.explorer", __doc__)
    parser.add_argument("--out", default="logs/explorer", help="output folder")
    parser.add_argument("--steps", default="100", help="optimizer steps per path")
    parser.add_argument("--problems", default=",".join(tr.PROBLEMS),
                        help=f"comma-separated: {', '.join(tr.PROBLEMS)}")  # fmt: skip
    parser.add_argument(
        "--learning-rates",
        default=",".join(f"{r:g}" for r in LEARNING_RATES),
        help="comma-separated (default: 13 from 1e-3 to 1, four per decade)",
    )
    args = parser.parse_args(argv)
    try:
        problems = cli.names(cli.comma_list(args.problems), tr.PROBLEMS, "problem")
        rates = [cli.number(r, "learning rate must be a positive number",
                            lambda x: x > 0) for r in cli.comma_list(args.learning_rates)]  # fmt: skip
        steps = cli.integer(args.steps, "--steps", 1)
        cli.check_writable(args.out, kind="output")
    except cli.UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    paths = compute_paths(problems, OPTIMIZERS, rates, steps)
    theory = ravine_theory() if "ravine" in problems else None
    for line in theory_lines(theory) if theory else []:
        print(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page(paths, theory, problems, OPTIMIZERS, rates, steps))
    print(
        f"{index}: {len(paths)} paths, {index.stat().st_size / 2**20:.1f} MB, "
        f"{time.perf_counter() - started:.0f} s; open it in a browser (no network needed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
