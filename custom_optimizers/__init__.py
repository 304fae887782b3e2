"""Gradient descent, momentum, weight decay and Adam as Keras 3 optimizers.

Drop-in twins of `keras.optimizers.SGD`, `Adam` and `AdamW`, written as small
pure update functions (`custom_optimizers.tweaks`) wired into thin classes.
"""

import keras

from custom_optimizers.adam import Adam, AdamW
from custom_optimizers.registry import RECIPES, available, get
from custom_optimizers.sgd import SGD

if keras.backend.backend() == "torch":
    from custom_optimizers import fused_torch  # noqa: F401 (registers the fused rules)

__all__ = ["RECIPES", "SGD", "Adam", "AdamW", "available", "get"]
