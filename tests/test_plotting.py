"""One colour per optimizer in every figure, animation and page (#32: red
was RMSprop in one figure, momentum_l2 in another and Adam in the GIF)."""

import re
from pathlib import Path

from experiments.plotting import OPTIMIZER_COLOURS, colors_for

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


def test_no_figure_picks_colours_of_its_own():
    """Matplotlib's colour cycle and Bokeh's palettes are read in one place."""
    own = [
        f"{path.relative_to(PACKAGE)}: {match}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "plotting.py"
        for match in re.findall(
            r"prop_cycle|bokeh\.palettes|cm\.tab\d+", path.read_text()
        )
    ]
    assert own == []
