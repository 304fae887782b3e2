"""The explorer's page: every precomputed path stored in one self-contained
HTML file (Bokeh, inlined), whose script only picks which paths to draw."""

import math

import numpy as np

from experiments.landscapes.paths import at_rates
from experiments.landscapes.surfaces import SURFACES
from experiments.landscapes.theory import TOLERANCE, steps_text
from experiments.plotting import colors_for

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
LOSS_FLOOR = 1e-16  # the loss plot shows f − lowest on a log axis, floored here


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
        problem = SURFACES[problem_name]
        for name in optimizers:
            for beta, hyperparameters in settings(name):
                by_rate = at_rates(problem, name, rates, steps, problem.starts,
                                      **hyperparameters)  # fmt: skip
                for rate, ends in by_rate.items():
                    for index, path in enumerate(ends):
                        paths[key(problem_name, name, rate, beta, index)] = path
    return paths


def theory_html(theory):
    t = theory
    rows = "".join(
        f"<tr><td>{name}</td><td>{rate:.4g}</td><td>{beta:.4g}</td>"
        f"<td>{steps_text(predicted, 'diverges')}</td><td>{steps_text(found, 'never')}</td></tr>"
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
        f"{TOLERANCE:g}, from ({', '.join(f'{v:g}' for v in SURFACES['ravine'].start)}) "
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


def bytes_per_step(problems, rates):
    """What one more step costs the page in memory while it is built: every
    path's x, y and f as float32, about three copies (the arrays, Bokeh's
    source, the HTML's base64)."""
    per_rate = sum(len(settings(name)) for name in OPTIMIZERS)
    starts = max(len(SURFACES[name].starts) for name in problems)
    return 3 * 3 * 4 * per_rate * len(rates) * starts * len(problems)


def stored_paths(paths, steps):
    """Columns `<key>|x`, `|y`, `|loss` (f − lowest), padded with NaN, and each length."""
    store, lengths = {}, {}
    for path_key, (positions, losses) in paths.items():
        problem = SURFACES[path_key.split("|")[0]]
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
    from bokeh.plotting import figure

    first = SURFACES[problems[0]]
    plane = figure(width=560, height=460, title="paths (★ known minimum, X diverged)",
                   x_range=Range1d(*first.extent[:2]), y_range=Range1d(*first.extent[2:]),
                   x_axis_label="θ₁", y_axis_label="θ₂")  # fmt: skip
    curve = figure(width=680, height=460, title="loss − lowest per iteration",
                   y_axis_type="log", x_range=Range1d(0, steps),
                   y_range=Range1d(1e-12, 10), x_axis_label="iteration")  # fmt: skip
    contours = {}
    for name in problems:
        problem = SURFACES[name]
        grid_x, grid_y, values = problem.grid(160)
        surface = np.log1p(values - problem.lowest + 1e-12)
        levels = np.linspace(surface.min(), surface.max(), 20)[1:]
        contours[name] = plane.contour(grid_x, grid_y, surface, levels,
                                       line_color="#999999", line_alpha=0.6)  # fmt: skip
        contours[name].visible = name == problems[0]
    minima = {name: {"x": [x for x, _ in SURFACES[name].minima],
                     "y": [y for _, y in SURFACES[name].minima]}
              for name in problems}  # fmt: skip
    stars = ColumnDataSource(minima[problems[0]])
    plane.scatter("x", "y", source=stars, marker="star", size=18,
                  fill_color="gold", line_color="black")  # fmt: skip
    pieces = {"paths": [], "heads": [], "ends": [], "losses": [], "loss_ends": []}
    cross = {"marker": "x", "size": 15, "line_width": 3}
    colours = colors_for(optimizers)
    for name in optimizers:
        colour = colours[name]

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
    legend = curve.legend[0]
    legend.label_text_font_size = "9pt"
    curve.add_layout(legend, "right")  # beside the curves, never over them
    extents = {name: SURFACES[name].extent for name in problems}
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
