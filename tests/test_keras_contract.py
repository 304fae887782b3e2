"""The private parts of Keras's optimizer that the library relies on.

`custom_optimizers` overrides `_apply_weight_decay` (so Keras does not
decay a second time) and `_backend_apply_gradients` (to leave frozen
variables out of `global_clipnorm`), calls `_use_weight_decay` and
`_get_variable_index`, and the sweep's TensorBoard logger reads
`_learning_rate`. pyproject.toml pins Keras to the releases these were
checked on; if a release renames one or changes its arguments, this test
names it.
"""

import inspect

import keras
import pytest

import custom_optimizers as co

HOOKS = {
    "_apply_weight_decay": ["self", "variables"],
    "_backend_apply_gradients": ["self", "grads", "trainable_variables"],
    "_use_weight_decay": ["self", "variable"],
    "_get_variable_index": ["self", "variable"],
}


@pytest.mark.parametrize("name, parameters", HOOKS.items())
def test_each_private_hook_the_library_uses_exists_with_its_arguments(name, parameters):
    hook = getattr(keras.optimizers.Optimizer, name, None)
    assert hook is not None, (
        f"Keras {keras.__version__} has no Optimizer.{name}, which custom_optimizers "
        "relies on (custom_optimizers/base.py); update the library, then the pin"
    )
    found = list(inspect.signature(hook).parameters)
    assert found == parameters, (
        f"Keras {keras.__version__} changed Optimizer.{name}{tuple(found)}; "
        f"custom_optimizers/base.py relies on {name}{tuple(parameters)}"
    )


def test_keras_still_calls_the_hooks_the_library_overrides(monkeypatch):
    """An override that Keras no longer calls would fail silently (double decay)."""
    called = []
    for name in ("_apply_weight_decay", "_backend_apply_gradients"):
        original = getattr(co.SGD, name)

        def spy(self, *args, _name=name, _original=original):
            called.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(co.SGD, name, spy)
    variable = keras.Variable([1.0, 2.0])
    optimizer = co.SGD(0.1, weight_decay=0.1)
    optimizer.apply([keras.ops.ones(2)], [variable])
    assert set(called) == {"_apply_weight_decay", "_backend_apply_gradients"}, (
        f"Keras {keras.__version__}'s Optimizer.apply no longer calls {set(HOOKS) - set(called)}"
    )


def test_the_learning_rate_the_logger_reads_is_the_schedule_itself():
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)
    assert co.SGD(schedule)._learning_rate is schedule, (
        f"Keras {keras.__version__} no longer keeps the schedule in "
        "Optimizer._learning_rate, which the sweep's TensorBoard logger reads"
    )
