"""Which of a sweep's runs to train: resume, the identity check, --rerun-best.

A run folder with a result is finished; it is reused only if its recorded
settings and data are the ones asked for now. Imports no TensorFlow.
"""

import sys
from pathlib import Path

from experiments.cli import UsageError
from experiments.sweep.migrations import earlier_folder, read_run
from experiments.sweep.run_files import (
    RESULT_FILE,
    UnreadableRun,
    data_differences,
    is_finished,
    weights_digest,
)
from experiments.sweep.spec import CODE_KEYS

# The data settings a sweep's config gives every dataset alike.
SPLIT_KEYS = ("validation_fraction", "max_train_samples", "split_seed")


def plan(specs, sweep_dir, data_identities, force):
    """Splits the runs into those to train and those already finished.

    `data_identities` maps each dataset to the identity of the data loaded
    now. A finished run whose saved settings or data differ from the new
    ones is an error: it belongs to another sweep and must be neither
    reused nor overwritten. A run whose files cannot be read is trained
    again.
    """
    todo, done = [], []
    for spec in specs:
        if not force:
            spec = earlier_folder(spec, sweep_dir, data_identities)
        run_dir = sweep_dir / spec.folder
        if force or not is_finished(run_dir):
            todo.append(spec)
            continue
        try:
            config, _ = read_run(run_dir)
        except UnreadableRun as error:
            print(f"warning: {run_dir}: {error}; training it again", file=sys.stderr)
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


def check_protocol(specs, sweep_dir, data_identities, force):
    """UsageError unless every finished run in `sweep_dir` shares this sweep's
    protocol: what makes runs comparable but is not an axis (each problem's
    epochs, its batch size unless the grid varies it, the divergence limit,
    its model and what a user's model file holds, and the data: source,
    split, size, content). Whether or not a run's
    folder is among this sweep's, and however the grid changed: a sweep
    folder holds one protocol. With `force`, the runs about to be replaced
    do not count."""
    expected = _protocol(specs)
    replaced = {str(spec.folder) for spec in specs} if force else set()
    found = []
    for result in sorted(Path(sweep_dir).rglob(RESULT_FILE)):
        run_dir = result.parent
        if str(run_dir.relative_to(sweep_dir)) in replaced:
            continue
        try:
            config, _ = read_run(run_dir)
            differences = _protocol_differences(config, expected, data_identities)
        except (UnreadableRun, KeyError, TypeError, AttributeError):
            continue  # the plan and the report deal with unreadable runs
        if differences:
            found.append((run_dir, differences))
    if found:
        run_dir, differences = found[0]
        raise UsageError(
            f"{sweep_dir} holds {len(found)} finished runs of another protocol "
            f"({run_dir.relative_to(sweep_dir)}: {'; '.join(differences)}); a sweep "
            "folder holds one protocol: use --name for a new sweep"
        )


def _protocol(specs):
    """{problem folder: its epochs, batch size (None: on the grid), divergence
    limit, model, a digest of a user's model file (None: shipped), the
    metric that judges it and the Keras backend that trains it}."""
    from experiments import backend

    by_problem = {}
    for spec in specs:
        by_problem.setdefault(spec.problem.folder, []).append(spec)
    protocol = {}
    for problem, group in by_problem.items():
        batch_sizes = {spec.values["batch_size"] for spec in group}
        protocol[problem] = {
            "epochs": group[0].epochs,
            "batch_size": batch_sizes.pop() if len(batch_sizes) == 1 else None,
            "divergence_loss": group[0].divergence_loss,
            "model": group[0].model,
            "model_code": group[0].code().get("model_code"),
            "metric": group[0].problem.metric,
            "backend": backend.name(),
        }
    return protocol


def _protocol_differences(config, expected, data_identities):
    """How one finished run's protocol differs from this sweep's."""
    run = {**config["run"], "metric": config["problem"]["metric"],
           "backend": config["backend"]}  # fmt: skip
    problem = config["problem"]
    mine = expected.get(problem["name"] or problem["model"], {})  # Problem.folder
    differences = [
        f"{key}: {run.get(key)!r} then, {value!r} now"
        for key, value in mine.items()
        # A digest absent: recorded before digests were.
        if value is not None
        and run.get(key, value if key in CODE_KEYS else None) != value
    ]
    current = data_identities.get(run["dataset"])
    if current is None:  # another dataset: what the config sets for every one
        any_identity = next(iter(data_identities.values()))
        current = {key: any_identity[key] for key in SPLIT_KEYS}
    return differences + data_differences(config["data"], current)


def best_reruns(grid, sweep_dir, seeds):
    """Each entry's best grid setting, again on the `seeds` seeds after the
    tuning seed: evaluation seeds, apart from the one the choice was made on.

    An entry is what the report ranks (`RunSpec.entry`: an optimizer on a
    problem, at one value of each compared axis); "best" is the best value of
    its problem's judged metric (the highest validation accuracy, or the
    lowest loss) among its finished runs that did not diverge. As
    AlgoPerf and Crowded Valley do, the runs that choose are not the runs
    that measure: an interval over the tuning seed would carry its luck.
    """
    best = {}
    for spec in grid:
        try:
            _, result = read_run(sweep_dir / spec.folder)
        except UnreadableRun:  # failed: it has no result to rank
            continue
        if result["diverged"]:
            continue
        score = result[spec.problem.metric] * (
            -1 if spec.problem.lower_is_better else 1
        )
        if spec.entry not in best or score > best[spec.entry][1]:
            best[spec.entry] = (spec, score)
    return [
        spec.at(seed=spec.values["seed"] + offset)
        for spec, _ in best.values()
        for offset in range(1, seeds + 1)
    ]


def from_other_weights(specs, sweep_dir):
    """The finished runs whose start run (`init`) holds other weights than
    they started from: that sweep was trained again since (its --force)."""
    digests = {}  # one per start run, however many runs start from it
    stale = []
    for spec in (s for s in specs if s.init):
        recorded = read_run(Path(sweep_dir) / spec.folder)[0].get("start_weights")
        if spec.init not in digests:
            digests[spec.init] = weights_digest(Path(sweep_dir).parent / spec.init)
        if recorded and recorded != digests[spec.init]:  # absent: recorded before
            stale.append(spec)
    return stale
