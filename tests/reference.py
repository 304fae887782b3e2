"""The project's update rules written again in plain NumPy, step by step.

Independent of `custom_optimizers`: the literal equations from the source
text (m̂ and v̂ computed as whole arrays, ε after bias correction), plus the
gradient clipping that Keras's base options apply first. Computed in float32
so the comparison is to float32 precision.
"""

import re

import numpy as np
from keras.optimizers.schedules import LearningRateSchedule

f32 = np.float32


class Reference:
    """Shared by both references: learning rate, clipping, weight decay."""

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        decoupled_weight_decay=True,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        learning_rate_multipliers=None,
    ):
        self.learning_rate = learning_rate
        self.multipliers = learning_rate_multipliers or {}
        self.weight_decay = weight_decay
        self.decoupled = decoupled_weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.t = 0  # steps taken so far

    def lr(self):
        if isinstance(self.learning_rate, LearningRateSchedule):
            return f32(self.learning_rate(self.t))
        return f32(self.learning_rate)

    def clip(self, grads):
        if self.clipnorm is not None:
            grads = [
                g * f32(self.clipnorm) / max(f32(np.linalg.norm(g)), f32(self.clipnorm))
                for g in grads
            ]
        if self.clipvalue is not None:
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.global_clipnorm is not None:
            norm = f32(np.sqrt(sum(np.sum(g * g) for g in grads)))
            grads = [
                g * f32(self.global_clipnorm) / max(norm, f32(self.global_clipnorm))
                for g in grads
            ]
        return grads

    def multiplier(self, name):
        """The first pattern (in order) found in `name` gives its multiplier."""
        return next(
            (k for pattern, k in self.multipliers.items() if re.search(pattern, name)),
            1.0,
        )

    def step(self, params, grads, names=None):
        """Returns the new params after one step on `grads`."""
        grads = self.clip([np.asarray(g, f32) for g in grads])
        new = []
        for i, (theta, g) in enumerate(zip(params, grads)):
            theta = np.asarray(theta, f32)
            k = self.multiplier(names[i]) if names else 1.0
            if k == 0:  # frozen: value and slots untouched
                new.append(theta)
                continue
            lr = self.lr() * f32(k)  # η × the variable's multiplier
            if self.weight_decay is not None:
                wd = f32(self.weight_decay)
                if self.decoupled:
                    theta = theta - lr * wd * theta  # θ ← θ − η·wd·θ
                else:
                    g = g + wd * theta  # g ← g + wd·θ
            new.append(self.update(i, theta, g, lr))
        self.t += 1
        return new


class ReferenceSGD(Reference):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **base):
        super().__init__(learning_rate, **base)
        self.momentum = f32(momentum)
        self.nesterov = nesterov
        self.m = {}

    def update(self, i, theta, g, lr):
        if self.momentum == 0:
            return theta - lr * g  # θ ← θ − η·g
        m = self.momentum * self.m.get(i, 0) + lr * g  # m ← β·m + η·g
        self.m[i] = m
        if self.nesterov:
            return theta - (self.momentum * m + lr * g)
        return theta - m  # θ ← θ − m


class ReferenceAdam(Reference):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        bias_correction=True,
        **base,
    ):
        super().__init__(learning_rate, **base)
        self.beta_1, self.beta_2, self.epsilon = f32(beta_1), f32(beta_2), f32(epsilon)
        self.amsgrad = amsgrad
        self.bias_correction = bias_correction
        self.m, self.v, self.v_max = {}, {}, {}

    def update(self, i, theta, g, lr):
        b1, b2, t = self.beta_1, self.beta_2, self.t + 1
        m = b1 * self.m.get(i, 0) + (1 - b1) * g  # m ← β1·m + (1−β1)·g
        v = b2 * self.v.get(i, 0) + (1 - b2) * g * g  # v ← β2·v + (1−β2)·g²
        self.m[i], self.v[i] = m, v
        if self.amsgrad:
            v = self.v_max[i] = np.maximum(self.v_max.get(i, 0), v)
        if self.bias_correction:
            m_hat = m / (1 - b1**t)  # m̂ = m/(1−β1^t)
            v_hat = v / (1 - b2**t)  # v̂ = v/(1−β2^t)
        else:
            m_hat, v_hat = m, v
        return theta - lr * m_hat / (np.sqrt(v_hat) + self.epsilon)


def ReferenceAdamW(weight_decay=0.004, **kwargs):
    return ReferenceAdam(
        weight_decay=weight_decay, decoupled_weight_decay=True, **kwargs
    )
