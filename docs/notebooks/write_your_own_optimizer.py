# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Write your own optimizer, and benchmark it
#
# **What you will do.** Write Lion (Chen et al. 2023, "Symbolic Discovery
# of Optimization Algorithms") the way this library writes its
# optimizers, one tweak function and one small class; check it step by
# step against its equations in NumPy and against `keras.optimizers.Lion`;
# then sweep it on a shipped problem and read how it stands against the
# project's six stored defaults, without rerunning them.
#
# Lion keeps one average m of the gradient g and steps by its *sign*:
#
# $$c = \beta_1 m + (1-\beta_1)\,g, \qquad \theta \leftarrow \theta - \eta\,\mathrm{sign}(c), \qquad m \leftarrow \beta_2 m + (1-\beta_2)\,g$$
#
# with β1 = 0.9, β2 = 0.99. Every coordinate moves by exactly η each step,
# so its η is several times smaller than Adam's.

# %%
import inspect
from pathlib import Path

import keras
import numpy as np

import experiments  # noqa: F401  (first: it quiets TensorFlow's start-up notices)
from experiments import plugins

here = Path.cwd()  # docs/notebooks, beside lion.py and lion.toml
Lion = plugins.load(f"{here / 'lion.py'}:Lion")
lion_direction = plugins.load(f"{here / 'lion.py'}:lion_direction")

# %% [markdown]
# ## The tweak and the class
#
# [`lion.py`](lion.py) holds both. The tweak is the equation for the step's
# direction; the class follows Keras's contract (`build` makes the slot,
# `update_step` updates one variable, `get_config` saves its settings), and
# subclassing `custom_optimizers.base.WeightDecayOptimizer` brings weight
# decay in both forms, per-layer learning rates and float32 arithmetic for
# low-precision variables, as `SGD` and `Adam` have them.

# %%
print(inspect.getsource(lion_direction))
print(inspect.getsource(Lion.update_step))

# %% [markdown]
# ## Step by step against the equations
#
# The same equations in NumPy, in float64, over 50 steps of random
# gradients whose size spans four decades:

# %%
rng = np.random.default_rng(0)
theta0 = rng.normal(size=(4, 3)).astype("float32")
gradients = [rng.normal(scale=s, size=(4, 3)) for s in np.geomspace(1e-3, 10, 50)]

variable, optimizer = keras.Variable(theta0), Lion(learning_rate=0.01)
theta, m, worst = theta0.astype("float64"), np.zeros((4, 3)), 0.0
for g in gradients:
    optimizer.apply([keras.ops.convert_to_tensor(g, "float32")], [variable])
    c = 0.9 * m + 0.1 * g
    theta, m = theta - 0.01 * np.sign(c), 0.99 * m + 0.01 * g
    worst = max(worst, np.abs(variable.numpy() - theta).max())
print(f"largest difference from the NumPy reference over 50 steps: {worst:.2g}")

# %% [markdown]
# And against Keras's own Lion, training the same small network on the
# same batches: the two give the same weights.

# %%
x = rng.normal(size=(640, 20)).astype("float32")
y = (x[:, :3] + 0.3 * rng.normal(size=(640, 3))).argmax(1)


def trained(optimizer):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3)])  # fmt: skip
    model.compile(
        optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    return model.get_weights()


ours, theirs = trained(Lion(1e-3)), trained(keras.optimizers.Lion(1e-3))
print("largest weight difference from keras.optimizers.Lion:",
      max(np.abs(a - b).max() for a, b in zip(ours, theirs, strict=True)))  # fmt: skip

# %% [markdown]
# ## Benchmark it against the stored baselines
#
# [`lion.toml`](lion.toml) names the class by its file, `class =
# "lion.py:Lion"`, and runs it on `mnist_small_mlp` under the protocol of
# that problem's stored baselines (8 epochs, batches of 64, the offline
# digits, the test set after every epoch). The full benchmark, its grid
# of 7 learning rates and the best on 3 seeds, is one command:
#
# ```
# python -m experiments.sweep --config docs/notebooks/lion.toml --rerun-best 3
# ```
#
# Here, to stay within seconds, two learning rates and one seed, through the
# sweep's Python API (`experiments/sweep/api.py`: load a config with
# overrides, run it, and its report is written):

# %%
import tempfile  # noqa: E402

from experiments.sweep import api  # noqa: E402

logdir = Path(tempfile.mkdtemp())
config = api.load(here / "lion.toml", grid={"learning_rate": [1e-4, 3e-4]}, workers=1)
failed = api.run(config, logdir, offline=True)
summary = (api.folder(config, logdir) / "summary.md").read_text()
print(summary[summary.index("## mnist_small_mlp beside its stored baselines") :])

# %% [markdown]
# The report ranked Lion among the six stored defaults, marked `(stored)`:
# same problem, same protocol, so their numbers stand beside Lion's
# without a rerun. With one seed it gives Lion no rank and no verdict;
# `--rerun-best 3` measures its best on three more seeds, apart from the
# tuning seed. Its per-epoch validation curve beside theirs:

# %%
from IPython.display import Image, display  # noqa: E402

display(Image(filename=str(logdir / "lion" / "stored_mnist_small_mlp.png")))

# %% [markdown]
# ## What to look at in TensorBoard
#
# `tensorboard --logdir logs/lion` shows each run. Three things tell Lion
# apart:
#
# - **`optimizer/first_update_norm`** (train): Lion's first step moves
#   every weight with a gradient by exactly η, so its norm is η·√N for N
#   such weights, whatever the gradients' size. Adam's first step is also
#   about η per weight; gradient descent's is η·‖g‖.
# - **`optimizer/update_norm`** (train, per epoch): how far the weights
#   moved in the epoch; Lion's stays large late in training, since a sign
#   never shrinks.
# - The **HPARAMS** tab: Lion's runs with their learning rate, `beta_1`
#   and `beta_2`, beside the final metrics.
#
# The first of those, read back from the run's event file: (norm / η)² counts
# the weights that moved. It is far from all of them: a pixel that is 0 in
# every image of the first batch (the digits' borders, and more), or a ReLU
# unit off for all of it, gives its weights no gradient, and sign(0) = 0
# leaves them where they are.

# %%
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402

run = logdir / "lion" / "mnist_small_mlp" / "lion" / "lr=0.0001"
log = EventAccumulator(str(run / "train"), size_guidance={"tensors": 0})
log.Reload()
(first,) = [float(make_ndarray(e.tensor_proto))
            for e in log.Tensors("optimizer/first_update_norm")]  # fmt: skip
weights = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
moved = round((first / 1e-4) ** 2)
print(f"first update norm {first:.5f} = η·√N for N = {moved} of the {weights} weights")
print("runs that failed:", len(failed))


# %% [markdown]
# ## What the full benchmark said
#
# `python -m experiments.sweep --config docs/notebooks/lion.toml --rerun-best 3`
# took 36 s of wall time here (10 runs: 7 learning rates on the tuning
# seed 0, then the best on evaluation seeds 1, 2 and 3; in one process on
# this project's 2-core AMD EPYC, 2026-12-07, beside another sweep). Its
# report, beside the stored baselines (columns cut to the verdict):
#
# | rank | optimizer | best lr | val accuracy | against the best | difference (points, 95%) | tuned over |
# |---:|---|---:|---:|---|---:|---:|
# | 1 | adamw (stored) | 0.003 | 94.67% ± 2.35 (3 seeds) | best | – | 9 settings × 1 seed |
# | 1 | momentum (stored) | 0.1 | 94.25% ± 1.24 (3 seeds) | cannot tell apart with these seeds | -0.42 (-2.37 to +1.54) | 9 settings × 1 seed |
# | 1 | adam (stored) | 0.001 | 94.08% ± 1.90 (3 seeds) | cannot tell apart with these seeds | -0.58 (-2.57 to +1.40) | 9 settings × 1 seed |
# | 1 | momentum_l2 (stored) | 0.03 | 93.67% ± 2.00 (3 seeds) | cannot tell apart with these seeds | -1.00 (-3.01 to +1.01) | 9 settings × 1 seed |
# | 1 | nesterov (stored) | 0.03 | 93.25% ± 1.86 (3 seeds) | cannot tell apart with these seeds | -1.42 (-3.39 to +0.56) | 9 settings × 1 seed |
# | 3 | lion | 0.0003 | 92.67% ± 1.29 (3 seeds) | worse | -2.00 (-3.95 to -0.05) | 7 settings × 1 seed |
# | 1 | sgd (stored) | 0.3 | 89.58% ± 11.13 (3 seeds) | cannot tell apart with these seeds | -5.08 (-15.61 to +5.45) | 9 settings × 1 seed |
#
# "Differences under 1.73 points are invisible here", the report adds, and
# that the entries were tuned over unequal budgets (Lion's grid has 7
# rates, the stored ones 9). Lion at its best η, 3e-4, trails the best
# (AdamW) by 2.0 points, and Welch's interval just excludes 0, so the
# report calls it worse. On the machine of an earlier session the same
# command gave the same mean with a wider spread over its seeds (± 2.18)
# and an interval that just reached 0 (−4.07 to +0.07): a verdict that
# flips with a CPU's rounding is a borderline one, about two points behind
# at the edge of what three seeds resolve. Before the tuning seed was kept
# out of the measurement, the same comparison called Lion *worse* (by 1.6
# points, against momentum): seed 0, the one that picked each η, had lifted
# the stored entries' means. Lion's paper reports its gains on large vision
# and language models; on this small MLP and 3,600 digits, in 8 epochs,
# nothing here shows one.
