"""Train every optimizer × learning rate × model and compare the runs.

    python -m experiments.sweep                   # the default comparison
    python -m experiments.sweep --quick           # a minute-scale version
    python -m experiments.sweep --config experiments/configs/quick.toml \
        --optimizers adam,momentum --learning-rates 1e-3,1e-2 --models mlp \
        --epochs 3 --dataset mnist --logdir logs --seed 0
    python -m experiments.sweep --seeds 0,1,2     # every setting over 3 seeds
    python -m experiments.sweep --rerun-best 5    # best setting per optimizer, 5 more seeds
    python -m experiments.sweep --config experiments/configs/weight_decay.toml
    tensorboard --logdir logs/<sweep-name>

Each run lands in logs/<sweep-name>/<model>/<optimizer>/lr=<value>/ (with
,wd=<value> on a weight-decay grid and ,seed=<n> for seeds other than 0)
with its TensorBoard logs, its resolved config (run.json) and, once
finished, result.json. Re-running skips finished runs and redoes unfinished
ones; --force reruns everything. The report (summary.csv, runs.csv,
summary.md, plots) is rebuilt at the end; `python -m experiments.report`
rebuilds it alone.
"""

from experiments import cli
from experiments.cli import check_writable, comma_list
from experiments.sweep import axes
from experiments.sweep.reading import CONFIGS, resolve  # noqa: F401 (the jobs' configs)


def parse_args(argv):
    """The sweep's flags: a config, the axes' grids (generated from AXES) and
    the keys a flag overrides (reading.OVERRIDES)."""
    parser = cli.parser("python -m experiments.sweep", __doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", help="a sweep TOML file (default: configs/default.toml)"
    )
    source.add_argument("--quick", action="store_true", help="use configs/quick.toml")
    parser.add_argument(
        "--name", help="sweep folder name under --logdir (default: the config's)"
    )
    parser.add_argument(
        "--optimizers", type=comma_list, help="comma-separated short names"
    )
    for axis in axes.AXES:
        if axis.plural:
            parser.add_argument(
                axis.flag,
                type=comma_list,
                help=f"comma-separated values of {axis.name} (as --grid {axis.name}=…)",
            )
    parser.add_argument(
        "--grid",
        action="append",
        metavar="AXIS=VALUES",
        help="run each of these values of an axis (sweep/axes.py), e.g. "
        "momentum=0.5,0.9,0.99 or batch_size=32,128; repeatable",
    )
    parser.add_argument(
        "--problems",
        type=comma_list,
        help="comma-separated test problems (experiments/problems.py), e.g. "
        "fmnist_2c2d; instead of --dataset and --models",
    )
    parser.add_argument("--models", type=comma_list, help="comma-separated: mlp,cnn")
    parser.add_argument("--dataset", help="mnist or fashion_mnist")
    parser.add_argument("--epochs", type=int, help="default: each problem's own")
    parser.add_argument("--batch-size", type=int, help="default: each problem's own")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--rerun-best",
        type=int,
        default=0,
        metavar="N",
        help="after the grid (tuned on --seed), rerun each optimizer's best setting "
        "on the N seeds after it; the report measures it on those alone",
    )
    parser.add_argument(
        "--max-train-samples", type=int, help="use only this many training samples"
    )
    parser.add_argument(
        "--data-dir", help="read idx(.gz) or .npz files from this folder"
    )
    parser.add_argument(
        "--offline", action="store_true", help="never try Keras's download"
    )
    parser.add_argument(
        "--logdir", default="logs", help="root folder for sweeps (default: logs)"
    )
    parser.add_argument(
        "--workers",
        help="runs at once: 1 (in this process), N, or auto (one per core); "
        "more than 1 uses Ray",
    )
    parser.add_argument(
        "--gpus-per-run",
        help="the share of a GPU each run on Ray asks for, 0 to 1 (default: auto, "
        "a quarter where Ray and the backend find a GPU, else none)",
    )
    parser.add_argument(
        "--address",
        help="run on this Ray cluster (host:port or auto; default: $RAY_ADDRESS)",
    )
    parser.add_argument("--force", action="store_true", help="rerun finished runs too")
    parser.add_argument(
        "--verbose", action="store_true", help="show Keras's progress bar"
    )
    return parser.parse_args(argv)


@cli.command
def main(argv=None):
    cli.stop_on_signals()
    args = parse_args(argv)
    config = resolve(args)
    check_writable(args.logdir)
    from experiments.sweep import api

    return api.run_as_job(
        config,
        args.logdir,
        rerun_best=args.rerun_best,
        offline=args.offline,
        force=args.force,
        data_dir=args.data_dir,
        verbose=args.verbose,
    )
