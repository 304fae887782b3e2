"""Shared test set-up: a quiet TensorFlow on two logical CPUs.

The two logical CPU devices let `tf.distribute.MirroredStrategy` run
without hardware; they must be configured before TensorFlow starts, so
this happens at import.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
    # A sweep run in-process turns op determinism on, which turns XLA off.
    from tensorflow.python.framework.config import disable_op_determinism

    disable_op_determinism()


def dense_model(inputs=20, hidden=16, outputs=3):
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(outputs),
        ]
    )


def classification_data(samples=640, inputs=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, inputs)).astype("float32")
    y = (x[:, :classes] + 0.3 * rng.normal(size=(samples, classes))).argmax(1)
    return x, y


def train(optimizer, weights, data, epochs=1, batch_size=32, jit_compile=False):
    """Fits `dense_model()` from `weights` on `data` in a fixed batch order; returns it."""
    model = dense_model()
    model.set_weights(weights)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    model.fit(*data, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return model


@pytest.fixture
def initial_weights():
    keras.utils.set_random_seed(1)
    return dense_model().get_weights()


def assert_weights_close(actual, expected, rtol=1e-5, atol=1e-6):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)
