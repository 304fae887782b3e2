"""What SGD and Adam share: a checked learning rate and both forms of weight decay."""

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


class WeightDecayOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose subclasses apply weight decay in `update_step`.

    Keras decays every variable in `_apply_weight_decay`, before
    `update_step`, and only in the decoupled form. Here both forms are done
    per variable inside `update_step` by `_decay`, so the coupled form can
    change the gradient that the rest of the update sees, and both honour
    `exclude_from_weight_decay()`.
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

    def _apply_weight_decay(self, variables):
        """Does nothing: `_decay` applies weight decay inside `update_step`."""

    def _decay(self, gradient, variable, learning_rate):
        """Applies this variable's weight decay; returns the gradient to use.

        Decoupled: θ ← θ − η·wd·θ now, gradient unchanged. Coupled: θ is left
        alone and the gradient becomes g + wd·θ.
        """
        if self.weight_decay is None or not self._use_weight_decay(variable):
            return gradient
        weight_decay = ops.cast(self.weight_decay, variable.dtype)
        if self.decoupled_weight_decay:
            self.assign(
                variable,
                tweaks.decoupled_weight_decay(variable, learning_rate, weight_decay),
            )
            return gradient
        # A sparse gradient (IndexedSlices) turns dense: wd·θ touches every row.
        return tweaks.coupled_weight_decay(
            ops.convert_to_tensor(gradient), variable, weight_decay
        )

    def get_config(self):
        config = super().get_config()
        config["decoupled_weight_decay"] = self.decoupled_weight_decay
        return config
