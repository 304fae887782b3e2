"""One training run: a model, an optimizer, a learning rate, logged for TensorBoard."""

import itertools
import math
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from experiments import backend, models
from experiments.sweep import axes, migrations
from experiments.sweep.data_order import shuffle_seeds, shuffled_order
from experiments.sweep.run_callbacks import (
    FIRST_STEPS,
    BatchLosses,
    DivergenceStop,
    EpochsCsv,
    EpochSteps,
    FirstUpdate,
    TestEvaluation,
)
from experiments.sweep.run_files import (
    CONFIG_FILE,
    EPOCHS_FILE,
    RESULT_FILE,
    WEIGHTS_FILE,
    weights_digest,
    write_json,
)
from experiments.sweep.spec import hyperparameters
from experiments.sweep.tensorboard_logs import (
    RunEvents,
    TrainingCurves,
    log_final_metrics,
)


class Batches(keras.utils.PyDataset):
    """Training batches reshuffled every epoch, in an order that depends on
    `seed` alone and is the same on every backend.

    The order is the one this project trained in on TensorFlow before it
    ran without it: tf.data's `shuffle(shuffle_buffer or len(x), seed)`,
    replayed by `data_order` (a full shuffle, or with `shuffle_buffer` > 0
    a buffered one, as DeepOBS draws, from 20,000). `drop_remainder` leaves
    out the last partial batch of every epoch.
    """

    def __init__(self, x, y, batch_size, seed, shuffle_buffer=0, drop_remainder=False):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.seed, self.shuffle_buffer = seed, shuffle_buffer
        self.drop_remainder = drop_remainder
        self._point_at_iteration(0)

    def _point_at_iteration(self, iteration):
        self.iteration, self._order = iteration, None

    @property
    def order(self):
        """This iteration's order, drawn when first read (on TensorFlow,
        tf.data shuffles, and it never is)."""
        if self._order is None:
            self._order = shuffled_order(
                len(self.x), self.seed, self.iteration, self.shuffle_buffer
            )
        return self._order

    def __len__(self):
        whole, part = divmod(len(self.x), self.batch_size)
        return whole + (bool(part) and not self.drop_remainder)

    def samples_per_epoch(self):
        return min(len(self) * self.batch_size, len(self.x))

    def __getitem__(self, index):
        taken = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[taken], self.y[taken]

    def epoch_callback(self):
        """A callback that points these batches, as each of `model.fit`'s
        epochs begins, at the iteration tf.data's epoch read: epoch e read
        iteration 2e (`fit` opened one iteration as an epoch began and one,
        unread, as it ended). Fit's own epoch number, since a backend may
        read a batch ahead of training to build the model."""
        return keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs=None: self._point_at_iteration(2 * epoch)
        )

    def fed_to_fit(self):
        """(What `model.fit` takes as its data, the callbacks it needs for it):
        on TensorFlow, tf.data's own shuffle, the order this class replays
        (fed from Python batch by batch, the CNN trained slower there), after
        `keras.utils.set_random_seed(seed)` as a run's fresh model sets it,
        since tf.data's seed is that global one with its own; elsewhere, this
        class and its `epoch_callback`."""
        if backend.name() != "tensorflow":
            return self, [self.epoch_callback()]
        import tensorflow as tf

        if tuple(tf.compat.v1.get_seed(self.seed)) != shuffle_seeds(self.seed):
            raise RuntimeError(
                f"tf.data would shuffle by {tf.compat.v1.get_seed(self.seed)}, not "
                f"the replayed order's {shuffle_seeds(self.seed)}: call "
                "keras.utils.set_random_seed(seed) first"
            )
        shuffled = tf.data.Dataset.from_tensor_slices((self.x, self.y)).shuffle(
            self.shuffle_buffer or len(self.x),
            seed=self.seed,
            reshuffle_each_iteration=True,
        )
        return shuffled.batch(self.batch_size, self.drop_remainder), []

    def forever(self):
        """Batch after batch, one iteration after another, as a repeated
        tf.data pipeline gives them (the learning-rate finder's)."""
        for iteration in itertools.count():
            self._point_at_iteration(iteration)
            for index in range(len(self)):
                yield self[index]


def training_batches(spec, dataset):
    """The run's training batches, in the order its axes set."""
    return Batches(
        dataset.x_train,
        dataset.y_train,
        seed=spec.values["seed"],
        **axes.reaching(axes.DATA, spec.values),
    )


def drawn_batches(spec, dataset):
    """A step problem's training data: (x, y) of `steps` batches, one after
    another, each of `batch_size` samples drawn at offsets that depend on
    the seed alone (with replacement, as nanoGPT's `get_batch` draws)."""
    rng = np.random.default_rng(spec.values["seed"])
    drawn = rng.integers(
        0, len(dataset.x_train), spec.problem.steps * spec.values["batch_size"]
    )
    return dataset.x_train[drawn], dataset.y_train[drawn]


def trained_per_epoch(spec, dataset):
    """How many training samples an epoch (a step problem: the steps between
    two evaluations) of the run goes through."""
    if spec.problem.steps:
        return spec.problem.eval_every * spec.values["batch_size"]
    return training_batches(spec, dataset).samples_per_epoch()


def steps_per_epoch(spec, dataset):
    return math.ceil(trained_per_epoch(spec, dataset) / spec.values["batch_size"])


def fresh_model(spec, dataset):
    """The run's model for the data's inputs and classes, with the initial
    weights its seed fixes."""
    seed = spec.values["seed"]
    keras.utils.set_random_seed(seed)
    return models.build(
        spec.model,
        seed,
        dataset.input_shape,
        dataset.label_count,
        **dict(spec.problem.model_options),
    )


def fit(model, spec, dataset, callbacks=(), verbose=False):
    """`model.fit` as every run trains: its batches, the validation set, its
    epochs (a step problem: its evaluations, `eval_every` steps apart)."""
    if spec.problem.steps:
        x, y = drawn_batches(spec, dataset)
        data = {"x": x, "y": y, "batch_size": spec.values["batch_size"],
                "steps_per_epoch": spec.problem.eval_every}  # fmt: skip
    else:
        batches, following = training_batches(spec, dataset).fed_to_fit()
        data = {"x": batches}
        callbacks = [*following, *callbacks]
    return model.fit(
        **data,
        validation_data=(dataset.x_val, dataset.y_val),
        validation_batch_size=models.EVALUATION_BATCH_SIZE,
        epochs=spec.epochs,
        shuffle=False,  # `Batches` shuffles, by seed; drawn batches are drawn
        verbose=1 if verbose else 0,
        callbacks=list(callbacks),
    ).history


def trained_language_model(run_dir):
    """(The model a language model's run trained, from its run.json and
    weights; the TextDataset it trained on)."""
    from experiments import text_data

    problem = migrations.read_run(run_dir)[0]["problem"]
    dataset = text_data.load(problem["dataset"], problem["block_size"])
    model = models.build(problem["model"], 0, dataset.input_shape,
                         dataset.label_count, **dict(problem["model_options"]))  # fmt: skip
    model.load_weights(Path(run_dir) / WEIGHTS_FILE)
    return model, dataset


def exclude_vectors_from_decay(optimizer, model):
    """Decoupled weight decay on matrices and embeddings only, as nanoGPT's
    `configure_optimizers` decays (not norms' scales or biases)."""
    optimizer.exclude_from_weight_decay(
        var_list=[v for v in model.trainable_variables if len(v.shape) < 2]
    )


def run_pieces(spec, dataset, run_dir, events):
    """A run's pieces (run_callbacks.py), by name, in the order their
    epoch-end hooks depend on: the divergence check, then the test set,
    then what records the epoch."""
    steps = EpochSteps(steps_per_epoch(spec, dataset), bool(spec.problem.steps))
    batch_losses = BatchLosses(trained_per_epoch(spec, dataset),
                               spec.values["batch_size"], steps.per_epoch, events)  # fmt: skip
    divergence = DivergenceStop(batch_losses, spec.divergence_loss)
    pieces = {"batch_losses": batch_losses, "divergence": divergence,
              "first_update": FirstUpdate(events)}  # fmt: skip
    if spec.test_every_epoch:
        pieces["test"] = TestEvaluation(dataset.x_test, dataset.y_test,
                                        divergence, events, steps)  # fmt: skip
    pieces["curves"] = TrainingCurves(events, dataset.describe(), steps, divergence)
    pieces["epochs_csv"] = EpochsCsv(Path(run_dir) / EPOCHS_FILE, steps,
                                     pieces.get("test"))  # fmt: skip
    return pieces


def train(spec, dataset, sweep_dir, verbose=False):
    """Trains one run into its folder of `sweep_dir`; returns its result (also saved there)."""
    run_dir = Path(sweep_dir) / spec.folder
    run_dir.mkdir(parents=True, exist_ok=True)
    optimizer = spec.build_optimizer(steps_per_epoch(spec, dataset))
    settings = hyperparameters(optimizer)
    model = fresh_model(spec, dataset)
    write_json(
        run_dir / CONFIG_FILE,
        {
            "run": spec.identity(),
            "problem": asdict(spec.problem),
            "hyperparameters": settings,
            "optimizer_class": spec.optimizer_class,
            "optimizer_config": optimizer.get_config(),
            "data": dataset.identity,
            "params": model.count_params(),
            "backend": backend.name(),
            "threads": backend.threads(),
            "gpus": backend.gpu_count(),
            # What the start run's weights were, so a retrained start is seen.
            **({"start_weights": weights_digest(Path(sweep_dir).parent / spec.init)}
               if spec.init else {}),  # fmt: skip
        },
    )
    if spec.init:
        models.load_pretrained(
            model, Path(sweep_dir).parent / spec.init / WEIGHTS_FILE, spec.new_layers
        )
    if not spec.problem.decay_vectors:
        exclude_vectors_from_decay(optimizer, model)
    models.compile_classifier(model, optimizer, metrics=["accuracy"])
    events = RunEvents(run_dir)
    pieces = run_pieces(spec, dataset, run_dir, events)
    started = time.perf_counter()
    try:
        history = fit(model, spec, dataset, callbacks=pieces.values(), verbose=verbose)
    finally:
        pieces["epochs_csv"].close()
        events.close()
    seconds = time.perf_counter() - started
    diverged = pieces["divergence"].diverged
    test_accuracy = math.nan
    if not diverged:
        test_accuracy = models.evaluate(model, dataset.x_test, dataset.y_test)[
            "accuracy"
        ]
    test_history = pieces["test"].history if "test" in pieces else {}
    result = {
        "epochs_run": len(history["loss"]),
        "train_loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1],
        "val_accuracy": history["val_accuracy"][-1],
        "test_accuracy": test_accuracy,
        "diverged": diverged,
        "first_update_norm": pieces["first_update"].norm,
        "first_batch_losses": pieces["batch_losses"].losses[:FIRST_STEPS],
        "seconds": seconds,
        "history": {**history, **test_history},
    }
    if spec.save_weights or dataset.keeps_weights:
        model.save_weights(run_dir / WEIGHTS_FILE)
    log_final_metrics(run_dir, spec, settings, result)
    write_json(run_dir / RESULT_FILE, result)
    return result
