"""How many runs go at once, and where: in this process or on Ray.

`auto` weighs what Ray's start-up costs against what it saves, from a cost
table measured on this project's machine. Imports no TensorFlow or Ray.
"""

import os
import sys

MEMORY_PER_WORKER = 1.5 * 2**30  # a worker with TensorFlow and a run holds ~0.9 GB
# What `auto` weighs, measured on this project's 2-core machine with the
# offline digits (README, "Runs side by side"): one run in one process costs
# RUN_SECONDS plus SAMPLE_EPOCH_SECONDS per training image and epoch; Ray
# costs RAY_START_SECONDS to start (ray.init, then each worker imports
# TensorFlow) and then saved RAY_SAVES of the one-process time (the default
# sweep: 11 min 54 s in one process, 8 min 17 s two at a time).
RUN_SECONDS = 0.6
# deepobs_2c2d: 66 ms per batch of 128 with 2 threads; transformer (nanoGPT's
# CPU sizes): 68 ms per batch of 12 windows of 64 (shared/NOTES.md).
SAMPLE_EPOCH_SECONDS = {"mlp": 7.5e-5, "cnn": 3.8e-4, "deepobs_2c2d": 5.2e-4,
                        "transformer": 5.7e-3}  # fmt: skip
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
    """One process's time for `specs` ({dataset: its training images}), from
    the table above; a problem trained for steps goes through `eval_every`
    batches an epoch."""
    return sum(
        RUN_SECONDS
        + spec.epochs * _per_epoch(spec, train_samples) * sample_epoch_seconds(spec.model)
        for spec in specs
    )


def _per_epoch(spec, train_samples):
    if spec.problem.steps:
        return spec.problem.eval_every * spec.values["batch_size"]
    return train_samples[spec.dataset]


def make_executor(config, specs, train_samples, verbose):
    """Where `specs` train: in this process (Ray is not imported), or on Ray.

    `auto` stays in this process unless Ray's start-up would pay for itself:
    a small sweep on Ray is slower than one in-process. Says what it chose.
    """
    from experiments.sweep import executors

    workers = workers_for(config)
    if config.address:
        return executors.OnRay(
            workers, config.address, config.gpus_per_run, verbose=verbose
        )
    cores = os.cpu_count() or 1
    if config.workers == "auto" and workers > 1 and len(specs) > 1:
        seconds = estimated_seconds(specs, train_samples)
        pays_off = RAY_START_SECONDS / RAY_SAVES
        on_ray = seconds > pays_off
        print(
            f"workers auto: {min(workers, len(specs)) if on_ray else 1} at a time: "
            f"about {clock(seconds)} of training in one process, "
            f"{'above' if on_ray else 'below'} the {clock(pays_off)} from which "
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
    return executors.OnRay(
        min(workers, len(specs)), gpus_per_run=config.gpus_per_run, verbose=verbose
    )


def clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"
