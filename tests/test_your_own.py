"""A sweep of any Keras optimizer, model and data named in the TOML: by file, by
module, Keras's own; each bad one is one line and exit 2; the same on Ray."""

import csv
import json
import re
import shutil
import textwrap

import numpy as np
import pytest

from experiments import plugins
from experiments.sweep import command as sweep
from tests.helpers import ROOT

EXAMPLE = ROOT / "docs" / "your_own"
SMALL = ["--epochs", "1", "--max-train-samples", "300", "--offline"]


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture
def example(tmp_path):
    """docs/your_own copied: its optimizer file, its TOML, its .npz of features."""
    folder = tmp_path / "your_own"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.npz"))
    load = plugins.load(f"{EXAMPLE / 'digit_features.py'}:load")
    (x_train, y_train), (x_test, y_test) = load()
    np.savez(folder / "digit_features.npz", x_train=x_train, y_train=y_train,
             x_test=x_test, y_test=y_test)  # fmt: skip
    return folder


def write_toml(folder, text):
    path = folder / "sweep.toml"
    path.write_text(textwrap.dedent(text))
    return str(path)


PACKAGE = """
import keras


class PlainSGD(keras.optimizers.Optimizer):
    def update_step(self, gradient, variable, learning_rate):
        self.assign_sub(variable, keras.ops.cast(learning_rate, variable.dtype) * gradient)


def build(input_shape, classes):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(classes)])


def load():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + 2 * (x[:, 1] > 0)
    return (x[:300], y[:300]), (x[300:], y[300:])
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A module of the user's, importable as my_things: an optimizer, a model
    builder and a loader; the current folder is the one holding it."""
    (tmp_path / "my_things.py").write_text(PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_an_optimizer_from_a_file_keras_s_lion_and_npz_features_sweep_like_ours(
    example, tmp_path
):
    config = str(example / "sweep.toml")
    argv = ["--config", config, *SMALL, "--learning-rates", "0.001,0.01",
            "--workers", "1", "--logdir", str(tmp_path / "logs")]  # fmt: skip
    assert sweep.main(argv) == 0
    found = rows(tmp_path / "logs" / "your_own" / "runs.csv")
    assert {r["optimizer"] for r in found} == {"sign_momentum", "lion", "adam"}
    assert {r["optimizer_class"] for r in found} == {
        f"{example.resolve() / 'sign_momentum.py'}:SignMomentum", "keras.optimizers.Lion",
        "custom_optimizers.adam.Adam",
    }  # fmt: skip
    assert {r["params"] for r in found} == {
        str(49 * 256 + 256 + 256 * 128 + 128 + 1290)
    }
    run = tmp_path / "logs/your_own/digit_features/lion/lr=0.01"
    saved = json.loads((run / "run.json").read_text())
    assert saved["optimizer_class"] == "keras.optimizers.Lion"
    assert saved["optimizer_config"]["beta_2"] == 0.99  # Lion's own default
    assert saved["problem"]["model"] == "mlp" and saved["data"]["train"] == 300
    assert all(0.2 < float(r["val_accuracy"]) for r in found)  # chance is 0.1


@pytest.mark.slow
def test_a_module_s_optimizer_model_and_loader(package, tmp_path):
    config = write_toml(package, """
        name = "mine"
        learning_rates = [0.1]
        [optimizers.plain]
        class = "my_things:PlainSGD"
        [optimizers.sgd]
        [problems.quadrants]
        model = "my_things:build"
        data = "my_things:load"
        batch_size = 32
        epochs = 3
    """)  # fmt: skip
    argv = ["--config", config, "--workers", "1", "--logdir", str(tmp_path / "logs")]
    assert sweep.main(argv) == 0
    found = {r["optimizer"]: r for r in rows(tmp_path / "logs/mine/runs.csv")}
    assert set(found) == {"plain", "sgd"}
    # plain gradient descent twice: our SGD and the user's, the same numbers
    for column in ("train_loss", "val_accuracy", "test_accuracy"):
        assert float(found["plain"][column]) == pytest.approx(
            float(found["sgd"][column]), rel=1e-5
        )
    assert found["plain"]["params"] == str(6 * 4 + 4)  # 4 classes, from the labels


def test_a_grid_argument_varies_keras_s_lion_and_our_adam_alike(tmp_path):
    config = write_toml(tmp_path, """
        learning_rates = [0.001]
        [optimizers.lion]
        class = "keras.optimizers.Lion"
        [optimizers.adam]
        [optimizers.sgd]
    """)  # fmt: skip
    resolved = sweep.resolve(sweep.parse_args(["--config", config, "--models", "mlp",
                                               "--grid", "beta_1=0.8,0.95"]))  # fmt: skip
    folders = sorted(str(s.folder) for s in resolved.runs())
    assert folders == [
        "mlp/adam/lr=0.001,beta_1=0.8", "mlp/adam/lr=0.001,beta_1=0.95",
        "mlp/lion/lr=0.001,beta_1=0.8", "mlp/lion/lr=0.001,beta_1=0.95",
        "mlp/sgd/lr=0.001",
    ]  # fmt: skip


BAD_OPTIMIZERS = [
    ('class = "no_such_module:Thing"',
     "optimizer x: class cannot import no_such_module (ModuleNotFoundError"),
    ('class = "keras.optimizers:Lionel"', "optimizer x: class keras.optimizers has no 'Lionel'"),
    ('class = "keras.layers.Dense"',
     "optimizer x: class keras.layers.Dense is Dense, not a subclass of keras.optimizers.Optimizer"),
    ('class = "missing.py:Thing"', "optimizer x: class no file "),
    ('class = "keras.optimizers.Lion"\nbeta_3 = 0.5',
     "optimizer x: Argument(s) not recognized: {'beta_3': 0.5}"),
    ('class = "keras.optimizers.Lion"\nbeta_1 = 7.0', "optimizer x: "),
    ('class = "my_things:PlainSGD"\nrecipe = "sgd"', "optimizer x: give recipe or class, not both"),
]  # fmt: skip


@pytest.mark.parametrize("table, message", BAD_OPTIMIZERS)
def test_an_optimizer_that_cannot_be_had_or_built_is_one_line_and_exit_2(
    package, tmp_path, capsys, table, message
):
    config = write_toml(package, f"learning_rates = [0.1]\n[optimizers.x]\n{table}\n")
    logdir = tmp_path / "logs"
    assert sweep.main(["--config", config, "--offline", "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert not logdir.exists()


def raising_optimizer(folder):
    (folder / "fussy.py").write_text(textwrap.dedent("""
        import keras

        class Fussy(keras.optimizers.Optimizer):
            def __init__(self, learning_rate=0.1, **kwargs):
                raise RuntimeError("never on a Tuesday")
    """))  # fmt: skip


def test_a_constructor_that_raises_is_one_line_naming_the_table(tmp_path, capsys):
    raising_optimizer(tmp_path)
    config = write_toml(tmp_path, """
        learning_rates = [0.1]
        [optimizers.fussy]
        class = "fussy.py:Fussy"
    """)  # fmt: skip
    assert sweep.main(["--config", config, "--logdir", str(tmp_path / "logs")]) == 2
    assert capsys.readouterr().err == (
        "error: optimizer fussy: RuntimeError: never on a Tuesday\n"
    )


def write_npz(folder, **changes):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.normal(size=(200, 5)).astype("float32"),
        "y_train": rng.integers(0, 3, 200),
        "x_test": rng.normal(size=(50, 5)).astype("float32"),
        "y_test": rng.integers(0, 3, 50),
    }
    arrays.update(changes)
    np.savez(folder / "data.npz", **{k: v for k, v in arrays.items() if v is not None})


BAD_DATA = [
    ({"y_test": None}, "data: .*data.npz: missing array 'y_test'"),
    ({"y_train": np.zeros(199, "int64")}, "data: .*: 200 x_train but 199 y_train"),
    ({"y_train": np.full(200, 0.5)}, "data: .*: y_train must be integer labels 0…C−1"),
    ({"y_train": np.full(200, -1)}, "data: .*: y_train must be integer labels 0…C−1"),
    ({"x_train": np.full((200, 5), np.nan, "float32")}, "data: .*: x_train holds NaN"),
    ({"x_test": np.zeros((50, 6), "float32")},
     r"data: .*: x_test's samples are \(6,\), x_train's \(5,\)"),
    ({"x_train": np.float32(3.0)}, r"data: .*: x_train is a single value"),
    ({"y_train": np.array(["cat"] * 200)},
     r"data: .*: y_train must be integer labels 0…C−1, one per sample \(got <U3, "
     r"shape \(200,\)\)"),
    ({"x_train": np.zeros((1, 5), "float32"), "y_train": np.zeros(1, "int64")},
     r"data: .*data.npz: its 1 training samples leave no validation sample"),
]  # fmt: skip


@pytest.mark.parametrize("changes, message", BAD_DATA)
def test_data_that_cannot_be_trained_on_is_one_line_and_exit_2(
    tmp_path, capsys, changes, message
):
    write_npz(tmp_path, **changes)
    assert sweep_of_my_data(tmp_path, "data.npz") == 2
    err = capsys.readouterr().err
    assert re.match(f"error: {message}", err) and err.count("\n") == 1, err
    assert not (tmp_path / "logs").exists()


def sweep_of_my_data(tmp_path, data):
    """A sweep of the project's MLP on `data` (an .npz or a loader), one epoch."""
    config = write_toml(tmp_path, f"""
        learning_rates = [0.1]
        [optimizers.sgd]
        [problems.mine]
        model = "mlp"
        data = "{data}"
        batch_size = 16
        epochs = 1
    """)  # fmt: skip
    return sweep.main(["--config", config, "--logdir", str(tmp_path / "logs")])


def truncated_npz(path):
    write_npz(path.parent)
    path.write_bytes(path.read_bytes()[:300])


def damaged_compressed_npz(path):
    """Whole as a zip archive, its compressed data garbled in the middle."""
    rng = np.random.default_rng(0)
    np.savez_compressed(path, x_train=rng.normal(size=(200, 5)),
                        y_train=np.zeros(200, "int64"), x_test=rng.normal(size=(50, 5)),
                        y_test=np.zeros(50, "int64"))  # fmt: skip
    data = bytearray(path.read_bytes())
    data[100:150] = bytes(range(50))  # inside x_train's deflated bytes
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda path: path.write_bytes(b""), "empty"),
        (truncated_npz, "not a whole zip archive"),
        (damaged_compressed_npz, "while decompressing"),
        (lambda path: path.write_text("x_train,y_train\n1,2\n"), "not a whole zip"),
    ],
)
def test_an_npz_file_that_is_empty_cut_short_or_no_zip_is_one_line(
    tmp_path, capsys, damage, reason
):
    damage(tmp_path / "data.npz")
    assert sweep_of_my_data(tmp_path, "data.npz") == 2
    err = capsys.readouterr().err
    assert re.match(r"error: data: .*data.npz: not a readable \.npz file", err), err
    assert reason.lower() in err.lower() and err.count("\n") == 1, err
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("raised", ["RuntimeError('no network')", "KeyError('x_train')"])
def test_a_loader_that_raises_anything_is_one_line(tmp_path, capsys, raised):
    (tmp_path / "loader.py").write_text(f"def load():\n    raise {raised}\n")
    assert sweep_of_my_data(tmp_path, "loader.py:load") == 2
    err = capsys.readouterr().err
    name = raised.partition("(")[0]
    assert re.match(f"error: data: .*loader.py:load: {name}: ", err), err
    assert err.count("\n") == 1 and not (tmp_path / "logs").exists()


def test_a_model_whose_output_is_not_one_logit_per_class_is_one_line(tmp_path, capsys):
    write_npz(tmp_path)
    (tmp_path / "wrong.py").write_text(textwrap.dedent("""
        import keras

        def build(input_shape, classes):
            return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(7)])
    """))  # fmt: skip
    config = write_toml(tmp_path, """
        learning_rates = [0.1]
        [optimizers.sgd]
        [problems.mine]
        model = "wrong.py:build"
        data = "data.npz"
        batch_size = 16
        epochs = 1
    """)  # fmt: skip
    logdir = tmp_path / "logs"
    assert sweep.main(["--config", config, "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err
    assert "outputs (None, 7); it must output 3 logits" in err and err.count("\n") == 1
    assert not logdir.exists()


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[problems.fmnist_2c2d]\nepochs = 0\n", "[problems.fmnist_2c2d]: epochs must be >= 1"),
        ("[problems.mine]\nmodel = 'mlp'\n",
         "[problems.mine] is no shipped problem (mnist_small_mlp, "),
        ("[problems.mine]\nlayers = 3\n", "[problems.mine]: unknown key 'layers'"),
    ],
)  # fmt: skip
def test_a_problem_table_that_declares_nothing_usable_is_one_line(
    tmp_path, capsys, toml, message
):
    config = write_toml(tmp_path, toml)
    assert sweep.main(["--config", config, "--logdir", str(tmp_path / "logs")]) == 2
    assert message in capsys.readouterr().err


def test_a_shipped_problem_s_table_overrides_its_length_and_batches(tmp_path):
    config = write_toml(tmp_path, """
        learning_rates = [0.1]
        [optimizers.sgd]
        [problems.mnist_small_mlp]
        [problems.fmnist_2c2d]
        epochs = 2
        batch_size = 32
    """)  # fmt: skip
    resolved = sweep.resolve(sweep.parse_args(["--config", config]))
    shipped, short = sorted(resolved.runs(), key=lambda s: s.problem.name)[::-1]
    assert (shipped.problem.name, shipped.epochs, shipped.values["batch_size"]) == (
        "mnist_small_mlp", 8, 64,
    )  # fmt: skip
    assert (short.problem.name, short.epochs, short.values["batch_size"]) == (
        "fmnist_2c2d", 2, 32,
    )  # fmt: skip
    assert short.model == "deepobs_2c2d" and short.dataset == "fashion_mnist"


@pytest.mark.slow
def test_on_ray_workers_import_the_user_s_classes_model_and_data_alike(
    example, package, tmp_path
):
    config = write_toml(package, f"""
        name = "on_ray"
        learning_rates = [0.01]
        [optimizers.sign_momentum]
        class = "{example / 'sign_momentum.py'}:SignMomentum"
        [optimizers.plain]
        class = "my_things:PlainSGD"
        grid = {{ learning_rate = [1.0] }}
        [problems.features]
        model = "my_things:build"
        data = "{example / 'digit_features.npz'}"
        batch_size = 64
        epochs = 1
    """)  # fmt: skip
    argv = ["--config", config, "--workers", "2", "--logdir", str(tmp_path / "logs")]
    assert sweep.main(argv) == 0
    found = rows(tmp_path / "logs/on_ray/runs.csv")
    assert {r["optimizer"] for r in found} == {"sign_momentum", "plain"}
    assert all(float(r["val_accuracy"]) > 0.5 for r in found)  # chance is 0.1
