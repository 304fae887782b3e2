"""The columns of runs.csv (one row per run) and summary.csv (one per setting)."""

from experiments.sweep import axes
from experiments.sweep.run_files import FINAL_METRICS, HYPERPARAMETERS

# The axes by the role the report gives them (axes.Axis.role): each entry is
# tuned over STEP_AXIS (the x axis of its figures and the η of its tables)
# and DECAY_AXIS (its heatmaps' other axis); REPEAT_AXIS's runs are averaged.
STEP_AXIS, DECAY_AXIS = (a.name for a in axes.AXES if a.role == "tuned")
[REPEAT_AXIS] = (a.name for a in axes.AXES if a.role == "repeat")
METRICS = (*FINAL_METRICS[:-1], "first_update_norm")  # diverged is a flag, not averaged
IDENTITY_COLUMNS = ("problem", "model", "optimizer")
TIME_COLUMNS = ("seconds", "epochs_to_target", "seconds_to_target")
DESCRIPTION_COLUMNS = (
    "optimizer_class",
    *HYPERPARAMETERS,
    "dataset",
    "data_source",
    "train_samples",
    "backend",
)


def axis_columns():
    """The axes not already among the optimizer's HYPERPARAMETERS, in AXES' order."""
    return [a.name for a in axes.AXES if a.name not in HYPERPARAMETERS]


def run_columns(arguments=()):
    """runs.csv's columns: one row per finished run; `arguments`: the other
    optimizer arguments its grid varies (axes.argument)."""
    return (
        *IDENTITY_COLUMNS,
        *axis_columns(),
        *arguments,
        "epochs_run",
        *METRICS,
        "diverged",
        *TIME_COLUMNS,
        *DESCRIPTION_COLUMNS,
        "params",
    )


def setting_columns(arguments=()):
    """summary.csv's columns: one row per setting, its seeds aggregated."""
    return (
        *IDENTITY_COLUMNS,
        *(name for name in axis_columns() if name != REPEAT_AXIS),
        *arguments,
        "epochs_run",
        *[column for metric in METRICS for column in (metric, f"{metric}_std")],
        "diverged",
        "diverged_seeds",
        "n_seeds",
        "seeds",
        "tuning_seeds",
        *TIME_COLUMNS,
        *DESCRIPTION_COLUMNS,
    )
