"""The one pyplot setup every figure uses: files only, no window, on any machine."""

DPI = 110


def pyplot():
    """matplotlib.pyplot on the Agg backend."""
    import matplotlib

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


def colors_for(names):
    """A distinct colour per name: the default cycle, or 20 colours for more than 10."""
    plt = pyplot()
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(names) > len(cycle):
        cycle = [plt.cm.tab20(i) for i in range(20)]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def within_range(metric, low, high):
    """A band's bounds, clipped to the values `metric` can take: an accuracy
    lies in [0, 1], a loss at or above 0."""
    import numpy as np

    top = 1.0 if metric.endswith("accuracy") else np.inf
    return np.clip(low, 0, top), np.clip(high, 0, top)


def seeds(count):
    """ "1 seed", "3 seeds"."""
    return f"{count} seed{'s' * (count != 1)}"
