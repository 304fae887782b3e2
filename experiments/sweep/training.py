"""One training run: a model, an optimizer, a learning rate, logged for TensorBoard."""

import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from experiments import models
from experiments.sweep.run_files import (
    CONFIG_FILE,
    RESULT_FILE,
    WEIGHTS_FILE,
    read_run,
    write_json,
)
from experiments.sweep.spec import hyperparameters
from experiments.sweep.tensorboard_logs import RunLogger, log_final_metrics


def batches(x, y, batch_size, seed, shuffle_buffer=0, drop_remainder=False):
    """A reshuffled-every-epoch batch order that depends on `seed` alone.

    A full shuffle, or with `shuffle_buffer` > 0 tf.data's buffered one (as
    DeepOBS draws, from 20,000); `drop_remainder` leaves out the last
    partial batch of every epoch.
    """
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(shuffle_buffer or len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=drop_remainder)
    )


def training_batches(spec, dataset):
    """The run's training batches, in the order its axes set."""
    values = spec.values
    return batches(
        dataset.x_train,
        dataset.y_train,
        values["batch_size"],
        values["seed"],
        values["shuffle_buffer"],
        values["drop_remainder"],
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
    batch_size = spec.values["batch_size"]
    if spec.problem.steps:
        return spec.problem.eval_every * batch_size
    images = len(dataset.x_train)
    return images - images % batch_size if spec.values["drop_remainder"] else images


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
        data = {"x": training_batches(spec, dataset)}
    return model.fit(
        **data,
        validation_data=(dataset.x_val, dataset.y_val),
        validation_batch_size=models.EVALUATION_BATCH_SIZE,
        epochs=spec.epochs,
        shuffle=False,  # `batches` shuffles, by seed; drawn batches are drawn
        verbose=1 if verbose else 0,
        callbacks=list(callbacks),
    ).history


def trained_language_model(run_dir):
    """(The model a language model's run trained, from its run.json and
    weights; the TextDataset it trained on)."""
    from experiments import text_data

    problem = read_run(run_dir)[0]["problem"]
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
            # A CNN's numbers depend on how many threads its convolutions sum in.
            "tensorflow_threads": tf.config.threading.get_intra_op_parallelism_threads()
            or os.cpu_count(),
        },
    )
    if spec.init:
        models.load_pretrained(
            model, Path(sweep_dir) / spec.init / WEIGHTS_FILE, spec.new_layers
        )
    if not spec.problem.decay_vectors:
        exclude_vectors_from_decay(optimizer, model)
    models.compile_classifier(model, optimizer, metrics=["accuracy"])
    logger = RunLogger(
        run_dir,
        trained_per_epoch(spec, dataset),
        spec.values["batch_size"],
        steps_per_epoch(spec, dataset),
        dataset.describe(),
        spec.divergence_loss,
        test_data=(dataset.x_test, dataset.y_test) if spec.test_every_epoch else None,
        per_step=bool(spec.problem.steps),
    )
    started = time.perf_counter()
    history = fit(model, spec, dataset, callbacks=[logger], verbose=verbose)
    seconds = time.perf_counter() - started
    test_accuracy = math.nan
    if not logger.diverged:
        test_accuracy = models.evaluate(model, dataset.x_test, dataset.y_test)[
            "accuracy"
        ]
    result = {
        "epochs_run": len(history["loss"]),
        "train_loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1],
        "val_accuracy": history["val_accuracy"][-1],
        "test_accuracy": test_accuracy,
        "diverged": logger.diverged,
        "first_update_norm": logger.first_update_norm,
        "first_batch_losses": logger.first_batch_losses,
        "seconds": seconds,
        "history": {**history, **logger.test_history},
    }
    if spec.save_weights or dataset.keeps_weights:
        model.save_weights(run_dir / WEIGHTS_FILE)
    log_final_metrics(run_dir, spec, settings, result)
    write_json(run_dir / RESULT_FILE, result)
    return result
