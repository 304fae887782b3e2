"""Summarise a sweep: summary.csv, runs.csv, summary.md and plots, from its run folders.

    python -m experiments.report logs/<sweep-name>

Also runs at the end of every sweep. Reads each finished run's run.json and
result.json; unfinished runs are left out.
"""

import sys
from pathlib import Path

from experiments import cli
from experiments.cli import UsageError


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.report", __doc__)
    parser.add_argument("sweep_dir", help="a sweep folder, e.g. logs/default")
    args = parser.parse_args(argv)
    from experiments.report import write_report

    if not Path(args.sweep_dir).is_dir():
        raise UsageError(f"{args.sweep_dir} is not a folder")
    for path in write_report(args.sweep_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
