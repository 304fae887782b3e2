"""Regenerate the docs' notebooks, executed: each jupytext percent-format
source in docs/notebooks/ becomes the .ipynb beside it, with its outputs.

    python -m experiments.notebooks                 # every notebook
    python -m experiments.notebooks --only chapter

Each runs offline in a fresh Python kernel, in docs/notebooks/, with this
project on its path; a cell that raises stops the command with exit 1.
"""

import os
import sys
import time
from pathlib import Path

from experiments import cli

FOLDER = Path(__file__).parents[1] / "docs" / "notebooks"
NOTEBOOKS = ("chapter", "write_your_own_optimizer")


def execute(name, folder=FOLDER, timeout=600):
    """The notebook `name` (its .py source in `folder`), run from that folder."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(folder / f"{name}.py")
    project = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [project, os.environ.get("PYTHONPATH")])
    )
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return notebook


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.notebooks", __doc__)
    parser.add_argument("--only", help=f"comma-separated: {', '.join(NOTEBOOKS)}")
    args = parser.parse_args(argv)
    names = (
        cli.names(cli.comma_list(args.only), NOTEBOOKS, "notebook")
        if args.only
        else NOTEBOOKS
    )
    import nbformat

    for name in names:
        started = time.perf_counter()
        notebook = execute(name)
        nbformat.write(notebook, FOLDER / f"{name}.ipynb")
        print(
            f"{FOLDER / name}.ipynb: executed in {time.perf_counter() - started:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
