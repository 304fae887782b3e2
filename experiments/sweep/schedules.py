"""How η changes over a run: the `schedule` axis's values and their settings."""

# Each schedule and the settings it uses, with their defaults (a sweep's
# `step_fractions`, `step_factor` and `warmup_fraction` override them).
SCHEDULE_SETTINGS = {
    "constant": (),
    "step": ("step_fractions", "step_factor"),
    "cosine": ("final_fraction",),
    "warmup_cosine": ("warmup_fraction", "final_fraction"),
}
SCHEDULES = tuple(SCHEDULE_SETTINGS)
SETTING_DEFAULTS = {
    "step_fractions": [0.5, 0.75],  # step: when η is multiplied by step_factor
    "step_factor": 0.1,
    "warmup_fraction": 0.05,  # warmup_cosine: share of training spent warming up
    "final_fraction": 0.0,  # cosine, warmup_cosine: η at the end, as a share of η
}
# Settings a run records only away from their default: runs from before
# they existed had the default and still match.
RECORDED_AWAY_FROM_DEFAULT = ("final_fraction",)


def make_schedule(name, learning_rate, total_steps, **settings):
    """η over training, built from `keras.optimizers.schedules` (so it serializes).

    constant: η throughout. step: η, multiplied by `step_factor` at each of
    `step_fractions` of training. cosine: η·(1 + cos(π·t/T))/2, down to 0
    at the end. warmup_cosine: linearly from 0 to η over the first
    `warmup_fraction` of training (at least one step, and at most all but
    the last), then cosine to 0; a run of one step takes it at η. With a
    `final_fraction` f, cosine ends at f·η instead of 0 (nanoGPT's min_lr).
    """
    import keras

    settings = {**SETTING_DEFAULTS, **settings}
    schedules = keras.optimizers.schedules
    if name == "constant":
        return learning_rate
    if name == "step":
        # PiecewiseConstantDecay keeps a value up to and including its boundary.
        fractions, factor = settings["step_fractions"], settings["step_factor"]
        boundaries = [max(0, round(f * total_steps) - 1) for f in fractions]
        values = [learning_rate * factor**i for i in range(len(boundaries) + 1)]
        return schedules.PiecewiseConstantDecay(boundaries, values)
    final = settings["final_fraction"]
    if name == "cosine":
        return schedules.CosineDecay(learning_rate, total_steps, alpha=final)
    if name == "warmup_cosine":
        # At least one step of warm-up and one of decay; a one-step run has
        # no room for warm-up and takes its step at η.
        warmup = round(settings["warmup_fraction"] * total_steps)
        warmup = min(max(1, warmup), total_steps - 1)
        if warmup < 1:
            return schedules.CosineDecay(learning_rate, total_steps, alpha=final)
        return schedules.CosineDecay(
            0.0,
            decay_steps=total_steps - warmup,
            alpha=final,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
    raise ValueError(f"Unknown schedule {name!r}; known: {', '.join(SCHEDULES)}.")
