"""The transformer problem: Tiny Shakespeare as nanoGPT prepares it, nanoGPT's
GPT in Keras layers, a budget in steps, and a user's own text."""

import csv
import hashlib
import json
import math
import re

import keras
import numpy as np
import pytest

from custom_optimizers import AdamW
from experiments import models, text_data
from experiments.sweep import command as sweep
from experiments.sweep.schedules import make_schedule
from experiments.sweep.training import exclude_vectors_from_decay
from tests.helpers import events, values

# A transformer small enough to train a few steps in seconds.
TINY_SIZES = "n_layer = 1\nn_head = 2\nn_embd = 16\nblock_size = 16\n"


def test_the_shipped_text_is_nanogpts_tiny_shakespeare():
    path = text_data.TEXTS["tinyshakespeare"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    )
    ids, vocabulary = text_data.encode(text_data.read(path))
    train, val = text_data.split(ids)
    # nanoGPT's prepare.py prints these: 65 characters, 1,003,854 and 111,540 tokens.
    assert (len(vocabulary), len(train), len(val)) == (65, 1_003_854, 111_540)
    assert vocabulary[:13] == "\n !$&',-.3:;?"


def test_characters_become_ids_in_sorted_order_and_the_first_90_percent_trains():
    ids, vocabulary = text_data.encode("banana bread\n")
    assert vocabulary == "\n abdenr"
    assert "".join(vocabulary[i] for i in ids) == "banana bread\n"
    assert list(ids[:3]) == [3, 2, 6]
    train, val = text_data.split(np.arange(20))
    assert list(train) == list(range(18)) and list(val) == [18, 19]


def test_windows_are_labelled_by_the_next_character():
    ids = np.arange(10, dtype="int32")
    x, y = text_data.training_windows(ids, 4)
    assert len(x) == 10 - 4  # nanoGPT draws offsets below len(data) - block_size
    assert list(x[2]) == [2, 3, 4, 5] and list(y[2]) == [3, 4, 5, 6]
    x, y = text_data.consecutive_windows(ids, 4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]


def nanogpt_parameters(vocabulary, block_size, n_layer, n_embd):
    """nanoGPT's GPT with bias=False, counted from model.py's modules: wte and
    wpe; per block ln_1, c_attn, c_proj, ln_2, c_fc, mlp's c_proj; ln_f
    (lm_head shares wte's weights)."""
    block = n_embd + 3 * n_embd**2 + n_embd**2 + n_embd + 4 * n_embd**2 * 2
    return vocabulary * n_embd + block_size * n_embd + n_layer * block + n_embd


@pytest.mark.parametrize("sizes", [(65, 64, 4, 4, 128), (11, 16, 2, 2, 32)])
def test_the_transformer_has_nanogpts_parameters_and_shapes(sizes):
    vocabulary, block_size, n_layer, n_head, n_embd = sizes
    model = models.build("transformer", 0, (block_size,), vocabulary,
                         n_layer=n_layer, n_head=n_head, n_embd=n_embd)  # fmt: skip
    assert model.count_params() == nanogpt_parameters(
        vocabulary, block_size, n_layer, n_embd
    )
    assert model.output_shape == (None, None, vocabulary)
    if sizes[0] == 65:
        assert model.count_params() == 804_096
    projection = 0.02 / math.sqrt(2 * n_layer)
    for weight in model.trainable_weights:
        stddev = float(np.std(weight.numpy()))
        if weight.path.endswith("gamma"):
            assert np.all(weight.numpy() == 1.0)
        elif "projection" in weight.path or "mlp_out" in weight.path:
            assert stddev == pytest.approx(projection, rel=0.15), weight.path
        else:
            assert stddev == pytest.approx(0.02, rel=0.15), weight.path


def nanogpt_forward(weights, tokens, n_layer, n_head):
    """nanoGPT's GPT.forward (model.py, bias=False, no dropout) in NumPy,
    from the Keras model's weights by path: logits at every position."""
    from scipy.special import erf

    def norm(x, gamma):  # LayerNorm, ε = 1e-5, no offset
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * gamma

    wte = weights["token_embedding/embeddings"]
    length, width = tokens.shape[1], wte.shape[1]
    x = wte[tokens] + weights["position_embedding/embeddings"][:length]
    size = width // n_head
    causal = np.tril(np.ones((length, length), bool))
    for i in range(n_layer):
        w = {
            k.split("/", 1)[1]: v
            for k, v in weights.items()
            if k.startswith(f"block_{i}/")
        }
        q, k, v = np.split(
            norm(x, w["attention_norm/gamma"]) @ w["attention/qkv/kernel"], 3, -1
        )
        q, k, v = (
            t.reshape(*t.shape[:2], n_head, size).transpose(0, 2, 1, 3)
            for t in (q, k, v)
        )
        scores = np.where(causal, q @ k.transpose(0, 1, 3, 2) / np.sqrt(size), -np.inf)
        attention = np.exp(scores - scores.max(-1, keepdims=True))
        attention /= attention.sum(-1, keepdims=True)
        heads = (attention @ v).transpose(0, 2, 1, 3).reshape(*x.shape)
        x = x + heads @ w["attention/projection/kernel"]
        hidden = norm(x, w["mlp_norm/gamma"]) @ w["mlp_in/kernel"]
        x = x + (0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))) @ w["mlp_out/kernel"]
    return norm(x, weights["final_norm/gamma"]) @ wte.T


def test_the_transformer_computes_nanogpts_forward_pass():
    """Against nanoGPT's forward pass in NumPy, after a few training steps so
    that the norms' scales are no longer 1."""
    model = models.build("transformer", 0, (12,), 11, n_layer=2, n_head=2, n_embd=8)
    models.compile_classifier(model, AdamW(learning_rate=0.05))
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 11, (4, 12))
    model.fit(tokens, rng.integers(0, 11, (4, 12)), epochs=3, verbose=0)
    weights = {w.path.removeprefix("transformer/"): w.numpy() for w in model.weights}
    assert not np.allclose(weights["final_norm/gamma"], 1.0)
    expected = nanogpt_forward(weights, tokens, n_layer=2, n_head=2)
    np.testing.assert_allclose(model.predict(tokens, verbose=0), expected, atol=2e-5)
    shorter = tokens[:, :5]  # fewer positions than the block: the first ones
    np.testing.assert_allclose(
        model.predict(shorter, verbose=0),
        nanogpt_forward(weights, shorter, 2, 2),
        atol=2e-5,
    )


def test_a_position_sees_only_itself_and_the_positions_before_it():
    model = models.build("transformer", 0, (16,), 11, n_layer=2, n_head=2, n_embd=16)
    tokens = np.random.default_rng(0).integers(0, 11, (3, 16))
    changed = tokens.copy()
    changed[:, 9] = (changed[:, 9] + 1) % 11
    before, after = (model.predict(t, verbose=0) for t in (tokens, changed))
    np.testing.assert_array_equal(before[:, :9], after[:, :9])
    assert np.abs(before[:, 9:] - after[:, 9:]).min(axis=-1).max() > 0


def test_decay_on_matrices_only_leaves_norms_and_decays_the_rest():
    """With a zero gradient Adam's step is 0, so what changes is decoupled
    decay alone: θ·(1 − η·wd) for matrices and embeddings, norms untouched."""
    model = models.build("transformer", 0, (8,), 5, n_layer=1, n_head=1, n_embd=4)
    optimizer = AdamW(learning_rate=0.1, weight_decay=0.5)
    exclude_vectors_from_decay(optimizer, model)
    before = [w.numpy() for w in model.trainable_weights]
    optimizer.apply_gradients(
        [(keras.ops.zeros(w.shape), w) for w in model.trainable_weights]
    )
    for weight, old in zip(model.trainable_weights, before):
        kept = 1.0 if len(weight.shape) < 2 else 1 - 0.1 * 0.5
        np.testing.assert_allclose(weight.numpy(), old * kept, rtol=1e-6)


def test_warmup_cosine_ends_at_its_final_fraction_as_nanogpts_get_lr():
    """nanoGPT's get_lr(it): η·(it+1)/(warmup+1) while it < warmup, then cosine
    from η to min_lr at lr_decay_iters. After warm-up the two agree; during
    it, Keras's warm-up is η·it/warmup, one step later than nanoGPT's."""
    schedule = make_schedule("warmup_cosine", 1e-3, 2000, warmup_fraction=0.05,
                             final_fraction=0.1)  # fmt: skip

    def get_lr(it):
        if it < 100:
            return 1e-3 * (it + 1) / 101
        ratio = (it - 100) / 1900
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * ratio)) * (1e-3 - 1e-4)

    for it in (100, 101, 555, 1000, 1999, 2000):
        assert float(schedule(it)) == pytest.approx(get_lr(it), rel=1e-5)
    for it in (0, 1, 50, 99):
        assert float(schedule(it)) == pytest.approx(1e-3 * it / 100, abs=1e-9)
        assert abs(float(schedule(it)) - get_lr(it)) < 1.1e-5


def text_sweep(tmp_path, problem_table, *argv, name="text"):
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'name = "{name}"\nworkers = 1\n[grid]\nlearning_rate = [3e-3]\n'
        f"seed = [0, 1]\n[optimizers.adam]\n{problem_table}"
    )
    return sweep.main(["--config", str(config), "--logdir", str(tmp_path / "logs"),
                       *argv])  # fmt: skip


@pytest.mark.slow
def test_a_steps_budget_evaluates_every_eval_every_steps_and_resumes(tmp_path, capsys):
    table = f"[problems.shakespeare_char]\nsteps = 6\neval_every = 3\n{TINY_SIZES}"
    assert text_sweep(tmp_path, table) == 0
    sweep_dir = tmp_path / "logs" / "text"
    runs = sorted((sweep_dir / "shakespeare_char" / "adam").iterdir())
    assert [r.name for r in runs] == ["lr=0.003", "lr=0.003,seed=1"]
    first = json.loads((runs[0] / "result.json").read_text())
    assert first["epochs_run"] == 2 and len(first["history"]["val_loss"]) == 2
    with open(runs[0] / "epochs.csv") as f:
        assert [row["step"] for row in csv.DictReader(f)] == ["3", "6"]
    validation = events(runs[0] / "validation")
    assert [e.step for e in validation.Tensors("epoch_loss")] == [3, 6]
    assert values(validation, "epoch_loss") == pytest.approx(
        first["history"]["val_loss"], rel=1e-6
    )
    assert [e.step for e in events(runs[0] / "train").Tensors("batch_loss")] == [
        1, 2, 3, 4, 5, 6
    ]  # fmt: skip
    # Cut short: seed 1 lost its result. Only it trains again, to the same numbers.
    second = json.loads((runs[1] / "result.json").read_text())
    (runs[1] / "result.json").unlink()
    capsys.readouterr()
    assert text_sweep(tmp_path, table) == 0
    assert "1 runs to train, 1 already finished" in capsys.readouterr().out
    again = json.loads((runs[1] / "result.json").read_text())
    assert again["val_loss"] == second["val_loss"] != first["val_loss"]
    assert json.loads((runs[0] / "result.json").read_text()) == first
    # Evaluated once after all 6 steps: the same 6 batches in the same order
    # (an epoch goes on where the last one stopped), so the same model.
    once = f"[problems.shakespeare_char]\nsteps = 6\neval_every = 6\n{TINY_SIZES}"
    assert text_sweep(tmp_path, once, name="once") == 0
    run = tmp_path / "logs" / "once" / "shakespeare_char" / "adam" / "lr=0.003"
    last = json.loads((run / "result.json").read_text())
    assert last["val_loss"] == pytest.approx(first["val_loss"], rel=1e-6)
    assert last["train_loss"] != pytest.approx(first["train_loss"], rel=1e-6)


@pytest.mark.slow
def test_a_users_text_file_is_a_problem_of_its_own(tmp_path):
    text = "".join(f"line {i % 7}: to be or not to be\n" for i in range(200))
    (tmp_path / "mine.txt").write_text(text)
    table = (
        f'[problems.mytext]\ndata = "mine.txt"\nmodel = "transformer"\nsteps = 2\neval_every = 2\n'
        f"{TINY_SIZES}"
    )
    assert text_sweep(tmp_path, table, name="mine") == 0
    run = tmp_path / "logs" / "mine" / "mytext" / "adam" / "lr=0.003"
    recorded = json.loads((run / "run.json").read_text())
    assert recorded["data"]["dataset"] == str(tmp_path / "mine.txt")
    assert recorded["data"]["source"] == "its .txt file"
    assert recorded["problem"]["metric"] == "val_loss"
    distinct = len(set(text))
    assert recorded["params"] == nanogpt_parameters(distinct, 16, 1, 16)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the text is empty"),
        ("café au lait\n".encode("latin-1") * 100, "not UTF-8 text (byte 3 is 0xe9)"),
        (b"to be or not to be", "is no longer than one window of block_size 16"),
        # 180 characters to train on: 164 windows, fewer than one batch.
        (b"abcdefghij" * 20, "batch_size 200 is more than the 164 training samples"),
    ],
)
def test_a_bad_text_file_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    (tmp_path / "bad.txt").write_bytes(content)
    table = (
        f'[problems.bad]\ndata = "bad.txt"\nmodel = "transformer"\n{TINY_SIZES}'
        "batch_size = 200\n"
    )
    assert text_sweep(tmp_path, table, name="bad") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not list((tmp_path / "logs").rglob("run.json"))


def judge(run_dir, loss, accuracy):
    """Gives a finished run this validation loss and accuracy, at the end and
    in its history, as if it had trained to them."""
    path = run_dir / "result.json"
    result = json.loads(path.read_text())
    result.update(val_loss=loss, val_accuracy=accuracy)
    result["history"]["val_loss"][-1] = loss
    result["history"]["val_accuracy"][-1] = accuracy
    path.write_text(json.dumps(result))


@pytest.mark.slow
def test_a_problem_judged_by_loss_is_ranked_lowest_loss_first_everywhere(
    tmp_path, capsys
):
    """Every run's accuracy is made to disagree with its loss: the lowest loss
    has the lowest accuracy. Each choice and ranking must follow the loss,
    so one that reads accuracy instead picks the other setting and fails."""
    config = tmp_path / "judged.toml"
    config.write_text(
        'name = "judged"\nworkers = 1\n[grid]\nlearning_rate = [0.01, 0.1]\n'
        "[optimizers.sgd]\n[optimizers.adam]\n"
        f"[problems.shakespeare_char]\nsteps = 2\neval_every = 1\n{TINY_SIZES}"
    )
    argv = ["--config", str(config), "--logdir", str(tmp_path / "logs")]
    assert sweep.main(argv) == 0
    problem = tmp_path / "logs" / "judged" / "shakespeare_char"
    # Tuning seed 0: sgd is best at η = 0.1, adam at η = 0.01, by loss.
    for optimizer, rate, loss in (("sgd", 0.01, 3.0), ("sgd", 0.1, 2.5),
                                  ("adam", 0.01, 1.5), ("adam", 0.1, 2.0)):  # fmt: skip
        judge(problem / optimizer / f"lr={rate:g}", loss, 1 - loss / 4)
    assert sweep.main([*argv, "--rerun-best", "2"]) == 0
    reruns = sorted(str(p.relative_to(problem)) for p in problem.glob("*/*seed=*"))
    assert reruns == ["adam/lr=0.01,seed=1", "adam/lr=0.01,seed=2",
                      "sgd/lr=0.1,seed=1", "sgd/lr=0.1,seed=2"]  # fmt: skip
    # Evaluation seeds: adam's loss is lower, its accuracy lower still.
    for rerun, loss in zip(reruns, (1.48, 1.49, 2.60, 2.64), strict=True):
        judge(problem / rerun, loss, 1 - loss / 4 - (0.5 if "adam" in rerun else 0))
    from experiments.report import __main__ as report

    assert report.main([str(problem.parent)]) == 0
    summary = (problem.parent / "summary.md").read_text()
    head = "| rank | optimizer | best lr | val loss | val accuracy | against the best |"
    assert head + " difference (nats, 95%) |" in summary
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    ranking = [line.split(" | ")[:4] for line in rows if "seeds)" in line]
    adam, sgd = (line for line in rows if "seeds)" in line)
    assert ranking == [["| 1", "adam", "0.01", "1.4850 ± 0.0635 (2 seeds)"],
                       ["| 2", "sgd", "0.1", "2.6200 ± 0.2541 (2 seeds)"]]  # fmt: skip
    assert "| worse | +1.1350 (" in sgd
    # The expected best of 3 from a grid of 2: the lower loss, on the tuning seed;
    # the forgiving range: the rates within 0.01 nats of it.
    assert "| 1.5000 ± 0.0000 | 0.01 – 0.01 (1) |" in adam
    assert "| 2.5000 ± 0.0000 | 0.1 – 0.1 (1) |" in sgd
    # Time to result: within 1% of the best final loss, 1.48 / 0.99.
    assert "reached 1.4949 (this sweep's best final one ÷ 0.99)" in summary
    assert "| 1 | adam | 0.01 | 2 |" in summary
    assert "| – | sgd | 0.1 | – | – |" in summary
    # The stored baseline made from this folder picks and targets by loss too.
    from experiments import store_baselines
    from experiments.report import baselines

    tables = {"sgd": {}, "adam": {}}
    stored = store_baselines.baseline("shakespeare_char", problem.parent, tables)
    assert stored["protocol"]["metric"] == "val_loss"
    # the best entry's mean loss ÷ 0.99
    assert stored["protocol"]["target"] == {"val_loss": pytest.approx(1.485 / 0.99)}
    assert {k: e["best"]["learning_rate"] for k, e in stored["entries"].items()} == {
        "adam": 0.01, "sgd": 0.1}  # fmt: skip
    assert stored["entries"]["adam"]["best"]["seeds"] == [1, 2]
    entries = {e["base_optimizer"]: e for e in baselines.entries(stored)}
    assert {e["metric"] for e in entries.values()} == {"val_loss"}
    assert round(entries["adam"]["val_loss"], 3) == 1.485


@pytest.mark.slow
def test_samples_are_drawn_from_each_entrys_best_run_alike(tmp_path, capsys):
    """Each entry's best run writes after the same prompt with the same draws:
    the same model writes the same text, and the text follows the model."""
    config = tmp_path / "samples.toml"
    config.write_text(
        'name = "s"\nworkers = 1\n[grid]\nlearning_rate = [0.01, 0.03]\n'
        "[optimizers.sgd]\n[optimizers.adam]\n"
        f"[problems.shakespeare_char]\nsteps = 2\neval_every = 2\n{TINY_SIZES}"
    )
    assert sweep.main(["--config", str(config), "--logdir", str(tmp_path)]) == 0
    from experiments import samples

    sweep_dir = tmp_path / "s"
    argv = [str(sweep_dir), "--prompt", "ROMEO:", "--characters", "40"]
    capsys.readouterr()
    assert samples.main(argv) == 0
    printed = capsys.readouterr().out
    written = (sweep_dir / "samples.md").read_text()
    found = samples.best_runs(sweep_dir)
    assert [entry for entry, _, _ in found] == ["adam", "sgd"]  # adam: lower loss
    losses = {
        entry: json.loads((run / "result.json").read_text())["val_loss"]
        for entry, run, _ in found
    }
    assert losses["adam"] < losses["sgd"]
    texts = re.findall(r"```\nROMEO:(.*?)\n```", written, re.DOTALL)
    assert len(texts) == 2 and all(len(t) == 40 for t in texts)
    assert texts[0] in printed and texts[1] in printed
    # Drawn again from adam's model: the same text; with another seed, not.
    adam_run = found[0][1]
    again = samples.sample_run(adam_run, "ROMEO:", 40, seed=0)
    assert again == texts[0]
    assert samples.sample_run(adam_run, "ROMEO:", 40, seed=1) != again
    # The first character follows the model's distribution after the prompt.
    model = models.build("transformer", 0, (16,), 65, n_layer=1, n_head=2, n_embd=16)
    model.load_weights(adam_run / "model.weights.h5")
    _, vocabulary = text_data.encode(text_data.read(text_data.TEXTS["tinyshakespeare"]))
    prompt = np.array([[vocabulary.index(c) for c in "ROMEO:"]])
    logits = model.predict(prompt, verbose=0)[0, -1]
    chances = np.exp(logits - logits.max())
    first = np.random.default_rng(0).choice(65, p=chances / chances.sum())
    assert texts[0][0] == vocabulary[first]
    # nanoGPT's way of estimating the loss, beside the whole validation text's.
    from experiments import evaluation_noise

    capsys.readouterr()
    assert evaluation_noise.main([str(adam_run), "--draws", "5"]) == 0
    printed = capsys.readouterr().out
    recorded = json.loads((adam_run / "result.json").read_text())["val_loss"]
    whole = float(re.search(r"([0-9.]+) on the whole validation text", printed)[1])
    assert whole == pytest.approx(recorded, abs=1e-4)
    spread = float(re.search(r"standard deviation ([0-9.]+)", printed)[1])
    assert 0 < spread < 0.5
    assert samples.main([str(sweep_dir), "--prompt", "ROMEO€"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --prompt holds '€', which the text never uses\n"


def test_a_folder_without_a_language_model_is_one_line(tmp_path, capsys):
    from experiments import samples

    (tmp_path / "empty").mkdir()
    assert samples.main([str(tmp_path / "empty")]) == 2
    assert "holds no finished run of a language model" in capsys.readouterr().err


def test_adams_effective_step_is_eta_over_the_gradients_size_for_a_steady_gradient():
    """With the same gradient g at every step, v̂ = v/(1 − β2^t) = g² exactly,
    so the effective step η/(√v̂ + ε) is η/(|g| + ε), parameter by parameter."""
    from experiments.step_sizes import effective_steps

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    optimizer = AdamW(learning_rate=0.1, beta_2=0.99, weight_decay=0.0)
    gradients = [np.array([[1, -2], [3, 0.5], [-4, 2]], "float32"),
                 np.array([0.5, -0.25], "float32")]  # fmt: skip
    for _ in range(3):
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    found = effective_steps(optimizer, model, 0.1)
    for (path, steps), gradient in zip(found.items(), gradients, strict=True):
        np.testing.assert_allclose(steps, 0.1 / (np.abs(gradient) + 1e-8), rtol=1e-5)


def test_the_step_sizes_train_the_run_nanogpts_config_declares():
    import tomllib

    from experiments import step_sizes
    from experiments.sweep.config import CONFIGS

    declared = tomllib.loads((CONFIGS / step_sizes.PROTOCOL).read_text())
    spec = step_sizes.protocol_run(0)
    assert (spec.optimizer, spec.values["seed"], spec.values["schedule"]) == (
        "adamw", 0, "warmup_cosine")  # fmt: skip
    assert spec.values["learning_rate"] == declared["grid"]["learning_rate"][0]
    assert declared["optimizers"]["adamw"].items() <= spec.optimizer_settings.items()
    assert dict(spec.schedule_settings) == {
        k: declared[k] for k in ("warmup_fraction", "final_fraction")}  # fmt: skip
    assert (spec.problem.steps, step_sizes.protocol_run(5).problem.steps) == (2000, 5)


@pytest.mark.slow
def test_the_step_size_figure_counts_every_parameter_in_its_block(tmp_path, capsys):
    from experiments import step_sizes

    assert step_sizes.main(["--out", str(tmp_path), "--steps", "3"]) == 0
    with open(tmp_path / "step_sizes.csv") as f:
        rows = {row["block"]: row for row in csv.DictReader(f)}
    # nanoGPT's sizes: wte + wpe; 4 blocks of c_attn + c_proj; of two MLP
    # matrices; 2 norms a block and the final one, 128 scales each.
    assert {block: int(row["parameters"]) for block, row in rows.items()} == {
        "embeddings": 65 * 128 + 64 * 128,
        "attention": 4 * (128 * 384 + 128 * 128),
        "MLP": 4 * 2 * 128 * 512,
        "norms": 9 * 128,
    }
    for row in rows.values():
        percentiles = [float(row[f"p{p}"]) for p in step_sizes.PERCENTILES]
        assert percentiles == sorted(percentiles) and percentiles[0] > 0
    assert (tmp_path / "step_sizes.png").stat().st_size > 10_000
    assert "after 3 steps" in capsys.readouterr().out


@pytest.mark.slow
def test_a_steps_budget_on_ray_trains_the_same_numbers_as_in_one_process(tmp_path):
    table = f"[problems.shakespeare_char]\nsteps = 4\neval_every = 2\n{TINY_SIZES}"
    found = {}
    for workers in (1, 2):
        config = tmp_path / f"w{workers}.toml"
        config.write_text(
            f'name = "w{workers}"\nworkers = {workers}\n[grid]\n'
            f"learning_rate = [3e-3]\nseed = [0, 1]\n[optimizers.adam]\n{table}"
        )
        assert sweep.main(["--config", str(config), "--logdir", str(tmp_path)]) == 0
        found[workers] = {
            path.parent.name: json.loads(path.read_text())["history"]["val_loss"]
            for path in (tmp_path / f"w{workers}").rglob("result.json")
        }
    assert found[1].keys() == found[2].keys() == {"lr=0.003", "lr=0.003,seed=1"}
    for run, losses in found[1].items():
        # One TensorFlow thread per Ray worker, two in one process: sums
        # differ in their last bits.
        assert found[2][run] == pytest.approx(losses, rel=1e-5)


def test_a_problem_field_back_at_its_default_is_another_run():
    """A run is reused only where every field that decides it agrees, whether
    it is at its default now or was then; a run recorded before the fields
    existed had their defaults."""
    from dataclasses import replace

    from experiments.problems import PROBLEMS
    from experiments.sweep.spec import RunSpec

    text = PROBLEMS["shakespeare_char"]
    spec = RunSpec(text, "adam", text.epochs, {"learning_rate": 1e-3})
    saved = spec.identity()
    assert spec.differences(saved) == []
    for changed, field in ((replace(text, decay_vectors=True), "decay_vectors"),
                           (replace(text, steps=0, eval_every=0), "steps")):  # fmt: skip
        other = RunSpec(changed, "adam", text.epochs, {"learning_rate": 1e-3})
        assert field in other.differences(saved)
        assert field in spec.differences(other.identity())
    mnist = PROBLEMS["mnist_small_mlp"]
    old = RunSpec(mnist, "adam", 8, {"learning_rate": 1e-3}).identity()
    assert not set(old) & {"steps", "decay_vectors", "model_options"}
    assert RunSpec(mnist, "adam", 8, {"learning_rate": 1e-3}).differences(old) == []


def test_a_folder_or_a_stored_baseline_holds_one_judged_metric_and_budget():
    from dataclasses import asdict, replace

    from experiments.sweep.migrations import current_run

    from experiments.problems import PROBLEMS
    from experiments.report import baselines
    from experiments.sweep import plan
    from experiments.sweep.spec import RunSpec

    text = PROBLEMS["shakespeare_char"]
    spec = RunSpec(text, "adam", text.epochs, {"learning_rate": 1e-3})
    by_accuracy = replace(text, metric="val_accuracy")
    expected = plan._protocol(
        [RunSpec(by_accuracy, "adam", 8, {"learning_rate": 1e-3})]
    )
    problem = json.loads(json.dumps(asdict(text)))
    recorded = {"run": spec.identity(), "problem": problem, "data": {}}
    identities = {"tinyshakespeare": {k: None for k in plan.SPLIT_KEYS}}
    found = plan._protocol_differences(current_run(recorded), expected, identities)
    assert "metric: 'val_loss' then, 'val_accuracy' now" in found
    del recorded["problem"]  # recorded before problems declared a metric
    assert not any("metric" in f for f in plan._protocol_differences(
        current_run(recorded), expected, identities))  # fmt: skip
    stored = {"protocol": {"epochs": 8, "data": {}}}
    epochs_only = {"epochs": 8, "data": {}}
    assert baselines.differences(stored, epochs_only) == []
    with_steps = {**epochs_only, "steps": 2000, "eval_every": 250}
    assert "steps 0 there, 2000 here" in baselines.differences(stored, with_steps)
    by_loss = {**epochs_only, "metric": "val_loss"}
    assert "metric 'val_accuracy' there, 'val_loss' here" in baselines.differences(
        stored, by_loss
    )


@pytest.mark.parametrize(("distinct", "limit"), [(30, 10.0), (65, 10.0), (5000, 20.4)])
def test_a_text_s_divergence_limit_grows_with_its_characters(tmp_path, distinct, limit):
    """A fresh model's loss starts near ln V, the loss of a uniform guess over
    V characters: 8.5 for 5,000 of them, too close to shakespeare_char's 10
    for a text to train before it is stopped as diverged."""
    from experiments import problems

    (tmp_path / "mine.txt").write_text(
        "".join(chr(0x4E00 + i) for i in range(distinct))
    )
    table = {"data": "mine.txt", "model": "transformer"}
    made = problems.from_table("mine", table, tmp_path / "sweep.toml")
    assert made.divergence_loss == limit
    given = problems.from_table("mine", {**table, "divergence_loss": 50.0},
                                tmp_path / "sweep.toml")  # fmt: skip
    assert given.divergence_loss == 50.0


def test_the_decay_heatmap_of_a_loss_judged_problem_boxes_the_lowest_loss(
    tmp_path, monkeypatch
):
    """Validation loss (lower is better) over η × weight decay: the box marks the
    lowest loss, the numbers are losses, not percentages, and the brightest
    colour is the lowest."""
    from matplotlib.patches import Rectangle

    from experiments.report import decay_figures

    losses = {(1e-3, 0.0): 2.1, (1e-2, 0.0): 1.9, (1e-3, 0.1): 1.7, (1e-2, 0.1): 2.4}
    settings = [
        {"problem": "text", "in_decay_grid": True, "optimizer": "adamw",
         "decoupled_weight_decay": True, "learning_rate": rate, "weight_decay": decay,
         "metric": "val_loss", "val_loss": loss, "train_loss": loss - 0.2,
         "diverged": False}
        for (rate, decay), loss in losses.items()
    ]  # fmt: skip
    drawn = []
    monkeypatch.setattr(decay_figures, "save", lambda fig, path, **_: drawn.append(fig))
    decay_figures.plot_weight_decay_heatmaps(settings, "text", tmp_path / "decay.png")
    judged = drawn[0].axes[0]
    [box] = [p for p in judged.patches if isinstance(p, Rectangle)]
    assert (box.get_x() + 0.5, box.get_y() + 0.5) == (0, 1)  # η = 1e-3, wd = 0.1
    numbers = sorted(t.get_text() for t in judged.texts)
    assert numbers == ["1.70", "1.90", "2.10", "2.40"]
    assert judged.images[0].get_cmap().name.endswith("_r")  # bright = low


@pytest.mark.slow
def test_the_gpu_check_declares_nanogpts_gpu_protocol_and_trains_when_shrunk(
    tmp_path, capsys
):
    import tomllib

    from experiments import backend
    from experiments.sweep.config import CONFIGS

    text = (CONFIGS / "gpu_check.toml").read_text()
    declared = tomllib.loads(text)
    # karpathy/nanoGPT config/train_shakespeare_char.py, but for dropout.
    assert declared["problems"]["shakespeare_char"] == {
        "batch_size": 64, "steps": 5000, "eval_every": 250, "block_size": 256,
        "n_layer": 6, "n_head": 6, "n_embd": 384,
    }  # fmt: skip
    assert declared["grid"] == {"learning_rate": [1e-3], "schedule": ["warmup_cosine"]}
    assert declared["optimizers"] == {
        "adamw": {"beta_2": 0.99, "weight_decay": 0.1, "global_clipnorm": 1.0}}  # fmt: skip
    assert declared["warmup_fraction"] * 5000 == pytest.approx(100)
    assert declared["final_fraction"] * 1e-3 == pytest.approx(1e-4)
    # The same file with a model and budget small enough for a CPU.
    tiny = f"[problems.shakespeare_char]\nbatch_size = 4\nsteps = 4\neval_every = 2\n{TINY_SIZES}\n"
    shrunk, count = re.subn(r"\[problems\.shakespeare_char\]\n.*?\n\n", tiny, text, flags=re.DOTALL)
    assert count == 1
    config = tmp_path / "gpu_check.toml"
    config.write_text(shrunk)
    assert sweep.main(["--config", str(config), "--logdir", str(tmp_path), "--verbose"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("val_loss: ") == 2  # Keras's line at each evaluation
    assert re.search(r"val loss \d\.\d{4}, train loss \d\.\d{4} \(\d+\.\ds\)", printed)
    (run,) = (tmp_path / "gpu_check").rglob("run.json")
    recorded = json.loads(run.read_text())
    assert recorded["optimizer_class"] == "custom_optimizers.adam.AdamW"
    assert recorded["gpus"] == backend.gpu_count()


@pytest.mark.slow
def test_a_stored_entry_named_by_its_schedule_records_its_optimizer_s_class(tmp_path):
    """shakespeare_char's entries carry their schedule (adam+warmup_cosine);
    the class is looked up by the optimizer's table, not by that label."""
    from experiments import store_baselines

    table = f"[problems.shakespeare_char]\nsteps = 2\neval_every = 2\n{TINY_SIZES}"
    config = tmp_path / "scheduled.toml"
    config.write_text(
        'name = "scheduled"\nworkers = 1\n[grid]\nlearning_rate = [3e-3]\n'
        f'schedule = ["warmup_cosine"]\n[optimizers.adam]\n{table}'
    )
    argv = ["--config", str(config), "--logdir", str(tmp_path), "--rerun-best", "1"]
    assert sweep.main(argv) == 0
    stored = store_baselines.baseline("shakespeare_char", tmp_path / "scheduled",
                                      {"adam": {}})  # fmt: skip
    assert list(stored["entries"]) == ["adam+warmup_cosine"]
    entry = stored["entries"]["adam+warmup_cosine"]
    assert entry["optimizer_class"] == "custom_optimizers.adam.Adam"
    assert entry["best"]["seeds"] == [0, 1]  # one setting: nothing chosen, all measure
