import keras
from keras import ops

from custom_optimizers import tweaks, validation
from custom_optimizers.base import (
    BASE_ARGUMENT_DOCS,
    WeightDecayOptimizer,
    compute_dtype,
)

# Coupled decay passes g + wd·θ through v ← β2·v + (1−β2)·(g + wd·θ)², in
# float32: the square overflows once |wd·θ| > 1.8e19, and Adam then makes no
# update at all. Up to this wd, weights up to |θ| = 1e4 stay finite.
MAX_COUPLED_WEIGHT_DECAY = 1e15


@keras.saving.register_keras_serializable(package="custom_optimizers")
class Adam(WeightDecayOptimizer):
    """Adam: per-parameter step sizes from averages of g and g².

    Update rule for parameter θ with gradient g at step t (Kingma & Ba 2015,
    Algorithm 1):

    ```python
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    m_hat = m / (1 - beta_1**t)
    v_hat = v / (1 - beta_2**t)
    theta = theta - learning_rate * m_hat / (sqrt(v_hat) + epsilon)
    ```

    ε is added *after* bias correction, as written above and as in PyTorch.
    Keras's built-in `keras.optimizers.Adam` adds it before ("epsilon hat"),
    which is the same rule with ε replaced by ε/√(1 − β2^t); the two differ
    by O(ε) and only show when √v̂ is comparable to ε. The default ε is the
    paper's 1e-8 (Keras's is 1e-7).

    With `amsgrad=True`, v̂ uses the running maximum of v instead of v
    (Reddi et al., 2018). Weight decay, when on, is applied first, in the
    form `decoupled_weight_decay` selects: coupled (L2) decay passes wd·θ
    through m and v; decoupled decay does not (AdamW).

    Args:
        learning_rate: A float >= 0, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable
            that takes no arguments and returns the rate. Defaults to `0.001`.
        beta_1: Float in [0, 1), decay of the first-moment average m.
            Defaults to `0.9`.
        beta_2: Float in [0, 1), decay of the second-moment average v.
            Defaults to `0.999`.
        epsilon: Float > 0 added to √v̂. Defaults to `1e-8`.
        amsgrad: Boolean. Whether to use the AMSGrad variant.
            Defaults to `False`.
        bias_correction: Boolean. `False` drops m̂ and v̂ and steps by
            η·m/(√v + ε): the moments, started at zero, then make the first
            steps too small (m) or, with β2 > β1, too large (√v is the
            smaller). Defaults to `True`.
        {base}
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        bias_correction=True,
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
        beta_1 = validation.real_in_range("beta_1", beta_1, 0.0, 1.0)
        beta_2 = validation.real_in_range("beta_2", beta_2, 0.0, 1.0)
        epsilon = validation.real_in_range(
            "epsilon", epsilon, 0.0, float("inf"), low_open=True
        )
        validation.boolean("amsgrad", amsgrad)
        validation.boolean("bias_correction", bias_correction)
        coupled = decoupled_weight_decay is False and weight_decay is not None
        if (
            coupled
            and validation.optional_non_negative("weight_decay", weight_decay)
            > MAX_COUPLED_WEIGHT_DECAY
        ):
            raise ValueError(
                f"`weight_decay` must be at most {MAX_COUPLED_WEIGHT_DECAY:g} with "
                "decoupled_weight_decay=False: Adam squares g + wd·θ in float32, "
                f"which overflows beyond it; got {weight_decay!r}."
            )
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.bias_correction = bias_correction

    def build(self, variables):
        """Creates the m and v slots, and v's running maximum for AMSGrad."""
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(
                variables, "velocity_hat"
            )

    def update_step(self, gradient, variable, learning_rate):
        dtype = compute_dtype(variable)
        learning_rate = self._learning_rate_for(variable, learning_rate, dtype)
        if learning_rate is None:  # frozen: multiplier 0
            return
        gradient = ops.cast(gradient, dtype)
        gradient = self._decay(gradient, variable, learning_rate)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)

        m = self._momentums[index]
        v = self._velocities[index]
        self.assign_add(
            m, tweaks.exponential_moving_average_change(m, gradient, beta_1)
        )
        self.assign_add(
            v,
            tweaks.exponential_moving_average_change(v, ops.square(gradient), beta_2),
        )
        if self.amsgrad:
            v_max = self._velocity_hats[index]
            self.assign(v_max, ops.maximum(v_max, v))
            v = v_max
        self.assign_sub(
            variable,
            tweaks.adam_step(
                m,
                v,
                learning_rate,
                ops.cast(self.epsilon, dtype),
                *self._bias_corrections(beta_1, beta_2, step),
            ),
        )

    def _bias_corrections(self, beta_1, beta_2, step):
        """1 − β1^t and 1 − β2^t, or 1 and 1 without bias correction."""
        if not self.bias_correction:
            return 1.0, 1.0
        return (
            tweaks.bias_correction(beta_1, step),
            tweaks.bias_correction(beta_2, step),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
                "bias_correction": self.bias_correction,
            }
        )
        return config


if Adam.__doc__:  # None under python -OO
    Adam.__doc__ = Adam.__doc__.format(base=BASE_ARGUMENT_DOCS)


@keras.saving.register_keras_serializable(package="custom_optimizers")
class AdamW(Adam):
    """Adam with decoupled weight decay on by default (Loshchilov & Hutter 2019).

    The same update as `Adam`, preceded by θ ← θ − η·wd·θ, with
    `weight_decay=0.004` as in `keras.optimizers.AdamW`. The decay is always
    decoupled; for coupled (L2) decay use
    `Adam(weight_decay=..., decoupled_weight_decay=False)`.

    Args:
        learning_rate: As in `Adam`. Defaults to `0.001`.
        weight_decay: Float >= 0, the decay strength wd. Defaults to `0.004`.
        beta_1, beta_2, epsilon, amsgrad, bias_correction,
            learning_rate_multipliers: As in `Adam`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name: as in
            `keras.optimizers.Optimizer`.
        decoupled_weight_decay: Only `True` is accepted; present so that
            `get("adamw", decoupled_weight_decay=False)` fails clearly.
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        bias_correction=True,
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
        decoupled_weight_decay=True,
        **kwargs,
    ):
        if decoupled_weight_decay is not True:
            raise ValueError(
                "`decoupled_weight_decay` must be True for AdamW, whose decay is "
                f"always decoupled; got {decoupled_weight_decay!r}. For coupled "
                "(L2) decay use Adam(weight_decay=..., decoupled_weight_decay=False)."
            )
        if weight_decay is None:
            raise ValueError(
                "`weight_decay` must be a float in [0, inf) for AdamW; got None. "
                "Use Adam for no weight decay."
            )
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            bias_correction=bias_correction,
            weight_decay=weight_decay,
            decoupled_weight_decay=True,
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
