"""Find a learning rate in one short run: Smith's range test (fastai's `lr_find`).

    python -m experiments.lr_finder --optimizer sgd --model mlp
    python -m experiments.lr_finder --optimizer sgd,momentum,adam --model mlp,cnn \
        --start 1e-6 --end 10 --steps 200 --out logs/lr_finder

Trains a throwaway model (the weights are discarded) for `--steps`
mini-batches while η grows exponentially from `--start` to `--end`,
recording each batch's loss; it says how many passes over the training
images that took, and warns when it is more than one. It stops early once
the smoothed loss exceeds four times its minimum (it has exploded) or is
not finite. Per
optimizer and model it writes a PNG of loss against η, a CSV, and
TensorBoard scalars (`lr_finder/loss` and `lr_finder/learning_rate` per
step), and prints two suggestions:

- steepest: the η where the smoothed loss falls fastest per decade of η,
  taken below the η of its minimum (fastai's "steep");
- minimum/10: a tenth of the η where the smoothed loss is lowest (the rule
  of thumb from fastai's course: the minimum is already too large).

The loss is smoothed by an exponential moving average (β = 0.98, bias
corrected), as in fastai; losses from the first non-finite one on are left
out. If the smoothed loss never falls 1% below its start, no η in the range
trained: it prints "-" instead of suggestions and says to lower `--start`.
"""

import csv
import math
import sys
from pathlib import Path

import numpy as np

from experiments import cli, plotting
from experiments.cli import UsageError, check_writable, comma_list, number

SMOOTHING = 0.98
EXPLODED = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum
MIN_FALL = 0.01  # the smoothed loss must fall 1% below its start to suggest an η


class SmoothedLoss:
    """The bias-corrected exponential moving average of the losses so far,
    one loss at a time: O(1) a step, however long the test."""

    def __init__(self, beta=SMOOTHING):
        self.beta, self.average, self.steps = beta, 0.0, 0

    def add(self, loss):
        """The smoothed loss once `loss` is added."""
        self.steps += 1
        self.average = self.beta * self.average + (1 - self.beta) * loss
        return self.average / (1 - self.beta**self.steps)


def smoothed(losses, beta=SMOOTHING):
    """Bias-corrected exponential moving average of `losses`."""
    smoothing = SmoothedLoss(beta)
    return np.array([smoothing.add(loss) for loss in losses])


def suggestions(rates, losses):
    """{rule: η} from a range test's learning rates and raw batch losses.

    Only the losses before the first non-finite one count. Empty when the
    smoothed loss never fell below (1 − MIN_FALL) × its first value: then no
    η in the range trained, and any "suggestion" would be an edge of it.
    """
    rates, losses = finite_prefix(rates, losses)
    if len(losses) < 2:
        return {}
    smooth = smoothed(losses)
    lowest = int(np.argmin(smooth))
    if smooth[lowest] > (1 - MIN_FALL) * smooth[0]:
        return {}
    slopes = np.gradient(smooth, np.log10(rates))
    steepest = int(np.argmin(slopes[: lowest + 1]))
    return {"steepest": float(rates[steepest]), "minimum/10": rates[lowest] / 10}


def finite_prefix(rates, losses):
    """The steps before the first NaN or infinite loss."""
    losses = np.asarray(losses, dtype=float)
    finite = np.isfinite(losses)
    end = len(losses) if finite.all() else int(np.argmin(finite))
    return np.asarray(rates, dtype=float)[:end], losses[:end]


def range_test(
    optimizer_name, model_name, dataset, start, end, steps, batch_size, seed
):
    """(learning rates, batch losses) of one exponential sweep of η on a new model."""
    import keras

    import custom_optimizers
    from experiments import models
    from experiments.sweep import training

    keras.utils.set_random_seed(seed)
    model = models.build(model_name, seed)
    optimizer = custom_optimizers.get(optimizer_name, learning_rate=start)
    models.compile_classifier(model, optimizer)
    batches = training.Batches(
        dataset.x_train, dataset.y_train, batch_size, seed
    ).forever()
    growth = (end / start) ** (1 / (steps - 1))
    rates, losses = [], []
    smoothing, lowest = SmoothedLoss(), math.inf
    for step in range(steps):
        rate = start * growth**step
        optimizer.learning_rate = rate
        x, y = next(batches)
        loss = float(model.train_on_batch(x, y))
        rates.append(rate)
        losses.append(loss)
        smooth = smoothing.add(loss)
        lowest = min(lowest, smooth)
        if not math.isfinite(loss) or smooth > EXPLODED * lowest:
            break
    return np.array(rates), np.array(losses)


# The learning rate is a float32: the range stays within float32's normal numbers.
LOWEST_RATE = float(np.finfo("float32").tiny)
HIGHEST_RATE = float(np.finfo("float32").max)
BYTES_PER_STEP = 200  # a step's rate and loss, kept for the CSV and the plot


def write_outputs(folder, rates, losses, found, model, optimizer):
    from experiments.sweep.tensorboard_logs import EventLog, scalar_pb

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lr_finder.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "learning_rate", "loss", "smoothed_loss"])
        for step, (rate, loss, smooth) in enumerate(
            zip(rates, losses, smoothed(losses)), 1
        ):
            writer.writerow([step, rate, loss, smooth])
    log = EventLog(folder)
    for step, (rate, loss) in enumerate(zip(rates, losses), 1):
        log.write(scalar_pb("lr_finder/loss", loss), step)
        log.write(scalar_pb("lr_finder/learning_rate", rate), step)
    log.close()

    plt = plotting.pyplot()
    fig, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(rates, losses, color="0.75", lw=0.8, label="batch loss")
    rates, losses = finite_prefix(rates, losses)
    colour = plotting.colors_for([optimizer])[optimizer]
    axis.plot(rates, smoothed(losses), color=colour, label="smoothed")
    for (rule, rate), line in zip(found.items(), ("--", ":")):
        axis.axvline(rate, color="k", ls=line, label=f"{rule}: η = {rate:.2g}")
    top = min(losses.max(), EXPLODED * smoothed(losses).min()) if len(losses) else 1
    title = f"{model}, {optimizer}"
    axis.set(
        xscale="log",
        xlabel="learning rate η",
        ylabel="training loss",
        title=title if found else f"{title}: the loss never fell; no suggestion",
        ylim=(0, top * 1.1),
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    plotting.save(fig, folder / "lr_finder.png")


def parse_args(argv):
    parser = cli.parser("python -m experiments.lr_finder", __doc__)
    parser.add_argument(
        "--optimizer", default="sgd", help="short names, comma-separated"
    )
    parser.add_argument(
        "--model", default="mlp", help="mlp and/or cnn, comma-separated"
    )
    parser.add_argument("--start", default="1e-6", help="first learning rate")
    parser.add_argument("--end", default="10", help="last learning rate")
    parser.add_argument("--steps", default="200", help="mini-batches at most")
    parser.add_argument("--batch-size", default="64")
    parser.add_argument("--seed", default="0")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--max-train-samples", default="0")
    parser.add_argument(
        "--offline", action="store_true", help="never try Keras's download"
    )
    parser.add_argument("--out", default="logs/lr_finder", help="output folder")
    return parser.parse_args(argv)


def resolve(args):
    import custom_optimizers
    from experiments import data, models

    settings = {
        "optimizers": comma_list(args.optimizer),
        "models": comma_list(args.model),
        "start": number(
            args.start,
            f"--start must be a number from {LOWEST_RATE:.3g} (the smallest normal "
            "float32: η is one)",
            lambda x: x >= LOWEST_RATE,
        ),
        "steps": cli.at_most_in_memory(args.steps, "--steps", 10, BYTES_PER_STEP),
        "batch_size": cli.integer(args.batch_size, "--batch-size", 1),
        "seed": cli.seed(args.seed, "--seed"),
        "max_train_samples": cli.integer(
            args.max_train_samples, "--max-train-samples", 0
        ),
    }
    settings["end"] = number(
        args.end,
        f"--end must be a number above --start and at most {HIGHEST_RATE:.3g} "
        "(the largest float32)",
        lambda x: settings["start"] < x <= HIGHEST_RATE,
    )
    cli.names(settings["optimizers"], custom_optimizers.available(), "optimizer")
    cli.names(settings["models"], list(models.MODELS), "model")
    cli.names([args.dataset], data.DATASETS, "dataset")
    return settings


@cli.command
def main(argv=None):
    args = parse_args(argv)
    settings = resolve(args)
    check_writable(args.out, "output")
    from experiments import data

    dataset = data.load(
        args.dataset,
        max_train_samples=settings["max_train_samples"],
        seed=settings["seed"],
        download=not args.offline,
    )
    print(dataset.describe())
    if settings["batch_size"] > len(dataset.x_train):
        raise UsageError(
            f"--batch-size {settings['batch_size']} is more than the "
            f"{len(dataset.x_train)} training samples; give at most that"
        )
    print(
        f"{'model':6} {'optimizer':12} {'steps':>5} {'passes':>6} "
        f"{'steepest':>10} {'minimum/10':>11}"
    )
    cycled, fruitless = 0.0, []
    for model in settings["models"]:
        for optimizer in settings["optimizers"]:
            rates, losses = range_test(
                optimizer, model, dataset, settings["start"], settings["end"],
                settings["steps"], settings["batch_size"], settings["seed"],
            )  # fmt: skip
            found = suggestions(rates, losses)
            folder = Path(args.out) / model / optimizer
            write_outputs(folder, rates, losses, found, model, optimizer)
            passes = len(rates) * settings["batch_size"] / len(dataset.x_train)
            cycled = max(cycled, passes)
            if not found:
                fruitless.append(f"{model}/{optimizer}")
            print(
                f"{model:6} {optimizer:12} {len(rates):5d} {passes:6.2f} "
                + " ".join(
                    f"{found[rule]:{width}.2g}" if found else f"{'-':>{width}}"
                    for rule, width in (("steepest", 10), ("minimum/10", 11))
                )
            )
    if fruitless:
        print(
            f"warning: the loss never fell in [{settings['start']:g}, "
            f"{settings['end']:g}] for {', '.join(fruitless)}: no good learning "
            + (
                f"rate in this range; try a lower --start (e.g. "
                f"{max(settings['start'] / 1000, LOWEST_RATE):.3g})"
                if settings["start"] > LOWEST_RATE
                else "rate a float32 can hold trains it"
            ),
            file=sys.stderr,
        )
    if cycled > 1:
        print(
            f"note: the test went over the {len(dataset.x_train)} training images "
            f"up to {cycled:.1f} times; after the first pass the loss is measured "
            "on batches already trained on, which favours large learning rates. "
            "Fewer --steps or more data keep it to one pass.",
            file=sys.stderr,
        )
    print(f"plots and CSVs: {args.out}/<model>/<optimizer>/lr_finder.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
