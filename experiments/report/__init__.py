"""The report of a sweep: summary.csv, runs.csv, summary.md and plots, from its
run folders (`loading`), aggregated over seeds (`statistics`), written as
tables (`tables`) and figures (`figures`). Also runs at the end of every
sweep; `python -m experiments.report logs/<sweep-name>` rebuilds it alone.
"""

import sys
from pathlib import Path

from experiments.cli import UsageError
from experiments.report import figures
from experiments.report.columns import run_columns, setting_columns
from experiments.report.loading import load_runs, sweeps_inside
from experiments.report.statistics import aggregate
from experiments.report.tables import write_csv, write_markdown
from experiments.sweep.run_files import HYPERPARAMETERS, RESULT_FILE, failures

# The report's files in the sweep's folder: one row per setting, one per run,
# and the ranking.
SUMMARY_CSV, RUNS_CSV, SUMMARY_MD = "summary.csv", "runs.csv", "summary.md"


def write_report(sweep_dir):
    """Writes the summaries and plots into `sweep_dir`; returns their paths.

    UsageError for a folder that holds several sweeps (their runs are never
    merged) or no finished run of the sweep's grid.
    """
    sweep_dir = Path(sweep_dir)
    inside = sweeps_inside(sweep_dir)
    if inside:
        raise UsageError(
            f"{sweep_dir} holds {len(inside)} sweeps ({', '.join(map(str, inside))}); "
            "a report is of one sweep: give one of their folders"
        )
    runs, left_out = load_runs(sweep_dir)
    if not runs:
        raise UsageError(
            f"{sweep_dir} holds no finished runs of its sweep (no {RESULT_FILE} "
            "below it in the grid sweep.json lists)"
        )
    if left_out:
        print(f"note: the report leaves out {left_out} {_LEFT_OUT}", file=sys.stderr)
    settings = aggregate(runs)
    paths = [sweep_dir / name for name in (SUMMARY_CSV, RUNS_CSV, SUMMARY_MD)]
    arguments = sorted(
        {name for run in runs for name in run["argument_axes"]} - set(HYPERPARAMETERS)
    )  # those are columns already
    write_csv(settings, setting_columns(arguments), paths[0])
    write_csv(runs, run_columns(arguments), paths[1])
    notes = [f"Left out: {left_out} {_LEFT_OUT}."] if left_out else []
    write_markdown(settings, paths[2], sweep_dir.name, failures(sweep_dir), notes)
    return paths + figures.draw(settings, sweep_dir)


_LEFT_OUT = (
    "finished runs in this folder whose settings are not in the sweep's current "
    "grid (sweep.json: the last command given dropped them)"
)
