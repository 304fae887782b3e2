"""Paths of the library's optimizers on the 2-D surfaces: each step applied
by the real custom_optimizers classes to a Keras variable, with autodiff
gradients; many start points (and many η) at once, as rows of one variable.
"""

import numpy as np


def trajectory(surface, optimizer, steps, start=None, seed=0):
    """Positions (steps+1, 2) and losses (steps+1,) of `optimizer` on `surface`.

    The path ends early, marked by fewer rows, once the position or loss is
    not finite or the position is far off the plot.
    """
    return trajectories(surface, optimizer, steps, [start or surface.start], seed)[0]


def trajectories(surface, optimizer, steps, starts, seed=0, groups=1):
    """`trajectory` from each of `starts` at once: a list of (positions, losses).

    One (len(starts), 2) variable holds every start, and its loss is the sum
    of f over the rows, so each row's gradient is its own point's ∇f and
    every optimizer here, being element-wise, moves each row exactly as it
    would move that point alone. A path that ends stops being recorded; its
    row goes on but touches no other. With `groups` > 1 the starts are split
    into that many variables, `rate_0`, `rate_1`, ... (see `at_rates`).
    """
    import keras

    from experiments import backend

    rng = np.random.default_rng(seed)
    chunks = np.split(np.asarray(starts, "float32").reshape(-1, 2), groups)
    thetas = [keras.Variable(c, name=f"rate_{i}") for i, c in enumerate(chunks)]
    x_min, x_max, y_min, y_max = surface.extent
    limit = 10 * max(x_max - x_min, y_max - y_min)
    count = len(starts)
    positions = np.full((steps + 1, count, 2), np.nan, "float32")
    losses = np.full((steps + 1, count), np.nan)
    lengths = np.full(count, steps + 1)
    going = np.ones(count, bool)

    def summed_loss(*values):
        stacked = keras.ops.concatenate(values, 0)
        return keras.ops.sum(surface.function(stacked[:, 0], stacked[:, 1]))

    for step in range(steps + 1):
        position = np.concatenate([keras.ops.convert_to_numpy(t) for t in thetas])
        with np.errstate(invalid="ignore", over="ignore"):
            loss_value = surface.function(position[:, 0], position[:, 1])
            ended = going & ~(
                np.isfinite(position).all(1)
                & np.isfinite(loss_value)
                & (np.abs(position).max(1) <= limit)
            )
        lengths[ended] = step
        going &= ~ended
        positions[step, going] = position[going]
        losses[step, going] = loss_value[going]
        if step == steps or not going.any():
            break
        _, gradients = backend.value_and_gradients(summed_loss, thetas)
        if surface.gradient_noise:
            noise = rng.normal(0, surface.gradient_noise, (count, 2)).astype("float32")
            gradients = [
                keras.ops.add(g, n) for g, n in zip(gradients, np.split(noise, groups))
            ]
        optimizer.apply_gradients(zip(gradients, thetas))
    return [(positions[: lengths[i], i], losses[: lengths[i], i]) for i in range(count)]


def at_rates(surface, name, learning_rates, steps, starts, seed=0, **hyperparameters):
    """{η: `trajectories` of optimizer `name` at η}, every η in one optimizer.

    The optimizer runs at η = 1 and gives each η's variable (`rate_<i>`) the
    per-layer multiplier η: its step is then 1·η, the same float32 number
    as η itself, so each path is the one a run at that η alone would take.
    """
    import custom_optimizers

    multipliers = {f"^rate_{i}$": float(rate) for i, rate in enumerate(learning_rates)}
    optimizer = custom_optimizers.get(
        name,
        learning_rate=1.0,
        learning_rate_multipliers=multipliers,
        **hyperparameters,
    )
    paths = trajectories(
        surface, optimizer, steps, list(starts) * len(learning_rates), seed,
        groups=len(learning_rates),
    )  # fmt: skip
    count = len(starts)
    return {
        rate: paths[i * count : (i + 1) * count]
        for i, rate in enumerate(learning_rates)
    }


def run(surface, optimizer_names, learning_rate, steps, start=None):
    import custom_optimizers

    return {
        name: trajectory(
            surface,
            custom_optimizers.get(name, learning_rate=learning_rate),
            steps,
            start,
        )
        for name in optimizer_names
    }
