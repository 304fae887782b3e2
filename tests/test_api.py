"""Construction, configs, serialization, the name registry and bad input."""

import inspect
import math

import keras
import numpy as np
import pytest

import custom_optimizers as co
from custom_optimizers import SGD, Adam, AdamW

BASE_KEYWORDS = [
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
    "name",
]

NON_DEFAULT = {
    SGD: dict(
        learning_rate=0.3,
        momentum=0.8,
        nesterov=True,
        weight_decay=0.01,
        decoupled_weight_decay=False,
        clipnorm=2.0,
        name="my_sgd",
    ),
    Adam: dict(
        learning_rate=0.02,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-6,
        amsgrad=True,
        weight_decay=0.1,
        decoupled_weight_decay=False,
        use_ema=True,
        ema_momentum=0.9,
        ema_overwrite_frequency=5,
        gradient_accumulation_steps=2,
    ),
    AdamW: dict(
        learning_rate=0.02,
        weight_decay=0.05,
        amsgrad=True,
        global_clipnorm=1.0,
        loss_scale_factor=8.0,
    ),
}


@pytest.mark.parametrize(
    "twin",
    [
        (SGD, keras.optimizers.SGD),
        (Adam, keras.optimizers.Adam),
        (AdamW, keras.optimizers.AdamW),
    ],
    ids=lambda t: t[0].__name__,
)
def test_constructor_accepts_every_argument_of_the_keras_twin(twin):
    ours, theirs = twin
    ours_args = inspect.signature(ours).parameters
    for name in inspect.signature(theirs).parameters:
        assert name in ours_args, name
    for name in BASE_KEYWORDS:
        assert name in ours_args, name


@pytest.mark.parametrize("cls", NON_DEFAULT, ids=lambda c: c.__name__)
def test_get_config_holds_every_argument_and_rebuilds_an_equal_optimizer(cls):
    kwargs = NON_DEFAULT[cls]
    optimizer = cls(**kwargs)
    config = optimizer.get_config()
    constructor_args = set(inspect.signature(cls).parameters) - {"kwargs"}
    assert set(config) == constructor_args
    for key, value in kwargs.items():
        assert config[key] == pytest.approx(value), key
    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config


@pytest.mark.parametrize("cls", NON_DEFAULT, ids=lambda c: c.__name__)
def test_keras_serialize_deserialize_round_trips(cls):
    optimizer = cls(**NON_DEFAULT[cls])
    serialized = keras.optimizers.serialize(optimizer)
    assert serialized["registered_name"] == f"custom_optimizers>{cls.__name__}"
    restored = keras.optimizers.deserialize(serialized)
    assert type(restored) is cls
    assert restored.get_config() == optimizer.get_config()


def test_learning_rate_schedule_round_trips():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.5)
    optimizer = SGD(schedule, momentum=0.9)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(
        restored._learning_rate, keras.optimizers.schedules.ExponentialDecay
    )
    assert (
        restored.get_config()["learning_rate"]
        == optimizer.get_config()["learning_rate"]
    )


def test_callable_learning_rate_is_used():
    optimizer = SGD(lambda: 0.25)
    variable = keras.Variable([1.0])
    optimizer.apply_gradients([(keras.ops.convert_to_tensor([1.0]), variable)])
    assert variable.numpy()[0] == pytest.approx(0.75)


def test_integer_learning_rate_is_taken_as_a_float():
    assert SGD(1).get_config()["learning_rate"] == 1.0


def test_registry_names_and_defaults():
    names = co.available()
    for required in [
        "sgd",
        "momentum",
        "nesterov",
        "adam",
        "adamw",
        "momentum_l2",
        "adam_l2",
    ]:
        assert required in names
    momentum = co.get("momentum", learning_rate=0.1)
    assert isinstance(momentum, SGD) and momentum.momentum == 0.9
    assert float(momentum.learning_rate) == pytest.approx(0.1)
    assert co.get("momentum", momentum=0.5).momentum == 0.5
    coupled = co.get("momentum_l2")
    assert coupled.weight_decay > 0 and coupled.decoupled_weight_decay is False
    assert co.get("adam_l2").decoupled_weight_decay is False
    assert isinstance(co.get("adamw"), AdamW)
    assert co.get("nesterov").nesterov is True


def test_registry_gives_a_fresh_optimizer_each_time():
    assert co.get("adam") is not co.get("adam")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"Unknown optimizer 'adamax'; known: sgd, .*adamw"
    ):
        co.get("adamax")


@pytest.mark.parametrize("name", [["adam"], None, 3])
def test_get_of_a_non_string_says_what_it_takes(name):
    with pytest.raises(TypeError, match=r"`get` takes an optimizer's short name, "
                       r"a string, one of: sgd, .*; got "):  # fmt: skip
        co.get(name)


# (constructor, arguments, error, message pattern): every bad input is a row.
BAD_INPUTS = [
    (
        SGD,
        {"learning_rate": -0.1},
        ValueError,
        r"`learning_rate` must be in \[0, inf\); got -0\.1",
    ),
    (
        Adam,
        {"learning_rate": math.nan},
        ValueError,
        r"`learning_rate` must be in \[0, inf\); got nan",
    ),
    (
        Adam,
        {"learning_rate": math.inf},
        ValueError,
        r"`learning_rate` must be in \[0, inf\); got inf",
    ),
    (
        SGD,
        {"learning_rate": "fast"},
        TypeError,
        r"`learning_rate` must be a float in \[0, inf\), a keras.optimizers.schedules.LearningRateSchedule or a callable; got 'fast' \(str\)",
    ),
    (
        SGD,
        {"learning_rate": True},
        TypeError,
        r"`learning_rate` must be .*got True \(bool\)",
    ),
    (SGD, {"momentum": -0.1}, ValueError, r"`momentum` must be in \[0, 1\); got -0\.1"),
    (SGD, {"momentum": 1.0}, ValueError, r"`momentum` must be in \[0, 1\); got 1\.0"),
    (
        SGD,
        {"momentum": "0.9"},
        TypeError,
        r"`momentum` must be a number in \[0, 1\); got '0\.9' \(str\)",
    ),
    (
        SGD,
        {"nesterov": "yes"},
        TypeError,
        r"`nesterov` must be True or False; got 'yes' \(str\)",
    ),
    (Adam, {"beta_1": 1.0}, ValueError, r"`beta_1` must be in \[0, 1\); got 1\.0"),
    (Adam, {"beta_1": -0.5}, ValueError, r"`beta_1` must be in \[0, 1\); got -0\.5"),
    (Adam, {"beta_2": 1.5}, ValueError, r"`beta_2` must be in \[0, 1\); got 1\.5"),
    (
        Adam,
        {"beta_2": None},
        TypeError,
        r"`beta_2` must be a number in \[0, 1\); got None \(NoneType\)",
    ),
    (Adam, {"epsilon": 0.0}, ValueError, r"`epsilon` must be in \(0, inf\); got 0\.0"),
    (
        Adam,
        {"epsilon": -1e-8},
        ValueError,
        r"`epsilon` must be in \(0, inf\); got -1e-08",
    ),
    (
        Adam,
        {"amsgrad": 1},
        TypeError,
        r"`amsgrad` must be True or False; got 1 \(int\)",
    ),
    (
        SGD,
        {"weight_decay": -1e-4},
        ValueError,
        r"`weight_decay` must be in \[0, inf\); got -0\.0001",
    ),
    (
        Adam,
        {"weight_decay": "l2"},
        TypeError,
        r"`weight_decay` must be a number in \[0, inf\); got 'l2' \(str\)",
    ),
    (
        AdamW,
        {"weight_decay": None},
        ValueError,
        r"`weight_decay` must be a float in \[0, inf\) for AdamW; got None",
    ),
    (
        AdamW,
        {"weight_decay": -0.1},
        ValueError,
        r"`weight_decay` must be in \[0, inf\); got -0\.1",
    ),
    (
        SGD,
        {"decoupled_weight_decay": None},
        TypeError,
        r"`decoupled_weight_decay` must be True or False; got None",
    ),
    (
        Adam,
        {"gradient_accumulation_steps": 1},
        ValueError,
        r"`gradient_accumulation_steps` must be an integer >= 2",
    ),
    (
        SGD,
        {"learning_rte": 0.1},
        ValueError,
        r"Argument\(s\) not recognized: \{'learning_rte': 0\.1\}",
    ),
    (
        Adam,
        {"weight_decay": 1e30, "decoupled_weight_decay": False},
        ValueError,
        r"`weight_decay` must be at most 1e\+15 with decoupled_weight_decay=False",
    ),
]


@pytest.mark.parametrize(
    "cls, kwargs, error, pattern",
    BAD_INPUTS,
    ids=[f"{c.__name__}-{list(k)[0]}" for c, k, *_ in BAD_INPUTS],
)
def test_bad_input_raises_a_clear_error(cls, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        cls(**kwargs)


def test_registry_reports_bad_hyperparameters_too():
    with pytest.raises(ValueError, match=r"`momentum` must be in \[0, 1\); got 1\.5"):
        co.get("momentum", momentum=1.5)


def test_learning_rate_zero_is_legal_and_a_model_saved_with_it_loads(tmp_path):
    """A warm-up callback may set η = 0; the saved model must load back."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=Adam(learning_rate=0.0), loss="mse")
    before = model.get_weights()
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)  # η = 0 moves nothing
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert float(restored.optimizer.learning_rate) == 0.0


def test_adamw_refuses_coupled_decay_with_a_clear_error():
    with pytest.raises(ValueError, match=r"`decoupled_weight_decay` must be True"):
        co.get("adamw", decoupled_weight_decay=False)
    assert AdamW(decoupled_weight_decay=True).decoupled_weight_decay is True


@pytest.mark.parametrize("value", [-1.0, math.nan, "fast"])
def test_setting_a_bad_learning_rate_after_construction_raises_as_the_constructor(
    value,
):
    optimizer = SGD(0.1)
    with pytest.raises((ValueError, TypeError), match="`learning_rate` must be"):
        optimizer.learning_rate = value
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    optimizer.learning_rate = 0.05  # a good one still goes through
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_an_integer_variable_is_refused_at_build_naming_it(cls):
    # Not trainable: PyTorch refuses an integer tensor that requires gradients.
    counter = keras.Variable(np.array([1, 2], "int32"), trainable=False, name="counter")
    with pytest.raises(ValueError, match="`counter` is int32: .* floating-point"):
        cls(0.1).build([keras.Variable(np.zeros(2, "float32")), counter])


def test_a_coupled_decay_below_the_limit_still_updates():
    """The limit's reason: beyond it g² overflows and Adam silently stands still."""
    variable = keras.Variable(np.ones(3, "float32"))
    Adam(0.1, weight_decay=1e15, decoupled_weight_decay=False).apply(
        [keras.ops.ones(3)], [variable]
    )
    assert np.all(np.isfinite(variable.numpy())) and np.all(variable.numpy() < 1)
