"""One learning rate per layer: `learning_rate_multipliers` on real Keras models."""

import keras
import numpy as np
import pytest

import custom_optimizers as co
from tests.conftest import classification_data

pytestmark = pytest.mark.usefixtures("update_path")  # on PyTorch, both paths


def small_cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(8, activation="relu", name="dense"),
            keras.layers.Dense(3, name="logits"),
        ],
        name="cnn",
    )


def fit(model, optimizer, epochs=2):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = classification_data(samples=64, inputs=64)
    model.fit(x.reshape(-1, 8, 8, 1), y, epochs=epochs, batch_size=16, verbose=0)
    return model


def by_path(model, optimizer):
    return {
        v.path: k
        for v, k in zip(model.trainable_variables, optimizer._multipliers, strict=True)
    }


def test_patterns_match_layer_paths_and_the_first_match_wins():
    model = small_cnn()
    optimizer = co.SGD(
        0.1,
        momentum=0.9,
        learning_rate_multipliers={"conv_": 0.1, "logits/kernel": 0.0, "logits": 2.0},
    )
    fit(model, optimizer, epochs=1)
    assert by_path(model, optimizer) == {
        "cnn/conv_1/kernel": 0.1,
        "cnn/conv_1/bias": 0.1,
        "cnn/dense/kernel": 1.0,
        "cnn/dense/bias": 1.0,
        "cnn/logits/kernel": 0.0,
        "cnn/logits/bias": 2.0,
    }


@pytest.mark.parametrize(
    "make, slots",
    [
        (lambda m: co.SGD(0.1, momentum=0.9, weight_decay=0.5,
                          learning_rate_multipliers=m), 2),
        (lambda m: co.SGD(0.1, weight_decay=0.5, decoupled_weight_decay=False,
                          learning_rate_multipliers=m), 0),
        (lambda m: co.AdamW(0.01, weight_decay=0.5, learning_rate_multipliers=m), 4),
        (lambda m: co.Adam(0.01, weight_decay=0.5, decoupled_weight_decay=False,
                           amsgrad=True, learning_rate_multipliers=m), 6),
    ],
    ids=["momentum decoupled", "gd coupled", "adamw", "amsgrad coupled"],
)  # fmt: skip
def test_multiplier_zero_freezes_values_and_slots_even_with_weight_decay(make, slots):
    model = small_cnn()
    frozen_before = [w.numpy() for w in model.layers[0].weights]
    head_before = model.layers[-1].kernel.numpy()
    optimizer = make({"conv_": 0.0})
    fit(model, optimizer)
    for w, before in zip(model.layers[0].weights, frozen_before, strict=True):
        np.testing.assert_array_equal(w.numpy(), before)
    assert np.abs(model.layers[-1].kernel.numpy() - head_before).max() > 1e-3
    frozen_slots = [
        v for v in optimizer.variables if "conv_1" in v.path and v.shape != ()
    ]
    assert len(frozen_slots) == slots  # conv_1's kernel and bias: m, v, v_max
    assert all(not np.any(v.numpy()) for v in frozen_slots)  # never touched


def test_a_tenth_of_the_learning_rate_is_a_tenth_of_the_step():
    """Plain gradient descent: the multiplied layer's change is k times the other's."""
    model_a, model_b = small_cnn(), small_cnn()
    start = model_a.layers[0].kernel.numpy()
    fit(model_a, co.SGD(0.01), epochs=1)
    model_b_start = [w.numpy() for w in model_b.weights]
    optimizer = co.SGD(0.01, learning_rate_multipliers={"conv_": 0.1})
    x, y = classification_data(samples=16, inputs=64)
    model_b.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model_b.train_on_batch(x.reshape(-1, 8, 8, 1), y)
    reference = small_cnn()
    reference.compile(
        optimizer=co.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    reference.train_on_batch(x.reshape(-1, 8, 8, 1), y)
    step_b = model_b.layers[0].kernel.numpy() - model_b_start[0]
    step_reference = reference.layers[0].kernel.numpy() - start
    # A step read as the difference of two float32 weights is exact only to
    # the spacing of float32 numbers near those weights.
    resolution = np.spacing(np.abs(start).max())
    np.testing.assert_allclose(step_b, 0.1 * step_reference, rtol=1e-4, atol=resolution)
    np.testing.assert_allclose(
        model_b.layers[-1].kernel.numpy(), reference.layers[-1].kernel.numpy()
    )


def test_multipliers_round_trip_through_a_saved_model(tmp_path):
    multipliers = {"conv_": 0.1, "logits": 1.0}
    model = fit(
        small_cnn(), co.SGD(0.1, momentum=0.9, learning_rate_multipliers=multipliers)
    )
    assert model.optimizer.get_config()["learning_rate_multipliers"] == multipliers
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert restored.optimizer.learning_rate_multipliers == multipliers
    # A loaded model's paths lack the model's name (conv_1/kernel): layer
    # names still match.
    assert (
        restored.optimizer._multipliers
        == model.optimizer._multipliers
        == [0.1, 0.1, 1.0, 1.0, 1.0, 1.0]
    )


@pytest.mark.parametrize(
    "multipliers, error, pattern",
    [
        ({"conv_": -0.1}, ValueError,
         r"`learning_rate_multipliers\['conv_'\]` must be in \[0, inf\); got -0\.1"),
        ({3: 0.1}, TypeError, r"`learning_rate_multipliers` keys must be strings"),
        ({"conv_(": 0.1}, ValueError, r"pattern 'conv_\(' is not a valid regular"),
        ({"conv_": "slow"}, TypeError, r"must be a number in \[0, inf\); got 'slow'"),
        (["conv_"], TypeError, r"must be a dict from a name pattern"),
    ],
)  # fmt: skip
def test_bad_multipliers_raise_a_clear_error(multipliers, error, pattern):
    with pytest.raises(error, match=pattern):
        co.SGD(0.1, learning_rate_multipliers=multipliers)


def test_a_pattern_that_matches_no_variable_is_an_error_at_build():
    optimizer = co.Adam(learning_rate_multipliers={"conv_": 0.1, "encoder": 0.5})
    with pytest.raises(
        ValueError,
        match=r"pattern 'encoder' matches no variable .* cnn/conv_1/kernel, ",
    ):
        optimizer.build(small_cnn().trainable_variables)


def test_a_pattern_through_the_model_name_is_refused_so_every_saved_model_loads():
    """`cnn/conv` trains on a fresh model but a loaded one has no `cnn/` in its paths."""
    model = small_cnn()
    optimizer = co.SGD(0.1, learning_rate_multipliers={"cnn/conv_1": 0.0})
    with pytest.raises(ValueError, match=r"'cnn/conv_1' matches through the model's "
                       r"name 'cnn'.* e\.g\. 'conv_1'"):  # fmt: skip
        fit(model, optimizer)


def test_a_layer_pattern_saves_and_loads_with_the_rates_it_trained_with(tmp_path):
    model = fit(small_cnn(), co.Adam(1e-3, learning_rate_multipliers={"conv_1": 0.0}))
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert restored.optimizer._multipliers == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]


def test_a_failed_build_leaves_the_optimizer_unbuilt_and_the_error_repeats():
    optimizer = co.Adam(learning_rate_multipliers={"encoder": 0.5})
    variables = small_cnn().trainable_variables
    for _ in range(2):
        with pytest.raises(ValueError, match="pattern 'encoder' matches no variable"):
            optimizer.build(variables)
        assert not optimizer.built


def test_multipliers_cannot_change_once_built():
    model = fit(small_cnn(), co.SGD(0.1, learning_rate_multipliers={"conv_": 0.1}))
    with pytest.raises(ValueError, match="cannot change after the optimizer is built"):
        model.optimizer.learning_rate_multipliers = {"conv_": 0.0}
    assert model.optimizer.get_config()["learning_rate_multipliers"] == {"conv_": 0.1}
    unbuilt = co.SGD(0.1)
    unbuilt.learning_rate_multipliers = {"conv_": 0.5}  # before build: fine
    with pytest.raises(ValueError, match=r"must be in \[0, inf\); got -1"):
        unbuilt.learning_rate_multipliers = {"conv_": -1}


def test_a_frozen_variable_is_left_out_of_the_global_clipnorm():
    """Clipped gradient descent moves the unfrozen weights by exactly η·clipnorm.

    The gradients are far larger than the clip, so the clipped gradient of
    the variables that count has global norm `global_clipnorm`; a frozen
    variable counted in that norm would shrink the others' step.
    """
    x, y = classification_data(samples=16, inputs=64)
    x = x.reshape(-1, 8, 8, 1) * 50

    def step_norm(freeze_by_trainable):
        model = small_cnn()
        model.layers[0].trainable = not freeze_by_trainable
        multipliers = None if freeze_by_trainable else {"conv_": 0.0}
        model.compile(
            optimizer=co.SGD(0.1, global_clipnorm=0.01,
                             learning_rate_multipliers=multipliers),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )  # fmt: skip
        before = [w.numpy() for w in model.weights]
        model.train_on_batch(x, y)
        steps = [w.numpy() - b for w, b in zip(model.weights, before, strict=True)]
        assert not np.any(steps[0]) and not np.any(steps[1])  # conv_1 never moved
        return np.sqrt(sum(np.sum(s.astype("float64") ** 2) for s in steps))

    assert step_norm(freeze_by_trainable=False) == pytest.approx(0.1 * 0.01, rel=1e-4)
    assert step_norm(freeze_by_trainable=True) == pytest.approx(0.1 * 0.01, rel=1e-4)
