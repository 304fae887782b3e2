"""Experiments on the custom optimizers: sweeps, reports, 2-D landscapes, tools.

Every job is `python -m experiments.<job>`. Importing this package first
sets what the backends read only when they start, in every job and every
Ray worker, through their documented settings (a user's own value wins):

- `TF_CPP_MIN_LOG_LEVEL=3` drops TensorFlow's C++ notices (oneDNN, CPU
  features);
- on a GPU, repeatable runs (`backend.make_repeatable`): JAX's XLA flag
  `--xla_gpu_deterministic_ops` and cuBLAS's `CUBLAS_WORKSPACE_CONFIG`,
  which PyTorch's deterministic algorithms require;
- on a GPU, memory taken as a run needs it, so runs can share one
  (`--gpus-per-run`): JAX's `XLA_PYTHON_CLIENT_PREALLOCATE=false` and
  TensorFlow's `TF_FORCE_GPU_ALLOW_GROWTH=true` (each otherwise takes most of
  the GPU's memory when it starts; PyTorch allocates as it goes).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
if "--xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(
        filter(None, [os.environ.get("XLA_FLAGS"), "--xla_gpu_deterministic_ops=true"])
    )
