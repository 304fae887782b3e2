"""What a run leaves on disk, written safely and read back defensively.

Each run folder holds `run.json` (its resolved settings, written first) and
`result.json` (written last: the completion marker). Both are written
through a temporary file that is synced to disk before an atomic rename,
so a crash or a full disk leaves the old file or none, never half of one.
This module imports no TensorFlow, so reports and planning stay light.
"""

import json
import os
import shutil
from pathlib import Path

from experiments import plugins
from experiments.cli import of_kind, writing

SWEEP_FILE = (
    "sweep.json"  # in the sweep's folder: its resolved config, rewritten each time
)
RESULT_FILE = "result.json"
EPOCHS_FILE = "epochs.csv"  # one row per epoch, written as each ends
CONFIG_FILE = "run.json"
# A failed run's error: its one-line message, then the traceback.
ERROR_FILE = "error.txt"
# The trained weights of a pre-training run, or of a language model's run.
WEIGHTS_FILE = "model.weights.h5"

# A finished run's last values, in result.json, the HParams dashboard and the
# summaries (`diverged`: 1 when the run was stopped for a NaN, inf or huge loss).
FINAL_METRICS = ("train_loss", "val_loss", "val_accuracy", "test_accuracy", "diverged")

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


def trained_on(backends):
    """How the report names the backends that trained something."""
    return f"trained on {' and '.join(sorted(backends))}"


def write_json(path, data):
    """Writes `data` to `path` as JSON, as `write_text` writes."""
    write_text(path, json.dumps(data, indent=2, default=float))


def write_text(path, text):
    """Writes `text` to `path` atomically and durably (synced before the rename).

    On any failure (a full disk) the temporary file is removed and the old
    file, or none, is left: never half of one.
    """
    path = Path(path)
    temporary = path.with_suffix(".tmp")
    try:
        with writing(path), open(temporary, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # makes the rename itself durable
    finally:
        os.close(folder)


def run_folder(sweep_dir, folder):
    """`sweep_dir / folder`; ValueError unless it lies strictly below
    `sweep_dir` once links and `..` are resolved. The names that make a
    run's folder are checked before a sweep starts; this keeps any that
    slipped through from writing or deleting anything outside it."""
    sweep_dir = Path(sweep_dir)
    run_dir = sweep_dir / folder
    if sweep_dir.resolve() not in run_dir.resolve().parents:
        raise ValueError(f"{run_dir} is not inside the sweep folder {sweep_dir}")
    return run_dir


def weights_digest(run_dir):
    """A digest of the run's kept weights (WEIGHTS_FILE); "" without them."""
    return plugins.file_digest(Path(run_dir) / WEIGHTS_FILE)


def start_afresh(run_dir):
    """Removes what an unfinished, failed or replaced run left in its folder."""
    if run_dir.exists():
        shutil.rmtree(run_dir)


NUMBER = (int, float)  # NaN and infinity included: JSON's NaN reads as a float
# What a finished run's files hold, key → type, checked before anything reads them.
CONFIG_SCHEMA = {"run": dict, "hyperparameters": dict, "data": dict}
RUN_SCHEMA = {"optimizer": str, "model": str, "dataset": str, "epochs": int}
DATA_SCHEMA = {"source": str, "train": int}
RESULT_SCHEMA = {
    "diverged": bool,
    "epochs_run": int,
    "train_loss": NUMBER,
    "val_accuracy": NUMBER,
    "history": dict,
}
# Keys that runs from before they existed lack; typed where present.
RESULT_SCHEMA_LATER = {"val_loss": NUMBER, "test_accuracy": NUMBER, "seconds": NUMBER}


def _read(path):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = "empty" if path.exists() and not path.stat().st_size else error
        raise UnreadableRun(f"{path.name} unreadable ({reason})") from None
    if not isinstance(data, dict):
        raise UnreadableRun(f"{path.name} holds {type(data).__name__}, not an object")
    return data


def _check(data, schema, where):
    """UnreadableRun naming the first key of `schema` missing from `data`, or of another type."""
    for key, kind in schema.items():
        if key not in data:
            raise UnreadableRun(f"{where} lacks {key!r}")
        value = data[key]
        try:
            of_kind(value, kind)
        except TypeError:
            raise UnreadableRun(
                f"{where}: {key} is {value!r}, not {_kind_name(kind)}"
            ) from None


def _kind_name(kind):
    names = {
        dict: "an object",
        str: "a string",
        int: "an integer",
        bool: "true or false",
    }
    return names.get(kind, "a number")


def _check_history(history, where):
    """Every curve a list of numbers, `loss` among them (its length is the epochs run)."""
    if "loss" not in history:
        raise UnreadableRun(f"{where}: history lacks 'loss'")
    for key, curve in history.items():
        if not isinstance(curve, list) or not all(
            isinstance(v, NUMBER) and not isinstance(v, bool) for v in curve
        ):
            raise UnreadableRun(f"{where}: history {key!r} is not a list of numbers")


def read_run(run_dir):
    """A finished run's (config, result); raises `UnreadableRun`, naming the file
    and what is wrong, if either is missing, cut short or of the wrong shape."""
    run_dir = Path(run_dir)
    config = _read(run_dir / CONFIG_FILE)
    _check(config, CONFIG_SCHEMA, CONFIG_FILE)
    _check(config["run"], RUN_SCHEMA, f"{CONFIG_FILE} run")
    _check(config["data"], DATA_SCHEMA, f"{CONFIG_FILE} data")
    result = _read(run_dir / RESULT_FILE)
    _check(result, RESULT_SCHEMA, RESULT_FILE)
    later = {k: v for k, v in RESULT_SCHEMA_LATER.items() if k in result}
    _check(result, later, RESULT_FILE)
    _check_history(result["history"], RESULT_FILE)
    return config, result


def data_differences(saved, current):
    """How a run's recorded data differs from `current` (keys both record)."""
    return [
        f"data {key}: {saved[key]!r} then, {current[key]!r} now"
        for key in current
        if key in saved and saved[key] != current[key]
    ]


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
