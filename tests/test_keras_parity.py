"""Where the math is the same, training matches Keras's built-in twins."""

import keras
import pytest

import custom_optimizers as co
from tests.conftest import assert_weights_close, classification_data, train

pytestmark = pytest.mark.usefixtures("update_path")  # on PyTorch, both paths

# (ours, Keras's twin): same model, weights and batches, 300 steps.
TWINS = {
    "gd": (lambda: co.SGD(0.05), lambda: keras.optimizers.SGD(0.05)),
    "momentum": (
        lambda: co.SGD(0.02, momentum=0.9),
        lambda: keras.optimizers.SGD(0.02, momentum=0.9),
    ),
    "nesterov": (
        lambda: co.SGD(0.02, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.SGD(0.02, momentum=0.9, nesterov=True),
    ),
    "momentum decoupled decay": (
        lambda: co.SGD(0.02, momentum=0.9, weight_decay=0.1),
        lambda: keras.optimizers.SGD(0.02, momentum=0.9, weight_decay=0.1),
    ),
    "momentum ema": (
        lambda: co.SGD(0.02, momentum=0.9, use_ema=True, ema_overwrite_frequency=7),
        lambda: keras.optimizers.SGD(
            0.02, momentum=0.9, use_ema=True, ema_overwrite_frequency=7
        ),
    ),
    "gd loss scale factor": (
        lambda: co.SGD(0.05, loss_scale_factor=128.0),
        lambda: keras.optimizers.SGD(0.05, loss_scale_factor=128.0),
    ),
    # Where ε enters differs (see Adam's docstring); a tiny ε hides it.
    "adam": (
        lambda: co.Adam(1e-3, epsilon=1e-12),
        lambda: keras.optimizers.Adam(1e-3, epsilon=1e-12),
    ),
    "amsgrad": (
        lambda: co.Adam(1e-3, epsilon=1e-12, amsgrad=True),
        lambda: keras.optimizers.Adam(1e-3, epsilon=1e-12, amsgrad=True),
    ),
    "adamw": (
        lambda: co.AdamW(1e-3, weight_decay=0.05, epsilon=1e-12),
        lambda: keras.optimizers.AdamW(1e-3, weight_decay=0.05, epsilon=1e-12),
    ),
    "adam gradient accumulation": (
        lambda: co.Adam(1e-3, epsilon=1e-12, gradient_accumulation_steps=3),
        lambda: keras.optimizers.Adam(
            1e-3, epsilon=1e-12, gradient_accumulation_steps=3
        ),
    ),
    # rmsprop is Adam without β1 and bias correction: Keras's RMSprop with
    # ρ = β2, except that Keras puts ε inside the root, √(v + ε); a tiny ε
    # hides that too.
    "rmsprop": (
        lambda: co.get("rmsprop", learning_rate=1e-3, beta_2=0.9, epsilon=1e-12),
        lambda: keras.optimizers.RMSprop(1e-3, rho=0.9, epsilon=1e-12),
    ),
    "adam global clipnorm": (
        lambda: co.Adam(1e-3, epsilon=1e-12, global_clipnorm=0.1),
        lambda: keras.optimizers.Adam(1e-3, epsilon=1e-12, global_clipnorm=0.1),
    ),
}


@pytest.mark.parametrize("case", TWINS)
def test_training_matches_keras_builtin(case, initial_weights):
    ours, theirs = TWINS[case]
    data = classification_data()  # 20 batches of 32
    ours_model = train(ours(), initial_weights, data, epochs=15)
    theirs_model = train(theirs(), initial_weights, data, epochs=15)
    # With gradient accumulation on JAX, Keras's `iterations` is an array.
    assert keras.ops.convert_to_numpy(
        ours_model.optimizer.iterations
    ) == keras.ops.convert_to_numpy(theirs_model.optimizer.iterations)
    assert_weights_close(
        ours_model.get_weights(), theirs_model.get_weights(), rtol=1e-4, atol=1e-5
    )
    # The run moved far from the start, so agreement is not trivial.
    moved = max(
        abs(w - w0).max()
        for w, w0 in zip(ours_model.get_weights(), initial_weights, strict=True)
    )
    assert moved > 0.05
