"""Helpers the test modules share: a tiny sweep, reading its CSVs and event files,
and waiting on a child process."""

import csv
import subprocess
import time
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

from experiments.sweep import command as sweep

ROOT = Path(__file__).resolve().parents[1]

TINY = [
    "--quick",
    "--offline",
    "--models",
    "mlp",
    "--optimizers",
    "momentum,adam",
    "--learning-rates",
    "0.03,50",  # 50 diverges for both
    "--epochs",
    "2",
    "--max-train-samples",
    "256",
]


def run_sweep(logdir, *extra):
    return sweep.main([*TINY, "--logdir", str(logdir), *extra])


def summary(sweep_dir):
    with open(sweep_dir / "summary.csv") as f:
        return list(csv.DictReader(f))


def events(path):
    accumulator = EventAccumulator(str(path), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def values(accumulator, tag):
    return [float(make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)]


def wait_for(condition, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def steps_written_twice(run_dir):
    """(folder, tag, step) written more than once in any of the run's event folders."""
    repeated = []
    for folder in {p.parent for p in run_dir.rglob("events.out.tfevents*")}:
        events = EventAccumulator(
            str(folder), size_guidance={"tensors": 0}, purge_orphaned_data=False
        )
        events.Reload()
        for tag in events.Tags()["tensors"]:
            steps = [e.step for e in events.Tensors(tag)]
            repeated += [(folder, tag, s) for s in set(steps) if steps.count(s) > 1]
    return repeated


def processes_naming(text):
    """The pids of the processes whose command line holds `text` (a folder:
    Ray's processes name their temp folder; a Ray task's or server's name)."""
    found = subprocess.run(
        ["pgrep", "-f", str(text)], capture_output=True, text=True, check=False
    )
    return found.stdout.split()
