"""The tutorial's Lion (docs/notebooks/lion.py), step by step against the
equations in NumPy and, where the math is the same, against keras.optimizers.Lion."""

import keras
import numpy as np

from experiments import plugins
from tests.conftest import assert_weights_close, classification_data, train
from tests.helpers import ROOT

Lion = plugins.load(f"{ROOT / 'docs/notebooks/lion.py'}:Lion")


def reference_steps(theta, gradients, learning_rate, beta_1=0.9, beta_2=0.99):
    """Chen et al. 2023, Algorithm 2, in NumPy (float64)."""
    m = np.zeros_like(theta)
    path = []
    for g in gradients:
        c = beta_1 * m + (1 - beta_1) * g
        theta = theta - learning_rate * np.sign(c)
        m = beta_2 * m + (1 - beta_2) * g
        path.append(theta)
    return path


def test_every_step_matches_the_numpy_reference():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(4, 3)).astype("float32")
    gradients = [rng.normal(scale=s, size=(4, 3)) for s in np.geomspace(1e-3, 10, 50)]
    variable = keras.Variable(theta)
    optimizer = Lion(learning_rate=0.01)
    expected = reference_steps(theta.astype("float64"), gradients, 0.01)
    for g, want in zip(gradients, expected, strict=True):
        optimizer.apply([keras.ops.convert_to_tensor(g, "float32")], [variable])
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=1e-6)


def test_training_matches_keras_s_lion(initial_weights):
    data = classification_data()
    ours = train(Lion(1e-3), initial_weights, data, epochs=3)
    theirs = train(keras.optimizers.Lion(1e-3), initial_weights, data, epochs=3)
    assert_weights_close(ours.get_weights(), theirs.get_weights(), rtol=1e-5, atol=1e-6)


def test_its_first_step_is_eta_for_every_weight_with_a_gradient():
    """What TensorBoard's optimizer/first_update_norm shows for it: η·√N."""
    variable = keras.Variable(np.zeros(400, "float32"))
    Lion(learning_rate=3e-4).apply([keras.ops.ones(400)], [variable])
    assert np.linalg.norm(variable.numpy()) == np.float32(3e-4 * np.sqrt(400))


def test_it_saves_and_loads_with_its_state(tmp_path, initial_weights):
    data = classification_data()
    model = train(Lion(1e-3, weight_decay=0.01), initial_weights, data)
    model.save(tmp_path / "lion.keras")
    loaded = keras.models.load_model(tmp_path / "lion.keras")
    assert type(loaded.optimizer).__name__ == "Lion"
    assert loaded.optimizer.get_config()["beta_2"] == 0.99
    assert_weights_close(
        [v.numpy() for v in loaded.optimizer.variables],
        [v.numpy() for v in model.optimizer.variables],
    )
