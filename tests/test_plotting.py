"""One colour per optimizer in every figure, animation and page (#32: red
was RMSprop in one figure, momentum_l2 in another and Adam in the GIF)."""

import re
from pathlib import Path

from experiments.plotting import OPTIMIZER_COLOURS, colors_for, styles_for

PACKAGE = Path(__file__).parents[1] / "experiments"


def test_an_optimizer_keeps_its_colour_whatever_else_a_figure_shows():
    alone = colors_for(["adam"])
    among = colors_for(["sgd", "rmsprop", "momentum_l2", "adam", "lion"])
    assert alone["adam"] == among["adam"] == OPTIMIZER_COLOURS["adam"]
    assert among["rmsprop"] != among["momentum_l2"] != among["adam"]


def test_a_figure_never_gives_two_names_one_colour():
    names = ["keras_adam", "amsgrad", "adam_l2", "0.1", "0.3", *OPTIMIZER_COLOURS]
    colours = colors_for(names)
    assert len(set(colours.values())) == len(names)
    assert colours["adam"] == OPTIMIZER_COLOURS["adam"]  # not its twin's, listed first


def test_a_keras_twin_alone_has_its_optimizer_s_colour():
    assert colors_for(["keras_lion"]) == {"keras_lion": OPTIMIZER_COLOURS["lion"]}


def test_a_variant_has_its_optimizer_s_colour_and_a_line_style_of_its_own():
    names = ["sgd+warmup_cosine", "sgd", "sgd+cosine", "adam+warmup_cosine",
             "mine", *(f"momentum+epsilon={e}" for e in range(6))]  # fmt: skip
    styles = styles_for(names)
    drawn = {(s["color"], s["linestyle"]) for s in styles.values()}
    assert len(drawn) == len(names)
    assert styles["sgd"] == {"color": OPTIMIZER_COLOURS["sgd"], "linestyle": "-"}
    assert styles["sgd+warmup_cosine"]["color"] == OPTIMIZER_COLOURS["sgd"]
    assert styles["sgd+warmup_cosine"]["linestyle"] != "-"
    # Without its plain optimizer, the first variant is drawn solid.
    assert styles["adam+warmup_cosine"] == {"color": OPTIMIZER_COLOURS["adam"],
                                            "linestyle": "-"}  # fmt: skip
    assert styles_for(["sgd", "sgd+cosine", "sgd"]) == styles_for(["sgd", "sgd+cosine"])
    momentum = [styles[f"momentum+epsilon={e}"]["color"] for e in range(6)]
    assert momentum[:4] == [OPTIMIZER_COLOURS["momentum"]] * 4
    assert len(set(momentum[4:])) == 2
    assert not set(momentum[4:]) & set(OPTIMIZER_COLOURS.values())  # no one else's


def test_no_figure_picks_colours_of_its_own():
    """Matplotlib's colour cycle (its names too: "C0", f"C{i}") and Bokeh's
    palettes are read in one place."""
    own = [
        f"{path.relative_to(PACKAGE)}: {match}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "plotting.py"
        for match in re.findall(
            r"prop_cycle|bokeh\.palettes|cm\.tab\d+|[\"']C(?:\d|\{)",
            path.read_text(),
        )
    ]
    assert own == []


def test_a_diverged_variant_is_marked_apart_from_its_optimizer(monkeypatch):
    """Variants share their optimizer's colour, so their diverged marks take
    the shape of their line style, and the legend says which is which."""
    from experiments.plotting import pyplot
    from experiments.report import figures

    def setting(optimizer, rate, diverges_at):
        return {"problem": "mlp", "optimizer": optimizer, "learning_rate": rate,
                "diverged": rate == diverges_at, "n_seeds": 1,
                "val_accuracy": 0.9, "val_accuracy_std": 0.0,
                "train_loss": 0.1, "train_loss_std": 0.0}  # fmt: skip

    def sensitivity_figure(names, diverges_at=1.0):
        """(its diverged marks, its legend's labels) as (marker, colour)s."""
        saved = []
        monkeypatch.setattr(figures, "save", lambda fig, path, **_: saved.append(fig))
        figures.plot_sensitivity(
            [setting(name, rate, diverges_at) for name in names for rate in (0.1, 1.0)],
            "unsaved.png",
        )
        fig = saved[0]
        marks = {(line.get_marker(), line.get_color())
                 for line in fig.axes[0].get_lines()
                 if line.get_linestyle() == "None"
                 and line.get_marker() != "_"}  # an error bar's caps  # fmt: skip
        labels = [text.get_text() for text in fig.legends[0].get_texts()]
        pyplot().close(fig)
        return marks, labels

    sgd = OPTIMIZER_COLOURS["sgd"]
    assert sensitivity_figure(["sgd", "sgd+cosine"]) == (
        {("x", sgd), ("+", sgd)},
        ["sgd", "sgd+cosine", "diverged (solid line)", "diverged (dashed line)"],
    )
    assert sensitivity_figure(["sgd"]) == ({("x", sgd)}, ["sgd", "diverged"])
    assert sensitivity_figure(["sgd"], diverges_at=None) == (set(), ["sgd"])
