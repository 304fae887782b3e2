"""The text's second limit, measured: one η for every parameter.

    python -m experiments.step_sizes --out docs/transformer --gradient-descent-lr 1

Trains shakespeare_char's transformer with our AdamW as nanoGPT's CPU
protocol trains it: the seed-0 run of
experiments/configs/nanogpt_shakespeare_char.toml (η = 1e-3, β2 = 0.99,
decoupled decay 0.1, warm-up and cosine to 0.1·η, global-norm clipping at
1.0). Then reads each parameter's effective step η/(√v̂ + ε) at the end:
how far Adam moves that parameter per unit of m̂ (η is the peak; the
schedule ends at a tenth of it). Gradient descent moves every parameter
by one η per unit of gradient: `--gradient-descent-lr` draws it (by
default Adam's η; give the best gradient descent's η of a comparison). Writes `step_sizes.png` (the spread
per block: embeddings, attention, MLP, norms) and `step_sizes.csv` (its
percentiles), and prints the table.
"""

import csv
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from experiments import cli, plotting

BLOCKS = ("embeddings", "attention", "MLP", "norms")
PERCENTILES = (5, 25, 50, 75, 95)
PROTOCOL = "nanogpt_shakespeare_char.toml"  # in experiments/configs/


def block_of(path):
    """Which block of the transformer a variable path belongs to."""
    if "norm" in path:
        return "norms"
    if "embedding" in path:
        return "embeddings"
    return "attention" if "/attention/" in path else "MLP"


def effective_steps(optimizer, model, learning_rate):
    """{variable path: η/(√v̂ + ε) for each of its parameters}, v̂ = v/(1 − β2^t),
    from the optimizer's velocity slots (found by their names)."""
    import keras

    t = int(optimizer.iterations)
    correction = 1 - optimizer.beta_2**t if optimizer.bias_correction else 1.0
    velocities = {v.path: v for v in optimizer.variables if v.path.endswith("_velocity")}
    found = {}
    for variable in model.trainable_variables:
        name = variable.path.replace("/", "_")
        v = next(s for p, s in velocities.items() if p.endswith(f"/{name}_velocity"))
        v_hat = keras.ops.convert_to_numpy(v) / correction
        found[variable.path] = learning_rate / (np.sqrt(v_hat) + optimizer.epsilon)
    return found


def protocol_run(steps):
    """The seed-0 run of our AdamW in nanoGPT's protocol (PROTOCOL), cut
    to `steps` steps (0: the protocol's)."""
    from experiments.sweep import api
    from experiments.sweep.config import CONFIGS

    config = api.load(CONFIGS / PROTOCOL, optimizers=["adamw"], workers=1)
    spec = next(s for s in config.runs() if s.values["seed"] == 0)
    if steps:
        problem = replace(spec.problem, steps=steps, eval_every=steps, epochs=1)
        spec = replace(spec, problem=problem, epochs=1)
    return spec


def train(spec):
    """`spec`'s run, trained here; returns (the trained model, its optimizer)."""
    from experiments import text_data
    from experiments.sweep import training

    problem = spec.problem
    dataset = text_data.load(problem.dataset, problem.block_size)
    optimizer = spec.build_optimizer(training.steps_per_epoch(spec, dataset))
    model = training.fresh_model(spec, dataset)
    from experiments import models

    models.compile_classifier(model, optimizer)
    training.fit(model, spec, dataset)
    return model, optimizer


def percentiles(steps_by_variable):
    """{block: (its parameter count, the PERCENTILES of its effective steps)}."""
    by_block = {block: [] for block in BLOCKS}
    for path, values in steps_by_variable.items():
        by_block[block_of(path)].append(values.ravel())
    return {
        block: (len(v := np.concatenate(parts)), np.percentile(v, PERCENTILES))
        for block, parts in by_block.items()
        if parts
    }


def draw(steps_by_variable, learning_rate, gradient_descent_lr, path):
    """Each block's effective steps as a box (5th to 95th percentile whiskers),
    beside gradient descent's one η, on a log scale."""
    plt = plotting.pyplot()
    by_block = {block: [] for block in BLOCKS}
    for name, values in steps_by_variable.items():
        by_block[block_of(name)].append(values.ravel())
    blocks = [b for b in BLOCKS if by_block[b]]
    fig, axis = plt.subplots(figsize=(7.5, 4.5))
    axis.boxplot([np.concatenate(by_block[b]) for b in blocks], whis=(5, 95),
                 showfliers=False, tick_labels=blocks)  # fmt: skip
    axis.axhline(gradient_descent_lr, color="tab:red", ls="--",
                 label=f"gradient descent: η = {gradient_descent_lr:g} for every parameter")  # fmt: skip
    axis.set(yscale="log", ylabel="effective step η/(√v̂ + ε) (log)",
             title=f"AdamW's step per parameter after training, by block (η = {learning_rate:g})")  # fmt: skip
    axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize="small")
    plotting.save(fig, path)


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.step_sizes", __doc__)
    parser.add_argument("--out", default="logs/step_sizes", help="folder to write to")
    parser.add_argument("--steps", type=int, default=0,
                        help="train this many steps (default: the problem's 2000)")
    parser.add_argument("--gradient-descent-lr", type=float, default=0,
                        help="gradient descent's η to draw beside Adam's steps "
                             "(default: Adam's own)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.steps < 0 or args.gradient_descent_lr < 0:
        raise cli.UsageError("--steps and --gradient-descent-lr must be >= 0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = protocol_run(args.steps)
    learning_rate = spec.values["learning_rate"]
    model, optimizer = train(spec)
    found = effective_steps(optimizer, model, learning_rate)
    table = percentiles(found)
    with cli.writing(out / "step_sizes.csv"), open(out / "step_sizes.csv", "w") as f:
        writer = csv.writer(f)
        writer.writerow(["block", "parameters", *(f"p{p}" for p in PERCENTILES)])
        for block, (count, values) in table.items():
            writer.writerow([block, count, *(f"{v:.4g}" for v in values)])
    draw(found, learning_rate, args.gradient_descent_lr or learning_rate,
         out / "step_sizes.png")  # fmt: skip
    print(f"after {int(optimizer.iterations)} steps; percentiles {PERCENTILES}")
    for block, (count, values) in table.items():
        print(f"{block:>10} ({count:>6} parameters): "
              + "  ".join(f"{v:.3g}" for v in values))  # fmt: skip
    print(f"written to {out / 'step_sizes.png'} and {out / 'step_sizes.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
