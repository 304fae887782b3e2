"""How noisy is a language model's validation loss, measured nanoGPT's way?

    python -m experiments.evaluation_noise "logs/shakespeare_char/shakespeare_char/adamw/lr=0.001,schedule=warmup_cosine"

nanoGPT's `estimate_loss` averages `eval_iters` batches of windows at
random offsets of the validation text (its CPU command: 20 batches of
12). This project measures the whole validation text instead, in
consecutive windows (text_data.py), the same characters every time. For
one trained run (its weights), this prints the whole text's loss and the
spread of nanoGPT's estimate over `--draws` draws of `--batches` random
batches: the noise a ranking by nanoGPT's estimate would carry.
"""

import sys
from pathlib import Path

import numpy as np

from experiments import cli

NANOGPT_EVAL_ITERS = 20  # its README's CPU command: --eval_iters=20


def window_losses(model, x, y):
    """Each window's mean cross-entropy (natural log) over its positions."""
    import keras

    logits = model.predict(x, batch_size=256, verbose=0)
    losses = keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    )
    return losses.mean(axis=1)


def random_estimates(model, dataset, batches, batch_size, draws, seed):
    """`draws` estimates as nanoGPT makes them: the mean loss of `batches`
    batches of `batch_size` windows at random offsets of the validation text."""
    from experiments import text_data

    x, y = text_data.training_windows(dataset.val_ids, dataset.block_size)
    rng = np.random.default_rng(seed)
    offsets = rng.integers(0, len(x), (draws, batches * batch_size))
    unique, where = np.unique(offsets, return_inverse=True)
    losses = window_losses(model, x[unique], y[unique])
    return losses[where.reshape(offsets.shape)].mean(axis=1)


@cli.command
def main(argv=None):
    parser = cli.parser("python -m experiments.evaluation_noise", __doc__)
    parser.add_argument("run_dir", help="a finished run of a language model")
    parser.add_argument("--batches", type=int, default=NANOGPT_EVAL_ITERS)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.batches < 1 or args.draws < 2:
        raise cli.UsageError("--batches must be >= 1 and --draws >= 2")
    from experiments.sweep.migrations import read_run
    from experiments.sweep.run_files import WEIGHTS_FILE, UnreadableRun
    from experiments.sweep.training import trained_language_model

    run_dir = Path(args.run_dir)
    try:
        config, result = read_run(run_dir)
    except UnreadableRun as error:
        raise cli.UsageError(f"{run_dir}: {error}") from None
    problem = config["problem"]
    if not (run_dir / WEIGHTS_FILE).exists() or not problem.get("block_size"):
        raise cli.UsageError(f"{run_dir} is no language model's run with its weights")
    model, dataset = trained_language_model(run_dir)
    whole = window_losses(model, dataset.x_val, dataset.y_val).mean()
    estimates = random_estimates(model, dataset, args.batches,
                                 problem["batch_size"], args.draws, args.seed)  # fmt: skip
    print(f"{run_dir}: validation loss {result['val_loss']:.4f} as the run "
          f"recorded it; {whole:.4f} on the whole validation text "
          f"({len(dataset.x_val)} windows of {problem['block_size']})")  # fmt: skip
    print(f"nanoGPT's estimate, {args.batches} random batches of "
          f"{problem['batch_size']}, drawn {args.draws} times: mean "
          f"{estimates.mean():.4f}, standard deviation {estimates.std(ddof=1):.4f}, "
          f"from {estimates.min():.4f} to {estimates.max():.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
