"""Stored baselines: what the project's default optimizers reached on each
shipped problem (`python -m experiments.store_baselines`), and DeepOBS's
published runs of fmnist_2c2d, one file each in experiments/baselines/, in
one format; and which of a sweep's problems can be held against them.

A baseline file holds its problem, its source (and citation), the command
that made it and its wall time, its protocol (epochs, batch size, the grid,
the data's identity, the TensorFlow threads), and per entry: the final
results over its grid, and at its best η the per-epoch curves of each seed.
A sweep is compared with a stored baseline only under the same protocol:
every key the baseline's protocol states must match the sweep's.
"""

import glob
import json
import math
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from experiments.problems import RUN_FIELDS, Problem
from experiments.report import judging
from experiments.report.columns import STEP_AXIS
from experiments.report.intervals import t_interval
from experiments.report.statistics import (
    epochs_to,
    forgiving,
    grid_score,
    tuning_curve,
)

BASELINES = Path(__file__).parents[1] / "baselines"
# The keys a stored protocol may state besides its data, each compared.
PROTOCOL_KEYS = ("epochs", "batch_size", "divergence_loss", "model", "model_code")
# A problem's fields that decide its runs, and its metric, as a protocol
# holds them (JSON), with the value a protocol that leaves one out had.
_PROBLEM_DEFAULTS = json.loads(json.dumps({
    f.name: f.default for f in fields(Problem) if f.name in (*RUN_FIELDS, "metric")
}))  # fmt: skip
# The data keys a stored protocol may state, and that a sweep's runs record.
DATA_KEYS = ("dataset", "source", "validation_fraction", "max_train_samples",
             "split_seed", "classes", "train", "validation", "test", "fingerprint")  # fmt: skip
# A curve of DeepOBS's train_eval images is our validation curve when the
# sweep's validation images are training images (validation_fraction = 0).
SAME_CURVE = {"train_eval_accuracy": "val_accuracy"}


def stored(problem):
    """Every stored baseline of `problem`, ours first; a damaged file is
    skipped with one warning naming it."""
    found = []
    for path in sorted(BASELINES.glob(f"{glob.escape(problem)}.*json")):
        try:
            baseline = read(path)
        except ValueError as error:
            _warn_once(f"warning: report skips the stored baseline {path}: {error}")
            continue
        if baseline["problem"] == problem:
            found.append({**baseline, "file": path.name})
    return sorted(found, key=lambda b: b["source"] != "this project")


_warned = set()  # a report reads the baselines for its tables and each figure


def _warn_once(message):
    if message not in _warned:
        _warned.add(message)
        print(message, file=sys.stderr)


# What every baseline file holds, key → type, checked before anything reads it.
BASELINE_SCHEMA = {"problem": str, "source": str, "protocol": dict, "entries": dict}


def read(path):
    """A baseline file's contents; ValueError saying what is wrong when it is
    not JSON, lacks a key, or its entries cannot be read as the report reads them."""
    try:
        baseline = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable ({error})") from None
    if not isinstance(baseline, dict):
        raise ValueError(f"holds {type(baseline).__name__}, not an object")
    for key, kind in BASELINE_SCHEMA.items():
        if not isinstance(baseline.get(key), kind):
            raise ValueError(f"{key!r} is missing or not {kind.__name__}")
    try:
        entries(baseline)
        grid_curves(baseline)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(f"its entries are not a baseline's ({error!r})") from None
    return baseline


def protocol(setting):
    """A sweep setting's protocol, as its runs recorded it."""
    return setting["protocol"]


def differences(baseline, mine):
    """How a sweep's protocol `mine` differs from a stored one's, key by key
    (only the keys the stored protocol states)."""
    theirs = baseline["protocol"]
    found = [
        f"{key} {theirs[key]!r} there, {mine.get(key)!r} here"
        for key in PROTOCOL_KEYS
        if key in theirs and theirs[key] != mine.get(key)
    ]
    # A problem's run fields and metric, absent on either side: their defaults.
    found += [
        f"{key} {theirs.get(key, default)!r} there, {mine.get(key, default)!r} here"
        for key, default in _PROBLEM_DEFAULTS.items()
        if theirs.get(key, default) != mine.get(key, default)
    ]
    found += [
        f"data {key} {theirs['data'][key]!r} there, {mine['data'].get(key)!r} here"
        for key in DATA_KEYS
        if key in theirs.get("data", {})
        and theirs["data"][key] != mine["data"].get(key)
    ]
    return found


def curve(setting, name):
    """The sweep setting's per-epoch curve `name` (DeepOBS's names mapped to ours)."""
    return setting["history"].get(SAME_CURVE.get(name, name))


def backends(baseline):
    """The backends that trained a stored baseline (a file from before they
    were recorded: TensorFlow, the only one then)."""
    return baseline["protocol"].get("backend", ["tensorflow"])


def entries(baseline):
    """A stored baseline's entries at their best η, as settings the report
    ranks: {optimizer: "<label> (stored)", the final mean and 95% interval of
    each metric over its seeds, and the per-epoch curves}."""
    found = []
    judged = _judged(baseline)
    metric = judging.metric(judged)
    for label, entry in baseline["entries"].items():
        best = entry["best"]
        curves = {k: np.asarray(v, float) for k, v in best["curves"].items()}
        grid = entry["grid"]
        tuned = [r for r in grid if not r["diverged"] and r[metric] is not None]
        top = max((r[metric] for r in tuned), default=math.nan,
                  key=lambda v: judging.score(judged, v))  # fmt: skip
        setting = {
            "metric": metric,
            "optimizer": f"{label} (stored)",
            "base_optimizer": label,
            STEP_AXIS: best[STEP_AXIS],
            "n_seeds": len(best["seeds"]),
            "stored": baseline["source"],
            "curves": curves,
            "grid_size": len(grid),
            "tuning_seeds": " ".join(map(str, _tuning_seeds(baseline["protocol"]))),
            "forgiving": forgiving(
                judged, ((r[STEP_AXIS], r[metric]) for r in tuned), top
            ),
            "diverged_rates": [f"{r[STEP_AXIS]:g}" for r in grid if r["diverged"]],
        }
        for name, values in curves.items():
            finals = [float(v) for v in values[:, -1]]
            final = SAME_CURVE.get(name, name)
            setting[final], setting[f"{final}_ci95"] = t_interval(finals)
            setting[f"{final}_by_seed"] = finals
        setting.update(_time_to_target(baseline, best))
        found.append(setting)
    return found


def _judged(baseline):
    """What judges a stored baseline's entries, as judging reads a row: its
    metric (files from before problems declared one: accuracy) and protocol."""
    protocol = baseline["protocol"]
    return {"metric": protocol.get("metric", judging.DEFAULT_METRIC),
            "protocol": protocol}  # fmt: skip


def _tuning_seeds(protocol):
    """A stored protocol's tuning seeds; a file from before they were kept
    apart tuned on its first seed."""
    return protocol.get("tuning_seeds", protocol.get("seeds", [])[:1])


def _time_to_target(baseline, best):
    """A stored entry's mean epochs and training seconds to its protocol's
    target, over its seeds (NaN where a seed never got there, or where the
    file keeps no target or no times)."""
    judged = _judged(baseline)
    metric = judging.metric(judged)
    target = baseline["protocol"].get("target", {}).get(metric)
    curves = best["curves"].get(metric, [])
    reached = [epochs_to(judged, c, target) for c in curves] if target else [None]
    if None in reached:
        return {"epochs_to_target": math.nan, "seconds_to_target": math.nan}
    times = best.get("seconds") or [[] for _ in curves]
    seconds = [t[n - 1] if len(t) >= n else math.nan for t, n in zip(times, reached, strict=True)]
    return {
        "epochs_to_target": float(np.mean(reached)),
        "seconds_to_target": float(np.mean(seconds)),
    }


def grid_curves(baseline):
    """{entry: (expected best of k, its spread)} from each stored grid."""
    judged = _judged(baseline)
    metric = judging.metric(judged)
    return {
        f"{label} (stored)": tuning_curve(
            judged, [grid_score(judged, r[metric], r["diverged"]) for r in entry["grid"]]
        )
        for label, entry in baseline["entries"].items()
        if entry["grid"]
    }


def comparisons(settings):
    """[(problem, baseline, how their protocols differ)] for every problem of
    the sweep that has stored baselines; an empty list of differences means
    the two can be held against each other."""
    found = []
    for problem in dict.fromkeys(s["problem"] for s in settings):
        mine = next(s for s in settings if s["problem"] == problem).get("protocol")
        for baseline in stored(problem) if mine else []:
            found.append((problem, baseline, differences(baseline, mine)))
    return found


def per_epoch_pairs(settings, problem, baseline):
    """For a baseline compared epoch by epoch (DeepOBS's): each setting of the
    sweep at a stored entry's optimizer and η, whatever its other axes, with
    the curves both have: [(setting, {curve: (our curve, theirs: seeds × epochs)})].
    train_eval only where the sweep's validation images were training images."""
    pairs = []
    for s in settings:
        entry = baseline["entries"].get(s["base_optimizer"])
        if s["problem"] != problem or entry is None:
            continue
        if not math.isclose(
            s[STEP_AXIS], entry["best"][STEP_AXIS], rel_tol=1e-6
        ):
            continue
        on_training_images = s["protocol"]["data"].get("validation_fraction") == 0
        shared = {
            name: (curve(s, name), np.asarray(values, float))
            for name, values in entry["best"]["curves"].items()
            if curve(s, name) is not None
            and (name not in SAME_CURVE or on_training_images)
        }
        if shared:
            pairs.append((s, shared))
    return pairs


def images(setting, name, baseline):
    """How many images each side's accuracy `name` is measured on: (ours, theirs)."""
    data = setting["protocol"]["data"]
    ours = data.get("test") if name.startswith("test") else data.get("validation")
    theirs = baseline["protocol"].get("images", {}).get(name.removesuffix("_accuracy"))
    return ours, theirs
