"""Character-level text, prepared as nanoGPT's `data/shakespeare_char/prepare.py`
prepares Tiny Shakespeare: each distinct character is an id in sorted
order, the first 90% of the text is for training and the rest for validation.

A text problem trains on windows of `block_size` characters, each labelled
by the window one character on (the next character at every position).
Training draws its windows at seeded random offsets (training.py); the
validation text is cut into consecutive windows that cover it once, so its
loss is measured on all of it, the same characters at every evaluation.
The text has no test part (nanoGPT's neither): the test numbers are the
validation text's.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.data import DataError, Dataset

# nanoGPT's shakespeare_char: karpathy/char-rnn's data/tinyshakespeare/input.txt,
# 1,115,394 characters, 65 distinct; Shakespeare's text is public domain.
TEXTS = {"tinyshakespeare": Path(__file__).parent / "texts" / "tinyshakespeare.txt"}
TEXT_SUFFIX = ".txt"  # a user's text file: read as characters
TRAIN_FRACTION = 0.9


def is_text(name):
    return name in TEXTS or name.endswith(TEXT_SUFFIX)


def read(path):
    """The file's text; DataError if it is missing, not UTF-8 or empty."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: not UTF-8 text (byte {error.start} is 0x{error.object[error.start]:02x})"
        ) from None
    if not text:
        raise DataError(f"{path}: the text is empty")
    return text


def encode(text):
    """(ids, vocabulary): each character's index in the sorted distinct characters."""
    vocabulary = "".join(sorted(set(text)))
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    lookup = np.searchsorted(
        np.frombuffer(vocabulary.encode("utf-32-le"), np.uint32), codes
    )
    return lookup.astype("int32"), vocabulary


def split(ids):
    """(training ids, validation ids): the first TRAIN_FRACTION, then the rest."""
    cut = int(len(ids) * TRAIN_FRACTION)
    return ids[:cut], ids[cut:]


@dataclass
class TextDataset(Dataset):
    keeps_weights = True
    vocabulary: str = ""
    block_size: int = 0
    train_ids: np.ndarray = None
    val_ids: np.ndarray = None

    def content(self):
        characters = np.frombuffer(self.vocabulary.encode("utf-32-le"), np.uint32)
        return (characters, self.train_ids, self.val_ids)

    @property
    def identity(self):
        return {**super().identity, "block_size": self.block_size}

    def describe(self):
        return (
            f"{self.name} from {self.source}: {len(self.train_ids):,} characters to "
            f"train on, {len(self.val_ids):,} to validate on, "
            f"{len(self.vocabulary)} distinct; windows of {self.block_size}"
        )


def load(name, block_size):
    """The text `name` (a shipped one, or a .txt file) as windows of `block_size`."""
    path = TEXTS.get(name, Path(name))
    ids, vocabulary = encode(read(path))
    train_ids, val_ids = split(ids)
    for part, part_ids in (("training", train_ids), ("validation", val_ids)):
        if len(part_ids) <= block_size:
            raise DataError(
                f"{path}: its {part} part ({len(part_ids)} characters) is no "
                f"longer than one window of block_size {block_size}; give a "
                "longer text or a smaller block_size"
            )
    x_train, y_train = training_windows(train_ids, block_size)
    x_val, y_val = consecutive_windows(val_ids, block_size)
    source = (
        f"this project's copy ({path.relative_to(Path(__file__).parent.parent)})"
        if name in TEXTS
        else "its .txt file"
    )
    return TextDataset(
        name if name in TEXTS else str(path),
        source,
        x_train,
        y_train,
        x_val,
        y_val,
        x_val,
        y_val,
        validation_fraction=1 - TRAIN_FRACTION,
        label_count=len(vocabulary),
        vocabulary=vocabulary,
        block_size=block_size,
        train_ids=train_ids,
        val_ids=val_ids,
    )


def training_windows(ids, block_size):
    """Every window of the training text (views, not copies): window i is
    ids[i : i + block_size], labelled ids[i + 1 : i + 1 + block_size], as
    nanoGPT's `get_batch` cuts them from offsets below len(ids) − block_size."""
    windows = np.lib.stride_tricks.sliding_window_view
    return windows(ids[:-1], block_size), windows(ids[1:], block_size)


def consecutive_windows(ids, block_size):
    """The text cut into windows end to end (the last partial one left out)."""
    count = (len(ids) - 1) // block_size
    inputs = ids[: count * block_size].reshape(count, block_size)
    labels = ids[1 : count * block_size + 1].reshape(count, block_size)
    return inputs, labels
