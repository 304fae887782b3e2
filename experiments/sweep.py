"""Train every optimizer × learning rate × model and compare the runs.

    python -m experiments.sweep                   # the default comparison
    python -m experiments.sweep --quick           # a minute-scale version
    python -m experiments.sweep --config experiments/configs/quick.toml \
        --optimizers adam,momentum --learning-rates 1e-3,1e-2 --models mlp \
        --epochs 3 --dataset mnist --logdir logs --seed 0
    python -m experiments.sweep --seeds 0,1,2     # every setting over 3 seeds
    python -m experiments.sweep --rerun-best 5    # best setting per optimizer, 5 seeds
    python -m experiments.sweep --config experiments/configs/weight_decay.toml
    tensorboard --logdir logs/<sweep-name>

Each run lands in logs/<sweep-name>/<model>/<optimizer>/lr=<value>/ (with
,wd=<value> on a weight-decay grid and ,seed=<n> for seeds other than 0)
with its TensorBoard logs, its resolved config (run.json) and, once
finished, result.json. Re-running skips finished runs and redoes unfinished
ones; --force reruns everything. The report (summary.csv, runs.csv,
summary.md, plots) is rebuilt at the end; `python -m experiments.report`
rebuilds it alone.
"""

import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from experiments import cli  # noqa: E402
from experiments.cli import UsageError, check_writable, comma_list  # noqa: E402
from experiments.sweep_config import CONFIGS, resolve  # noqa: E402, F401
from experiments.sweep_plan import best_reruns, plan  # noqa: E402


def parse_args(argv):
    parser = cli.parser("python -m experiments.sweep", __doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", help="a sweep TOML file (default: configs/default.toml)"
    )
    source.add_argument("--quick", action="store_true", help="use configs/quick.toml")
    parser.add_argument(
        "--name", help="sweep folder name under --logdir (default: the config's)"
    )
    parser.add_argument(
        "--optimizers", type=comma_list, help="comma-separated short names"
    )
    parser.add_argument(
        "--learning-rates", type=comma_list, help="comma-separated, e.g. 1e-3,1e-2"
    )
    parser.add_argument(
        "--schedules",
        type=comma_list,
        help="comma-separated: constant, step, cosine, warmup_cosine",
    )
    parser.add_argument(
        "--problems",
        type=comma_list,
        help="comma-separated test problems (experiments/problems.py), e.g. "
        "fmnist_2c2d; instead of --dataset and --models",
    )
    parser.add_argument("--models", type=comma_list, help="comma-separated: mlp,cnn")
    parser.add_argument("--dataset", help="mnist or fashion_mnist")
    parser.add_argument(
        "--grid",
        action="append",
        metavar="AXIS=VALUES",
        help="run each of these values of an axis (runs.AXES), e.g. "
        "momentum=0.5,0.9,0.99 or batch_size=32,128; repeatable",
    )
    parser.add_argument("--epochs", type=int, help="default: each problem's own")
    parser.add_argument("--batch-size", type=int, help="default: each problem's own")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--seeds", type=comma_list, help="run every setting with each seed, e.g. 0,1,2"
    )
    parser.add_argument(
        "--rerun-best",
        type=int,
        default=0,
        metavar="N",
        help="after the one-seed grid, rerun each optimizer's best setting over N seeds",
    )
    parser.add_argument(
        "--weight-decays",
        type=comma_list,
        help="weight-decay grid for the optimizers that decay, e.g. 1e-4,1e-3",
    )
    parser.add_argument(
        "--max-train-samples", type=int, help="use only this many training samples"
    )
    parser.add_argument(
        "--data-dir", help="read idx(.gz) or .npz files from this folder"
    )
    parser.add_argument(
        "--offline", action="store_true", help="never try Keras's download"
    )
    parser.add_argument(
        "--logdir", default="logs", help="root folder for sweeps (default: logs)"
    )
    parser.add_argument(
        "--workers",
        help="runs at once: 1 (in this process), N, or auto (one per core); "
        "more than 1 uses Ray",
    )
    parser.add_argument(
        "--address",
        help="run on this Ray cluster (host:port or auto; default: $RAY_ADDRESS)",
    )
    parser.add_argument("--force", action="store_true", help="rerun finished runs too")
    parser.add_argument(
        "--verbose", action="store_true", help="show Keras's progress bar"
    )
    return parser.parse_args(argv)


MEMORY_PER_WORKER = 1.5 * 2**30  # a worker with TensorFlow and a run holds ~0.9 GB
# What `auto` weighs, measured on this project's 2-core machine with the
# offline digits (README, "Runs side by side"): one run in one process costs
# RUN_SECONDS plus SAMPLE_EPOCH_SECONDS per training image and epoch; Ray
# costs RAY_START_SECONDS to start (ray.init, then each worker imports
# TensorFlow) and then saved RAY_SAVES of the one-process time (the default
# sweep: 11 min 54 s in one process, 8 min 17 s two at a time).
RUN_SECONDS = 0.6
# deepobs_2c2d: 66 ms per batch of 128 with 2 threads (shared/NOTES.md).
SAMPLE_EPOCH_SECONDS = {"mlp": 7.5e-5, "cnn": 3.8e-4, "deepobs_2c2d": 5.2e-4}
RAY_START_SECONDS = 12.0
RAY_SAVES = 0.3


def workers_for(config):
    """How many runs go at once. `auto`: one per core, and at most one per
    MEMORY_PER_WORKER of memory; on a cluster, as many as Ray schedules."""
    if config.workers != "auto":
        return config.workers
    if config.address:
        return None
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(os.cpu_count() or 1, int(memory // MEMORY_PER_WORKER)))


def sample_epoch_seconds(model):
    """SAMPLE_EPOCH_SECONDS of `model`; a model not in the table, as the slowest."""
    return SAMPLE_EPOCH_SECONDS.get(model, max(SAMPLE_EPOCH_SECONDS.values()))


def estimated_seconds(specs, train_samples):
    """One process's time for `specs` ({dataset: its training images}), from the table above."""
    return sum(
        RUN_SECONDS
        + spec.epochs * train_samples[spec.dataset] * sample_epoch_seconds(spec.model)
        for spec in specs
    )


def make_executor(config, specs, train_samples, verbose):
    """Where `specs` train: in this process (Ray is not imported), or on Ray.

    `auto` stays in this process unless Ray's start-up would pay for itself:
    a small sweep on Ray is slower than one in-process. Says what it chose.
    """
    from experiments import executors

    workers = workers_for(config)
    if config.address:
        return executors.OnRay(workers, config.address, verbose=verbose)
    cores = os.cpu_count() or 1
    if config.workers == "auto" and workers > 1 and len(specs) > 1:
        seconds = estimated_seconds(specs, train_samples)
        pays_off = RAY_START_SECONDS / RAY_SAVES
        on_ray = seconds > pays_off
        print(
            f"workers auto: {min(workers, len(specs)) if on_ray else 1} at a time: "
            f"about {_clock(seconds)} of training in one process, "
            f"{'above' if on_ray else 'below'} the {_clock(pays_off)} from which "
            f"Ray's start-up (~{RAY_START_SECONDS:.0f} s) pays off"
        )
        if not on_ray:
            workers = 1
    elif workers > cores:
        print(
            f"warning: --workers {workers} is more than this machine's {cores} "
            "cores; the runs will share them and each go slower",
            file=sys.stderr,
        )
    if workers == 1 or len(specs) < 2:
        return executors.InProcess(verbose=verbose)
    return executors.OnRay(min(workers, len(specs)), verbose=verbose)


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


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
        elapsed = time.perf_counter() - started
        finished.append(outcome)
        result = outcome.result
        if outcome.error is not None:
            failed.append(outcome)
            status = f"FAILED: {outcome.error}"
        elif result["diverged"]:
            status = f"DIVERGED in epoch {result['epochs_run']}"
        else:
            status = (
                f"val acc {result['val_accuracy']:.4f}, "
                f"train loss {result['train_loss']:.4f}"
            )
        left = time_left(specs, finished, elapsed)
        print(
            f"[{index}/{len(specs)}] {outcome.spec.folder}: {status} "
            f"({outcome.seconds:.1f}s{executor.where(outcome)}) "
            f"| elapsed {_clock(elapsed)}, ~{_clock(left)} left",
            flush=True,
        )
    return failed


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


def run_sweep(
    config,
    logdir,
    *,
    force=False,
    verbose=False,
    data_dir=None,
    download=True,
    rerun_best=0,
):
    """Runs the sweep; returns the runs that failed (an empty list when none did)."""
    from experiments import data, report
    from experiments.folder_lock import FolderLock
    from experiments.run_files import is_finished
    from experiments.tensorboard_logs import write_hparams_config

    if config.address and not Path(logdir).is_absolute():
        logdir = Path(logdir).resolve()
        print(
            f"note: on a cluster the log folder is {logdir}; every node must see "
            "that path (shared storage)"
        )
    if config.address:  # before anything is written
        from experiments.executors import check_cluster

        check_cluster(config.address)
    sweep_dir = Path(logdir) / config.name
    grid = config.runs()
    pretraining = config.pretrain_runs()

    def load(classes, specs):
        loaded = {}
        for name in dict.fromkeys(spec.dataset for spec in specs):
            loaded[name] = data.load(
                name,
                data_dir=data_dir,
                validation_fraction=config.validation_fraction,
                max_train_samples=config.max_train_samples,
                seed=config.seed,
                download=download,
                classes=classes,
            )
            print(f"{loaded[name].describe()}")
        for spec in specs:
            available = len(loaded[spec.dataset].x_train)
            if spec.batch_size > available:
                raise UsageError(
                    f"batch_size {spec.batch_size} is more than the {available} "
                    "training samples; give at most that"
                )
        return loaded

    datasets = load(config.classes, grid)
    pretrain_data = load(config.pretrain["classes"], pretraining) if pretraining else {}
    identities = {name: dataset.identity for name, dataset in datasets.items()}
    with FolderLock(sweep_dir):
        todo, done = plan(grid, sweep_dir, identities, force)
        pretrain_todo = []
        if pretraining:
            pretrain_todo, pretrain_done = plan(
                pretraining,
                sweep_dir,
                {name: dataset.identity for name, dataset in pretrain_data.items()},
                force,
                redo_diverged=True,
            )
            print(
                f"pre-training: {len(pretrain_todo)} runs to train, "
                f"{len(pretrain_done)} already finished"
            )
        print(
            f"sweep {sweep_dir}: {len(todo)} runs to train, "
            f"{len(done)} already finished"
        )
        (sweep_dir / "sweep.json").write_text(json.dumps(asdict(config), indent=2))
        write_hparams_config(sweep_dir, grid)
        one_per_entry = {s.entry: s for s in grid}.values()
        reruns_at_most = [*one_per_entry] * max(0, rerun_best - 1)
        executor = make_executor(
            config,
            pretrain_todo + todo + reruns_at_most,
            {name: len(dataset.x_train) for name, dataset in datasets.items()},
            verbose,
        )
        print(executor.describe())
        try:
            failed = train_all(pretrain_todo, pretrain_data, sweep_dir, executor)
            failed += [] if failed else unusable_pretraining(pretraining, sweep_dir)
            if not failed:  # nothing is fine-tuned from broken weights
                failed += train_all(todo, datasets, sweep_dir, executor)
            if rerun_best > 1:
                reruns = best_reruns(grid, sweep_dir, rerun_best)
                todo, done = plan(reruns, sweep_dir, identities, force)
                print(
                    f"each optimizer's best setting over {rerun_best} seeds: "
                    f"{len(todo)} runs to train, {len(done)} already finished"
                )
                write_hparams_config(sweep_dir, grid + reruns)
                failed += train_all(todo, datasets, sweep_dir, executor)
        finally:
            executor.close()
        report_failures(failed, sweep_dir)
        if not any(is_finished(sweep_dir / spec.folder) for spec in grid):
            return failed  # nothing finished to report on
        report.write_report(sweep_dir)
    print(
        f"report: {sweep_dir / 'summary.md'}; view with: tensorboard --logdir {sweep_dir}"
    )
    return failed


def unusable_pretraining(pretraining, sweep_dir):
    """Pre-training runs that diverged, as failed outcomes: nothing starts from them."""
    from experiments.executors import Outcome
    from experiments.run_files import read_run

    return [
        Outcome(spec, None, "pre-training diverged; change the pretrain settings")
        for spec in pretraining
        if read_run(sweep_dir / spec.folder)[1]["diverged"]
    ]


def report_failures(failed, sweep_dir):
    """Prints each failure; its run folder keeps the error for the report."""
    from experiments.run_files import ERROR_FILE

    for outcome in failed:
        run_dir = sweep_dir / outcome.spec.folder
        if not (run_dir / ERROR_FILE).exists():  # no traceback: a lost worker
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / ERROR_FILE).write_text(f"{outcome.error}\n")
        print(
            f"failed: {run_dir}: {outcome.error} "
            f"({ERROR_FILE} there; rerun the command to retry)",
            file=sys.stderr,
        )


def main(argv=None):
    args = parse_args(argv)
    try:
        config = resolve(args)
        check_writable(args.logdir)
        from experiments.data import DataError
        from experiments.folder_lock import FolderBusy

        try:
            failed = run_sweep(
                config,
                args.logdir,
                force=args.force,
                verbose=args.verbose,
                data_dir=args.data_dir,
                download=not args.offline,
                rerun_best=args.rerun_best,
            )
        except DataError as error:
            raise UsageError(f"data: {error}") from None
        except FolderBusy as error:
            raise UsageError(str(error)) from None
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are kept; run the same command again "
            "to train the rest",
            file=sys.stderr,
        )
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
