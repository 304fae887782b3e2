"""Seconds per epoch of `model.fit` with this project's Adam, per model, on
the backend `KERAS_BACKEND` names; run it once in each backend's environment
(docs/backends.md) and set the rows side by side.

    python -m experiments.benchmark_backends
    KERAS_BACKEND=jax python -m experiments.benchmark_backends --models mlp,cnn

Each model trains on the first `--images` training digits (offline, the
embedded ones) in batches of its problem's size: one warm-up epoch, then
`--epochs` timed ones; a round builds the model afresh, and a row gives
the best epoch of each round. Every model is timed first as it trains
by default, then repeatable, as every run of a sweep trains
(`backend.make_repeatable`, which TensorFlow cannot undo in a process);
the last column is what repeatability costs on TensorFlow and PyTorch, a
ratio within one process. On JAX `make_repeatable` changes nothing (its
GPU flag is set as `experiments` is imported), so its ratio shows the
noise.
Backends cannot share one process, so across backends this is a time,
not a ratio: run them one after another on a quiet machine, and read
differences below about 10% as noise.
"""

import platform
import time

import keras

import custom_optimizers as co
from experiments import backend, cli, data, models
from experiments.problems import PROBLEMS

# Each model at its shipped problem's batch size.
MODELS = {"mlp": "mnist_small_mlp", "cnn": "mnist_small_cnn",
          "deepobs_2c2d": "fmnist_2c2d"}  # fmt: skip


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)

    def on_train_begin(self, logs=None):
        self.seconds = []


def best_epoch_seconds(model_name, dataset, images, epochs):
    """The fastest of `epochs` timed epochs, after one warm-up, on a fresh model."""
    keras.utils.set_random_seed(0)
    model = models.build(model_name, 0, dataset.input_shape, dataset.label_count)
    models.compile_classifier(model, co.Adam(1e-3))
    times = EpochTimes()
    model.fit(dataset.x_train[:images], dataset.y_train[:images],
              batch_size=PROBLEMS[MODELS[model_name]].batch_size,
              epochs=1 + epochs, verbose=0, callbacks=[times])  # fmt: skip
    return min(times.seconds[1:])


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.benchmark_backends", __doc__)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--images", default="3600", help="training images per epoch")
    parser.add_argument("--epochs", default="2", help="timed epochs per round")
    parser.add_argument("--rounds", default="2", help="rounds per model")
    args = parser.parse_args(argv)
    names = cli.names(cli.comma_list(args.models), MODELS, "model")
    images = cli.integer(args.images, "--images", 1)
    epochs = cli.integer(args.epochs, "--epochs", 1)
    rounds = cli.integer(args.rounds, "--rounds", 1)
    dataset = data.load("mnist", download=False)
    print(f"{backend.name()}, Keras {keras.__version__}, {platform.machine()}: "
          f"seconds per epoch of {images} images, best epoch of each round")  # fmt: skip
    seconds = {}
    for repeatable in (False, True):
        if repeatable:
            backend.make_repeatable()
        for name in names:
            seconds[name, repeatable] = [
                best_epoch_seconds(name, dataset, images, epochs) for _ in range(rounds)
            ]
    print("| model | as by default | repeatable | repeatable ÷ default |")
    print("|---|---|---|---:|")
    for name in names:
        free, repeatable = seconds[name, False], seconds[name, True]
        cells = [" ".join(f"{s:.3g}" for s in times) for times in (free, repeatable)]
        ratio = min(repeatable) / min(free)
        print(f"| {name} | {cells[0]} | {cells[1]} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    main()
