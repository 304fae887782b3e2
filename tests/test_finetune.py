"""Pre-train on some digits, fine-tune on others: a sweep that starts from
another sweep's weights (`start_from`), and old folders whose pre-training
ran inside the fine-tuning sweep, moved by `migrations`."""

import csv
import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments import models
from experiments.sweep import command as sweep
from tests.helpers import events

pytestmark = pytest.mark.slow  # sweeps, subprocesses, Ray or a browser

TINY_FINETUNE = """
name = "finetune"
models = ["mlp"]
classes = [5, 6, 7, 8, 9]
learning_rates = [0.03]
epochs = 2
batch_size = 64
max_train_samples = 256
workers = 1

[start_from]
sweep = "pretrain.toml"
new_layers = ["logits"]

[optimizers.one_rate]
recipe = "momentum"
[optimizers.frozen]
recipe = "momentum"
learning_rate_multipliers = { "dense_" = 0.0 }
[optimizers.scratch]
recipe = "momentum"
from_scratch = true
"""


TINY_PRETRAIN = """
name = "pretrain_0_4"
models = ["mlp"]
classes = [0, 1, 2, 3, 4]
learning_rates = [1e-3]
epochs = 2
batch_size = 64
max_train_samples = 256
workers = 1
save_weights = true

[optimizers.adam]
"""


def run_finetune(tmp_path, toml=TINY_FINETUNE, *extra, pretrain=TINY_PRETRAIN):
    config = tmp_path / "finetune.toml"
    config.write_text(toml)
    (tmp_path / "pretrain.toml").write_text(pretrain)
    return sweep.main(
        [
            "--config",
            str(config),
            "--offline",
            "--logdir",
            str(tmp_path / "logs"),
            *extra,
        ]
    )


def histogram(run_dir, tag, index):
    return tf.make_ndarray(events(run_dir / "train").Tensors(tag)[index].tensor_proto)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("finetune")
    assert run_finetune(tmp_path) == 0
    return tmp_path / "logs" / "finetune"


def test_the_start_sweep_trains_first_in_its_own_folder_and_keeps_its_weights(
    finished,
):
    pretrained = finished.parent / "pretrain_0_4" / "mlp" / "adam" / "lr=0.001"
    assert (pretrained / "model.weights.h5").exists()
    data = json.loads((pretrained / "run.json").read_text())["data"]
    assert data["classes"] == [0, 1, 2, 3, 4]
    with open(finished / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["optimizer"] for r in rows) == ["frozen", "one_rate", "scratch"]
    assert {r["train_samples"] for r in rows} == {"256"}
    one_rate = json.loads((finished / "mlp" / "one_rate" / "lr=0.03" / "run.json").read_text())
    assert one_rate["run"]["init"] == "pretrain_0_4/mlp/adam/lr=0.001"
    assert not (finished / "pretrain").exists()
    assert json.loads((finished / "sweep.json").read_text())["layout"] == 2


def test_frozen_layers_keep_the_pretrained_weights_and_scratch_does_not(finished):
    pretrained = finished.parent / "pretrain_0_4" / "mlp" / "adam" / "lr=0.001"
    tag = "weights/mlp/dense_1/kernel"
    final_pretrained = histogram(pretrained, tag, -1)
    frozen = finished / "mlp" / "frozen" / "lr=0.03"
    np.testing.assert_array_equal(histogram(frozen, tag, 0), final_pretrained)
    np.testing.assert_array_equal(histogram(frozen, tag, -1), final_pretrained)
    head = "weights/mlp/logits/kernel"
    assert not np.array_equal(
        histogram(frozen, head, 0), histogram(pretrained, head, -1)
    )
    one_rate = finished / "mlp" / "one_rate" / "lr=0.03"
    assert not np.array_equal(histogram(one_rate, tag, -1), final_pretrained)
    scratch = finished / "mlp" / "scratch" / "lr=0.03"
    assert not np.array_equal(histogram(scratch, tag, 0), histogram(frozen, tag, 0))


def test_fine_tuned_runs_see_only_the_new_classes(finished):
    data_text = events(finished / "mlp" / "one_rate" / "lr=0.03" / "train").Tensors(
        "data"
    )[0]
    assert b"classes 5, 6, 7, 8, 9" in tf.make_ndarray(data_text.tensor_proto).item()


def test_load_pretrained_copies_every_layer_but_the_new_ones(tmp_path):
    source = models.build("cnn", seed=1)
    source.save_weights(tmp_path / "w.weights.h5")
    target = models.build("cnn", seed=2)
    fresh_head = target.get_layer("logits").get_weights()
    models.load_pretrained(target, tmp_path / "w.weights.h5", ["logits"])
    for layer in target.layers:
        expected = (
            fresh_head
            if layer.name == "logits"
            else source.get_layer(layer.name).get_weights()
        )
        for a, b in zip(layer.get_weights(), expected, strict=True):
            np.testing.assert_array_equal(a, b)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "which, change, message",
    [
        ("finetune", ('new_layers = ["logits"]', 'new_layers = ["logits"]\nmomentum = 0.9'),
         "start_from: unknown key 'momentum'"),
        ("finetune", ('new_layers = ["logits"]', 'new_layers = ["head"]'),
         "start_from.new_layers: mlp has no layer 'head'"),
        ("finetune", ('sweep = "pretrain.toml"', 'sweep = "absent.toml"'),
         "absent.toml not found"),
        ("finetune", ("[start_from]", "[pretrain]"),
         "[pretrain] is now a sweep of its own"),
        ("finetune", ("classes = [5, 6, 7, 8, 9]", "classes = [5, 10]"),
         "classes must be digits 0-9, got [5, 10]"),
        ("finetune", ("workers = 1", "workers = 1\nseeds = [0, 1]"),
         "pretrain.toml has 0 runs of mlp (mlp on mnist) with seed 1"),
        ("finetune", ('models = ["mlp"]', 'dataset = "fashion_mnist"\nmodels = ["mlp"]'),
         "pretrain.toml has 0 runs of mlp (mlp on fashion_mnist) with seed 0"),
        ("finetune", ('recipe = "momentum"\n[optimizers.frozen]',
                      'recipe = "momentum"\nfrom_scratch = 1\n[optimizers.frozen]'),
         "optimizer one_rate: from_scratch must be true or false"),
        ("pretrain", ("[optimizers.adam]", "[optimizers.adamax]"),
         "unknown optimizer 'adamax'"),
        ("pretrain", ("learning_rates = [1e-3]", "learning_rates = [1e-3, 1e-2]"),
         "pretrain.toml has 2 runs of mlp (mlp on mnist) with seed 0"),
        ("pretrain", ("save_weights = true", ""),
         "does not keep its runs' weights; set save_weights = true there"),
        ("pretrain", ('name = "pretrain_0_4"', 'name = "finetune"'),
         "has this sweep's name, 'finetune'"),
        ("pretrain", ("[optimizers.adam]", '[optimizers.adam]\n[start_from]\nsweep = "x.toml"'),
         "starts from another sweep itself"),
    ],
)  # fmt: skip
def test_bad_finetune_configs_exit_2_and_write_nothing(
    which, change, message, tmp_path, capsys
):
    tomls = {"finetune": TINY_FINETUNE, "pretrain": TINY_PRETRAIN}
    tomls[which] = tomls[which].replace(*change)
    assert tomls[which] != {"finetune": TINY_FINETUNE, "pretrain": TINY_PRETRAIN}[which]
    assert run_finetune(tmp_path, tomls["finetune"], pretrain=tomls["pretrain"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "logs").exists()


def test_a_diverged_start_fails_cleanly_and_trains_once_its_settings_are_fixed(
    tmp_path, capsys
):
    """Nothing is fine-tuned from it, the sweep ends on the failure, and the
    same command trains on once the start sweep's file is fixed."""
    diverging = TINY_PRETRAIN.replace("learning_rates = [1e-3]", "learning_rates = [1e4]")
    assert run_finetune(tmp_path, pretrain=diverging) == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith("failed: ")
    assert "diverged, so nothing starts from it; give " in err and "pretrain.toml other settings" in err
    assert "Traceback" not in err and "holds no finished runs" not in err
    sweep_dir = tmp_path / "logs" / "finetune"
    assert not (sweep_dir / "summary.md").exists()
    assert run_finetune(tmp_path) == 0
    out = capsys.readouterr().out
    assert "pretrain_0_4: 1 runs to train, 0 already finished" in out
    assert "finetune: 3 runs to train, 0 already finished" in out
    assert (sweep_dir / "summary.md").exists()


def as_layout_1(logs):
    """The folders as a [pretrain] table left them: the start sweep's runs in
    finetune/pretrain/, marked as that stage, and the fine-tuning runs'
    `init` pointing there; no layout recorded."""
    start, sweep_dir = logs / "pretrain_0_4", logs / "finetune"
    shutil.move(start / "mlp", sweep_dir / "pretrain" / "mlp")
    shutil.rmtree(start)
    for path in sweep_dir.rglob("run.json"):
        saved = json.loads(path.read_text())
        if "pretrain" in path.parts:
            saved["run"]["stage"] = "pretrain"
        saved["run"]["init"] = saved["run"]["init"].replace("pretrain_0_4/", "pretrain/")
        path.write_text(json.dumps(saved))
    recorded = json.loads((sweep_dir / "sweep.json").read_text())
    del recorded["layout"]
    (sweep_dir / "sweep.json").write_text(json.dumps(recorded))


@pytest.fixture
def layout_1(finished, tmp_path):
    """A copy of the finished sweeps in layout 1, in tmp_path/logs."""
    shutil.copytree(finished.parent, tmp_path / "logs")
    as_layout_1(tmp_path / "logs")
    return tmp_path / "logs"


def test_an_old_folder_s_pretraining_moves_to_its_sweep_and_nothing_retrains(
    layout_1, tmp_path, capsys
):
    weights = (layout_1 / "finetune" / "pretrain" / "mlp" / "adam" / "lr=0.001"
               / "model.weights.h5").read_bytes()  # fmt: skip
    assert run_finetune(tmp_path) == 0
    out = capsys.readouterr().out
    assert "moved 1 pre-training runs" in out
    assert "pretrain_0_4: 0 runs to train, 1 already finished" in out
    assert "finetune: 0 runs to train, 3 already finished" in out
    moved = layout_1 / "pretrain_0_4" / "mlp" / "adam" / "lr=0.001"
    assert (moved / "model.weights.h5").read_bytes() == weights
    assert "stage" not in json.loads((moved / "run.json").read_text())["run"]
    assert not (layout_1 / "finetune" / "pretrain").exists()
    assert json.loads((layout_1 / "finetune" / "sweep.json").read_text())["layout"] == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ("no start", "holds pre-training runs in pretrain/, from a [pretrain] table"),
        ("taken", "cannot move its pre-training runs"),
    ],
)
def test_an_old_folder_that_cannot_move_is_one_line_and_left_as_it_was(
    change, message, layout_1, tmp_path, capsys
):
    toml = TINY_FINETUNE
    if change == "no start":
        toml = toml.replace('[start_from]\nsweep = "pretrain.toml"\nnew_layers = ["logits"]\n', "")
    else:
        (layout_1 / "pretrain_0_4" / "mlp" / "adam" / "lr=0.001").mkdir(parents=True)
    before = listing(layout_1)
    assert run_finetune(tmp_path, toml) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the data's note
    assert last.startswith("error: ") and message in last
    assert listing(layout_1) == before


def listing(folder):
    """Every path under `folder`, but the lock files a sweep leaves in its folders."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != ".lock")


def test_the_fine_tuning_sweep_is_checked_before_its_start_trains(
    finished, tmp_path, capsys
):
    """A folder that refuses the changed settings refuses them before any
    pre-training is spent or written."""
    shutil.copytree(finished.parent, tmp_path / "logs")
    shutil.rmtree(tmp_path / "logs" / "pretrain_0_4")
    changed = TINY_FINETUNE.replace("epochs = 2", "epochs = 3")
    assert run_finetune(tmp_path, changed) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "epochs" in last
    assert not (tmp_path / "logs" / "pretrain_0_4").exists()


def test_runs_whose_start_now_holds_other_weights_are_trained_again(
    finished, tmp_path, capsys
):
    """A start run that holds other weights than the fine-tuning runs started
    from (its sweep trained again, `--force`) retrains those runs, rather
    than keeping them beside runs from the new weights."""
    shutil.copytree(finished.parent, tmp_path / "logs")
    start_run = tmp_path / "logs" / "pretrain_0_4" / "mlp" / "adam" / "lr=0.001"
    models.build("mlp", seed=7).save_weights(start_run / "model.weights.h5")
    assert run_finetune(tmp_path) == 0
    out = capsys.readouterr().out
    assert "finetune: 0 runs to train, 3 already finished" in out
    assert "2 of them started from weights trained again since; training them again" in out
    assert run_finetune(tmp_path) == 0
    assert "trained again since" not in capsys.readouterr().out
