"""The models by name; DeepOBS's 2c2d exactly as DeepOBS defines it."""

import numpy as np
import pytest

from experiments import models


def test_deepobs_2c2d_has_deepobs_s_layers_and_weight_count():
    model = models.build("deepobs_2c2d", seed=0)
    shapes = [tuple(w.shape) for w in model.weights]
    assert shapes == [(5, 5, 1, 32), (32,), (5, 5, 32, 64), (64,),
                      (7 * 7 * 64, 1024), (1024,), (1024, 10), (10,)]  # fmt: skip
    assert model.count_params() == 3_274_634
    conv = model.get_layer("conv_1")
    assert (conv.padding, conv.activation.__name__) == ("same", "relu")
    assert model.get_layer("pool_2").output.shape[1:] == (7, 7, 64)


def test_deepobs_2c2d_starts_from_truncated_normals_and_biases_of_0_05():
    model = models.build("deepobs_2c2d", seed=0)
    for weight in model.weights:
        values = weight.numpy()
        if weight.name == "bias":
            np.testing.assert_array_equal(values, np.float32(0.05))
        else:  # normal, σ = 0.05, cut at 2σ
            assert np.abs(values).max() <= 0.1
            assert values.std() == pytest.approx(0.05 * 0.8796, rel=0.05)


def test_the_same_seed_gives_the_same_weights():
    a, b = (models.build("deepobs_2c2d", seed=3) for _ in range(2))
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
