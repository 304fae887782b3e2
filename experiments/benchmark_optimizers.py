"""Time per training step of each custom optimizer relative to Keras's built-in twin.

    python -m experiments.benchmark_optimizers [--rounds 15] [--steps 20]
        [--optimizers sgd,adam] [--per-variable]

Runs on the Keras backend that `KERAS_BACKEND` names (TensorFlow by
default). `--per-variable` times ours with `fuse_on_torch = False`: on
PyTorch, Keras's loop over `update_step` instead of the fused update, the
"before" of that change.

Both optimizers of a pair train the same model on the same batch, in one
process, alternating rounds so machine noise hits both alike; the table
gives the median seconds per step of each and their ratio (ours / Keras).
"""

import os
import platform
import statistics
import sys
import time

import keras
import numpy as np

import custom_optimizers as co
from custom_optimizers.base import WeightDecayOptimizer
from experiments import cli, models

PAIRS = {
    "sgd": (lambda: co.SGD(0.01), lambda: keras.optimizers.SGD(0.01)),
    "momentum": (
        lambda: co.SGD(0.01, momentum=0.9),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    ),
    "nesterov": (
        lambda: co.SGD(0.01, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
    ),
    "momentum_wd": (
        lambda: co.SGD(0.01, momentum=0.9, weight_decay=5e-4),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=5e-4),
    ),
    # One layer group at η/10: the cost of per-layer rates, against Keras's
    # single-rate twin.
    "momentum_multipliers": (
        lambda: co.SGD(0.01, momentum=0.9, learning_rate_multipliers={"dense": 0.1}),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    ),
    "adam": (lambda: co.Adam(1e-3), lambda: keras.optimizers.Adam(1e-3)),
    "adamw": (lambda: co.AdamW(1e-3), lambda: keras.optimizers.AdamW(1e-3)),
}


def wide_mlp():
    """About 9.5 million parameters: with a small batch the optimizer dominates."""
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(2048, activation="relu"),
            keras.layers.Dense(2048, activation="relu"),
            keras.layers.Dense(2048, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


WORKLOADS = {
    # name: (model builder, input shape, batch size)
    "mnist mlp, batch 128": (lambda: models.build("mlp", seed=0), (28, 28, 1), 128),
    "9.5M-parameter mlp, batch 8": (wide_mlp, (784,), 8),
}


def compiled(build_model, optimizer):
    return models.compile_classifier(build_model(), optimizer)


def seconds_per_step(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps


def compare(build_model, input_shape, batch, pair, rounds, steps):
    rng = np.random.default_rng(0)
    x = rng.random((batch, *input_shape), dtype="float32")
    y = rng.integers(0, 10, batch)
    ours, theirs = (compiled(build_model, make()) for make in pair)
    for model in (ours, theirs):
        seconds_per_step(model, x, y, 5)  # trace and warm up
    times = {"ours": [], "keras": []}
    for _ in range(rounds):
        times["ours"].append(seconds_per_step(ours, x, y, steps))
        times["keras"].append(seconds_per_step(theirs, x, y, steps))
    return statistics.median(times["ours"]), statistics.median(times["keras"])


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.benchmark_optimizers", __doc__)
    parser.add_argument("--rounds", default="15", help="alternating timing rounds")
    parser.add_argument("--steps", default="20", help="training steps per round")
    parser.add_argument("--optimizers", default=",".join(PAIRS), help="comma-separated")
    parser.add_argument(
        "--per-variable",
        action="store_true",
        help="ours through Keras's loop over update_step, never fused",
    )
    args = parser.parse_args(argv)
    rounds = cli.integer(args.rounds, "--rounds", 1)
    steps = cli.integer(args.steps, "--steps", 1)
    names = cli.names(cli.comma_list(args.optimizers), PAIRS, "optimizer")
    WeightDecayOptimizer.fuse_on_torch = not args.per_variable

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{keras.backend.backend()} backend, Keras {keras.__version__}"
        f"{', per-variable path' if args.per_variable else ''}; median of "
        f"{rounds} alternating rounds of {steps} steps\n"
    )
    print("| workload | optimizer | ours ms/step | Keras ms/step | ratio |")
    print("|---|---|---:|---:|---:|")
    for workload, (build_model, input_shape, batch) in WORKLOADS.items():
        for name in names:
            ours, theirs = compare(
                build_model, input_shape, batch, PAIRS[name], rounds, steps
            )
            print(
                f"| {workload} | {name} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} "
                f"| {ours / theirs:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
