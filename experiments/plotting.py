"""The one pyplot setup every figure uses: files only, no window, on any machine."""

import sys

DPI = 110


def pyplot():
    """matplotlib.pyplot on the Agg backend; where pyplot is already in use
    (a notebook's inline figures), on the backend it has."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, tight=True, **layout):
    """Lays the figure out (tight_layout, with `layout`; not for a figure with
    its own layout engine), writes it and frees it."""
    from experiments.cli import writing

    if tight:
        fig.tight_layout(**layout)
    try:
        with writing(path):
            fig.savefig(path, dpi=DPI)
    finally:
        pyplot().close(fig)


# One colour per optimizer, the same in every figure, animation and page
# (matplotlib's tab10, in hex for Bokeh). A Keras twin (keras_adam) takes
# its own optimizer's colour unless both are in one figure.
OPTIMIZER_COLOURS = {
    "sgd": "#1f77b4",
    "momentum": "#ff7f0e",
    "nesterov": "#2ca02c",
    "adam": "#d62728",
    "adamw": "#9467bd",
    "rmsprop": "#8c564b",
    "momentum_l2": "#e377c2",
    "adam_no_bias_correction": "#7f7f7f",
    "adagrad": "#bcbd22",
    "lion": "#17becf",
}
# For every other name: tab10's colours this figure leaves free, then
# tab20's light shades.
LIGHT_SHADES = (
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
SPARE_COLOURS = (*OPTIMIZER_COLOURS.values(), *LIGHT_SHADES)
# A stored baseline's curve beside this sweep's: hollow squares, fainter.
STORED = {"marker": "s", "mfc": "none", "ms": 4, "alpha": 0.7}


def colors_for(names):
    """A colour per name: an optimizer's own (OPTIMIZER_COLOURS, also for
    its Keras twin where the optimizer is not in the figure), and for any
    other name one no other name of this figure has (first a colour of an
    optimizer the figure leaves out; past 20 colours, black)."""
    own = {name: OPTIMIZER_COLOURS.get(name) for name in names}
    for name in names:
        twin_of = OPTIMIZER_COLOURS.get(name.removeprefix("keras_"))
        if own[name] is None and twin_of not in own.values():
            own[name] = twin_of
    spare = (c for c in SPARE_COLOURS if c not in own.values())
    return {name: own[name] or next(spare, "#000000") for name in names}


# A variant of an optimizer (`sgd+warmup_cosine`, `adam+epsilon=0.001`)
# takes its optimizer's colour and a line style of its own.
LINE_STYLES = ("-", "--", ":", "-.")
# A diverged run's mark takes its entry's colour and a shape for its line
# style, so variants of one optimizer, which share a colour, stay apart.
DIVERGED_MARKS = dict(zip(LINE_STYLES, ("x", "+", "1", "*")))
LINE_NAMES = dict(zip(LINE_STYLES, ("solid", "dashed", "dotted", "dash-dot")))


def diverged_mark(style):
    """matplotlib's keywords for the mark of a diverged run of an entry
    drawn in `style` (a colour, and a line style of styles_for's or solid)."""
    return {"ls": "", "marker": DIVERGED_MARKS[style.get("linestyle", "-")],
            "color": style["color"], "ms": 10, "mew": 2}  # fmt: skip


def diverged_legend(styles):
    """(handles, labels) explaining the diverged marks of entries drawn in
    `styles` (those that diverged): one black mark, "diverged", or one per
    line style where they differ; none where `styles` is empty."""
    import matplotlib.lines

    used = [ls for ls in LINE_STYLES if any(s["linestyle"] == ls for s in styles)]
    handles = [
        matplotlib.lines.Line2D(
            [], [], **diverged_mark({"linestyle": ls, "color": "k"})
        )
        for ls in used
    ]
    if len(used) == 1:
        return handles, ["diverged"]
    return handles, [f"diverged ({LINE_NAMES[ls]} line)" for ls in used]


def styles_for(names):
    """matplotlib's `color` and `linestyle` per name, no two names drawn
    alike: one colour per optimizer (colors_for, read before any `+`), the
    plain optimizer solid and each variant of it in the next line style;
    past four of one optimizer, a light shade of the variant's own. A name
    given twice is drawn once."""
    names = list(dict.fromkeys(names))
    family = {name: name.partition("+")[0] for name in names}
    colours = colors_for(list(dict.fromkeys(family.values())))
    spare = (c for c in LIGHT_SHADES if c not in colours.values())
    drawn = {}
    for name in sorted(names, key=lambda name: name != family[name]):
        count = sum(family[other] == family[name] for other in drawn)
        drawn[name] = (
            {"color": colours[family[name]], "linestyle": LINE_STYLES[count]}
            if count < len(LINE_STYLES)
            else {"color": next(spare, "#000000"), "linestyle": "-"}
        )
    return {name: drawn[name] for name in names}


def within_range(metric, low, high):
    """A band's bounds, clipped to the values `metric` can take: an accuracy
    lies in [0, 1], a loss at or above 0."""
    import numpy as np

    top = 1.0 if metric.endswith("accuracy") else np.inf
    return np.clip(low, 0, top), np.clip(high, 0, top)


def seeds(count):
    """ "1 seed", "3 seeds"."""
    return f"{count} seed{'s' * (count != 1)}"
