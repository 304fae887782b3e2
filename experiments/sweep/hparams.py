"""TensorBoard's HParams dashboard for a sweep: its config at the sweep's
root, listing the columns that tell the runs apart (each run's session is
written by tensorboard_logs.log_final_metrics)."""

import json
from pathlib import Path

from experiments.sweep import axes
from experiments.sweep.run_files import FINAL_METRICS, HYPERPARAMETERS


def comparison_columns():
    """The HParams columns that tell runs apart, most important first."""
    return [
        "optimizer",
        "learning_rate",
        "problem",
        *(a.name for a in axes.AXES if a.name != "learning_rate"),
    ]


HPARAMS_SHOWN = 5  # TensorBoard 2.21's HPARAMS tab checks this many columns


def write_hparams_config(sweep_dir, specs):
    """Configures TensorBoard's HParams dashboard for the runs in `specs`.

    TensorBoard checks the first five hparams whose `differs` flag is set,
    alphabetically, and a config from `hp.hparams_config` sets none, so
    the tab opened on amsgrad, beta_1, beta_2, ... Here `differs` is set on
    the comparison columns (those that vary in this sweep first, if there
    are more than the columns shown). The config is rewritten on every
    invocation, replacing the last one, since a resume may add seeds.
    """
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp

    from experiments.sweep.tensorboard_logs import EventLog

    taken = _arguments_taken(specs)
    gridded = axes.arguments({name for spec in specs for name in spec.values})
    columns = [
        *(c for c in comparison_columns() if c in taken or not _is_argument(c)),
        *gridded,
    ]
    varying = {
        column
        for column in columns
        if len({json_key(spec, column) for spec in specs}) > 1
    }
    shown = sorted(columns, key=lambda column: column not in varying)
    shown = set(shown[:HPARAMS_SHOWN])
    names = dict.fromkeys(("model", *columns, *(h for h in HYPERPARAMETERS if h in taken),
                           "backend"))  # fmt: skip
    metrics = [hp.Metric(tag, group="final", display_name=tag) for tag in FINAL_METRICS]
    summary = hp.hparams_config_pb([hp.HParam(n) for n in names], metrics)
    value = summary.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(
        value.metadata.plugin_data.content
    )
    for info in data.experiment.hparam_infos:
        info.differs = info.name in shown
    value.metadata.plugin_data.content = data.SerializeToString()
    for old in Path(sweep_dir).glob("events.out.tfevents.*"):
        old.unlink()
    dashboard_config = EventLog(sweep_dir)
    try:
        dashboard_config.write(summary, step=0)
    finally:
        dashboard_config.close()


def _arguments_taken(specs):
    """The optimizer settings (HYPERPARAMETERS) that at least one of the
    runs' optimizers has: the HParams columns worth a column."""
    from experiments.sweep.optimizer_tables import probe
    from experiments.sweep.spec import hyperparameters

    tables = {(s.optimizer, json.dumps(s.optimizer_settings, sort_keys=True, default=repr)): s
              for s in specs}  # fmt: skip
    return {
        name
        for spec in tables.values()
        for name in hyperparameters(probe(spec.optimizer, spec.optimizer_settings))
    }


def _is_argument(column):
    return column in HYPERPARAMETERS or any(
        a.name == column and a.is_argument for a in axes.AXES
    )


def json_key(spec, column):
    """A run's value in an HParams column, comparable across runs."""
    if column == "problem":
        return spec.problem.folder
    if column == "optimizer":
        return spec.optimizer
    return repr(spec.values.get(column))
