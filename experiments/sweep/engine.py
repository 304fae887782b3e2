"""A sweep from start to end: its data, its lock, the plan, the training, the
failures. `command.py` is its command line.
"""

import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from experiments import cli
from experiments.cli import UsageError
from experiments.data import DATASETS
from experiments.sweep import migrations
from experiments.sweep.plan import (
    best_reruns,
    check_protocol,
    from_other_weights,
    plan,
)
from experiments.sweep.run_files import (
    ERROR_FILE,
    SWEEP_FILE,
    is_finished,
    run_folder,
    write_text,
)
from experiments.sweep.workers import clock, make_executor, sample_epoch_seconds


def run_sweep(config, logdir, *, report, force=False, verbose=False, data_dir=None,
              download=True, rerun_best=0):  # fmt: skip
    """Runs the sweep, then `report(sweep_dir)` if any run finished; returns
    the runs that failed (an empty list when none did)."""
    from experiments.sweep.folder_lock import FolderLock
    from experiments.sweep.hparams import write_hparams_config

    sweep_dir = Path(_cluster_logdir(config, logdir)) / config.name
    grid = config.runs()
    check_folder_names(sweep_dir, grid)
    datasets = load_datasets(config, grid, config.classes, data_dir, download)
    check_models(grid, datasets)
    with FolderLock(sweep_dir):
        migrations.upgrade(sweep_dir, config)
        check_protocol(grid, sweep_dir, _identities(datasets), force)
        (todo, done), counts = _planned(grid, sweep_dir, datasets, force)
        failed = _start_weights(
            config, sweep_dir.parent, report=report, verbose=verbose,
            data_dir=data_dir, download=download,
        )  # fmt: skip
        if failed:  # nothing is fine-tuned from missing or broken weights
            return failed
        print(f"sweep {sweep_dir}: {counts}")
        stale = from_other_weights(done, sweep_dir)
        if stale:
            print(f"{len(stale)} of them started from weights trained again since; "
                  "training them again")  # fmt: skip
            todo, done = todo + stale, [s for s in done if s not in stale]
        write_sweep_file(sweep_dir, config, todo + done)
        write_hparams_config(sweep_dir, grid)
        reruns_at_most = [*{s.entry: s for s in grid}.values()] * rerun_best
        executor = make_executor(
            config,
            todo + reruns_at_most,
            {name: len(dataset.x_train) for name, dataset in datasets.items()},
            verbose,
        )
        print(executor.describe())
        try:
            failed = train_all(todo, datasets, sweep_dir, executor)
            if rerun_best:
                failed += _rerun_best(
                    todo + done, sweep_dir, datasets, force, rerun_best, executor
                )
        finally:
            executor.close()
        report_failures(failed, sweep_dir)
        if any(is_finished(sweep_dir / spec.folder) for spec in todo + done):
            report(sweep_dir)
    return failed


def _start_weights(config, logdir, **options):
    """Trains the sweep `start_from` names where it is not finished, on this
    sweep's cluster if any; returns its failures, and the runs of it that
    this sweep starts from and that diverged."""
    if not config.start_from:
        return []
    from experiments.sweep.executors import Outcome
    from experiments.sweep.reading import load

    path = config.start_from["sweep"]
    start = load(path, address=config.address)
    print(f"starting weights: the sweep {path}")
    try:
        failed = run_sweep(start, logdir, **options)
    except UsageError as error:
        raise UsageError(f"start_from's sweep {path}: {error}") from None
    if failed:
        return failed
    used = {folder for runs in config.start_from["runs"].values() for folder in runs}
    diverged = [
        Outcome(spec, None, "diverged")
        for spec in start.runs()
        if str(Path(start.name) / spec.folder) in used
        and migrations.read_run(Path(logdir) / start.name / spec.folder)[1]["diverged"]
    ]
    for outcome in diverged:
        print(
            f"failed: {Path(logdir) / start.name / outcome.spec.folder}: diverged, "
            f"so nothing starts from it; give {path} other settings",
            file=sys.stderr,
        )
    return diverged


def _cluster_logdir(config, logdir):
    """The log folder; on a cluster absolute (every node must see it), once a
    cluster answers at the address, before anything is written."""
    if not config.address:
        return logdir
    from experiments.sweep.executors import check_cluster

    if not Path(logdir).is_absolute():
        logdir = Path(logdir).resolve()
        print(
            f"note: on a cluster the log folder is {logdir}; every node must see "
            "that path (shared storage)"
        )
    check_cluster(config.address)
    return logdir


def check_folder_names(sweep_dir, specs):
    """UsageError unless the file system can hold the sweep's folder and every
    run's: each name within its limit in bytes (NAME_MAX), each path within
    PATH_MAX. Before the data loads, so a bad --name costs nothing."""
    base = Path(sweep_dir).absolute()
    existing = next(p for p in base.parents if p.exists())
    name_max = os.pathconf(existing, "PC_NAME_MAX")
    path_max = os.pathconf(existing, "PC_PATH_MAX")
    for path in [base, *(base / spec.folder for spec in specs)]:
        for part in path.relative_to(existing).parts:
            if len(part.encode()) > name_max:
                raise UsageError(
                    f"folder name {part!r} is {len(part.encode())} bytes; this file "
                    f"system holds at most {name_max} (a shorter --name, or labels)"
                )
        if len(str(path).encode()) >= path_max:
            raise UsageError(
                f"run folder {path} is longer than this file system's {path_max} "
                "bytes; use a shorter --logdir or --name"
            )


def load_datasets(config, specs, classes, data_dir, download):
    """{dataset name: Dataset} for every dataset `specs` train on, each loaded once."""
    from experiments import data, text_data

    loaded = {}
    for name in dict.fromkeys(spec.dataset for spec in specs):
        if text_data.is_text(name):
            loaded[name] = text_data.load(name, _block_size(specs, name))
        else:
            loaded[name] = data.load(
                name,
                data_dir=data_dir,
                validation_fraction=config.validation_fraction,
                max_train_samples=config.max_train_samples,
                seed=config.seed,
                download=download,
                classes=classes,
                source=config.data_source,
            )
        print(f"{loaded[name].describe()}")
    for spec in specs:
        available = len(loaded[spec.dataset].x_train)
        if spec.values["batch_size"] > available:
            raise UsageError(
                f"batch_size {spec.values['batch_size']} is more than the {available} "
                "training samples; give at most that"
            )
    return loaded


def _block_size(specs, text):
    """The one window length the sweep's problems on `text` cut it into."""
    sizes = sorted({s.problem.block_size for s in specs if s.dataset == text})
    if len(sizes) > 1:
        raise UsageError(
            f"the problems on {text} cut it into windows of {sizes}; one sweep "
            "takes one block_size per text"
        )
    return sizes[0]


def check_models(specs, datasets):
    """UsageError unless each problem's model builds for its data's inputs and
    outputs one logit per class (a user's model or data; the shipped ones do)."""
    from experiments import models

    problems = {spec.problem for spec in specs}
    for problem in sorted(problems, key=lambda p: (p.model, p.dataset)):
        model, dataset = problem.model, problem.dataset
        if model in models.MODELS and dataset in DATASETS:
            continue
        data = datasets[dataset]
        try:
            models.build(model, 0, data.input_shape, data.label_count,
                         **dict(problem.model_options))  # fmt: skip
        except ValueError as error:
            raise UsageError(f"{error} (for {dataset})") from None
        except Exception as error:  # a user's builder may raise anything
            raise UsageError(
                f"model {model}: {type(error).__name__}: {error}"
            ) from None


def _identities(datasets):
    return {name: dataset.identity for name, dataset in datasets.items()}


def _planned(specs, sweep_dir, datasets, force):
    """(The runs to train, those finished), and a line saying how many of each."""
    todo, done = plan(specs, sweep_dir, _identities(datasets), force)
    return (todo, done), f"{len(todo)} runs to train, {len(done)} already finished"


def write_sweep_file(sweep_dir, config, specs):
    """sweep.json: the config, and the settings (folders without their seed)
    of its runs: the report ranks these, and --rerun-best adds only seeds."""
    settings = sorted({str(spec.setting_folder) for spec in specs})
    write_text(
        sweep_dir / SWEEP_FILE,
        json.dumps(
            {**asdict(config), "settings": settings, "layout": migrations.LAYOUT},
            indent=2,
        ),
    )


def _rerun_best(grid, sweep_dir, datasets, force, seeds, executor):
    """Each entry's best setting on `seeds` evaluation seeds; returns the failures."""
    from experiments.sweep.hparams import write_hparams_config

    reruns = best_reruns(grid, sweep_dir, seeds)
    (todo, _), counts = _planned(reruns, sweep_dir, datasets, force)
    print(f"each optimizer's best setting on {seeds} evaluation seeds: {counts}")
    write_hparams_config(sweep_dir, grid + reruns)
    return train_all(todo, datasets, sweep_dir, executor)


def train_all(specs, datasets, sweep_dir, executor):
    """Trains the runs on `executor`, each on its dataset ({name: Dataset}),
    printing one line per finished run. Returns the runs that failed with an error."""
    started = time.perf_counter()
    failed, finished = [], []
    by_dataset = defaultdict(list)
    for spec in specs:
        by_dataset[spec.dataset].append(spec)
    outcomes = (
        outcome
        for name, group in by_dataset.items()
        for outcome in executor.run(group, datasets[name], sweep_dir)
    )
    for index, outcome in enumerate(outcomes, 1):
        cli.raise_if_stopped()
        elapsed = time.perf_counter() - started
        finished.append(outcome)
        if outcome.error is not None:
            failed.append(outcome)
        left = time_left(specs, finished, elapsed)
        print(
            f"[{index}/{len(specs)}] {outcome.spec.folder}: {_status(outcome)} "
            f"({outcome.seconds:.1f}s{executor.where(outcome)}) "
            f"| elapsed {clock(elapsed)}, ~{clock(left)} left",
            flush=True,
        )
    return failed


def _status(outcome):
    result = outcome.result
    if outcome.error is not None:
        return f"FAILED: {outcome.error}"
    if result["diverged"]:
        return f"DIVERGED in epoch {result['epochs_run']}"
    judged = (
        f"val loss {result['val_loss']:.4f}"
        if outcome.spec.problem.lower_is_better
        else f"val acc {result['val_accuracy']:.4f}"
    )
    return f"{judged}, train loss {result['train_loss']:.4f}"


def time_left(specs, finished, elapsed):
    """Wall time the runs of `specs` not yet `finished` will take, model by model.

    A run costs its epochs times what an epoch of its model took in the
    finished runs; a model with none finished yet is priced from another by
    SAMPLE_EPOCH_SECONDS. The sum is scaled by the wall time per second of
    run time so far (about 1/N with N runs at once).
    """
    done = {outcome.spec.folder for outcome in finished}  # copies, from Ray
    remaining = [spec for spec in specs if spec.folder not in done]
    if not remaining:
        return 0.0
    epoch_times = {}
    for outcome in finished:
        epochs = outcome.result["epochs_run"] if outcome.result else outcome.spec.epochs
        epoch_times.setdefault(outcome.spec.model, []).append(
            outcome.seconds / max(1, epochs)
        )
    per_epoch = {model: sum(t) / len(t) for model, t in epoch_times.items()}
    known = next(iter(per_epoch))

    def epoch_seconds(model):
        if model in per_epoch:
            return per_epoch[model]
        return (
            per_epoch[known] * sample_epoch_seconds(model) / sample_epoch_seconds(known)
        )

    run_seconds = sum(outcome.seconds for outcome in finished) or 1e-9
    work = sum(spec.epochs * epoch_seconds(spec.model) for spec in remaining)
    return work * elapsed / run_seconds


def report_failures(failed, sweep_dir):
    """Prints each failure; its run folder keeps the error for the report."""
    for outcome in failed:
        run_dir = sweep_dir / outcome.spec.folder
        kept = (run_dir / ERROR_FILE).exists()
        if not kept:  # no traceback: a lost worker, or a full disk
            try:
                run_dir = run_folder(sweep_dir, outcome.spec.folder)
                run_dir.mkdir(parents=True, exist_ok=True)
                write_text(run_dir / ERROR_FILE, f"{outcome.error}\n")
                kept = True
            except (OSError, ValueError):
                pass  # the message says so already, or the run is retried anyway
        where = f"{ERROR_FILE} there; " if kept else ""
        print(
            f"failed: {run_dir}: {outcome.error} ({where}rerun the command to retry)",
            file=sys.stderr,
        )
