"""Pre-train on some digits, fine-tune on others: the sweep's `pretrain` stage."""

import csv
import json

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

[pretrain]
classes = [0, 1, 2, 3, 4]
optimizer = "adam"
learning_rate = 1e-3
epochs = 2
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


def run_finetune(tmp_path, toml=TINY_FINETUNE, *extra):
    config = tmp_path / "finetune.toml"
    config.write_text(toml)
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


def test_pretraining_runs_once_and_is_kept_out_of_the_comparison(finished):
    pretrained = finished / "pretrain" / "mlp" / "adam" / "lr=0.001"
    assert (pretrained / "model.weights.h5").exists()
    data = json.loads((pretrained / "run.json").read_text())["data"]
    assert data["classes"] == [0, 1, 2, 3, 4]
    with open(finished / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["optimizer"] for r in rows) == ["frozen", "one_rate", "scratch"]
    assert {r["train_samples"] for r in rows} == {"256"}


def test_frozen_layers_keep_the_pretrained_weights_and_scratch_does_not(finished):
    pretrained = finished / "pretrain" / "mlp" / "adam" / "lr=0.001"
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
    "change, message",
    [
        (("epochs = 2\nnew_layers", "epochs = 2\nmomentum = 0.9\nnew_layers"),
         "pretrain: unknown key 'momentum'"),
        (('new_layers = ["logits"]', 'new_layers = ["head"]'),
         "pretrain.new_layers: mlp has no layer 'head'"),
        (("classes = [5, 6, 7, 8, 9]", "classes = [5, 10]"),
         "classes must be digits 0-9, got [5, 10]"),
        (('optimizer = "adam"', 'optimizer = "adamax"'), "unknown optimizer 'adamax'"),
        (('recipe = "momentum"\n[optimizers.frozen]',
          'recipe = "momentum"\nfrom_scratch = 1\n[optimizers.frozen]'),
         "optimizer one_rate: from_scratch must be true or false"),
    ],
)  # fmt: skip
def test_bad_finetune_configs_exit_2_and_write_nothing(
    change, message, tmp_path, capsys
):
    toml = TINY_FINETUNE.replace(*change)
    assert toml != TINY_FINETUNE
    assert run_finetune(tmp_path, toml) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "logs").exists()


def test_a_diverged_pretraining_fails_cleanly_and_is_retried(tmp_path, capsys):
    """Nothing is fine-tuned from it, the sweep ends on the failure, and the
    same folder trains again once the pretrain settings are fixed."""
    diverging = TINY_FINETUNE.replace("learning_rate = 1e-3", "learning_rate = 1e4")
    assert run_finetune(tmp_path, diverging) == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith("failed: ")
    assert "pre-training diverged; change the pretrain settings" in err
    assert "Traceback" not in err and "holds no finished runs" not in err
    sweep_dir = tmp_path / "logs" / "finetune"
    assert not (sweep_dir / "summary.md").exists()
    assert run_finetune(tmp_path) == 0
    out = capsys.readouterr().out
    assert "pre-training: 1 runs to train, 0 already finished" in out
    assert (sweep_dir / "summary.md").exists()
