"""Does this backend reproduce a stored baseline? Each stored entry's best
setting, on its evaluation seeds, trained on the backend `KERAS_BACKEND`
names, beside the stored seeds (TensorFlow's, for the shipped files), with
Welch's 95% interval of the difference of their means, the report's rule:

    KERAS_BACKEND=jax python -m experiments.backend_check --offline

The runs go to logs/backend_check_<problem>_<backend>, a sweep folder of
the stored protocol (experiments/configs/baselines.toml), so a second
call resumes it. docs/backends.md quotes the result.
"""

import argparse

from experiments import backend, cli
from experiments.report import baselines, intervals
from experiments.sweep.reading import CONFIGS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m experiments.backend_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--problem", default="mnist_small_mlp",
                        help="a problem with stored baselines (default: mnist_small_mlp)")  # fmt: skip
    parser.add_argument(
        "--offline", action="store_true", help="never try Keras's download"
    )
    parser.add_argument("--logdir", default="logs")
    return parser.parse_args(argv)


def ours(problem):
    """This project's stored baseline of `problem`; UsageError if none."""
    found = [b for b in baselines.stored(problem) if b["source"] == "this project"]
    if not found:
        raise cli.UsageError(f"no stored baselines of {problem!r} from this project")
    return found[0]


def best_settings_config(baseline, name):
    """The stored protocol's sweep, each table at its entry's best η and
    evaluation seeds alone."""
    from experiments.sweep import api

    entries = baseline["entries"]
    config = api.load(CONFIGS / "baselines.toml", problems=[baseline["problem"]],
                      optimizers=list(entries), name=name)  # fmt: skip
    for label, entry in entries.items():
        best = entry["best"]
        config.optimizers[label] = {
            **config.optimizers[label],
            "grid": {"learning_rate": [best["learning_rate"]], "seed": best["seeds"]},
        }
    return config


def comparison(baseline, sweep_dir):
    """Rows: optimizer, η, the stored seeds' values, this backend's, and
    Welch's 95% interval of the difference of their means (this − stored)."""
    from experiments.report.loading import load_runs

    runs, _ = load_runs(sweep_dir)
    metric = baseline["protocol"].get("metric", "val_accuracy")
    rows = []
    for label, entry in baseline["entries"].items():
        theirs = [curve[-1] for curve in entry["best"]["curves"][metric]]
        mine = [r[metric] for r in runs if r["optimizer"] == label]
        rows.append((label, entry["best"]["learning_rate"], theirs, mine,
                     intervals.welch_interval(mine, theirs)))  # fmt: skip
    return metric, rows


def seeds(values):
    return ", ".join(f"{v:.4f}" for v in values)


@cli.command
def main(argv=None):
    from experiments.sweep import api

    args = parse_args(argv)
    baseline = ours(args.problem)
    mine, theirs = backend.name(), " and ".join(baselines.backends(baseline))
    config = best_settings_config(baseline, f"backend_check_{args.problem}_{mine}")
    status = api.run_as_job(config, args.logdir, offline=args.offline)
    if status:
        return status
    metric, rows = comparison(baseline, api.folder(config, args.logdir))
    print(f"\n{args.problem}, {metric}: stored ({theirs}) against {mine}, "
          "each at the stored best η and evaluation seeds")  # fmt: skip
    print(f"| optimizer | η | stored seeds ({theirs}) | {mine}'s seeds | difference "
          "of means (95%) | |\n|---|---:|---:|---:|---:|---|")  # fmt: skip
    for label, rate, theirs, mine, (difference, low, high) in rows:
        verdict = "cannot tell apart" if low <= 0 <= high else "differ"
        print(f"| {label} | {rate:g} | {seeds(theirs)} | {seeds(mine)} | "
              f"{difference:+.4f} ({low:+.4f} to {high:+.4f}) | {verdict} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    main()
