"""Which of a sweep's runs to train: resume, the identity check, --rerun-best.

A run folder with a result is finished; it is reused only if its recorded
settings and data are the ones asked for now. Imports no TensorFlow.
"""

import sys

from experiments.cli import UsageError
from experiments.sweep.run_files import (
    SELECTED_BY,
    UnreadableRun,
    is_finished,
    read_run,
)


def plan(specs, sweep_dir, data_identities, force, redo_diverged=False):
    """Splits the runs into those to train and those already finished.

    `data_identities` maps each dataset to the identity of the data loaded
    now. A finished run whose saved settings or data differ from the new
    ones is an error: it belongs to another sweep and must be neither
    reused nor overwritten. A run whose files cannot be read is trained
    again, and so is one that diverged when `redo_diverged` (pre-training:
    nothing can start from it, so it is retried, with whatever settings are
    given now).
    """
    todo, done = [], []
    for spec in specs:
        run_dir = sweep_dir / spec.folder
        if force or not is_finished(run_dir):
            todo.append(spec)
            continue
        try:
            config, result = read_run(run_dir)
        except UnreadableRun as error:
            print(f"warning: {run_dir}: {error}; training it again", file=sys.stderr)
            todo.append(spec)
            continue
        if redo_diverged and result["diverged"]:
            todo.append(spec)
            continue
        changed = spec.differences(config["run"]) + data_differences(
            config["data"], data_identities[spec.dataset]
        )
        if changed:
            raise UsageError(
                f"{run_dir} holds a finished run with other settings "
                f"({'; '.join(changed)}); use --name for a new sweep or --force "
                "to replace it"
            )
        done.append(spec)
    return todo, done


def data_differences(saved, current):
    """How a run's recorded data differs from `current` (keys both record)."""
    return [
        f"data {key}: {saved[key]!r} then, {current[key]!r} now"
        for key in current
        if key in saved and saved[key] != current[key]
    ]


def best_reruns(grid, sweep_dir, seeds):
    """Each entry's best grid setting, again with `seeds` − 1 more seeds.

    An entry is what the report ranks (`RunSpec.entry`: an optimizer on a
    problem, at one value of each compared axis); "best" is the highest
    validation accuracy among its finished runs that did not diverge, as
    DeepOBS picks a learning rate on one seed before rerunning it on several.
    """
    best = {}
    for spec in grid:
        try:
            _, result = read_run(sweep_dir / spec.folder)
        except UnreadableRun:  # failed: it has no result to rank
            continue
        if (
            not result["diverged"]
            and result[SELECTED_BY] > best.get(spec.entry, (None, -1.0))[1]
        ):
            best[spec.entry] = (spec, result[SELECTED_BY])
    return [
        spec.at(seed=spec.values["seed"] + offset)
        for spec, _ in best.values()
        for offset in range(1, seeds)
    ]
