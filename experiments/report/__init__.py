"""The report of a sweep: summary.csv, runs.csv, summary.md and plots, from its
run folders (`loading`), aggregated over seeds (`statistics`), written as
tables (`tables`) and figures (`figures`). Also runs at the end of every
sweep; `python -m experiments.report logs/<sweep-name>` rebuilds it alone.
"""

from pathlib import Path

from experiments.report import figures
from experiments.report.columns import run_columns, setting_columns
from experiments.report.loading import load_runs
from experiments.report.statistics import aggregate
from experiments.report.tables import write_csv, write_markdown
from experiments.sweep.run_files import RESULT_FILE, failures

# The report's files in the sweep's folder: one row per setting, one per run,
# and the ranking.
SUMMARY_CSV, RUNS_CSV, SUMMARY_MD = "summary.csv", "runs.csv", "summary.md"


def write_report(sweep_dir):
    """Writes the summaries and plots into `sweep_dir`; returns their paths."""
    sweep_dir = Path(sweep_dir)
    runs = load_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(
            f"{sweep_dir} holds no finished runs (no {RESULT_FILE} below it)"
        )
    settings = aggregate(runs)
    paths = [sweep_dir / name for name in (SUMMARY_CSV, RUNS_CSV, SUMMARY_MD)]
    write_csv(settings, setting_columns(), paths[0])
    write_csv(runs, run_columns(), paths[1])
    write_markdown(settings, paths[2], sweep_dir.name, failures(sweep_dir))
    return paths + figures.draw(settings, sweep_dir)
