"""A sweep's finished runs, read from their folders: one dict per run.

Reads each finished run's run.json and result.json (unfinished runs are
left out, unreadable ones skipped with a warning), and adds each run's
time to result. Imports no TensorFlow.
"""

import csv
import json
import math
import sys
from pathlib import Path

from experiments import cli
from experiments.report import baselines, judging
from experiments.report.columns import DECAY_AXIS, REPEAT_AXIS, run_columns
from experiments.report.statistics import epochs_to, usable
from experiments.sweep import axes
from experiments.sweep.run_files import (
    CONFIG_FILE,
    EPOCHS_FILE,
    RESULT_FILE,
    SWEEP_FILE,
    UnreadableRun,
)
from experiments.sweep.migrations import read_run
from experiments.sweep.spec import RunSpec


def load_runs(sweep_dir):
    """(One dict per finished run of the sweep's current grid, how many other
    finished runs the folder holds): the run columns plus each run's history.

    Its `optimizer` is the entry the report ranks: the optimizer, plus each
    compared axis away from its default (`sgd+cosine`). The current grid is
    the settings sweep.json lists (all runs where it lists none). A run
    whose files are cut short, of the wrong type or missing keys is
    skipped with one warning naming the file.
    """
    sweep_dir = Path(sweep_dir)
    current = current_settings(sweep_dir)
    tuning = tuning_seeds(sweep_dir)
    runs_found, left_out = [], 0
    for result_path in sorted(sweep_dir.rglob(RESULT_FILE)):
        run_dir = result_path.parent
        try:
            spec, row = _read_row(run_dir)
        except UnreadableRun as error:
            print(f"warning: report skips {run_dir}: {error}", file=sys.stderr)
            continue
        if current is not None and str(spec.setting_folder) not in current:
            left_out += 1
            continue
        if tuning is not None:
            row["tuning_seed"] = row[REPEAT_AXIS] in tuning
        runs_found.append(row)
    _mark_decay_grids(runs_found)
    _name_own_values(runs_found)
    add_time_to_target(runs_found)
    runs_found.sort(key=lambda r: (r["problem"], r["optimizer"], *_sort_key(r)))
    return runs_found, left_out


def _read_row(run_dir):
    config, result = read_run(run_dir)
    try:
        spec = RunSpec.from_identity(config["run"], config["problem"])
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableRun(f"{CONFIG_FILE} run is not a run's settings ({error!r})")
    try:  # they name the report's figures
        cli.folder_name(spec.problem.folder, "problem")
        cli.folder_name(spec.optimizer, "optimizer")
    except cli.UsageError as error:
        raise UnreadableRun(f"{CONFIG_FILE}: {error}") from None
    return spec, _run_row(spec, config, result, run_dir)


def current_settings(sweep_dir):
    """The settings sweep.json says this sweep's grid has; None where it says
    none, with a warning when the file is there but damaged."""
    path = sweep_dir / SWEEP_FILE
    if not path.exists():
        return None
    try:
        settings = json.loads(path.read_text()).get("settings")
    except (OSError, ValueError, AttributeError) as error:
        reason = "empty" if not path.stat().st_size else repr(error)
        settings = f"unreadable ({reason})"
    if isinstance(settings, list) and all(isinstance(s, str) for s in settings):
        return set(settings)
    if settings is not None:  # an old sweep.json lists none: every run counts
        print(
            f"warning: {path} is damaged ({str(settings)[:200]}); the report "
            "ranks every finished run in the folder",
            file=sys.stderr,
        )
    return None


def tuning_seeds(sweep_dir):
    """The seeds the sweep's grid runs on, as sweep.json records its config
    (its `seed`, or its grid's seeds); None where it does not say."""
    try:
        config = json.loads((sweep_dir / SWEEP_FILE).read_text())
        seeds = config.get("grid", {}).get(REPEAT_AXIS) or [config[REPEAT_AXIS]]
        return {int(seed) for seed in seeds}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def sweeps_inside(folder):
    """The sweep folders below `folder` (not `folder` itself)."""
    folder = Path(folder)
    return sorted(
        p.parent.relative_to(folder)
        for p in folder.rglob(SWEEP_FILE)
        if p.parent != folder
    )


def _mark_decay_grids(runs):
    """`in_decay_grid`: the run's entry ran over a weight-decay grid (its run
    at the optimizer's own decay has no `wd` in its folder, yet belongs)."""
    gridded = {(r["problem"], r["optimizer"]) for r in runs if r["in_decay_grid"]}
    for run in runs:
        run["in_decay_grid"] = (run["problem"], run["optimizer"]) in gridded


def _name_own_values(runs):
    """A declared optimizer axis that an entry's grid varies (`adam` over
    epsilon = 1e-8, 1e-3) names its value in every run of the entry: also
    in the run at the optimizer's own value, whose folder leaves it out
    (`adam+epsilon=1e-08`), by the value its optimizer recorded."""
    declared = [a.name for a in axes.AXES if a.is_argument]
    varied = {}
    for run in runs:
        varied.setdefault((run["problem"], run["base_optimizer"]), set()).update(
            name for name in declared if run["spec"].values[name] is not None
        )
    for run in runs:
        spec = run["spec"]
        own = {
            name: run[name]
            for name in varied[(run["problem"], run["base_optimizer"])]
            if spec.values[name] is None
        }
        if own:
            arguments = {name: run[name] for name in run["argument_axes"]}
            values = {**spec.values, **arguments, **own}
            run["optimizer"] = axes.entry_label(spec.optimizer, values, spec.problem)


def _run_row(spec, config, result, run_dir):
    # Gridded arguments beyond AXES; the run at the optimizer's own value
    # (None in its folder) is named by that value, read from its config.
    arguments = {
        name: config.get("optimizer_config", {}).get(name)
        if spec.values[name] is None
        else spec.values[name]
        for name in axes.arguments(spec.values)
    }
    values = {**spec.values, **arguments}
    return {
        "problem": spec.problem.folder,
        "metric": spec.problem.metric,
        "model": spec.model,
        "dataset": spec.dataset,
        **spec.values,
        **{k: result[k] for k in run_columns() if k in result},
        **config["hyperparameters"],  # the optimizer's values of its axes
        **arguments,
        "argument_axes": tuple(arguments),
        "spec": spec,  # for what needs the other runs too (_name_own_values)
        "optimizer": axes.entry_label(spec.optimizer, values, spec.problem),
        "base_optimizer": spec.optimizer,
        "optimizer_class": config["optimizer_class"],
        "data_source": config["data"]["source"],
        "validation_fraction": config["data"].get("validation_fraction"),
        "train_samples": config["data"]["train"],
        "params": config["params"],
        "backend": config["backend"],
        "history": result["history"],
        "folder": str(spec.folder),
        "epochs": _epochs_file(run_dir),
        "first_batch_losses": result.get("first_batch_losses", []),
        "in_decay_grid": spec.values[DECAY_AXIS] is not None,
        # What stored baselines must share to be compared (report/baselines.py).
        "protocol": {
            "epochs": spec.epochs,
            "batch_size": spec.values["batch_size"],
            "divergence_loss": spec.divergence_loss,
            "model": spec.model,
            "model_code": config["run"].get("model_code"),
            **json.loads(json.dumps(spec.problem.recorded())),
            "metric": spec.problem.metric,
            "data": config["data"],
        },
    }


def _epochs_file(run_dir):
    """The run's epochs.csv as {column: [value per epoch]} ({} if it has none)."""
    try:
        with open(run_dir / EPOCHS_FILE) as f:
            rows = list(csv.DictReader(f))
        return {
            key: [float(row[key]) for row in rows] for key in (rows[0] if rows else ())
        }
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, csv.Error, TypeError, ValueError) as error:
        raise UnreadableRun(f"{EPOCHS_FILE} unreadable ({error})") from None


def add_time_to_target(runs):
    """Adds each run's time to result: `epochs_to_target`, the first epoch
    (evaluation) whose judged value reached its problem's `target`, and
    `seconds_to_target`, the training time to the end of that epoch (from
    epochs.csv; without it, the run's time shared equally among its epochs).
    NaN for a run that never got there."""
    targets = time_targets(runs)
    for run in runs:
        run["target"], run["target_from"] = targets[run["problem"]]
        curve = run["history"].get(judging.metric(run), [])
        reached = epochs_to(run, curve, run["target"])
        run["epochs_to_target"] = run["seconds_to_target"] = math.nan
        if reached is None:
            continue
        run["epochs_to_target"] = reached
        seconds = run["epochs"].get("seconds")
        run["seconds_to_target"] = (
            seconds[reached - 1]
            if seconds
            else run.get("seconds", math.nan) * reached / len(curve)
        )


def time_targets(runs):
    """{problem: (target, where it comes from)}: the one stored with the
    problem's baselines where the sweep's protocol matches them, so that it
    means the same in every sweep; else judging.target of this sweep's best."""
    targets = {}
    firsts = {run["problem"]: run for run in runs if "protocol" in run}
    for problem, run in firsts.items():
        stored = next(
            (b for b in baselines.stored(problem)
             if judging.metric(run) in b["protocol"].get("target", {})
             and not baselines.differences(b, run["protocol"])),
            None,
        )  # fmt: skip
        if stored:
            targets[problem] = (
                stored["protocol"]["target"][judging.metric(run)],
                f"stored with its baselines ({stored['file']})",
            )
    best = {}
    for run in runs:
        value = judging.value(run)
        if not run["diverged"] and usable(value):
            best[run["problem"]] = max(
                best.get(run["problem"], value),
                value,
                key=lambda v: judging.score(run, v),
            )
    for run in runs:
        targets.setdefault(
            run["problem"],
            (judging.target(run, best.get(run["problem"], math.nan)),
             judging.target_rule(run, "this sweep's")),
        )  # fmt: skip
    return targets


def _sort_key(row):
    """Axes in AXES' order (the tuned first, the seed last), a run's own
    arguments before the seed; an unset axis before any value."""
    order = [a.name for a in axes.of(row["argument_axes"])]
    return [
        (
            row.get(name) is not None,
            row.get(name)
            if isinstance(row.get(name), (int, float))
            else str(row.get(name)),
        )
        for name in order
    ]
