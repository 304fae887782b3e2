"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"),
written as this library writes its optimizers: one tweak, one class.

    c = β1·m + (1 − β1)·g
    θ ← θ − η·sign(c)
    m ← β2·m + (1 − β2)·g

Weight decay, per-layer learning rates and low-precision variables come
from `custom_optimizers.base.WeightDecayOptimizer`, as for SGD and Adam.
"""

import keras
from keras import ops

from custom_optimizers import tweaks, validation
from custom_optimizers.base import WeightDecayOptimizer, compute_dtype


def lion_direction(average, gradient, beta_1):
    """sign(β1·m + (1 − β1)·g): the direction of Lion's step, every
    coordinate ±1 (0 where the interpolation is exactly 0)."""
    return ops.sign(
        ops.add(
            average, tweaks.exponential_moving_average_change(average, gradient, beta_1)
        )
    )


@keras.saving.register_keras_serializable(package="lion_tutorial")
class Lion(WeightDecayOptimizer):
    """Lion: a step of η·sign(β1·m + (1 − β1)·g), then m ← β2·m + (1 − β2)·g.

    Args:
        learning_rate: As in `custom_optimizers.SGD`. Defaults to `1e-4`
            (Lion's steps are η per coordinate: several times smaller η than Adam).
        beta_1: Float in [0, 1), the weight of m in the step's direction.
            Defaults to `0.9`.
        beta_2: Float in [0, 1), the decay of m. Defaults to `0.99`.
        **kwargs: As in `custom_optimizers.SGD`: weight decay (both forms),
            learning-rate multipliers, and Keras's base arguments.
    """

    def __init__(self, learning_rate=1e-4, beta_1=0.9, beta_2=0.99, **kwargs):
        beta_1 = validation.real_in_range("beta_1", beta_1, 0.0, 1.0)
        beta_2 = validation.real_in_range("beta_2", beta_2, 0.0, 1.0)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2 = beta_1, beta_2

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        dtype = compute_dtype(variable)
        learning_rate = self._learning_rate_for(variable, learning_rate, dtype)
        if learning_rate is None:  # frozen: multiplier 0
            return
        gradient = self._decay(ops.cast(gradient, dtype), variable, learning_rate)
        m = self._momentums[self._get_variable_index(variable)]
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        step = tweaks.gradient_descent_step(
            lion_direction(m, gradient, beta_1), learning_rate
        )
        self.assign_sub(variable, step)
        self.assign_add(
            m, tweaks.exponential_moving_average_change(m, gradient, beta_2)
        )

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
