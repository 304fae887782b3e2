"""Regenerate the docs' notebooks, executed: each jupytext percent-format
source in docs/notebooks/ becomes the .ipynb beside it, with its outputs.

    python -m experiments.notebooks                 # every notebook
    python -m experiments.notebooks --only chapter

Each runs offline in a fresh Python kernel, in docs/notebooks/, with this
project on its path; a cell that raises stops the command with exit 1.
TensorFlow's oneDNN notice is left out of the stored outputs: it shows on
some CPUs only, so the stored notebook would change with the machine.
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
    return without_onednn_notices(notebook)


def is_onednn_notice(line):
    """TensorFlow's notice that oneDNN's custom operations are on, or the line
    absl puts before it. On a CPU where they are on, TensorFlow logs it as it
    loads, before any log level applies: TF_CPP_MIN_LOG_LEVEL does not hide
    it, and TF_ENABLE_ONEDNN_OPTS=0, which would, changes the numbers."""
    absl_preface = "WARNING: All log messages before absl::InitializeLog()"
    return line.startswith(absl_preface) or (
        "port.cc" in line and "oneDNN custom operations are on" in line
    )


def without_onednn_notices(notebook):
    """`notebook` with the oneDNN notice's lines taken out of its stderr
    outputs, and an output left empty by that taken out too."""
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                output["text"] = "".join(x for x in lines if not is_onednn_notice(x))
                if not output["text"]:
                    continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
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
