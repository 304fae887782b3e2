"""What SGD and Adam share: a checked learning rate, both forms of weight decay,
and float32 arithmetic for float16 and bfloat16 variables."""

import keras
from keras import ops

from custom_optimizers import tweaks, validation

BASE_ARGUMENT_DOCS = """weight_decay: Float >= 0 or `None`. The decay strength wd. `None`
            (the default) turns decay off.
        decoupled_weight_decay: Boolean. `True` decays θ directly,
            θ ← θ − η·wd·θ, before the update (Keras's meaning of
            `weight_decay`, as in AdamW). `False` adds wd·θ to the gradient
            (an L2 penalty) so momentum and Adam's moments see it. The two
            agree for plain gradient descent. Defaults to `True`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name: as in
            `keras.optimizers.Optimizer`."""


LOW_PRECISION = ("float16", "bfloat16")


def compute_dtype(variable):
    """The dtype an update is computed in: float32 for float16 and bfloat16.

    In float16, Adam's ε = 1e-8 rounds to 0 and g² underflows, so the
    first update is 0/0; in bfloat16, β2 = 0.999 rounds to 1, so
    1 − β2^t = 0. Computing in float32 and rounding only the result into
    the variable keeps every optimizer finite (as PyTorch and Optax keep
    such statistics in higher precision).
    """
    dtype = keras.backend.standardize_dtype(variable.dtype)
    return "float32" if dtype in LOW_PRECISION else dtype


class WeightDecayOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose subclasses apply weight decay in `update_step`.

    Keras decays every variable in `_apply_weight_decay`, before
    `update_step`, and only in the decoupled form. Here both forms are done
    per variable inside `update_step` by `_decay`, so the coupled form can
    change the gradient that the rest of the update sees, and both honour
    `exclude_from_weight_decay()`.

    Slots (momentum, Adam's m and v) of a float16 or bfloat16 variable are
    float32, and the update is computed in float32 (`compute_dtype`); only
    the new θ is rounded to the variable's dtype.
    """

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        decoupled_weight_decay=True,
        **base_arguments,
    ):
        learning_rate = validation.learning_rate(learning_rate)
        weight_decay = validation.optional_non_negative("weight_decay", weight_decay)
        validation.boolean("decoupled_weight_decay", decoupled_weight_decay)
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, **base_arguments
        )
        self.decoupled_weight_decay = decoupled_weight_decay

    def add_variable_from_reference(
        self, reference_variable, name=None, initializer="zeros"
    ):
        """A slot shaped like `reference_variable`, in its `compute_dtype`."""
        dtype = compute_dtype(reference_variable)
        if dtype == keras.backend.standardize_dtype(reference_variable.dtype):
            return super().add_variable_from_reference(
                reference_variable, name, initializer
            )
        return self.add_variable(
            shape=reference_variable.shape,
            initializer=initializer,
            dtype=dtype,
            name=f"{reference_variable.path.replace('/', '_')}_{name or 'var'}",
        )

    def _apply_weight_decay(self, variables):
        """Does nothing: `_decay` applies weight decay inside `update_step`."""

    def _decay(self, gradient, variable, learning_rate):
        """Applies this variable's weight decay; returns the gradient to use.

        Decoupled: θ ← θ − η·wd·θ now, gradient unchanged. Coupled: θ is left
        alone and the gradient becomes g + wd·θ.
        """
        if self.weight_decay is None or not self._use_weight_decay(variable):
            return gradient
        dtype = compute_dtype(variable)
        weight_decay = ops.cast(self.weight_decay, dtype)
        theta = ops.cast(variable, dtype)
        if self.decoupled_weight_decay:
            self.assign(
                variable,
                tweaks.decoupled_weight_decay(theta, learning_rate, weight_decay),
            )
            return gradient
        # A sparse gradient (IndexedSlices) turns dense: wd·θ touches every row.
        return tweaks.coupled_weight_decay(
            ops.convert_to_tensor(gradient), theta, weight_decay
        )

    def get_config(self):
        config = super().get_config()
        config["decoupled_weight_decay"] = self.decoupled_weight_decay
        return config
