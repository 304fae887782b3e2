"""What the experiments do differently on each Keras backend, in one place:
making a run repeatable, sharing a machine's cores, and taking gradients.

Everything else in `experiments/` is written in Keras and NumPy, so a
sweep, its TensorBoard logs and its report work on TensorFlow, JAX and
PyTorch alike; TensorFlow stays the default (`KERAS_BACKEND` picks).
"""

import logging

import keras


def name():
    return keras.backend.backend()


def make_repeatable():
    """The same run twice gives the same numbers.

    TensorFlow needs op determinism (GPU kernels, and a CPU's parallel
    reductions); PyTorch its deterministic algorithms (GPU kernels; cuBLAS
    also needs `CUBLAS_WORKSPACE_CONFIG`, which `experiments/__init__.py`
    sets before CUDA starts). JAX's XLA is deterministic on a CPU; on a GPU
    it needs `--xla_gpu_deterministic_ops`, also set there, before JAX starts.
    """
    if name() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif name() == "torch":
        import torch

        torch.use_deterministic_algorithms(True)


def quiet_keras_step_retracing():
    """Drops TensorFlow's "triggered tf.function retracing" warning about
    Keras's own train and test step (`TensorFlowTrainer._make_function`),
    which runs that diverge in their first steps set off: docs/faults.md
    says why. A warning about any other function still shows."""
    if name() == "tensorflow":
        logging.getLogger("tensorflow").addFilter(_not_keras_step_retracing)


def _not_keras_step_retracing(record):
    message = record.getMessage()
    return not (
        "triggered tf.function retracing" in message
        and "TensorFlowTrainer._make_function" in message
    )


def use_threads(count):
    """At most `count` threads for a run's math, where the backend lets a
    running process choose (TensorFlow: only before its first op, so a
    reused Ray worker keeps its first run's; PyTorch: any time). JAX's XLA
    takes its threads when it starts and ignores this."""
    if name() == "tensorflow":
        import tensorflow as tf

        threading = tf.config.threading
        if threading.get_intra_op_parallelism_threads() != count:
            try:
                threading.set_intra_op_parallelism_threads(count)
                threading.set_inter_op_parallelism_threads(count)
            except RuntimeError:
                pass
    elif name() == "torch":
        import torch

        torch.set_num_threads(count)


def threads():
    """The threads a run's math uses now (JAX: None, XLA does not say).

    A CNN's numbers depend on how many threads its convolutions sum in."""
    if name() == "tensorflow":
        import os

        import tensorflow as tf

        return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    if name() == "torch":
        import torch

        return torch.get_num_threads()
    return None


def gpu_count():
    """The GPUs this process's backend sees."""
    if name() == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if name() == "jax":
        import jax

        return sum(device.platform == "gpu" for device in jax.devices())
    import torch

    return torch.cuda.device_count()


def value_and_gradients(function, variables):
    """(function(*values), its gradients with respect to `variables`), by
    the backend's own autodiff; `function` is written in keras.ops."""
    if name() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = function(*variables)
        return value, tape.gradient(value, variables)
    if name() == "jax":
        import jax

        return jax.value_and_grad(function, argnums=tuple(range(len(variables))))(
            *(v.value for v in variables)
        )
    import torch

    values = [v.value for v in variables]
    value = function(*values)
    return value, torch.autograd.grad(value, values)
