import keras
from keras import ops

from custom_optimizers import tweaks, validation
from custom_optimizers.base import (
    BASE_ARGUMENT_DOCS,
    WeightDecayOptimizer,
    compute_dtype,
)


@keras.saving.register_keras_serializable(package="custom_optimizers")
class SGD(WeightDecayOptimizer):
    """Mini-batch gradient descent, with optional momentum and weight decay.

    Update rule for parameter θ with gradient g, learning rate η:

    ```python
    theta = theta - learning_rate * g                 # momentum == 0
    m = momentum * m + learning_rate * g              # momentum > 0
    theta = theta - m                                 #   (the text's form)
    theta = theta - (momentum * m + learning_rate * g)  # nesterov=True
    ```

    The momentum form is the project text's `m ← β·m + η·g, θ ← θ − m`;
    it equals Keras's `v = β·v − η·g, θ ← θ + v` with v = −m, so results
    match `keras.optimizers.SGD`. (PyTorch keeps η outside the velocity,
    which differs when η changes during training.) Weight decay, when on,
    is applied first, in the form `decoupled_weight_decay` selects.

    Args:
        learning_rate: A float >= 0, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable
            that takes no arguments and returns the rate. Defaults to `0.01`.
        momentum: Float in [0, 1), the β that weights the previous velocity.
            0 is plain gradient descent. Defaults to `0.0`.
        nesterov: Boolean. Whether to use Nesterov momentum.
            Defaults to `False`.
        {base}
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=None,
        decoupled_weight_decay=True,
        learning_rate_multipliers=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        momentum = validation.real_in_range("momentum", momentum, 0.0, 1.0)
        validation.boolean("nesterov", nesterov)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            learning_rate_multipliers=learning_rate_multipliers,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, variables):
        """Creates one velocity slot per variable, only when momentum > 0."""
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        dtype = compute_dtype(variable)
        learning_rate = self._learning_rate_for(variable, learning_rate, dtype)
        if learning_rate is None:  # frozen: multiplier 0
            return
        gradient = ops.cast(gradient, dtype)
        gradient = self._decay(gradient, variable, learning_rate)
        step = tweaks.gradient_descent_step(gradient, learning_rate)
        if self.momentum == 0:
            self.assign_sub(variable, step)
            return
        momentum = ops.cast(self.momentum, dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        self.assign(velocity, tweaks.momentum_velocity(velocity, step, momentum))
        if self.nesterov:
            step = tweaks.momentum_velocity(velocity, step, momentum)
        else:
            step = velocity
        self.assign_sub(variable, step)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


if SGD.__doc__:  # None under python -OO
    SGD.__doc__ = SGD.__doc__.format(base=BASE_ARGUMENT_DOCS)
