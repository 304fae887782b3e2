"""The sweep as a Python API: what `python -m experiments.sweep` does, for a
notebook, a script or another job.

    from experiments.sweep import api

    config = api.load("experiments/configs/quick.toml", optimizers=["adam"],
                      grid={"learning_rate": [1e-3, 1e-2]}, epochs=2)
    runs = config.runs()                        # the plan: one RunSpec per run
    failed = api.run(config, "logs", offline=True)
    api.report(api.folder(config, "logs"))      # rebuilt alone, as the report job does

Bad settings raise `UsageError` (the command line's one line and exit 2)
before anything is written; a run that fails is returned, not raised.
"""

import sys
from pathlib import Path

from experiments import cli
from experiments.sweep.reading import load  # noqa: F401 (the API's first step)


def folder(config, logdir="logs"):
    """The sweep's folder: <logdir>/<name>."""
    return Path(logdir) / config.name


def run(config, logdir="logs", *, rerun_best=0, offline=False, force=False,
        data_dir=None, verbose=False):  # fmt: skip
    """Trains the sweep's runs not yet finished (and, with `rerun_best` N,
    each entry's best setting on N evaluation seeds after the tuning seed), then writes its report;
    returns the runs that failed. `offline` never tries Keras's download.
    The config is checked again first (UsageError), since it may have been
    changed since `load`, or `rerun_best` given here alone."""
    from experiments.sweep.checks import check
    from experiments.sweep.engine import run_sweep

    check(config, rerun_best)
    cli.forget_signals()
    return run_sweep(
        config,
        logdir,
        report=report,
        force=force,
        verbose=verbose,
        data_dir=data_dir,
        download=not offline,
        rerun_best=rerun_best,
    )


def run_as_job(config, logdir="logs", **options):
    """`run` as a command runs it: bad data or a busy folder as a UsageError
    (one line, exit 2), Ctrl-C or a stopping signal as one line and 128 +
    the signal; returns the exit status (1 when a run failed)."""
    from experiments.data import DataError
    from experiments.sweep.folder_lock import FolderBusy

    try:
        failed = run(config, logdir, **options)
    except DataError as error:
        raise cli.UsageError(f"data: {error}") from None
    except FolderBusy as error:
        raise cli.UsageError(str(error)) from None
    except KeyboardInterrupt:
        signal = cli.stopped_by()
        print(
            f"interrupted{f' ({signal})' if signal else ''}: finished runs are "
            "kept; run the same command again to train the rest",
            file=sys.stderr,
        )
        return cli.exit_status()
    return 1 if failed else 0


def report(sweep_dir):
    """Writes the sweep's report (summary.md, the CSVs, the figures) and says where."""
    from experiments.report import SUMMARY_MD, write_report

    write_report(sweep_dir)
    print(
        f"report: {Path(sweep_dir) / SUMMARY_MD}; view with: tensorboard --logdir "
        f"{sweep_dir}"
    )
