"""What a run leaves on disk, written safely and read back defensively.

Each run folder holds `run.json` (its resolved settings, written first) and
`result.json` (written last: the completion marker). Both are written
through a temporary file that is synced to disk before an atomic rename,
so a crash or a full disk leaves the old file or none, never half of one.
This module imports no TensorFlow, so reports and planning stay light.
"""

import json
import os
from pathlib import Path

SWEEP_FILE = (
    "sweep.json"  # in the sweep's folder: its resolved config, rewritten each time
)
RESULT_FILE = "result.json"
EPOCHS_FILE = "epochs.csv"  # one row per epoch, written as each ends
CONFIG_FILE = "run.json"
# A failed run's error: its one-line message, then the traceback.
ERROR_FILE = "error.txt"
WEIGHTS_FILE = "model.weights.h5"  # a pre-training run's trained weights

# A finished run's last values, in result.json, the HParams dashboard and the
# summaries (`diverged`: 1 when the run was stopped for a NaN, inf or huge loss).
FINAL_METRICS = ("train_loss", "val_loss", "val_accuracy", "test_accuracy", "diverged")
# The metric that picks each entry's best setting and ranks the entries (on
# the validation images: the test set is only reported).
SELECTED_BY = "val_accuracy"

# Optimizer settings that the HParams dashboard and the summary show.
HYPERPARAMETERS = (
    "momentum",
    "nesterov",
    "weight_decay",
    "decoupled_weight_decay",
    "beta_1",
    "beta_2",
    "epsilon",
    "amsgrad",
    "bias_correction",
)


class UnreadableRun(Exception):
    """A run's run.json or result.json is missing, empty or not what it should be."""


def write_json(path, data):
    """Writes `data` to `path` atomically and durably (synced before the rename)."""
    path = Path(path)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w") as f:
        f.write(json.dumps(data, indent=2, default=float))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # makes the rename itself durable
    finally:
        os.close(folder)


def _read(path, required):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = "empty" if path.exists() and not path.stat().st_size else error
        raise UnreadableRun(f"{path.name} unreadable ({reason})") from None
    if not isinstance(data, dict) or not all(key in data for key in required):
        raise UnreadableRun(f"{path.name} lacks {', '.join(required)}")
    return data


def read_run(run_dir):
    """A finished run's (config, result); raises `UnreadableRun` if either is bad."""
    run_dir = Path(run_dir)
    config = _read(run_dir / CONFIG_FILE, ("run", "hyperparameters", "data"))
    result = _read(
        run_dir / RESULT_FILE,
        ("diverged", "val_accuracy", "train_loss", "epochs_run", "history"),
    )
    return config, result


def is_finished(run_dir):
    return (Path(run_dir) / RESULT_FILE).exists()


def failures(sweep_dir):
    """{run folder relative to `sweep_dir`: its error's first line} for unfinished runs."""
    found = {}
    for error_file in sorted(Path(sweep_dir).rglob(ERROR_FILE)):
        if not is_finished(error_file.parent):
            lines = error_file.read_text(errors="replace").strip().splitlines()
            found[str(error_file.parent.relative_to(sweep_dir))] = (
                lines[0] if lines else "(no message)"
            )
    return found
