"""What each optimizer's language model writes: text sampled from its best run.

    python -m experiments.samples logs/shakespeare_char
    python -m experiments.samples logs/shakespeare_char --prompt "ROMEO:" --characters 300

For every entry of a sweep on a text problem, its best setting as the
report picks it (lowest validation loss), one run of it (its first
evaluation seed, else its tuning seed) writes `--characters` characters
after the same `--prompt`, each character drawn from the model's
next-character distribution with one seeded random generator per entry,
so every entry draws the same random numbers. Prints them one after
another, best first, and writes them to samples.md in the sweep folder.
"""

import sys
from pathlib import Path

import numpy as np

from experiments import cli
from experiments.cli import UsageError

PROMPT = "\n"  # nanoGPT's sample.py starts from a newline too
CHARACTERS = 300
SAMPLES_FILE = "samples.md"


def parse_args(argv):
    parser = cli.parser("python -m experiments.samples", __doc__)
    parser.add_argument("sweep_dir", help="a sweep folder on a text problem")
    parser.add_argument("--prompt", default=PROMPT, help="the text every sample starts from")
    parser.add_argument(
        "--characters", type=int, default=CHARACTERS, help="how many to write"
    )
    parser.add_argument("--seed", type=int, default=0, help="the draws' seed")
    args = parser.parse_args(argv)
    if args.characters < 1:
        raise UsageError(f"--characters must be >= 1, got {args.characters}")
    return args


def best_runs(sweep_dir):
    """[(entry, the folder of one run of its best setting, the setting)] of
    every entry on a text problem, best first."""
    from experiments.report import judging
    from experiments.report.loading import load_runs
    from experiments.report.statistics import aggregate, best_settings
    from experiments.sweep.run_files import WEIGHTS_FILE

    runs, _ = load_runs(sweep_dir)
    text_runs = [r for r in runs if r["protocol"].get("block_size")]
    found = [
        (entry, Path(sweep_dir) / folder, top)
        for (_, entry), (top, _) in best_settings(aggregate(text_runs)).items()
        if top is not None
        for folder in top["folders"][:1]
        if (Path(sweep_dir) / folder / WEIGHTS_FILE).exists()
    ]
    return sorted(found, key=lambda item: judging.best_first(item[2]))


def generate(model, vocabulary, prompt, characters, block_size, rng):
    """`characters` characters after `prompt`, each drawn from the model's
    distribution of the next one given the last `block_size` before it."""
    import keras

    ids = [vocabulary.index(c) for c in prompt]
    for _ in range(characters):
        window = np.array([ids[-block_size:]], dtype="int32")
        logits = keras.ops.convert_to_numpy(model(window, training=False))[0, -1]
        chances = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(chances), p=chances / chances.sum())))
    return "".join(vocabulary[i] for i in ids[len(prompt) :])


def sample_run(run_dir, prompt, characters, seed):
    """The text the trained model of `run_dir` writes after `prompt`."""
    from experiments.sweep.training import trained_language_model

    model, text = trained_language_model(run_dir)
    unknown = sorted(set(prompt) - set(text.vocabulary))
    if unknown:
        raise UsageError(
            f"--prompt holds {''.join(unknown)!r}, which the text never uses"
        )
    rng = np.random.default_rng(seed)
    return generate(model, text.vocabulary, prompt, characters, text.block_size, rng)


@cli.command
def main(argv=None):
    args = parse_args(argv)
    sweep_dir = Path(args.sweep_dir)
    if not sweep_dir.is_dir():
        raise UsageError(f"{sweep_dir} is not a folder")
    found = best_runs(sweep_dir)
    if not found:
        raise UsageError(
            f"{sweep_dir} holds no finished run of a language model with its weights"
        )
    from experiments.report import judging

    sections = [f"# Samples from `{sweep_dir.name}`", "",
                f"{args.characters} characters after {args.prompt!r}, drawn with "
                f"seed {args.seed}, from each entry's best run (best first)."]  # fmt: skip
    for entry, run_dir, top in found:
        text = sample_run(run_dir, args.prompt, args.characters, args.seed)
        score = judging.formatted(judging.metric(top), judging.value(top))
        head = f"## {entry} (η = {top['learning_rate']:g}, {judging.name(top)} {score})"
        sections += ["", head, "", f"run: {run_dir.relative_to(sweep_dir)}", "",
                     "```", args.prompt + text, "```"]  # fmt: skip
        print("\n".join(sections[-7:]), flush=True)
    out = sweep_dir / SAMPLES_FILE
    with cli.writing(out):
        out.write_text("\n".join(sections) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
