"""Shared test set-up, on whichever Keras backend `KERAS_BACKEND` names.

On TensorFlow (the default backend), two logical CPUs let
`tf.distribute.MirroredStrategy` run without hardware; they must be
configured before TensorFlow starts, so this happens at import. On JAX
and PyTorch the library's tests (`BACKEND_TESTS`) and the experiments'
that check what each backend must do alike (`EXPERIMENT_TESTS`) are
collected: `.ci/run` runs them there in environments without TensorFlow.
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from custom_optimizers.base import WeightDecayOptimizer  # noqa: E402

ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
ON_TORCH = keras.backend.backend() == "torch"
BACKEND_TESTS = {
    "test_reference_equations.py",
    "test_keras_parity.py",
    "test_keras_integration.py",
    "test_api.py",
    "test_multipliers.py",
    "test_low_precision.py",
    "test_tweaks.py",
    "test_keras_contract.py",
    "test_update_paths.py",
}
EXPERIMENT_TESTS = {
    "test_backends.py",
    "test_sweep.py",
    "test_trajectories.py",
    "test_baselines.py",
    "test_run_callbacks.py",
}
if ON_TENSORFLOW:
    import tensorflow as tf

    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )
else:
    collect_ignore = sorted(
        path.name
        for path in Path(__file__).parent.glob("test_*.py")
        if path.name not in BACKEND_TESTS | EXPERIMENT_TESTS
    )


def needs_tensorflow(why):
    """Marks a library test that runs on TensorFlow only, and says why."""
    return pytest.mark.skipif(not ON_TENSORFLOW, reason=f"needs TensorFlow: {why}")


@pytest.fixture(params=["fused", "per-variable"] if ON_TORCH else ["per-variable"])
def update_path(request, monkeypatch):
    """Runs a test on each update path this backend has: on PyTorch the fused
    update over all variables (`custom_optimizers.fused_torch`) and Keras's
    loop over `update_step`; elsewhere the loop only."""
    monkeypatch.setattr(WeightDecayOptimizer, "fuse_on_torch", request.param == "fused")
    return request.param


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # Without Python's full garbage collection (free_memory), which took about
    # a second a test once TensorFlow, Ray and matplotlib fill the heap: half
    # of the whole run's time. The usual collection still frees what tests drop.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield
    if ON_TENSORFLOW:
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


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """helpers.TINY's sweep, trained once for every module that reads it (4
    runs, 2 diverging): its folder. Tests that change a folder copy it."""
    from tests.helpers import run_sweep

    logdir = tmp_path_factory.mktemp("tiny_sweep")
    assert run_sweep(logdir) == 0
    return logdir / "quick"
