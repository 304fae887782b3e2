"""DeepOBS's published baselines for fmnist_2c2d, and which of a sweep's
settings they can be held against."""

import json
import math
from pathlib import Path

import numpy as np

# DeepOBS's published per-epoch test accuracies of its tuned SGD, Momentum
# and Adam on fmnist_2c2d, and the epochs summary.md compares them at.
DEEPOBS_BASELINES = Path(__file__).parents[1] / "deepobs_baselines.json"
COMPARED_EPOCHS = (10, 20)
# DeepOBS's curves (deepobs_baselines.json's keys) and the history holding
# ours: its train_eval images are training images, as our validation images
# are when a sweep holds none out (validation_fraction = 0).
DEEPOBS_CURVES = {
    "test_accuracy": "test_accuracy",
    "train_eval_accuracy": "val_accuracy",
}


def deepobs_baselines():
    """(problem, {optimizer: (η, {curve: accuracy by seed and epoch, 0 = before
    training})}), the curves of DEEPOBS_CURVES."""
    data = json.loads(DEEPOBS_BASELINES.read_text())
    return data["problem"], {
        name: (
            entry["learning_rate"],
            {
                curve: np.array(list(entry[f"{curve}_by_seed"].values()))
                for curve in DEEPOBS_CURVES
            },
        )
        for name, entry in data["optimizers"].items()
    }


def against_deepobs(settings):
    """This sweep's settings that DeepOBS published a baseline for (its problem,
    optimizer and η, whatever the other axes), each with the curves it can be
    held against: [(setting, {curve: (our history's key, DeepOBS's accuracies
    by seed and epoch)})]. train_eval only where the validation images were
    training images."""
    problem, baselines = deepobs_baselines()
    pairs = []
    for s in settings:
        if s["problem"] != problem or s["base_optimizer"] not in baselines:
            continue
        learning_rate, curves = baselines[s["base_optimizer"]]
        if not math.isclose(s["learning_rate"], learning_rate, rel_tol=1e-6):
            continue
        comparable = {
            curve: (ours, curves[curve])
            for curve, ours in DEEPOBS_CURVES.items()
            if ours in s["history"]
            and (curve != "train_eval_accuracy" or s.get("validation_fraction") == 0)
        }
        if "test_accuracy" in comparable:
            pairs.append((s, comparable))
    return pairs
