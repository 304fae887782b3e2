"""Optimizers by short name, for configs and the command line."""

from typing import NamedTuple

from custom_optimizers.adam import Adam, AdamW
from custom_optimizers.sgd import SGD


class Recipe(NamedTuple):
    optimizer_class: type
    defaults: dict
    description: str


RECIPES = {
    "sgd": Recipe(SGD, {}, "plain gradient descent θ ← θ − η·g"),
    "sgd_wd": Recipe(
        SGD,
        {"weight_decay": 5e-4, "decoupled_weight_decay": False},
        "gradient descent with the text's weight decay θ ← θ − η(g + wd·θ)",
    ),
    "momentum": Recipe(SGD, {"momentum": 0.9}, "momentum m ← β·m + η·g, θ ← θ − m"),
    "nesterov": Recipe(SGD, {"momentum": 0.9, "nesterov": True}, "Nesterov momentum"),
    "momentum_l2": Recipe(
        SGD,
        {"momentum": 0.9, "weight_decay": 5e-4, "decoupled_weight_decay": False},
        "momentum with coupled (L2) weight decay: g ← g + wd·θ",
    ),
    "momentum_wd": Recipe(
        SGD,
        {"momentum": 0.9, "weight_decay": 5e-4},
        "momentum with decoupled weight decay θ ← θ − η·wd·θ (SGDW)",
    ),
    "adam": Recipe(Adam, {}, "Adam, ε after bias correction"),
    "adam_l2": Recipe(
        Adam,
        {"weight_decay": 1e-4, "decoupled_weight_decay": False},
        "Adam with coupled (L2) weight decay: g ← g + wd·θ",
    ),
    "adamw": Recipe(AdamW, {}, "Adam with decoupled weight decay (AdamW)"),
    "amsgrad": Recipe(Adam, {"amsgrad": True}, "Adam keeping the running maximum of v"),
    # Adam taken apart: momentum is SGD's; these are the other two pieces.
    "rmsprop": Recipe(
        Adam,
        {"beta_1": 0.0, "bias_correction": False},
        "the second-moment average alone: v ← ρ·v + (1−ρ)g², θ ← θ − η·g/(√v + ε), "
        "ρ = Adam's β2 = 0.999",
    ),
    "adam_no_bias_correction": Recipe(
        Adam, {"bias_correction": False}, "Adam without m̂ and v̂: θ ← θ − η·m/(√v + ε)"
    ),
}


def available():
    """The short names `get` accepts."""
    return list(RECIPES)


def get(name, **hyperparameters):
    """A new optimizer for `name`; `hyperparameters` override its defaults.

    >>> get("momentum", learning_rate=0.1).momentum
    0.9
    """
    if not isinstance(name, str):
        raise TypeError(
            "`get` takes an optimizer's short name, a string, one of: "
            f"{', '.join(available())}; got {name!r} ({type(name).__name__})."
        )
    if name not in RECIPES:
        raise ValueError(
            f"Unknown optimizer {name!r}; known: {', '.join(available())}."
        )
    recipe = RECIPES[name]
    return recipe.optimizer_class(**{**recipe.defaults, **hyperparameters})
