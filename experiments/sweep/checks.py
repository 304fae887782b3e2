"""Every check of a whole sweep, before anything is written: names, numbers,
each optimizer table built with each value the grid gives it, per-layer
patterns and the starting weights against the models. The checks change nothing:
`reading.load` hands them a config already in its one form.
Imports no TensorFlow (Keras only when an optimizer or model is built).
"""

from experiments import cli, data
from experiments.cli import UsageError
from experiments.problems import PROBLEMS
from experiments.sweep import axes, optimizer_tables
from experiments.sweep.config import start_key
from experiments.sweep.optimizer_tables import applies_to, probe, uses


def check(config, rerun_best):
    """Every check of a whole sweep; UsageError at the first that fails."""
    _check_names(config)
    if "learning_rate" not in config.grid and not all(
        "learning_rate" in settings.get("grid", {})
        for settings in config.optimizers.values()
    ):
        raise UsageError("no learning rate given; give one or more positive numbers")
    axes.axis("seed").check(config.seed)
    _check_schedule_settings(config)
    if rerun_best < 0 or (rerun_best and "seed" in config.grid):
        raise UsageError(
            "--rerun-best N needs N >= 1 evaluation seeds and no --seeds/seeds "
            f"(the grid tunes on --seed; the N seeds after it evaluate), got {rerun_best}"
        )
    if rerun_best and config.seed + rerun_best > cli.MAX_SEED:
        raise UsageError(
            f"--rerun-best {rerun_best} after tuning seed {config.seed} needs seeds up "
            f"to {config.seed + rerun_best}; the largest is {cli.MAX_SEED}"
        )
    _check_numbers(config)
    problem_list = config.problem_list()
    for label, settings in config.optimizers.items():
        optimizer_tables.check_table(label, settings, problem_list)
        if settings.get("learning_rate_multipliers"):
            _check_multipliers(label, settings, problem_list)
    _check_optimizer_axes(config)
    _check_argument_values(config)
    if config.start_from:
        _check_start(config, rerun_best)


def _check_names(config):
    """Problems or models and dataset; every name that becomes a folder (the
    sweep's, each problem's, each optimizer table's label) a plain folder
    name, before anything is written (the tables' contents are checked by
    optimizer_tables.check_table)."""
    from experiments import models

    cli.folder_name(config.name, "sweep name")
    if config.problems:
        for name in config.problems:
            cli.folder_name(name, "problem name")
        known = [*PROBLEMS, *(n for n, table in config.problems.items() if table)]
        cli.names(list(config.problems), list(dict.fromkeys(known)), "problem")
    else:
        cli.names(config.models, models.MODELS, "model")
        cli.names([config.dataset], data.DATASETS, "dataset")
    for label in config.optimizers:
        cli.folder_name(label, "optimizer label")
    if config.data_source not in (data.ANY_SOURCE, data.EMBEDDED):
        raise UsageError(
            f"data_source must be {data.ANY_SOURCE!r} or {data.EMBEDDED!r}, "
            f"got {config.data_source!r}"
        )


def _check_numbers(config):
    for key, least in (("epochs", 1), ("batch_size", 1), ("max_train_samples", 0)):
        value = getattr(config, key)
        if value is not None and value < least:
            raise UsageError(f"{key} must be an integer >= {least}, got {value!r}")
    if config.epochs and any(p.steps for p in config.problem_list()):
        raise UsageError(
            "epochs does not apply to a problem trained for steps "
            f"({', '.join(p.folder for p in config.problem_list() if p.steps)}); "
            "give its [problems.<name>] table steps instead"
        )
    if not config.divergence_loss > 0:
        raise UsageError(
            f"divergence_loss must be positive, got {config.divergence_loss}"
        )
    if not 0 <= config.validation_fraction < 1:
        raise UsageError(
            f"validation_fraction must be in [0, 1) (0: hold nothing out, as "
            f"DeepOBS), got {config.validation_fraction}"
        )


def _check_optimizer_axes(config):
    """An optimizer argument on the grid must be used by one of the sweep's optimizers."""
    import custom_optimizers

    for axis in axes.of(config.grid):
        if not axis.is_argument or axis.name not in config.grid:
            continue
        if not any(
            uses(probe(label, settings), axis.name)
            for label, settings in config.optimizers.items()
        ):
            users = [
                name
                for name in custom_optimizers.available()
                if uses(custom_optimizers.get(name), axis.name)
            ]
            elsewhere = (
                f"it applies to optimizers that do, such as {', '.join(users)}"
                if users
                else "a grid axis is one of "
                + ", ".join(a.name for a in axes.AXES)
                + ", or a keyword of an optimizer's constructor"
            )
            raise UsageError(
                f"grid {axis.name}: none of this sweep's optimizers "
                f"({', '.join(config.optimizers)}) uses {axis.name}; {elsewhere}"
            )


def _check_argument_values(config):
    """Each gridded optimizer argument against each optimizer that uses it,
    by the optimizer's own rule: it is built with every value."""
    for label, settings in config.optimizers.items():
        grid = {**config.grid, **optimizer_tables.own_grid(settings)}
        built = probe(label, settings)
        for axis in axes.of(grid):
            if not axis.is_argument or not uses(built, axis.name):
                continue
            _check_argument_type(label, built, axis.name, grid.get(axis.name, []))
            for value in grid.get(axis.name, []):
                try:
                    optimizer_tables.checked_build(
                        label, settings, **{axis.name: value}
                    )
                except UsageError as error:
                    raise UsageError(f"grid {axis.name}: {error}") from None


def _check_argument_type(label, built, name, values):
    """Each value of a gridded argument of the kind the constructor's default
    is (true or false, a number, a text); UsageError naming it. A keyword
    without such a default takes what its constructor accepts."""
    default = optimizer_tables.keywords(type(built))[name].default
    expected = _kind(default)
    for value in values:
        if expected and _kind(value) != expected:
            raise UsageError(
                f"grid {name}: optimizer {label} takes {name} as {expected} (its "
                f"default is {default!r}), got {value!r}"
            )


def _kind(value):
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "a text" if isinstance(value, str) else None


def _check_multipliers(label, settings, problem_list):
    """Every per-layer pattern against each model it applies to, before any run."""
    from custom_optimizers.base import resolve_multipliers
    from experiments import models

    patterns = settings["learning_rate_multipliers"]
    shipped = [
        p.model
        for p in problem_list
        if applies_to(settings, p) and p.model in models.MODELS
    ]
    for name in dict.fromkeys(shipped):  # a user's model is checked at its first run
        paths = [v.path for v in models.build(name, seed=0).trainable_variables]
        try:
            resolve_multipliers(patterns, paths)
        except ValueError as error:
            raise UsageError(
                f"optimizer {label} on model {name}: {error} (list the models it "
                f"applies to with models = [...] in [optimizers.{label}])"
            ) from None


def _check_schedule_settings(config):
    fractions = config.step_fractions
    if (
        not fractions
        or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 1
            for f in fractions
        )
        or list(fractions) != sorted(set(fractions))
    ):
        raise UsageError(
            f"step_fractions must be increasing numbers in (0, 1), got {fractions!r}"
        )
    cli.number(
        config.step_factor, "step_factor must be in (0, 1]", lambda x: 0 < x <= 1
    )
    cli.number(
        config.warmup_fraction, "warmup_fraction must be in (0, 1)", lambda x: 0 < x < 1
    )
    cli.number(
        config.final_fraction, "final_fraction must be in [0, 1)", lambda x: 0 <= x < 1
    )


def _start_keys(config):
    """The start run each of the sweep's runs looks up (`config.start_key`),
    each once; a table that trains from scratch looks up none."""
    keys = {}
    for problem in config.problem_list():
        for label, settings in config.optimizers.items():
            if applies_to(settings, problem) and not settings.get("from_scratch"):
                for seed in config.axis_values(label, settings, problem)["seed"]:
                    keys[start_key(problem, seed)] = None
    return list(keys)


def _check_start(config, rerun_best):
    """Each run has one run of `start_from`'s sweep to start from (its
    problem and seed), and each new layer is a layer of the model."""
    from experiments import models

    if rerun_best:
        raise UsageError("--rerun-best does not combine with start_from; give seeds")
    start = config.start_from
    for key in _start_keys(config):
        found = start["runs"].get(key, [])
        if len(found) != 1:
            raise UsageError(
                f"start_from: {start['sweep']} has {len(found)} runs of {key}; "
                "each run here starts from exactly one"
            )
    shipped = [p.model for p in config.problem_list() if p.model in models.MODELS]
    for model in dict.fromkeys(shipped):  # a user's model: at its first run
        layers = [layer.name for layer in models.build(model, 0).layers]
        for layer in start["new_layers"]:
            if layer not in layers:
                raise UsageError(
                    f"start_from.new_layers: {model} has no layer {layer!r}; "
                    f"its layers: {', '.join(layers)}"
                )
