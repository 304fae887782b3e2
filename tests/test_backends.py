"""The experiments on whichever Keras backend `KERAS_BACKEND` names: the
batches `model.fit` reads, a sweep that resumes and repeats itself, its
TensorBoard logs and report, and Ray, with or without TensorFlow.

`.ci/run` runs this file (with test_sweep.py, test_trajectories.py and the
stored-baseline comparison) on JAX and on PyTorch, in environments made by
docs/backends.md's install lines, where `import tensorflow` fails.
"""

import json
import shutil

import keras
import numpy as np
import pytest
from tensorboard.plugins.hparams import plugin_data_pb2

from experiments import backend
from experiments.sweep import command as sweep
from experiments.sweep.data_order import shuffled_order
from experiments.sweep.training import Batches
from tests.helpers import TINY, events, summary, values


class Recorder(keras.layers.Layer):
    """Passes its inputs on, keeping the first column of every batch it sees."""

    def __init__(self, seen):
        super().__init__()
        self.keep = seen.append  # a list attribute would be tracked as a copy

    def call(self, x, training=False):
        # Only training steps: building the model calls it too, JAX on tracers.
        if training and "Tracer" not in type(x).__name__:
            self.keep(keras.ops.convert_to_numpy(x)[:, 0].astype(int).tolist())
        return x


@pytest.mark.parametrize("shuffle_buffer, drop_remainder", [(0, False), (7, True)])
def test_fit_epoch_e_reads_tf_data_s_iteration_2e(shuffle_buffer, drop_remainder):
    """The order runs train in, on this backend: `model.fit`'s epoch e reads
    iteration 2e of tf.data's shuffle, from tf.data on TensorFlow and from
    its replay elsewhere (test_data_order.py checks the replay against
    tf.data itself, where TensorFlow is installed)."""
    count, batch_size, seed = 30, 8, 4
    x = np.arange(count, dtype="float32")[:, None]
    seen = []
    model = keras.Sequential([keras.Input((1,)), Recorder(seen), keras.layers.Dense(1)])
    model.compile("sgd", "mse", run_eagerly=True)
    batches = Batches(x, np.zeros(count, "float32"), batch_size, seed,
                      shuffle_buffer, drop_remainder)  # fmt: skip
    keras.utils.set_random_seed(seed)  # as a run's fresh model does first
    data, following = batches.fed_to_fit()
    model.fit(data, epochs=3, verbose=0, shuffle=False, callbacks=following)
    kept = count - count % batch_size if drop_remainder else count
    per_epoch = len(batches)
    for epoch in range(3):
        read = sum(seen[epoch * per_epoch : (epoch + 1) * per_epoch], [])
        expected = shuffled_order(count, seed, 2 * epoch, shuffle_buffer)[:kept]
        assert read == expected.tolist(), f"epoch {epoch}"


@pytest.fixture(scope="module")
def resumed(tiny_sweep, tmp_path_factory):
    """TINY's sweep, then one run's result lost (as a kill leaves it) and the
    sweep run again: (sweep folder, the lost run's first result, its redone one)."""
    logdir = tmp_path_factory.mktemp("logs")
    shutil.copytree(tiny_sweep, logdir / "quick")
    run = logdir / "quick" / "mlp" / "adam" / "lr=0.03"
    first = json.loads((run / "result.json").read_text())
    (run / "result.json").unlink()
    assert sweep.main([*TINY, "--logdir", str(logdir)]) == 0
    return logdir / "quick", first, json.loads((run / "result.json").read_text())


@pytest.mark.slow
def test_a_resumed_sweep_redoes_the_lost_run_to_the_same_numbers(resumed):
    sweep_dir, first, redone = resumed
    for key in ("train_loss", "val_loss", "val_accuracy", "test_accuracy"):
        assert redone[key] == first[key], key
    assert redone["history"] == first["history"]
    assert len(summary(sweep_dir)) == 4


@pytest.mark.slow
def test_each_run_records_this_backend_and_the_gpus_it_sees(resumed):
    sweep_dir, _, _ = resumed
    for run_json in sweep_dir.rglob("run.json"):
        recorded = json.loads(run_json.read_text())
        assert recorded["backend"] == keras.backend.backend()
        assert recorded["gpus"] == backend.gpu_count()


@pytest.mark.slow
def test_tensorboard_scalars_and_hparams_read_back(resumed):
    sweep_dir, _, redone = resumed
    run = sweep_dir / "mlp" / "adam" / "lr=0.03"
    assert values(events(run / "train"), "epoch_loss") == pytest.approx(
        redone["history"]["loss"], rel=1e-6
    )
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        events(sweep_dir).PluginTagToContent("hparams")["_hparams_/experiment"]
    ).experiment
    assert "backend" in {info.name for info in experiment.hparam_infos}
    session = plugin_data_pb2.HParamsPluginData.FromString(
        events(run).PluginTagToContent("hparams")["_hparams_/session_start_info"]
    ).session_start_info
    assert session.hparams["backend"].string_value == keras.backend.backend()
    assert "diverged at lr" in (sweep_dir / "summary.md").read_text()


@pytest.mark.slow
def test_a_sweep_folder_of_another_backend_is_refused(resumed, tmp_path, capsys):
    """A sweep folder holds one backend's runs: resuming one that another
    backend trained is one line and exit 2, and nothing is written."""
    sweep_dir, _, _ = resumed
    other = "jax" if keras.backend.backend() != "jax" else "torch"
    copy = tmp_path / "quick"
    shutil.copytree(sweep_dir, copy)
    for run_json in copy.rglob("run.json"):
        saved = json.loads(run_json.read_text())
        run_json.write_text(json.dumps({**saved, "backend": other}))
    before = contents(copy)
    capsys.readouterr()
    assert sweep.main([*TINY, "--logdir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"backend: '{other}' then, '{keras.backend.backend()}' now" in error
    assert contents(copy) == before


def contents(folder):
    """{path: bytes} of every file but the sweep's lock."""
    return {p: p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != ".lock"}  # fmt: skip


@pytest.mark.slow
def test_ray_workers_train_on_this_backend_to_the_same_numbers(resumed, tmp_path):
    sweep_dir, first, _ = resumed
    argv = [*TINY, "--logdir", str(tmp_path), "--workers", "2",
            "--optimizers", "adam", "--learning-rates", "0.03"]  # fmt: skip
    assert sweep.main(argv) == 0
    run = tmp_path / "quick" / "mlp" / "adam" / "lr=0.03"
    on_ray = json.loads((run / "result.json").read_text())
    assert (
        json.loads((run / "run.json").read_text())["backend"] == keras.backend.backend()
    )
    # One thread per Ray worker, two in one process: sums in another order.
    assert on_ray["train_loss"] == pytest.approx(first["train_loss"], rel=1e-5)


@pytest.mark.slow
def test_runs_from_before_backends_were_recorded_count_as_tensorflow_s(
    resumed, tmp_path, capsys
):
    """A run.json without `backend` was trained on TensorFlow, the only
    backend then: on TensorFlow the folder resumes with nothing to train,
    elsewhere it is refused as another protocol."""
    sweep_dir, _, _ = resumed
    copy = tmp_path / "quick"
    shutil.copytree(sweep_dir, copy)
    for run_json in copy.rglob("run.json"):
        saved = json.loads(run_json.read_text())
        del saved["backend"]
        run_json.write_text(json.dumps(saved))
    capsys.readouterr()
    status = sweep.main([*TINY, "--logdir", str(tmp_path)])
    if keras.backend.backend() == "tensorflow":
        assert status == 0
        assert "0 runs to train, 4 already finished" in capsys.readouterr().out
    else:
        assert status == 2
        assert f"backend: 'tensorflow' then, '{keras.backend.backend()}' now" in (
            capsys.readouterr().err
        )
