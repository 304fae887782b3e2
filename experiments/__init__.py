"""Experiments on the custom optimizers: sweeps, reports, 2-D landscapes, tools.

Every job is `python -m experiments.<job>`. Importing this package first
quiets TensorFlow's start-up, in every job and every Ray worker, through
TensorFlow's documented setting: `TF_CPP_MIN_LOG_LEVEL=3` drops its C++
notices (oneDNN, CPU features), as long as it is set before `tensorflow`
is first imported. A user's own value wins.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
