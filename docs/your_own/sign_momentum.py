"""signSGD with momentum (Bernstein et al. 2018, "signSGD"): a step of η in
the direction of the sign of a moving average of the gradient.

    m ← β·m + (1 − β)·g
    θ ← θ − η·sign(m)

A user's optimizer, outside the project: a sweep names it by its file.
"""

import keras
from keras import ops


class SignMomentum(keras.optimizers.Optimizer):
    def __init__(
        self, learning_rate=0.001, momentum=0.9, name="sign_momentum", **kwargs
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0 <= momentum < 1:
            raise ValueError(f"`momentum` must be in [0, 1); got {momentum}")
        self.momentum = momentum

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.averages = self.add_optimizer_variables(variables, "average")

    def update_step(self, gradient, variable, learning_rate):
        average = self.averages[self._get_variable_index(variable)]
        gradient = ops.cast(gradient, variable.dtype)
        self.assign(average, self.momentum * average + (1 - self.momentum) * gradient)
        self.assign_sub(
            variable, ops.cast(learning_rate, variable.dtype) * ops.sign(average)
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}
