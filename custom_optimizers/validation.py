"""Argument checks shared by the optimizers.

Each check runs before anything is built, and its message names the
argument, the value received and the allowed range.
"""

import math
import numbers
import re

from keras.optimizers.schedules import LearningRateSchedule


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def real_in_range(name, value, low, high, *, low_open=False, high_open=True):
    """Returns `value` as a float after checking low ≤ value < high.

    `low_open` / `high_open` exclude the bound. A bool, a string or another non-number raises `TypeError`;
    a number outside the range, or not finite, raises `ValueError`.
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a number in {interval}; got {_describe(value)}."
        )
    value = float(value)
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if math.isnan(value) or below or above:
        raise ValueError(f"`{name}` must be in {interval}; got {value!r}.")
    return value


def optional_non_negative(name, value):
    """Returns None or a float ≥ 0 (weight decay off, or its strength)."""
    if value is None:
        return None
    return real_in_range(name, value, 0.0, math.inf)


def boolean(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be True or False; got {_describe(value)}.")
    return value


def learning_rate(value):
    """A float ≥ 0, a `LearningRateSchedule`, or a callable returning the rate.

    0 is legal, as in Keras: a warm-up callback may set it, and a model
    saved at that moment must load back.
    """
    if isinstance(value, LearningRateSchedule) or callable(value):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            "`learning_rate` must be a float in [0, inf), a "
            "keras.optimizers.schedules.LearningRateSchedule or a callable; "
            f"got {_describe(value)}."
        )
    return real_in_range("learning_rate", value, 0.0, math.inf)


def learning_rate_multipliers(value):
    """None, or a dict from a valid regular expression to a float ≥ 0."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(
            "`learning_rate_multipliers` must be a dict from a name pattern to a "
            f"number >= 0; got {_describe(value)}."
        )
    checked = {}
    for pattern, multiplier in value.items():
        if not isinstance(pattern, str):
            raise TypeError(
                "`learning_rate_multipliers` keys must be strings (regular "
                f"expressions matched against variable paths); got {_describe(pattern)}."
            )
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(
                f"`learning_rate_multipliers` pattern {pattern!r} is not a valid "
                f"regular expression ({error})."
            ) from None
        checked[pattern] = real_in_range(
            f"learning_rate_multipliers[{pattern!r}]", multiplier, 0.0, math.inf
        )
    return checked
