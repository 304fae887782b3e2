"""The update rules as small pure functions ("tweaks") written in `keras.ops`.

Each function returns a new value and changes nothing: the optimizer classes
read their slot variables, call these, and write the results back. Names and
docstrings follow the project's notation: θ the parameters, g the gradient,
η the learning rate, t the 1-based step count.

Weight decay and momentum are tweaks on plain gradient descent; Adam is two
exponential moving averages plus bias correction. Keeping each equation in
one function is what lets the classes stay thin and the tests read the same
equations in NumPy.
"""

from keras import ops


def gradient_descent_step(gradient, learning_rate):
    """η·g: the step that gradient descent θ ← θ − η·g subtracts."""
    return ops.multiply(gradient, learning_rate)


def scaled_learning_rate(learning_rate, multiplier):
    """η·k: one layer's learning rate, a multiple k of the optimizer's η.

    Plain gradient descent uses one η for every parameter; a multiplier per
    layer (fastai's discriminative learning rates, PyTorch's parameter
    groups) lets pre-trained layers move slower than a new head.
    """
    return ops.multiply(learning_rate, multiplier)


def coupled_weight_decay(gradient, variable, weight_decay):
    """g + wd·θ: weight decay folded into the gradient (an L2 penalty).

    Every later statistic (momentum, Adam's moments) sees the decayed
    gradient. For plain gradient descent this gives the text's rule
    θ ← θ − η(g + wd·θ).
    """
    return ops.add(gradient, ops.multiply(variable, weight_decay))


def decoupled_weight_decay(variable, learning_rate, weight_decay):
    """θ − η·wd·θ: weight decay applied to θ directly, apart from g.

    This is Keras's meaning of `weight_decay` (and AdamW's, SGDW's): the
    decay does not pass through momentum or Adam's moments.
    """
    return ops.subtract(
        variable, ops.multiply(variable, ops.multiply(weight_decay, learning_rate))
    )


def momentum_velocity(velocity, step, momentum):
    """β·m + η·g: the text's momentum m ← β·m + η·g, with step = η·g.

    Plain momentum then moves θ ← θ − m. Nesterov momentum applies the same
    formula once more to the new m, θ ← θ − (β·m + η·g), so the step looks
    ahead along the velocity.
    """
    return ops.add(ops.multiply(velocity, momentum), step)


def exponential_moving_average_change(average, value, decay):
    """(1 − β)·(x − a): how much a ← β·a + (1 − β)·x changes a.

    Adam's m ← β1·m + (1−β1)·g and v ← β2·v + (1−β2)·g² add this to m and
    v in place, two whole-tensor operations instead of three.
    """
    return ops.multiply(ops.subtract(value, average), ops.subtract(1.0, decay))


def bias_correction(decay, step):
    """1 − β^t: the denominator of m̂ = m/(1−β1^t) and v̂ = v/(1−β2^t).

    Moving averages started at zero are biased toward zero for small t;
    dividing by 1 − β^t removes that bias exactly.
    """
    return ops.subtract(1.0, ops.power(decay, step))


def adam_step_size(learning_rate, correction_1, correction_2):
    """η·√c2/c1: the scalar that multiplies m in `adam_step`."""
    return ops.divide(ops.multiply(learning_rate, ops.sqrt(correction_2)), correction_1)


def adam_epsilon(epsilon, correction_2):
    """ε·√c2: ε as it is added to √v (not √v̂) in `adam_step`."""
    return ops.multiply(epsilon, ops.sqrt(correction_2))


def adam_step(m, v, learning_rate, epsilon, correction_1, correction_2):
    """η·m̂/(√v̂ + ε) with m̂ = m/correction_1 and v̂ = v/correction_2.

    ε is added after bias correction, as in the Adam paper's Algorithm 1 and
    PyTorch. The divisions by the corrections are moved onto scalars:
    η·m̂/(√v̂ + ε) = (η·√c2/c1)·m / (√v + ε·√c2), the same value with two
    fewer whole-tensor operations. (Keras's built-in Adam uses
    (η·√c2/c1)·m / (√v + ε), i.e. adds ε before correction.)
    """
    step_size = adam_step_size(learning_rate, correction_1, correction_2)
    denominator = ops.add(ops.sqrt(v), adam_epsilon(epsilon, correction_2))
    return ops.divide(ops.multiply(m, step_size), denominator)
