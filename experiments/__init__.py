"""Experiments on the custom optimizers: sweeps, reports, 2-D landscapes, tools.

Every job is `python -m experiments.<job>`; importing this package first
quiets TensorFlow's C++ start-up logging, in every job and every Ray worker.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
