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
