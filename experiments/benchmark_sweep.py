"""What the sweep's machinery costs: its runs against bare `model.fit` of the same runs.

    python -m experiments.benchmark_sweep                 # the quick sweep's runs
    python -m experiments.benchmark_sweep --config experiments/configs/default.toml \
        --models cnn --learning-rates 0.01 --rounds 2

Each run is trained twice in this process, alternating: once as the sweep
trains it (`executors.train_run`: TensorBoard logs, per-batch loss,
histograms, divergence checks, test evaluation, HParams, JSON files) and
once as a bare `model.fit` on the same data, batches, validation set and
test evaluation. The ratio of the totals is the sweep's overhead per run.
The fixed costs of one sweep (importing TensorFlow, loading data, writing
the report) are timed apart.
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments import cli
from experiments.sweep import api
from experiments.sweep.config import CONFIGS
from experiments.sweep.workers import RAY_START_SECONDS


def bare_fit(spec, dataset):
    """The same run with nothing but Keras: the sweep's batches in the same
    order, fit with validation, then test."""
    from experiments import models
    from experiments.sweep import training

    model = training.fresh_model(spec, dataset)
    optimizer = spec.build_optimizer(training.steps_per_epoch(spec, dataset))
    models.compile_classifier(model, optimizer, metrics=["accuracy"])
    training.fit(model, spec, dataset)
    models.evaluate(model, dataset.x_test, dataset.y_test)


def timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.benchmark_sweep", __doc__)
    parser.add_argument("--config", default=str(CONFIGS / "quick.toml"))
    parser.add_argument("--models")
    parser.add_argument("--learning-rates")
    parser.add_argument("--rounds", default="1", help="repeat every run")
    args = parser.parse_args(argv)
    args.rounds = cli.integer(args.rounds, "--rounds", 1)
    config = api.load(
        args.config,
        models=cli.comma_list(args.models) if args.models else None,
        grid=[("learning_rate", cli.comma_list(args.learning_rates),
               "--learning-rates")] if args.learning_rates else (),
    )  # fmt: skip

    import_seconds = _import_seconds()

    from experiments import data
    from experiments.report import write_report
    from experiments.sweep import executors

    specs = [s for s in config.runs() if s.values["learning_rate"] < 1]  # no divergence
    started = time.perf_counter()
    dataset = data.load(
        specs[0].dataset,
        validation_fraction=config.validation_fraction,
        max_train_samples=config.max_train_samples,
        seed=config.seed,
        download=False,
    )
    data_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        sweep_dir = Path(folder)
        executors.train_run(specs[0], dataset, sweep_dir)  # warm-up: first-use costs
        bare = ours = 0.0
        for round_ in range(args.rounds):
            for index, spec in enumerate(specs):
                pair = [
                    ("bare", lambda: bare_fit(spec, dataset)),
                    ("ours", lambda: executors.train_run(spec, dataset, sweep_dir)),
                ]
                if (index + round_) % 2:
                    pair.reverse()  # alternate which goes first
                for name, run in pair:
                    seconds = timed(run)
                    if name == "bare":
                        bare += seconds
                    else:
                        ours += seconds
        report_seconds = timed(write_report, sweep_dir)
    print(
        f"{len(specs)} runs x {args.rounds} "
        f"({', '.join(dict.fromkeys(s.problem.folder for s in specs))}; "
        f"{dataset.describe()}; {specs[0].epochs} epochs, batch {specs[0].values['batch_size']})"
    )
    print(f"bare model.fit      {bare:7.1f} s")
    print(f"sweep's train_run   {ours:7.1f} s   ratio {ours / bare:.3f}")
    print(
        f"fixed costs: import TensorFlow {import_seconds:.1f} s, "
        f"load data {data_seconds:.1f} s, report {report_seconds:.1f} s"
    )
    init, imports = _ray_start_seconds()
    print(
        f"Ray's start-up with 2 workers: {init + imports:.1f} s (ray.init {init:.1f} s, "
        f"then TensorFlow imported in each worker {imports:.1f} s); "
        f"RAY_START_SECONDS = {RAY_START_SECONDS:g}"
    )


def _import_seconds():
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True)
    return time.perf_counter() - started


# Run apart, in a fresh process, as a sweep starts Ray: the local Ray of
# `executors.OnRay`, then one task per worker that imports TensorFlow.
RAY_START = """
import os, time
started = time.perf_counter()
import ray
from experiments.sweep import executors
executor = executors.OnRay(2)
ready = time.perf_counter()
@ray.remote(num_cpus=1)
def import_tensorflow():
    import tensorflow
    return os.getpid()
assert len(set(ray.get([import_tensorflow.remote() for _ in range(2)]))) == 2
print(ready - started, time.perf_counter() - ready)
executor.close()
"""


def _ray_start_seconds():
    """(ray.init, the workers' TensorFlow import) in seconds."""
    done = subprocess.run([sys.executable, "-c", RAY_START], check=True,
                          capture_output=True, text=True)  # fmt: skip
    init, imports = map(float, done.stdout.split()[-2:])
    return init, imports


if __name__ == "__main__":
    sys.exit(main())
