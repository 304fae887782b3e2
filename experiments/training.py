"""One training run: a model, an optimizer, a learning rate, logged for TensorBoard."""

import math
import time
from dataclasses import asdict
from pathlib import Path

import keras
import tensorflow as tf

from experiments import models
from experiments.run_files import CONFIG_FILE, RESULT_FILE, write_json
from experiments.runs import hyperparameters
from experiments.tensorboard_logs import RunLogger, log_final_metrics

WEIGHTS_FILE = "model.weights.h5"


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


def trained_per_epoch(spec, dataset):
    """How many training images an epoch of the run goes through."""
    images = len(dataset.x_train)
    return images - images % spec.batch_size if spec.drop_remainder else images


def train(spec, dataset, run_dir, verbose=False):
    """Trains one run into `run_dir` and returns its result (also saved there)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    per_epoch = trained_per_epoch(spec, dataset)
    optimizer = spec.build_optimizer(math.ceil(per_epoch / spec.batch_size))
    settings = hyperparameters(optimizer)
    keras.utils.set_random_seed(spec.seed)
    model = models.build(spec.model, spec.seed)
    write_json(
        run_dir / CONFIG_FILE,
        {
            "run": spec.identity(),
            "problem": asdict(spec.problem),
            "hyperparameters": settings,
            "optimizer_config": optimizer.get_config(),
            "data": dataset.identity,
            "params": model.count_params(),
        },
    )
    if spec.init:
        sweep_dir = run_dir.parents[len(spec.folder.parts) - 1]
        models.load_pretrained(
            model, sweep_dir / spec.init / WEIGHTS_FILE, spec.new_layers
        )
    models.compile_classifier(model, optimizer, metrics=["accuracy"])
    logger = RunLogger(
        run_dir,
        per_epoch,
        spec.batch_size,
        dataset.describe(),
        spec.divergence_loss,
        test_data=(dataset.x_test, dataset.y_test) if spec.test_every_epoch else None,
    )
    started = time.perf_counter()
    history = model.fit(
        batches(
            dataset.x_train,
            dataset.y_train,
            spec.batch_size,
            spec.seed,
            spec.shuffle_buffer,
            spec.drop_remainder,
        ),
        validation_data=(dataset.x_val, dataset.y_val),
        validation_batch_size=1024,
        epochs=spec.epochs,
        shuffle=False,  # `batches` shuffles, by seed
        verbose=1 if verbose else 0,
        callbacks=[logger],
    ).history
    seconds = time.perf_counter() - started
    test_accuracy = math.nan
    if not logger.diverged:
        test_accuracy = model.evaluate(
            dataset.x_test, dataset.y_test, batch_size=1024, verbose=0, return_dict=True
        )["accuracy"]
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
    if spec.save_weights:
        model.save_weights(run_dir / WEIGHTS_FILE)
    log_final_metrics(run_dir, spec, settings, result)
    write_json(run_dir / RESULT_FILE, result)
    return result
