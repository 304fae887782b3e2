"""float16 and bfloat16 variables, and Keras's mixed precision.

In float16, Adam's ε = 1e-8 rounds to 0 and g² underflows; in bfloat16,
β2 = 0.999 rounds to 1. The optimizers compute in float32 and keep float32
slots, so every one stays finite and follows the float32 run. How closely
depends on the variable's precision, not on the optimizer's arithmetic:
bfloat16 keeps 8 significant bits, so a step smaller than half the spacing
between neighbouring bfloat16 values near θ (about 1e-3 for |θ| ≈ 0.3) is
rounded away. Adam at η = 1e-3 loses many of its steps that way, which is
why Keras's "mixed_bfloat16" keeps float32 variables.
"""

import keras
import numpy as np
import pytest

import custom_optimizers as co
from tests.conftest import classification_data

pytestmark = pytest.mark.usefixtures("update_path")  # on PyTorch, both paths

LEARNING_RATES = {
    "sgd": 0.05,
    "momentum": 0.05,
    "momentum_l2": 0.05,
    "adam": 1e-3,
    "amsgrad": 1e-3,
    "adamw": 1e-3,
}
# (final-loss relative difference, largest relative weight difference) from
# the float32 run after 200 steps; measured: float16 ≤ 0.5% and ≤ 10%;
# bfloat16 ≤ 19% (Adam's lost steps) and ≤ 40% on TensorFlow and JAX, 34%
# and 48% on PyTorch, on both its update paths alike. Keras draws other
# initial weights on each backend, and how many of Adam's steps are rounded
# away depends on them.
TOLERANCE = {"float16": (0.03, 0.15), "bfloat16": (0.4, 0.55)}


def dense_model(dtype):
    return keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(16, activation="relu", dtype=dtype),
            keras.layers.Dense(3, dtype=dtype),
        ]
    )


def train_200_steps(name, dtype):
    keras.utils.set_random_seed(1)
    model = dense_model(dtype)
    keras.utils.set_random_seed(1)
    model.set_weights(dense_model("float32").get_weights())  # the same start
    model.compile(
        optimizer=co.get(name, learning_rate=LEARNING_RATES[name]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = classification_data()  # 640 samples: 20 batches an epoch
    history = model.fit(x, y, epochs=10, batch_size=32, shuffle=False, verbose=0)
    weights = [np.asarray(w, "float32") for w in model.get_weights()]
    return model, weights, history.history["loss"]


@pytest.fixture(scope="module")
def float32_runs():
    return {name: train_200_steps(name, "float32") for name in LEARNING_RATES}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", LEARNING_RATES)
def test_low_precision_variables_stay_finite_and_follow_float32(
    name, dtype, float32_runs
):
    model, weights, losses = train_200_steps(name, dtype)
    _, reference, reference_losses = float32_runs[name]
    assert model.layers[0].kernel.dtype == dtype
    assert all(np.isfinite(w).all() for w in weights)
    assert np.isfinite(losses).all()
    loss_tolerance, weight_tolerance = TOLERANCE[dtype]
    assert losses[-1] == pytest.approx(reference_losses[-1], rel=loss_tolerance)
    assert losses[-1] < losses[0]
    for w, r in zip(weights, reference, strict=True):
        assert np.linalg.norm(w - r) <= weight_tolerance * np.linalg.norm(r)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_slots_of_low_precision_variables_are_float32(dtype):
    variable = keras.Variable(np.ones(3), dtype=dtype)
    for optimizer in (co.SGD(0.1, momentum=0.9), co.Adam(amsgrad=True)):
        optimizer.build([variable])
        slots = [v for v in optimizer.variables if v.shape == (3,)]
        assert slots and {v.dtype for v in slots} == {"float32"}


def test_adams_first_float16_step_is_the_learning_rate():
    """The case that was 0/0: a float16 gradient whose square underflows."""
    variable = keras.Variable(np.ones(2), dtype="float16")
    optimizer = co.Adam(learning_rate=0.01)
    optimizer.apply_gradients([(keras.ops.full((2,), 1e-4, "float16"), variable)])
    np.testing.assert_allclose(np.asarray(variable, "float32"), 0.99, rtol=1e-3)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", ["momentum", "adam", "adamw"])
def test_mixed_precision_trains_like_float32(policy, name, float32_runs):
    """Float32 variables, low-precision compute; float16 adds loss scaling."""
    keras.config.set_dtype_policy(policy)
    try:
        model, _, losses = train_200_steps(name, None)
    finally:
        keras.config.set_dtype_policy("float32")
    wrapped = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert wrapped == (policy == "mixed_float16")
    assert model.layers[0].kernel.dtype == "float32"
    assert losses[-1] == pytest.approx(float32_runs[name][2][-1], rel=0.05)
