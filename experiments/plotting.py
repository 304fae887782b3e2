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
