"""tf.data's shuffle order, replayed in NumPy so runs without TensorFlow see
the very order TensorFlow gives.

`shuffled_order` reproduces, bit for bit, the order in which

    tf.random.set_seed(seed)  # as keras.utils.set_random_seed(seed) does
    tf.data.Dataset.range(count).shuffle(
        shuffle_buffer or count, seed=seed, reshuffle_each_iteration=True
    )

yields its elements in each iteration (TensorFlow 2.21's kernels). The
pieces, each from TensorFlow's source:

- the seed pair: tensorflow/python/framework/random_seed.py (`get_seed`) and
  tensorflow/python/data/util/random_seed.py (`get_seed`);
- a Philox-4x32-10 stream read one 32-bit word at a time:
  tensorflow/core/lib/random/philox_random.h (`PhiloxRandom`) and
  random_distributions.h (`SingleSampleAdapter`);
- one pair of iterator seeds per iteration: tensorflow/core/kernels/data/
  random_seed_ops.cc (`RandomSeedGenerator::GenerateSeeds`);
- the buffered shuffle: tensorflow/core/kernels/data/shuffle_dataset_op.cc
  (`ShuffleDatasetBase::Iterator`).
"""

import numpy as np

MAXINT32 = 2**31 - 1  # random_seed.py's _MAXINT32
PHILOX_ROUNDS = 10
PHILOX_W32A, PHILOX_W32B = 0x9E3779B9, 0xBB67AE85  # the key's raise per round
PHILOX_M4X32A, PHILOX_M4X32B = 0xD2511F53, 0xCD9E8D57
WORDS_PER_BLOCK = 4  # PhiloxRandom::kResultElementCount
LOW_32_BITS = 0xFFFFFFFF


def shuffled_order(count, seed, iteration, shuffle_buffer=0):
    """Indices 0..count-1 in the order tf.data's `shuffle(shuffle_buffer or
    count, seed=seed, reshuffle_each_iteration=True)` gives them in iteration
    `iteration` (0-based), with the global seed set to `seed` (as
    keras.utils.set_random_seed does), as an int64 array.

    Each iteration (each `iter(dataset)`) draws its own pair of seeds from
    the dataset's seed generator, so iteration `iteration` depends on the ones
    before it only through that generator's stream. Keras 3's `model.fit`
    makes two iterations per epoch of a dataset of known length (without
    `steps_per_epoch`, `EpochIterator._enumerate_iterator` opens one when
    an epoch starts and one, never read, when it ends): its epoch e reads
    iteration 2e.
    """
    iterator_seeds = iteration_seeds(*shuffle_seeds(seed), iteration)
    return buffered_shuffle(
        count, shuffle_buffer or count, philox_words(*iterator_seeds, count)
    )


def shuffle_seeds(seed):
    """The (seed, seed2) pair the ShuffleDatasetV3 op gets when both the
    global and the op seed are `seed`.

    random_seed.py's `get_seed` takes each modulo 2**31 - 1 (`_truncate_seed`)
    and turns (0, 0), which the kernels read as "seed at random", into
    (0, 2**31 - 1); tf.data's `get_seed` repeats that last rule.
    """
    truncated = seed % MAXINT32
    return (0, MAXINT32) if truncated == 0 else (truncated, truncated)


def iteration_seeds(seed, seed2, iteration):
    """The iterator seeds of iteration `iteration` of a dataset.

    `RandomSeedGenerator` (random_seed_ops.h) reads one Philox stream keyed
    by the dataset's (seed, seed2); each new iterator's `Initialize`
    (shuffle_dataset_op.cc) calls `GenerateSeeds`, which takes its next two
    words: iteration i gets words 2i and 2i + 1.
    """
    words = philox_words(seed, seed2, 2 * iteration + 2)
    return int(words[-2]), int(words[-1])


def philox_words(seed_lo, seed_hi, count):
    """The first `count` 32-bit words of `SingleSampleAdapter<PhiloxRandom>`
    built on `PhiloxRandom(seed_lo, seed_hi)`, as uint64.

    That constructor (philox_random.h) puts `seed_lo` in the key and
    `seed_hi` in the counter's upper 64 bits; each call of the generator
    encrypts the counter, then adds one to it, and the adapter hands out the
    four words of each block in order. The seeds here are below 2**32 and
    the blocks fewer than 2**32, so the counter's low word is the block's
    number and its second word stays 0.
    """
    blocks = -(-count // WORDS_PER_BLOCK)
    counter = [
        np.arange(blocks, dtype=np.uint64),
        np.zeros(blocks, dtype=np.uint64),
        np.full(blocks, seed_hi & LOW_32_BITS, dtype=np.uint64),
        np.full(blocks, seed_hi >> 32, dtype=np.uint64),
    ]
    key = [seed_lo & LOW_32_BITS, seed_lo >> 32]
    for _ in range(PHILOX_ROUNDS):
        counter = philox_round(counter, key)
        key = [
            (key[0] + PHILOX_W32A) & LOW_32_BITS,
            (key[1] + PHILOX_W32B) & LOW_32_BITS,
        ]
    return np.stack(counter, axis=1).reshape(-1)[:count]


def philox_round(counter, key):
    """One round of Philox-4x32 on a batch of counters (philox_random.h,
    `ComputeSingleRound`): 32x32 -> 64-bit products, split into halves."""
    product0 = np.uint64(PHILOX_M4X32A) * counter[0]
    product1 = np.uint64(PHILOX_M4X32B) * counter[2]
    low = np.uint64(LOW_32_BITS)
    return [
        (product1 >> np.uint64(32)) ^ counter[1] ^ np.uint64(key[0]),
        product1 & low,
        (product0 >> np.uint64(32)) ^ counter[3] ^ np.uint64(key[1]),
        product0 & low,
    ]


def buffered_shuffle(count, buffer_size, words):
    """The order `ShuffleDatasetBase::Iterator::GetNextInternal`
    (shuffle_dataset_op.cc) yields `range(count)` in, given its `Random()`
    words, one per element.

    Before each element the buffer is topped up to `buffer_size` from the
    input, in order (`FillBuffer`); then, with `n` elements buffered, the
    one at offset `Random() % n` from the buffer's start goes out and the
    start's element takes its slot. The buffer is a ring indexed by absolute
    positions modulo its size, so laying it over a plain array of `count`
    positions gives the same order: a Fisher-Yates shuffle whose draws reach
    at most `buffer_size` positions ahead.
    """
    position = np.arange(count, dtype=np.int64)
    buffered = np.minimum(count, position + buffer_size) - position
    chosen = (position + (words.astype(np.int64) % buffered)).tolist()
    order = list(range(count))
    for start, picked in enumerate(chosen):
        order[start], order[picked] = order[picked], order[start]
    return np.array(order, dtype=np.int64)
