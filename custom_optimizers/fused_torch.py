"""SGD's and Adam's updates over all variables at once, in place, on PyTorch.

On PyTorch, Keras swaps its built-in SGD, Adam and AdamW for classes that
update every variable with one `torch._foreach_*` call per operation, in
place (keras/src/backend/torch/optimizers/). A subclass of
`keras.optimizers.Optimizer` gets the base class's loop instead: `update_step`
once per variable, each `keras.ops` call making a new tensor, then an
`assign`. On a small MLP that loop made ours 1.3-3.3× slower than Keras's.
These are the same rules as `SGD.update_step` and `Adam.update_step`, run
Keras's torch way, registered in `base.FUSED_UPDATES`, where
`WeightDecayOptimizer._backend_update_step` picks them.

The scalars (η × multiplier, the bias corrections, Adam's step size and ε)
come from `tweaks.py`, as in `update_step`. The elementwise parts cannot:
a tweak returns a new tensor, and the speed here is in updating θ, m and v
in place. `tests/test_reference_equations.py` runs both paths against the
NumPy equations. Imported by the package, on the torch backend only.
"""

import keras
import torch
from keras import ops

from custom_optimizers import tweaks
from custom_optimizers.adam import Adam
from custom_optimizers.base import FUSED_UPDATES, compute_dtype
from custom_optimizers.sgd import SGD


@torch.no_grad()
def update(optimizer, rule, grads, variables, learning_rate):
    """Runs `rule` once per group of variables that share a multiplier and a
    compute dtype; frozen variables (multiplier 0) are left out, as in
    `update_step`."""
    for (multiplier, dtype), members in _groups(optimizer, variables).items():
        group = [variables[i] for i in members]
        thetas = [_working_value(variable, dtype) for variable in group]
        eta = optimizer._scaled_learning_rate(learning_rate, multiplier, dtype)
        gradients = [ops.cast(grads[i], dtype) for i in members]
        gradients = _decay(optimizer, gradients, group, thetas, float(eta), dtype)
        rule(optimizer, gradients, group, thetas, eta, dtype)
        for variable, theta in zip(group, thetas, strict=True):
            if theta is not variable.value:  # a float32 copy of a low-precision θ
                variable.value.copy_(theta)


def _groups(optimizer, variables):
    """{(multiplier, compute dtype): indices into `variables`}, frozen left out."""
    groups = {}
    for i, variable in enumerate(variables):
        multiplier = optimizer._multipliers[optimizer._get_variable_index(variable)]
        if multiplier != 0:
            groups.setdefault((multiplier, compute_dtype(variable)), []).append(i)
    return groups


def _working_value(variable, dtype):
    """The tensor to update in place: θ itself, or a float32 copy of a
    float16 or bfloat16 θ (`compute_dtype`), written back by `update`."""
    if keras.backend.standardize_dtype(variable.dtype) == dtype:
        return variable.value
    return variable.value.to(torch.float32)


def _decay(optimizer, gradients, variables, thetas, learning_rate, dtype):
    """`WeightDecayOptimizer._decay` for a group: decoupled decay shrinks θ
    in place; coupled decay returns the gradients with wd·θ added."""
    if optimizer.weight_decay is None:
        return gradients
    decayed = [i for i, v in enumerate(variables) if optimizer._use_weight_decay(v)]
    if not decayed:
        return gradients
    weight_decay = float(ops.cast(optimizer.weight_decay, dtype))
    decayed_thetas = [thetas[i] for i in decayed]
    if optimizer.decoupled_weight_decay:
        torch._foreach_mul_(decayed_thetas, 1.0 - weight_decay * learning_rate)
        return gradients
    gradients = list(gradients)
    coupled = torch._foreach_add(
        [gradients[i] for i in decayed], decayed_thetas, alpha=weight_decay
    )
    for i, gradient in zip(decayed, coupled, strict=True):
        gradients[i] = gradient
    return gradients


def sgd(optimizer, gradients, variables, thetas, learning_rate, dtype):
    """`SGD.update_step`: θ ← θ − η·g, or m ← β·m + η·g and θ ← θ − m
    (Nesterov: θ ← θ − (β·m + η·g))."""
    eta = float(learning_rate)
    if optimizer.momentum == 0:
        torch._foreach_add_(thetas, gradients, alpha=-eta)
        return
    momentum = float(ops.cast(optimizer.momentum, dtype))
    velocities = [
        optimizer.momentums[optimizer._get_variable_index(v)].value for v in variables
    ]
    torch._foreach_mul_(velocities, momentum)
    torch._foreach_add_(velocities, gradients, alpha=eta)
    if optimizer.nesterov:
        torch._foreach_add_(thetas, gradients, alpha=-eta)
        torch._foreach_add_(thetas, velocities, alpha=-momentum)
    else:
        torch._foreach_sub_(thetas, velocities)


def adam(optimizer, gradients, variables, thetas, learning_rate, dtype):
    """`Adam.update_step`: m and v as moving averages of g and g², AMSGrad's
    running maximum, then θ ← θ − (η·√c2/c1)·m / (√v + ε·√c2)."""
    indices = [optimizer._get_variable_index(v) for v in variables]
    m = [optimizer._momentums[i].value for i in indices]
    v = [optimizer._velocities[i].value for i in indices]
    beta_1 = ops.cast(optimizer.beta_1, dtype)
    beta_2 = ops.cast(optimizer.beta_2, dtype)
    torch._foreach_lerp_(m, gradients, float(ops.subtract(1.0, beta_1)))
    torch._foreach_mul_(v, float(beta_2))
    torch._foreach_addcmul_(
        v, gradients, gradients, value=float(ops.subtract(1.0, beta_2))
    )
    if optimizer.amsgrad:
        v_max = [optimizer._velocity_hats[i].value for i in indices]
        torch._foreach_maximum_(v_max, v)
        v = v_max
    corrections = optimizer._bias_corrections(
        beta_1, beta_2, ops.cast(optimizer.iterations + 1, dtype)
    )
    step_size = float(tweaks.adam_step_size(learning_rate, *corrections))
    epsilon = float(
        tweaks.adam_epsilon(ops.cast(optimizer.epsilon, dtype), corrections[1])
    )
    denominators = torch._foreach_sqrt(v)
    torch._foreach_add_(denominators, epsilon)
    torch._foreach_addcdiv_(thetas, m, denominators, value=-step_size)


def fused(rule):
    """`rule` as `WeightDecayOptimizer._backend_update_step` calls it."""

    def apply(optimizer, grads, variables, learning_rate):
        update(optimizer, rule, grads, variables, learning_rate)

    return apply


# Which fused rule replaces which `update_step`. A subclass that rewrites
# `update_step` is not here, so it keeps its own per-variable rule.
FUSED_UPDATES.update({SGD.update_step: fused(sgd), Adam.update_step: fused(adam)})
