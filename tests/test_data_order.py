"""`shuffled_order` replays tf.data's shuffle exactly, epoch after epoch."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras

from experiments.sweep.data_order import shuffled_order

EPOCHS = 4
SEEDS = (0, 1, 7, 12345, 2**31 - 1)
FULL_BUFFER_COUNTS = (1, 2, 10, 1000, 5000)
PARTIAL_BUFFERS = (1, 3, 100)


def tensorflow_orders(count, seed, shuffle_buffer=0):
    """The order of each of the first EPOCHS iterations of one shuffled
    `Dataset.range(count)`, read a whole epoch at a time (batching after the
    shuffle keeps its order)."""
    tf.random.set_seed(seed)
    shuffled = tf.data.Dataset.range(count).shuffle(
        shuffle_buffer or count, seed=seed, reshuffle_each_iteration=True
    )
    whole_epochs = shuffled.batch(count)
    return [next(iter(whole_epochs)).numpy() for _ in range(EPOCHS)]


def replayed_orders(count, seed, shuffle_buffer=0):
    return [
        shuffled_order(count, seed, epoch, shuffle_buffer) for epoch in range(EPOCHS)
    ]


def assert_same_orders(replayed, expected, case):
    assert len(replayed) == len(expected)
    for epoch, (mine, theirs) in enumerate(zip(replayed, expected)):
        assert mine.dtype == np.int64
        np.testing.assert_array_equal(mine, theirs, err_msg=f"{case}, epoch {epoch}")


# Seeds run inside each test: the suite's autouse fixture clears Keras's
# session before every test, which costs more than a case here.
@pytest.mark.parametrize(
    "count, shuffle_buffer",
    [(count, 0) for count in FULL_BUFFER_COUNTS]
    + [(1000, buffer) for buffer in PARTIAL_BUFFERS],
)
def test_matches_tensorflow_for_every_seed(count, shuffle_buffer):
    for seed in SEEDS:
        assert_same_orders(
            replayed_orders(count, seed, shuffle_buffer),
            tensorflow_orders(count, seed, shuffle_buffer),
            f"seed {seed}",
        )


@pytest.mark.parametrize("shuffle_buffer", [0, 20_000])
def test_mnist_sized_epochs_match_tensorflow(shuffle_buffer):
    assert_same_orders(
        replayed_orders(60_000, 3, shuffle_buffer),
        tensorflow_orders(60_000, 3, shuffle_buffer),
        "seed 3",
    )


def test_buffer_larger_than_the_data_is_a_full_shuffle():
    assert_same_orders(
        replayed_orders(50, 7, 80), tensorflow_orders(50, 7, 80), "seed 7"
    )


def test_element_by_element_iteration_gives_the_same_order():
    tf.random.set_seed(12)
    shuffled = tf.data.Dataset.range(100).shuffle(
        100, seed=12, reshuffle_each_iteration=True
    )
    for epoch in range(EPOCHS):
        np.testing.assert_array_equal(
            np.fromiter(shuffled.as_numpy_iterator(), dtype=np.int64),
            shuffled_order(100, 12, epoch),
        )


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_batched_pairs_follow_the_replayed_order(drop_remainder):
    """The pipeline training runs built on tf.data: from_tensor_slices of
    (x, y), shuffled and batched after keras.utils.set_random_seed."""
    count, seed, batch_size, shuffle_buffer = 1000, 5, 64, 300
    x = np.arange(count)
    keras.utils.set_random_seed(seed)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, -x))
        .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=drop_remainder)
    )
    kept = count - count % batch_size if drop_remainder else count
    for epoch in range(EPOCHS):
        xs, ys = zip(*((bx.numpy(), by.numpy()) for bx, by in dataset))
        expected = shuffled_order(count, seed, epoch, shuffle_buffer)[:kept]
        np.testing.assert_array_equal(np.concatenate(xs), expected)
        np.testing.assert_array_equal(np.concatenate(ys), -expected)


@pytest.mark.parametrize("shuffle_buffer, drop_remainder", [(0, False), (30, True)])
def test_fit_on_batches_trains_as_the_tf_data_pipeline_did(
    shuffle_buffer, drop_remainder
):
    """Three epochs of `model.fit` on `training.Batches` end with the very
    weights three epochs on the tf.data pipeline that runs trained on before
    reached: the same batches, in the same order."""
    from experiments.sweep.training import Batches

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 4)).astype("float32")
    y = rng.integers(0, 3, 100)
    seed, batch_size = 9, 16

    def trained(data):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile(keras.optimizers.SGD(0.1),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        batches = data()
        follow = [batches.epoch_callback()] if isinstance(batches, Batches) else []
        model.fit(batches, epochs=3, verbose=0, shuffle=False, callbacks=follow)
        return model.get_weights()

    def tf_data():
        return (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(shuffle_buffer or len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=drop_remainder)
        )

    def batches():
        return Batches(x, y, batch_size, seed, shuffle_buffer, drop_remainder)

    for before, now in zip(trained(tf_data), trained(batches)):
        np.testing.assert_array_equal(before, now)


def test_tf_data_without_the_run_s_global_seed_is_refused():
    """tf.data shuffles by the global seed with its own: a pipeline built
    under another global seed would not give the replayed order."""
    from experiments.sweep.training import Batches

    batches = Batches(np.arange(10.0)[:, None], np.arange(10), 4, seed=5)
    keras.utils.set_random_seed(3)
    with pytest.raises(RuntimeError, match=r"call keras.utils.set_random_seed\(seed\)"):
        batches.fed_to_fit()
    keras.utils.set_random_seed(5)
    data, following = batches.fed_to_fit()
    assert following == []
