"""Every optimizer and option, step by step, against the NumPy reference."""

import keras
import numpy as np
import pytest

from custom_optimizers import SGD, Adam, AdamW
from tests.reference import ReferenceAdam, ReferenceAdamW, ReferenceSGD

pytestmark = pytest.mark.usefixtures("update_path")  # on PyTorch, both paths

REFERENCES = {SGD: ReferenceSGD, Adam: ReferenceAdam, AdamW: ReferenceAdamW}
SHAPES = [(3,), (4, 5), (2, 3, 4)]
GRADIENT_SCALES = [1e-3, 1.0, 10.0]  # per variable: Adam's steps ignore scale
STEPS = 50


def halving_schedule():
    return keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=10, decay_rate=0.5
    )


# (optimizer class, constructor arguments): one row per option to check.
CASES = {
    "gd": (SGD, {"learning_rate": 0.1}),
    "momentum": (SGD, {"learning_rate": 0.05, "momentum": 0.9}),
    "nesterov": (SGD, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "gd coupled decay": (
        SGD,
        {"learning_rate": 0.1, "weight_decay": 0.2, "decoupled_weight_decay": False},
    ),
    "gd decoupled decay": (SGD, {"learning_rate": 0.1, "weight_decay": 0.2}),
    "momentum coupled decay": (
        SGD,
        {
            "learning_rate": 0.05,
            "momentum": 0.9,
            "weight_decay": 0.2,
            "decoupled_weight_decay": False,
        },
    ),
    "momentum decoupled decay": (
        SGD,
        {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.2},
    ),
    "nesterov coupled decay": (
        SGD,
        {
            "learning_rate": 0.05,
            "momentum": 0.5,
            "nesterov": True,
            "weight_decay": 0.2,
            "decoupled_weight_decay": False,
        },
    ),
    "gd clipnorm": (SGD, {"learning_rate": 0.1, "clipnorm": 0.5}),
    "gd clipvalue": (SGD, {"learning_rate": 0.1, "clipvalue": 0.3}),
    "momentum global_clipnorm": (
        SGD,
        {"learning_rate": 0.05, "momentum": 0.9, "global_clipnorm": 1.0},
    ),
    "momentum schedule": (SGD, {"learning_rate": halving_schedule(), "momentum": 0.9}),
    "adam": (Adam, {"learning_rate": 0.01}),
    "adam large epsilon": (Adam, {"learning_rate": 0.01, "epsilon": 0.1}),
    "adam betas": (Adam, {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}),
    "amsgrad": (Adam, {"learning_rate": 0.01, "amsgrad": True}),
    "adam coupled decay": (
        Adam,
        {"learning_rate": 0.01, "weight_decay": 0.5, "decoupled_weight_decay": False},
    ),
    "adam decoupled decay": (Adam, {"learning_rate": 0.01, "weight_decay": 0.5}),
    "adamw": (AdamW, {"learning_rate": 0.01}),
    "adamw amsgrad": (
        AdamW,
        {"learning_rate": 0.01, "weight_decay": 0.5, "amsgrad": True},
    ),
    "adam clipnorm": (Adam, {"learning_rate": 0.01, "clipnorm": 0.5}),
    "adam schedule": (Adam, {"learning_rate": halving_schedule()}),
    "adam without bias correction": (
        Adam,
        {"learning_rate": 0.01, "bias_correction": False},
    ),
    "rmsprop (adam without beta_1 or bias correction)": (
        Adam,
        {"learning_rate": 0.01, "beta_1": 0.0, "bias_correction": False},
    ),
    "momentum per-layer multipliers": (
        SGD,
        {
            "learning_rate": 0.05,
            "momentum": 0.9,
            "learning_rate_multipliers": {"conv_": 0.1, "logits": 0.0},
        },
    ),
    "gd multipliers, coupled decay, schedule, first match wins": (
        SGD,
        {
            "learning_rate": halving_schedule(),
            "weight_decay": 0.2,
            "decoupled_weight_decay": False,
            # logits_kernel matches both: the first pattern, 0, freezes it
            "learning_rate_multipliers": {"logits": 0.0, "kernel": 0.5},
        },
    ),
    "adam multipliers, decoupled decay": (
        Adam,
        {
            "learning_rate": 0.01,
            "weight_decay": 0.5,
            "learning_rate_multipliers": {"conv_": 0.1, "dense": 3.0},
        },
    ),
    "adamw multipliers, schedule": (
        AdamW,
        {
            "learning_rate": halving_schedule(),
            "weight_decay": 0.5,
            "learning_rate_multipliers": {"logits": 0.0, "conv_": 0.25},
        },
    ),
}
# The variables' names, so that multiplier patterns have something to match.
NAMES = ["conv_1_kernel", "dense_kernel", "logits_kernel"]


def random_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [
        [
            (scale * rng.normal(size=s)).astype("float32")
            for s, scale in zip(SHAPES, GRADIENT_SCALES)
        ]
        for _ in range(STEPS)
    ]
    return params, grads


def run(optimizer, params, grads):
    """Yields the variables' values after each `apply_gradients` step."""
    variables = [keras.Variable(p, name=n) for p, n in zip(params, NAMES)]
    for step_grads in grads:
        optimizer.apply_gradients(
            zip(map(keras.ops.convert_to_tensor, step_grads), variables)
        )
        yield [v.numpy() for v in variables]


@pytest.mark.parametrize("case", CASES)
def test_every_step_matches_the_numpy_reference(case):
    optimizer_class, kwargs = CASES[case]
    reference = REFERENCES[optimizer_class](**kwargs)
    params, grads = random_problem()
    expected = params
    for step, actual in enumerate(run(optimizer_class(**kwargs), params, grads)):
        expected = reference.step(expected, grads[step], NAMES)
        for a, e in zip(actual, expected, strict=True):
            np.testing.assert_allclose(
                a, e, rtol=1e-5, atol=rounding_bound(e), err_msg=f"step {step + 1}"
            )


def rounding_bound(expected):
    """float32 precision for a variable after `STEPS` steps: each step may round
    each entry by one unit in the last place of the variable's largest entry.

    An entry near 0 that a step moved from ±10 keeps the error of ±10 (PyTorch's
    fused update rounds θ − η·g once, NumPy twice), so a bound relative to the
    entry alone would be finer than float32 can be.
    """
    return STEPS * np.finfo(np.float32).eps * np.abs(expected).max()


def final_params(optimizer, seed=0):
    params, grads = random_problem(seed)
    *_, last = run(optimizer, params, grads)
    return last


def assert_all_close(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def assert_differ(a, b):
    assert max(np.abs(x - y).max() for x, y in zip(a, b, strict=True)) > 1e-3


def test_coupled_and_decoupled_decay_agree_for_plain_gradient_descent():
    coupled = SGD(learning_rate=0.1, weight_decay=0.2, decoupled_weight_decay=False)
    decoupled = SGD(learning_rate=0.1, weight_decay=0.2)
    assert_all_close(final_params(coupled), final_params(decoupled))


@pytest.mark.parametrize(
    "make",
    [
        lambda decoupled: SGD(
            0.05, momentum=0.9, weight_decay=0.2, decoupled_weight_decay=decoupled
        ),
        lambda decoupled: Adam(
            0.01, weight_decay=0.5, decoupled_weight_decay=decoupled
        ),
    ],
    ids=["momentum", "adam"],
)
def test_coupled_and_decoupled_decay_differ_with_momentum_and_adam(make):
    assert_differ(final_params(make(False)), final_params(make(True)))


def test_nesterov_without_momentum_is_plain_gradient_descent():
    assert_all_close(
        final_params(SGD(0.1, momentum=0.0, nesterov=True)), final_params(SGD(0.1))
    )


def test_adamw_is_adam_with_decoupled_decay():
    assert_all_close(
        final_params(AdamW(0.01, weight_decay=0.3)),
        final_params(Adam(0.01, weight_decay=0.3, decoupled_weight_decay=True)),
    )


def test_epsilon_enters_after_bias_correction_unlike_keras():
    """With a large ε the placement shows: ours follows the paper, Keras's does not."""
    ours = final_params(Adam(0.01, epsilon=0.1))
    keras_adam = final_params(keras.optimizers.Adam(0.01, epsilon=0.1))
    paper = final_params_of_reference(ReferenceAdam(0.01, epsilon=0.1))
    assert_all_close(ours, paper)
    assert_differ(keras_adam, paper)


def final_params_of_reference(reference, seed=0):
    params, grads = random_problem(seed)
    for step_grads in grads:
        params = reference.step(params, step_grads)
    return params


@pytest.mark.parametrize("decoupled", [True, False], ids=["decoupled", "coupled"])
def test_exclude_from_weight_decay_leaves_named_variables_alone(decoupled):
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    optimizer = SGD(0.1, weight_decay=0.5, decoupled_weight_decay=decoupled)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply_gradients(
        [(np.zeros((2, 2), "float32"), kernel), (np.zeros(2, "float32"), bias)]
    )
    np.testing.assert_allclose(kernel.numpy(), 0.95)  # 1 − 0.1·0.5·1
    np.testing.assert_allclose(bias.numpy(), 1.0)
