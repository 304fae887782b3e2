"""What earlier versions wrote, read as this version writes it: the one
place that knows older sweep folders and run records.

- Folders: each step in STEPS takes a folder from one layout to the next,
  on disk; sweep.json records the layout a folder has reached (none
  recorded: 1). Layout 2: pre-training is a sweep of its own, which a
  fine-tuning sweep names in `start_from`; under layout 1 a `[pretrain]`
  table trained it in the fine-tuning sweep's `pretrain/` folder.
- Run records: `read_run` gives every run.json the keys this version
  records, in memory (reading a folder changes nothing in it).
- Folder names: `earlier_folder` finds a run under the name it had before
  a grid value equal to the optimizer's own stopped being spelled out.
"""

import json
from dataclasses import MISSING, fields
from pathlib import Path

from experiments import problems
from experiments.cli import UsageError
from experiments.sweep import axes, run_files
from experiments.sweep.folder_lock import FolderLock
from experiments.sweep.optimizer_tables import run_settings
from experiments.sweep.run_files import (
    CONFIG_FILE,
    SWEEP_FILE,
    UnreadableRun,
    data_differences,
    is_finished,
    write_json,
)
from experiments.sweep.spec import NOT_RECORDED, RunSpec

LAYOUT = 2
PRETRAIN_FOLDER = "pretrain"  # layout 1's pre-training runs, in the sweep folder


def upgrade(sweep_dir, config):
    """Brings `sweep_dir` to LAYOUT, step by step; a new folder needs none.
    Each step can be cut off and run again."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.exists():
        return
    for step in STEPS[recorded_layout(sweep_dir) - 1 :]:
        step(sweep_dir, config)


def recorded_layout(sweep_dir):
    try:
        return json.loads((Path(sweep_dir) / SWEEP_FILE).read_text()).get("layout", 1)
    except (OSError, ValueError):
        return 1


def pretraining_becomes_a_sweep(sweep_dir, config):
    """Layout 1 → 2: the runs in `pretrain/` move to the folder of the sweep
    `start_from` names, as its runs, and each fine-tuning run's `init`
    follows them. The move is refused, changing nothing, where that sweep
    already holds a run of the same folder."""
    old = sweep_dir / PRETRAIN_FOLDER
    runs = [
        path.parent
        for path in sorted(old.rglob(CONFIG_FILE))
        if json.loads(path.read_text())["run"].get("stage") == PRETRAIN_FOLDER
    ]
    if not runs:  # none, or a problem of that name: nothing to move
        return
    if not config.start_from:
        raise UsageError(
            f"{sweep_dir} holds pre-training runs in {PRETRAIN_FOLDER}/, from a "
            "[pretrain] table; name the sweep they belong to in [start_from] "
            "and they move there (docs/finetune.md)"
        )
    start_dir = sweep_dir.parent / config.start_from["name"]
    with FolderLock(start_dir):
        _move(runs, old, start_dir, sweep_dir)
    for path in sorted(sweep_dir.rglob(CONFIG_FILE)):
        _rewrite_run(path.parent, _init_in(config.start_from["name"]))
    print(f"moved {len(runs)} pre-training runs from {old} to {start_dir} (layout 2)")


def _move(runs, old, start_dir, sweep_dir):
    """Moves the runs from `old` to the same folders in `start_dir`, none
    unless every one is free there."""
    taken = [start_dir / run.relative_to(old) for run in runs]
    clash = next((target for target in taken if target.exists()), None)
    if clash:
        raise UsageError(
            f"{sweep_dir}: cannot move its pre-training runs to {start_dir}: "
            f"{clash} exists; move or remove one of the two"
        )
    for run, target in zip(runs, taken, strict=True):
        _rewrite_run(run, lambda record: record.pop("stage", None))
        target.parent.mkdir(parents=True, exist_ok=True)
        run.rename(target)
    for folder in sorted(old.rglob("*"), reverse=True):  # the deepest first
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    if not any(old.iterdir()):
        old.rmdir()


def _init_in(start_name):
    """A change of a run record whose `init` is in `pretrain/` to the same
    run in the sweep `start_name`."""
    prefix = f"{PRETRAIN_FOLDER}/"

    def change(record):
        if record.get("init", "").startswith(prefix):
            record["init"] = f"{start_name}/{record['init'].removeprefix(prefix)}"

    return change


def _rewrite_run(run_dir, change):
    """Rewrites run.json's `run` record by `change` (which edits it in place), where it changes."""
    path = Path(run_dir) / CONFIG_FILE
    saved = json.loads(path.read_text())
    before = dict(saved["run"])
    change(saved["run"])
    if saved["run"] != before:
        write_json(path, saved)


STEPS = [pretraining_becomes_a_sweep]  # STEPS[n - 1] takes layout n to n + 1


def read_run(run_dir):
    """A finished run's (config, result), its config as `current_run` gives
    it; UnreadableRun as `run_files.read_run` raises it."""
    config, result = run_files.read_run(run_dir)
    try:
        return current_run(config), result
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UnreadableRun(f"{CONFIG_FILE} run is not a run's settings ({error!r})")


def current_run(config):
    """A run.json's contents with every key this version records: a key
    first recorded by a later version takes what the runs before it had.
    A file's digest and `start_weights` stay absent: such a run is taken as
    run with the file, or from the weights, as they are now."""
    run = {**_run_defaults(), **config["run"]}
    # Runs recorded their table's grid and selection, which are not theirs.
    run["optimizer_settings"] = run_settings(run["optimizer_settings"])
    # Before problems existed, a run's problem was its model at its batch size.
    problem = config.get("problem") or {
        "name": run["problem"],
        "dataset": run["dataset"],
        "model": run["model"],
        "batch_size": run["batch_size"],
        "epochs": run["epochs"],
    }
    threads = config.get("threads", config.get("tensorflow_threads"))
    return {
        "backend": "tensorflow",  # the only one before backends were recorded
        "optimizer_class": "",  # not recorded before: the report leaves it blank
        "params": "",
        **{k: v for k, v in config.items() if k != "tensorflow_threads"},
        **({"threads": threads} if threads is not None else {}),
        "run": run,
        "problem": {**_defaults(problems.Problem), **problem},
    }


def _run_defaults():
    """What a run saved before a key of its identity existed had: the
    field's or axis's default (no problem: ""), as run.json holds it."""
    return json.loads(json.dumps({
        "problem": "",
        **problems.run_field_defaults(),
        **{k: v for k, v in _defaults(RunSpec).items() if k not in NOT_RECORDED},
        **{a.name: a.default for a in axes.AXES if a.default != axes.PROBLEMS_OWN},
    }))  # fmt: skip


def _defaults(cls):
    """{field: its default} for a dataclass's fields that have one."""
    return {
        f.name: f.default_factory() if f.default is MISSING else f.default
        for f in fields(cls)
        if f.default is not MISSING or f.default_factory is not MISSING
    }


def earlier_folder(spec, sweep_dir, data_identities):
    """`spec`, or its spelled-out form where only that one's folder holds it
    finished, with these settings and data (a grid value equal to the
    optimizer's own was spelled out in the folder name before)."""
    if not spec.spelled or is_finished(sweep_dir / spec.folder):
        return spec
    earlier = spec.spelled_out()
    try:
        config, _ = read_run(sweep_dir / earlier.folder)
    except UnreadableRun:
        return spec
    same = not earlier.differences(config["run"]) and not data_differences(
        config["data"], data_identities[spec.dataset]
    )
    return earlier if same else spec
