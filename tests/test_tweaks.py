"""Each pure update function against its equation, on plain numbers."""

import numpy as np
import pytest
from keras import ops

from custom_optimizers import tweaks

theta = np.array([1.0, -2.0, 0.5], "float32")
g = np.array([0.3, 0.1, -4.0], "float32")
m = np.array([0.2, -0.1, 1.0], "float32")
v = np.array([0.04, 0.01, 2.0], "float32")


def value(x):
    return ops.convert_to_numpy(x)


def test_gradient_descent_step_is_eta_g():
    np.testing.assert_allclose(
        value(tweaks.gradient_descent_step(g, 0.1)), 0.1 * g, rtol=1e-6
    )


def test_coupled_decay_adds_wd_theta_to_the_gradient():
    np.testing.assert_allclose(
        value(tweaks.coupled_weight_decay(g, theta, 0.01)), g + 0.01 * theta, rtol=1e-6
    )


def test_decoupled_decay_shrinks_theta_by_eta_wd():
    np.testing.assert_allclose(
        value(tweaks.decoupled_weight_decay(theta, 0.1, 0.01)),
        theta * (1 - 0.001),
        rtol=1e-6,
    )


def test_momentum_velocity_is_beta_m_plus_step():
    np.testing.assert_allclose(
        value(tweaks.momentum_velocity(m, 0.1 * g, 0.9)), 0.9 * m + 0.1 * g, rtol=1e-6
    )


def test_moving_average_change_lands_on_beta_a_plus_one_minus_beta_x():
    updated = m + value(tweaks.exponential_moving_average_change(m, g, 0.9))
    np.testing.assert_allclose(updated, 0.9 * m + 0.1 * g, rtol=1e-5)


@pytest.mark.parametrize("step", [1.0, 2.0, 100.0])
def test_bias_correction_is_one_minus_beta_to_the_t(step):
    assert float(value(tweaks.bias_correction(0.999, step))) == pytest.approx(
        1 - 0.999**step, rel=1e-4
    )


@pytest.mark.parametrize("epsilon", [1e-8, 0.1])
def test_adam_step_adds_epsilon_after_bias_correction(epsilon):
    c1, c2 = 1 - 0.9**3, 1 - 0.999**3
    expected = 0.01 * (m / c1) / (np.sqrt(v / c2) + epsilon)
    np.testing.assert_allclose(
        value(tweaks.adam_step(m, v, 0.01, epsilon, c1, c2)), expected, rtol=1e-5
    )
