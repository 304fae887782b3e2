"""Names and files a hostile (or careless) user could give: each is one line
and exit 2, and nothing outside the log folder is written or deleted."""

import json

import pytest

from experiments import plugins
from experiments.problems import PROBLEMS
from experiments.sweep import command as sweep
from experiments.sweep.executors import train_run
from experiments.sweep.spec import RunSpec

ESCAPING = ["../../../victim", "/an/absolute/path", "a/b", "..", ".hidden", "",
            " padded", "new\nline", "back\\slash"]  # fmt: skip


def plant(tmp_path):
    """A file where each escaping name would land, and a snapshot of the tree."""
    for folder in ("victim/lr=0.01", "an/absolute/path/lr=0.01"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "important.txt").write_text("keep me")
    return tree(tmp_path)


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def sweep_with(tmp_path, toml, *argv):
    config = tmp_path / "hostile.toml"
    config.write_text(toml)
    return sweep.main(["--config", str(config), "--offline", "--logdir",
                       str(tmp_path / "logs"), *argv])  # fmt: skip


def key(name):
    return json.dumps(name)  # a TOML basic string: quotes and escapes alike


@pytest.mark.parametrize("name", ESCAPING)
@pytest.mark.parametrize("table", ["optimizers", "problems", "--optimizers", "--name"])
def test_a_name_that_is_no_plain_folder_name_exits_2_and_touches_nothing(
    tmp_path, capsys, name, table
):
    before = plant(tmp_path)
    argv = []
    toml = 'name = "hostile"\nlearning_rates = [0.01]\nepochs = 1\n'
    if table == "optimizers":
        toml += f'problems = ["mnist_small_mlp"]\n[optimizers.{key(name)}]\nrecipe = "adam"\n'
    elif table == "problems":
        toml += (f'[problems.{key(name)}]\nmodel = "mlp"\ndata = "mnist"\n'
                 'batch_size = 64\nepochs = 1\n[optimizers.adam]\n')  # fmt: skip
    else:
        toml += '[optimizers.adam]\n'
        argv = [table, name]
    if table == "--optimizers" and (name != name.strip() or not name):
        pytest.skip("--optimizers strips each name of its list; an empty one is refused as empty")
    assert sweep_with(tmp_path, toml, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "it names a folder inside the log folder" in err
    assert sorted([*before, "hostile.toml"]) == tree(tmp_path)
    assert (tmp_path / "victim/lr=0.01/important.txt").read_text() == "keep me"


def test_a_run_folder_outside_the_sweep_is_neither_deleted_nor_written(tmp_path):
    """Past the config's checks (a RunSpec made by hand), the run itself
    refuses a folder outside its sweep: the planted file survives."""
    before = plant(tmp_path)
    sweep_dir = tmp_path / "logs" / "s"
    sweep_dir.mkdir(parents=True)
    spec = RunSpec(PROBLEMS["mnist_small_mlp"], "../../../victim", 1,
                   {"learning_rate": 0.01})  # fmt: skip
    assert (sweep_dir / spec.folder).resolve() == tmp_path / "victim" / "lr=0.01"
    outcome = train_run(spec, None, sweep_dir)
    assert outcome.result is None and "is not inside the sweep folder" in outcome.error
    assert tree(tmp_path) == sorted([*before, "logs", "logs/s"])
    assert (tmp_path / "victim/lr=0.01/important.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "encoded",
    [
        "# café\nepochs = 1\n".encode("latin-1"),
        "epochs = 1\n".encode("utf-16"),  # with its byte-order mark
    ],
)
def test_a_config_that_is_not_utf8_is_one_line(tmp_path, capsys, encoded):
    (tmp_path / "hostile.toml").write_bytes(encoded)
    assert sweep.main(["--config", str(tmp_path / "hostile.toml"), "--logdir",
                       str(tmp_path / "logs")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith(f"error: config file {tmp_path / 'hostile.toml'} is not "
                          "UTF-8 text, as TOML must be (byte ")  # fmt: skip
    assert err.count("\n") == 1 and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("table", ['class = "keras.optimizers.SGD"', 'recipe = "sgd"'])
def test_a_registry_label_holding_another_optimizer_is_refused(
    tmp_path, capsys, table
):
    """Reports and stored baselines match entries by label: `adam` is Adam."""
    toml = f'learning_rates = [0.01]\n[optimizers.adam]\n{table}\n'
    assert sweep_with(tmp_path, toml) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: optimizer adam: adam is the library's name of "
        "custom_optimizers.adam.Adam, so it cannot hold "
    ) and "give this table a label of its own" in err and err.count("\n") == 1


def test_a_user_s_constructor_runs_once_for_all_the_checks(tmp_path):
    (tmp_path / "counted.py").write_text(
        "import keras\nCALLS = []\n\n\n"
        "class Counted(keras.optimizers.SGD):\n"
        "    def __init__(self, **kwargs):\n"
        "        CALLS.append(kwargs)\n"
        "        super().__init__(**kwargs)\n"
    )  # fmt: skip
    (tmp_path / "c.toml").write_text(
        'models = ["mlp", "cnn"]\nlearning_rates = [0.01, 0.1]\n'
        '[optimizers.counted]\nclass = "counted.py:Counted"\n'
    )  # fmt: skip
    config = sweep.resolve(sweep.parse_args(["--config", str(tmp_path / "c.toml")]))
    assert len(config.runs()) == 4
    assert len(plugins.load(f"{tmp_path / 'counted.py'}:CALLS")) == 1


def test_a_graph_error_s_progress_line_states_its_cause():
    import tensorflow as tf

    from experiments.sweep.executors import one_line

    message = (
        "Graph execution error:\n\nDetected at node loss/Sparse defined at (most "
        'recent call last):\n  File "train.py", line 6, in <module>\n\n'
        "Received a label value of 7 which is outside the valid range of [0, 3)."
        "\n\t [[{{node loss/Sparse}}]] [Op:__inference_step_209]"
    )
    error = tf.errors.InvalidArgumentError(None, None, message)
    assert one_line(error) == (
        "InvalidArgumentError: Received a label value of 7 which is outside the "
        "valid range of [0, 3)."
    )
    assert one_line(KeyError("val_loss")) == "KeyError: 'val_loss'"


@pytest.mark.parametrize("damage", ["", '{"settings": ["mlp/sgd/lr=0.1"', '{"settings": 3}'])
def test_a_damaged_sweep_json_is_one_warning_and_every_run_counts(
    tmp_path, capsys, damage
):
    from experiments.report.loading import current_settings

    (tmp_path / "sweep.json").write_text(damage)
    assert current_settings(tmp_path) is None
    err = capsys.readouterr().err
    assert err.startswith(f"warning: {tmp_path / 'sweep.json'} is damaged (")
    assert err.endswith("the report ranks every finished run in the folder\n")


TINY = ["--offline", "--workers", "1", "--epochs", "1", "--max-train-samples", "128"]


def linear_builder(folder):
    (folder / "lin.py").write_text(
        "import keras\n\n\ndef linear(input_shape, classes):\n    return keras."
        "Sequential([keras.Input(input_shape), keras.layers.Flatten(), "
        "keras.layers.Dense(classes)])\n"
    )  # fmt: skip


@pytest.mark.slow
def test_a_shipped_problem_with_another_model_is_another_protocol(tmp_path, capsys):
    """Its runs are never mixed into a folder of the shipped model's."""
    linear_builder(tmp_path)
    head = 'name = "p"\nlearning_rates = [0.1]\n'
    shipped = head + 'problems = ["mnist_small_mlp"]\n[optimizers.sgd]\n'
    assert sweep_with(tmp_path, shipped, *TINY) == 0
    before = tree(tmp_path / "logs")
    capsys.readouterr()
    toml = head + '[optimizers.sgd]\n[problems.mnist_small_mlp]\nmodel = "lin.py:linear"\n'
    assert sweep_with(tmp_path, toml, *TINY, "--learning-rates", "0.3") == 2
    err = capsys.readouterr().err
    assert "holds 1 finished runs of another protocol" in err, err
    assert f"model: 'mlp' then, '{tmp_path / 'lin.py'}:linear' now" in err
    assert tree(tmp_path / "logs") == before


@pytest.mark.slow
def test_an_edited_optimizer_file_is_refused_naming_the_file(tmp_path, capsys):
    source = (
        "import keras\n\n\nclass Plain(keras.optimizers.Optimizer):\n"
        "    def update_step(self, gradient, variable, learning_rate):\n"
        "        self.assign_sub(variable, {step})\n"
    )
    path = tmp_path / "plain.py"
    path.write_text(source.format(step="learning_rate * gradient"))
    toml = ('learning_rates = [0.1]\nproblems = ["mnist_small_mlp"]\n'
            '[optimizers.plain]\nclass = "plain.py:Plain"\n')  # fmt: skip
    assert sweep_with(tmp_path, toml, *TINY) == 0
    run = tmp_path / "logs/default/mnist_small_mlp/plain/lr=0.1/run.json"
    recorded = json.loads(run.read_text())["run"]["optimizer_code"]
    path.write_text(source.format(step="0.0 * gradient"))
    capsys.readouterr()
    assert sweep_with(tmp_path, toml, *TINY) == 2
    err = capsys.readouterr().err
    assert f"optimizer_code (the contents of {path} changed)" in err, err
    assert json.loads(run.read_text())["run"]["optimizer_code"] == recorded


def test_a_module_that_fails_as_it_imports_is_not_said_to_lack_the_object(
    tmp_path, monkeypatch
):
    """An AttributeError raised while a user's module imports is its own
    failure, not a missing name: the line says the import failed, and why."""
    (tmp_path / "broken_things.py").write_text("import math\nmath.no_such_thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(plugins.PluginError) as raised:
        plugins.load("broken_things:Thing")
    assert str(raised.value) == (
        "cannot import broken_things (AttributeError: module 'math' has no "
        "attribute 'no_such_thing')"
    )
    with pytest.raises(plugins.PluginError, match="math has no 'Thing'"):
        plugins.load("math.Thing")
