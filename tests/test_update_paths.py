"""Which update path runs: on PyTorch, the fused update over all variables
for the library's own rules, and Keras's loop over `update_step` for a
subclass that rewrites the rule or an optimizer with `fuse_on_torch = False`.
That both paths give the same numbers is `test_reference_equations.py`'s job."""

import keras
import numpy as np
import pytest

import custom_optimizers as co
from tests.conftest import ON_TORCH

pytestmark = pytest.mark.skipif(
    not ON_TORCH, reason="the fused update exists on PyTorch only"
)


class SignSGD(co.SGD):
    """A rewritten rule: θ ← θ − η·sign(g)."""

    def update_step(self, gradient, variable, learning_rate):
        self.assign_sub(variable, keras.ops.sign(gradient) * learning_rate)


@pytest.fixture
def fused_calls(monkeypatch):
    from custom_optimizers import fused_torch

    calls = []
    update = fused_torch.update

    def counting_update(*args):
        calls.append(type(args[0]).__name__)
        update(*args)

    monkeypatch.setattr(fused_torch, "update", counting_update)
    return calls


def one_step(optimizer):
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer.apply_gradients(
        [(keras.ops.convert_to_tensor([0.5, -2.0, 0.0]), variable)]
    )
    return variable.numpy()


@pytest.mark.parametrize(
    "make",
    [lambda: co.SGD(0.1, momentum=0.9), co.Adam, co.AdamW],
    ids=["sgd", "adam", "adamw"],
)
def test_the_library_s_rules_take_the_fused_path(make, fused_calls):
    one_step(make())
    assert fused_calls == [type(make()).__name__]


def test_a_subclass_that_rewrites_the_rule_keeps_its_own(fused_calls):
    np.testing.assert_allclose(one_step(SignSGD(0.1)), [0.9, 1.1, 1.0])
    assert fused_calls == []


def test_fuse_on_torch_false_takes_keras_s_loop(fused_calls):
    optimizer = co.SGD(0.1)
    optimizer.fuse_on_torch = False
    np.testing.assert_allclose(one_step(optimizer), [0.95, 1.2, 1.0])
    assert fused_calls == []
