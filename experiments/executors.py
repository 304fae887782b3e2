"""Where a sweep's runs are trained: here, one after another, or on Ray.

An executor has one method, `run(specs, dataset, sweep_dir)`, which yields
an `Outcome` per run as each finishes, and `where(outcome)`, a few words
for the progress line. Both train each run with `train_run`, which wipes
the run's folder first (so TensorBoard never holds a step twice) and turns
an error into a failed outcome instead of ending the sweep.
"""

import os
import shutil
import socket
import time
import traceback
from dataclasses import dataclass

ERROR_FILE = "error.txt"


@dataclass
class Outcome:
    spec: object  # training.RunSpec
    result: dict = None  # None when the run failed
    error: str = None  # the error's last line, when it failed
    seconds: float = 0.0
    node: str = ""  # host and process that trained it


def train_run(spec, dataset, sweep_dir, verbose=False):
    """Trains `spec` from scratch into its folder; never raises for a run's own error."""
    import tensorflow as tf

    from experiments import training

    tf.config.experimental.enable_op_determinism()
    started = time.perf_counter()
    node = f"{socket.gethostname()}:{os.getpid()}"
    run_dir = sweep_dir / spec.folder
    if run_dir.exists():  # unfinished, failed, or --force: start it over
        shutil.rmtree(run_dir)
    try:
        result = training.train(spec, dataset, run_dir, verbose=verbose)
    except Exception as error:  # recorded; the sweep goes on
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).write_text(traceback.format_exc())
        message = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        return Outcome(spec, None, message, time.perf_counter() - started, node)
    return Outcome(spec, result, None, time.perf_counter() - started, node)


class InProcess:
    """Today's loop: every run in this process, one after another."""

    def __init__(self, verbose=False):
        self.verbose = verbose

    def run(self, specs, dataset, sweep_dir):
        for spec in specs:
            yield train_run(spec, dataset, sweep_dir, self.verbose)

    def where(self, outcome):
        return ""
