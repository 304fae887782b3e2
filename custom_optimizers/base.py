"""What SGD and Adam share: a checked learning rate, per-layer learning-rate
multipliers, both forms of weight decay, and float32 arithmetic for float16
and bfloat16 variables."""

import re

import keras
from keras import ops

from custom_optimizers import tweaks, validation

# `update_step` → the same rule over all variables at once, in place:
# filled by `fused_torch`, which the package imports on PyTorch only, so
# that this module imports none of its subclasses.
FUSED_UPDATES = {}

BASE_ARGUMENT_DOCS = """weight_decay: Float >= 0 or `None`. The decay strength wd. `None`
            (the default) turns decay off.
        decoupled_weight_decay: Boolean. `True` decays θ directly,
            θ ← θ − η·wd·θ, before the update (Keras's meaning of
            `weight_decay`, as in AdamW). `False` adds wd·θ to the gradient
            (an L2 penalty) so momentum and Adam's moments see it. The two
            agree for plain gradient descent. Defaults to `True`.
        learning_rate_multipliers: Dict from a regular expression to a
            float >= 0, or `None`. A variable whose path (e.g.
            `"cnn/conv_1/kernel"`) matches a pattern (`re.search`, the rule
            of `exclude_from_weight_decay`, applied to the path so layer
            names work) takes its steps with η × multiplier, schedules
            included; decoupled decay uses that η × multiplier too. When
            several patterns match, the first in the dict's order wins.
            0 freezes the variable, as `trainable=False` would: neither its
            value nor its slots change, with or without weight decay, and
            its gradient is left out of `global_clipnorm`. When the
            optimizer is built, a pattern that matches no variable is a
            `ValueError`, and so is one that matches only through the
            model's name (`"cnn/conv"`): a model loaded from a file has
            paths without it (`"conv_1/kernel"`), so match layer names.
            Fixed once built: setting it afterwards is a `ValueError`.
            Defaults to `None` (every variable at η).
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


def resolve_multipliers(patterns, paths):
    """Each path's multiplier: the first pattern that `re.search`es it, else 1.

    Raises `ValueError` for a pattern that takes no variable, and for one
    that matches only through the model's name. A freshly built model's
    paths start with its name (`mlp/dense_1/kernel`); the same model
    loaded from a file has paths without it (`dense_1/kernel`), so such a
    pattern would train but not load with the same rates.
    """
    first_match = [next((p for p in patterns if re.search(p, path)), None)
                   for path in paths]  # fmt: skip
    unused = [p for p in patterns if p not in first_match]
    if unused:
        raise ValueError(
            f"`learning_rate_multipliers` pattern {unused[0]!r} matches no "
            f"variable (or only ones an earlier pattern took); the variables "
            f"are: {', '.join(paths)}"
        )
    model_name = _model_name(paths)
    if model_name:
        inside = [path[len(model_name) + 1 :] for path in paths]
        for pattern in patterns:
            hits = [bool(re.search(pattern, path)) for path in paths]
            if hits != [bool(re.search(pattern, path)) for path in inside]:
                raise ValueError(
                    f"`learning_rate_multipliers` pattern {pattern!r} matches "
                    f"through the model's name {model_name!r}; a model loaded from "
                    f"a file has paths without it ({inside[0]}, ...), so it would "
                    "load with other rates. Match layer names instead, e.g. "
                    f"{inside[hits.index(True)].split('/')[0]!r}."
                )
    return [patterns.get(p, 1.0) for p in first_match]


def _model_name(paths):
    """The model's name when every path starts `<model>/<layer>/`, else None."""
    heads = {path.split("/")[0] for path in paths}
    if len(heads) == 1 and all(path.count("/") >= 2 for path in paths):
        return heads.pop()
    return None


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

    On PyTorch the update runs over all variables at once, in place, as
    Keras's own torch optimizers do (`fused_torch`); set `fuse_on_torch =
    False` on an instance or class for Keras's per-variable loop instead.
    """

    fuse_on_torch = True

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        decoupled_weight_decay=True,
        learning_rate_multipliers=None,
        **base_arguments,
    ):
        learning_rate = validation.learning_rate(learning_rate)
        weight_decay = validation.optional_non_negative("weight_decay", weight_decay)
        validation.boolean("decoupled_weight_decay", decoupled_weight_decay)
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, **base_arguments
        )
        self.decoupled_weight_decay = decoupled_weight_decay
        self.learning_rate_multipliers = learning_rate_multipliers

    def build(self, variables):
        """Also resolves each variable's learning-rate multiplier (a Python float).

        The patterns are checked before anything is built, so after a bad
        pattern the optimizer is still unbuilt and can be fixed and retried.
        """
        if self.built:
            return
        for variable in variables:
            dtype = keras.backend.standardize_dtype(variable.dtype)
            if not keras.backend.is_float_dtype(dtype):
                raise ValueError(
                    f"`{variable.path}` is {dtype}: {type(self).__name__} updates "
                    "floating-point variables only (an integer one would never "
                    "move); make it float, or trainable=False"
                )
        multipliers = resolve_multipliers(
            self.learning_rate_multipliers or {}, [v.path for v in variables]
        )
        super().build(variables)
        self._multipliers = multipliers

    @property
    def learning_rate(self):
        return super().learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        """Setting η after construction follows the constructor's rule."""
        keras.optimizers.Optimizer.learning_rate.fset(
            self, validation.learning_rate(value)
        )

    @property
    def learning_rate_multipliers(self):
        return self._learning_rate_multipliers

    @learning_rate_multipliers.setter
    def learning_rate_multipliers(self, value):
        # Each variable's multiplier is fixed at build (and traced into the
        # training function), so a later change would be ignored while
        # get_config() reported it: a saved model would reload other rates.
        if self.built:
            raise ValueError(
                "`learning_rate_multipliers` cannot change after the optimizer is "
                "built (its first step, or model.compile on a built model); create "
                "a new optimizer with the new multipliers instead."
            )
        self._learning_rate_multipliers = validation.learning_rate_multipliers(value)

    def _backend_apply_gradients(self, grads, trainable_variables):
        """Leaves frozen variables (multiplier 0) out of `global_clipnorm`.

        Freezing means what `trainable=False` means: the variable's gradient
        plays no part in the step, so it must not shrink the others' through
        the global norm either.
        """
        if self.global_clipnorm is not None and 0.0 in self._multipliers:
            grads = [
                ops.zeros_like(g)
                if self._multipliers[self._get_variable_index(v)] == 0
                else g
                for g, v in zip(grads, trainable_variables)
            ]
        return super()._backend_apply_gradients(grads, trainable_variables)

    def _learning_rate_for(self, variable, learning_rate, dtype):
        """η × this variable's multiplier in `dtype`; None when it is frozen (0)."""
        multiplier = self._multipliers[self._get_variable_index(variable)]
        if multiplier == 0:
            return None
        return self._scaled_learning_rate(learning_rate, multiplier, dtype)

    @staticmethod
    def _scaled_learning_rate(learning_rate, multiplier, dtype):
        """η × a (non-zero) multiplier, in `dtype`."""
        learning_rate = ops.cast(learning_rate, dtype)
        if multiplier != 1:
            learning_rate = tweaks.scaled_learning_rate(learning_rate, multiplier)
        return learning_rate

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """On PyTorch, one in-place update over all variables (`fused_torch`).

        Only for a class whose `update_step` has a fused twin in
        `FUSED_UPDATES` (ours, not a subclass that rewrites the rule), and
        while `fuse_on_torch` is true; otherwise Keras's loop over
        `update_step`, as on the other backends.
        """
        fused = FUSED_UPDATES.get(type(self).update_step)
        if self.fuse_on_torch and fused is not None:
            fused(self, grads, trainable_variables, learning_rate)
            return
        super()._backend_update_step(grads, trainable_variables, learning_rate)

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
        config["learning_rate_multipliers"] = self.learning_rate_multipliers
        return config
