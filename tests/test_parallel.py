"""Runs side by side on Ray: same results, faults survived, a two-node cluster."""

import copy
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from experiments import backend
from experiments.cli import UsageError
from experiments.problems import unnamed
from experiments.sweep import command as sweep
from experiments.sweep import engine, executors, training, workers
from experiments.sweep.spec import RunSpec
from tests.helpers import (
    ROOT,
    TINY,
    events,
    processes_naming,
    run_sweep,
    steps_written_twice,
    summary,
    wait_for,
)

pytestmark = pytest.mark.slow  # sweeps, subprocesses, Ray or a browser


ray = pytest.importorskip("ray")

FOUR_RUNS = ["--optimizers", "momentum,adam", "--learning-rates", "0.03,0.3"]
TWO_RUNS = ["--optimizers", "adam", "--learning-rates", "0.03,0.3"]
# --workers 2 runs one TensorFlow thread per run, --workers 1 two threads.
# Measured: bit-identical numbers on one machine; on another (2026-12-06)
# the thread count changed a reduction's order, and train_loss by 1.1e-6
# relative (2.2934711 vs 2.2934737), on the commit before this rule too.
TOLERANCE = 1e-5


def comparable(sweep_dir):
    rows = summary(sweep_dir)
    for row in rows:  # wall times differ from run to run
        for column in ("seconds", "seconds_to_target"):
            row.pop(column)
    return rows


def assert_same_results(a, b):
    rows_a, rows_b = comparable(a), comparable(b)
    assert len(rows_a) == len(rows_b) == 4
    for x, y in zip(rows_a, rows_b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            try:
                assert float(x[key]) == pytest.approx(
                    float(y[key]), rel=TOLERANCE, nan_ok=True
                ), key
            except ValueError:
                assert x[key] == y[key], key


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("serial")
    assert run_sweep(logdir, *FOUR_RUNS, "--workers", "1") == 0
    return logdir / "quick"


def test_workers_2_writes_the_same_runs_tags_and_numbers(
    one_at_a_time, tmp_path, capsys
):
    assert run_sweep(tmp_path, *FOUR_RUNS, "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "training on Ray (1 node(s), 2 CPUs): 2 runs at a time" in out
    assert len(re.findall(r"^\[\d/4\] mlp/", out, re.M)) == 4
    parallel = tmp_path / "quick"
    assert sorted(p.relative_to(parallel) for p in parallel.rglob("result.json")) == (
        sorted(p.relative_to(one_at_a_time) for p in one_at_a_time.rglob("result.json"))
    )
    assert_same_results(one_at_a_time, parallel)
    run = "mlp/adam/lr=0.03/train"
    assert set(events(parallel / run).Tags()["tensors"]) == set(
        events(one_at_a_time / run).Tags()["tensors"]
    )


def test_local_workers_start_their_own_ray_whatever_ray_start_recorded(monkeypatch):
    """`ray start` records its cluster's address in Ray's temp folder, and
    there it stays after the cluster is gone; ray.init() without an address
    would connect to it (and refuse num_cpus), so a sweep without --address
    failed on a machine where a cluster had once been started."""
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths
    try:
        monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        os.makedirs(os.path.join(ray_tmp, "ray"))
        with open(os.path.join(ray_tmp, "ray", "ray_current_cluster"), "w") as f:
            f.write("127.0.0.1:1")  # nothing listens there
        executor = executors.OnRay(2)
        try:
            assert executor.describe().startswith("training on Ray (1 node(s), 2 CPUs)")
        finally:
            executor.close()
    finally:
        deadline = time.monotonic() + 30  # Ray's processes write there as they end
        while processes_naming(ray_tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_one_worker_never_imports_ray(tmp_path):
    code = (
        "import sys; from experiments.sweep import command as sweep\n"
        f"assert sweep.main({[*TINY, *FOUR_RUNS[:2], '--learning-rates', '0.03']!r}"
        f" + ['--workers', '1', '--logdir', {str(tmp_path)!r}]) == 0\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_run_that_raises_is_recorded_failed_and_the_rest_go_on(
    tmp_path, capsys, monkeypatch
):
    real_train = training.train

    def train_or_fail(spec, *args, **kwargs):
        if spec.optimizer == "adam" and spec.values["learning_rate"] == 0.03:
            raise RuntimeError("out of memory, say")
        return real_train(spec, *args, **kwargs)

    monkeypatch.setattr(training, "train", train_or_fail)
    assert run_sweep(tmp_path, *FOUR_RUNS, "--workers", "1") == 1
    captured = capsys.readouterr()
    assert "mlp/adam/lr=0.03: FAILED: RuntimeError: out of memory, say" in captured.out
    assert "failed: " in captured.err and "rerun the command to retry" in captured.err
    failed = tmp_path / "quick/mlp/adam/lr=0.03"
    assert (
        "RuntimeError: out of memory, say"
        in (failed / executors.ERROR_FILE).read_text()
    )
    assert not (failed / "result.json").exists()
    assert len(summary(tmp_path / "quick")) == 3
    report = (tmp_path / "quick" / "summary.md").read_text()
    assert report.endswith(
        "## Failed runs\n\n1 runs raised an error and have no result; running the "
        "sweep's command again retries them.\n\n"
        "- `mlp/adam/lr=0.03`: RuntimeError: out of memory, say\n"
    )

    monkeypatch.setattr(training, "train", real_train)
    assert run_sweep(tmp_path, *FOUR_RUNS, "--workers", "1") == 0  # retried
    assert "1 runs to train, 3 already finished" in capsys.readouterr().out
    assert not (failed / executors.ERROR_FILE).exists()


LONG = [*TINY, "--epochs", "20", "--max-train-samples", "512", "--workers", "2"]


def start_sweep(logdir, runs=FOUR_RUNS):
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", *LONG, *runs, "--logdir",
         str(logdir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=os.environ,
    )  # fmt: skip


def ray_task_pids(sweep_process):
    """The training workers of this test's sweep: its descendants (its local
    Ray's raylet starts them), not those of another sweep on the machine."""
    return [
        pid
        for pid in map(int, processes_naming("ray::_train_on_ray_worker"))
        if descends_from(pid, sweep_process.pid)
    ]


def ray_instance_running():
    """Whether any Ray instance runs here (Ray's `auto` finds its GCS server)."""
    return bool(processes_naming("ray/gcs/gcs_server"))


def descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:  # gone meanwhile
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's pid
    return False


def alive(pid):
    """Running, or stopped but not yet dead; a zombie has ended."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_worker_killed_mid_run_is_redone_from_scratch(tmp_path):
    """Two runs, one per worker: one is killed, redone, and both finish."""
    runs = tmp_path / "quick" / "mlp"
    process = start_sweep(tmp_path, TWO_RUNS)
    wait_for(
        lambda: (
            any(runs.glob("*/lr=*/train/events.out.tfevents*"))
            and ray_task_pids(process)
        ),
        process,
    )
    time.sleep(1.0)  # some epochs into the first runs
    victim = ray_task_pids(process)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert len(re.findall(r"^\[\d/2\] ", out, re.M)) == 2
    assert "FAILED" not in out
    results = sorted(runs.glob("*/lr=*/result.json"))
    assert len(results) == 2
    for result in results:
        finished = json.loads(result.read_text())
        assert finished["diverged"] or finished["epochs_run"] == 20
        assert steps_written_twice(result.parent) == []


def test_ctrl_c_stops_every_worker_and_exits_130(tmp_path):
    runs = tmp_path / "quick" / "mlp"
    process = start_sweep(tmp_path)
    wait_for(lambda: any(runs.glob("*/lr=*/train")) and ray_task_pids(process), process)
    time.sleep(0.5)
    workers = ray_task_pids(process)  # once the sweep exits they are no descendants
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("interrupted: finished runs are kept")
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers outlived the sweep"
        time.sleep(0.5)
    for run_dir in {p.parent for p in runs.glob("*/lr=*/train")}:
        result = run_dir / "result.json"
        if result.exists():  # finished before the interrupt: complete
            assert json.loads(result.read_text())["history"]


def test_a_two_node_cluster_runs_on_both_nodes_with_the_same_results(
    one_at_a_time, tmp_path, capsys, monkeypatch
):
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    # Both nodes on loopback. Ray rewrites a 127.0.0.1 address to the
    # machine's own interface unless it believes it runs a laptop cluster.
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "node_ip_address": "127.0.0.1",
        },
    )
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        assert (
            run_sweep(
                tmp_path, *FOUR_RUNS, "--address", cluster.address, "--workers", "auto"
            )
            == 0
        )
    finally:
        cluster.shutdown()
    out = capsys.readouterr().out
    assert "training on Ray (2 node(s), 2 CPUs)" in out
    nodes = set(re.findall(r"node ([0-9a-f]{8}),", out))
    assert len(nodes) == 2, out
    assert_same_results(one_at_a_time, tmp_path / "quick")


def test_a_relative_logdir_on_a_cluster_is_made_absolute(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = sweep.resolve(sweep.parse_args([*TINY, "--address", "auto"]))
    assert config.address == "auto"
    monkeypatch.setattr(executors, "check_cluster", lambda address: None)
    monkeypatch.setattr(engine, "make_executor", lambda *a: pytest.fail("stop here"))
    with pytest.raises(pytest.fail.Exception):
        engine.run_sweep(config, "logs", report=None, download=False)
    assert f"on a cluster the log folder is {tmp_path / 'logs'}" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workers", "0"], "--workers must be an integer >= 1 or auto, got '0'"),
        (["--workers", "many"], "--workers must be an integer >= 1 or auto"),
    ],
)
def test_bad_workers_exit_2(argv, message, tmp_path, capsys):
    assert sweep.main([*TINY, "--logdir", str(tmp_path / "logs"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()


def test_workers_in_the_config_file(tmp_path):
    config = tmp_path / "w.toml"
    config.write_text('workers = "auto"\naddress = "auto"\n')
    resolved = sweep.resolve(sweep.parse_args(["--config", str(config)]))
    assert (resolved.workers, resolved.address) == ("auto", "auto")
    assert workers.workers_for(resolved) is None  # a cluster: no cap
    config.write_text("workers = 0\n")
    with pytest.raises(UsageError, match="workers must be an integer >= 1"):
        sweep.resolve(sweep.parse_args(["--config", str(config)]))


def free_port():
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.parametrize(
    "address, message",
    [
        (
            "127.0.0.1:{port}",
            "no Ray cluster at '127.0.0.1:{port}' (Connection refused)",
        ),
        (
            "nosuchhost.invalid:6379",
            "no Ray cluster at 'nosuchhost.invalid:6379': host "
            "'nosuchhost.invalid' is unknown",
        ),
        ("auto", "no Ray cluster at 'auto' (Could not find any running Ray instance"),
    ],
)
def test_a_wrong_address_exits_2_fast_and_writes_nothing(
    address, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if address == "auto" and ray_instance_running():
        pytest.skip("a Ray instance runs on this machine, and `auto` connects to any")
    port = free_port()
    started = time.monotonic()
    logdir = tmp_path / "logs"
    argv = [*TINY, "--workers", "2", "--logdir", str(logdir)]
    assert sweep.main([*argv, "--address", address.format(port=port)]) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(port=port)), err
    assert "start one with `ray start --head`" in err and err.count("\n") == 1
    assert not logdir.exists()


class FakeRay:
    def __init__(self, workers, address=None, gpus_per_run="auto", verbose=False):
        self.workers = workers


def test_auto_stays_in_process_when_ray_would_not_pay_and_says_why(monkeypatch, capsys):
    monkeypatch.setattr(executors, "OnRay", FakeRay)
    monkeypatch.setattr(workers, "workers_for", lambda config: 2)
    config = sweep.resolve(sweep.parse_args([*TINY, "--workers", "auto"]))
    specs = config.runs()  # 4 MLP runs of 2 epochs
    executor = workers.make_executor(config, specs, {"mnist": 1800}, verbose=False)
    assert isinstance(executor, executors.InProcess)
    seconds = workers.estimated_seconds(specs, {"mnist": 1800})
    assert seconds == pytest.approx(4 * (0.6 + 2 * 1800 * 7.5e-5))
    assert capsys.readouterr().out == (
        "workers auto: 1 at a time: about 0m03s of training in one process, "
        "below the 0m40s from which Ray's start-up (~12 s) pays off\n"
    )
    executor = workers.make_executor(config, specs * 30, {"mnist": 1800}, verbose=False)
    assert isinstance(executor, FakeRay) and executor.workers == 2
    assert "workers auto: 2 at a time: about 1m44s" in capsys.readouterr().out


def test_more_workers_than_cores_warns(monkeypatch, capsys):
    monkeypatch.setattr(executors, "OnRay", FakeRay)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    config = sweep.resolve(sweep.parse_args([*TINY, "--workers", "4"]))
    executor = workers.make_executor(
        config, config.runs(), {"mnist": 1800}, verbose=False
    )
    assert executor.workers == 4
    assert capsys.readouterr().err == (
        "warning: --workers 4 is more than this machine's 2 cores; the runs will "
        "share them and each go slower\n"
    )


def test_time_left_prices_each_model_by_its_own_finished_runs():
    spec = RunSpec(unnamed("mnist", "mlp", 64), "sgd", 2, {"learning_rate": 0.1})
    mlp_1, mlp_2 = spec, spec.at(learning_rate=0.2)
    cnn = dataclasses.replace(spec, problem=unnamed("mnist", "cnn", 64))
    specs = [mlp_1, mlp_2, cnn]
    # Outcomes carry copies of the specs (Ray sends them back pickled).
    mlp_done = executors.Outcome(copy.deepcopy(mlp_1), {"epochs_run": 2}, seconds=4.0)
    # mlp_2 as long as mlp_1; the CNN, unseen, 3.8e-4 / 7.5e-5 times an MLP epoch.
    expected = 4.0 + 2 * 2.0 * 3.8e-4 / 7.5e-5
    assert engine.time_left(specs, [mlp_done], 4.0) == pytest.approx(expected)
    # Two at a time: 4 s of runs in 2 s of wall time halves the estimate.
    assert engine.time_left(specs, [mlp_done], 2.0) == pytest.approx(expected / 2)
    cnn_done = executors.Outcome(copy.deepcopy(cnn), {"epochs_run": 2}, seconds=30.0)
    assert engine.time_left(specs, [mlp_done, cnn_done], 34.0) == pytest.approx(4.0)
    mlp_2_done = executors.Outcome(copy.deepcopy(mlp_2), {"epochs_run": 2}, seconds=4.0)
    assert engine.time_left(specs, [mlp_done, cnn_done, mlp_2_done], 38.0) == 0


def test_checking_auto_keeps_the_sweep_s_signal_handlers(monkeypatch):
    """`ray.init` puts in its own SIGTERM handler; after the check for a
    cluster at `auto` the sweep's own (Ctrl-C's behaviour) is back."""
    import ray

    monkeypatch.setattr(ray, "init", lambda **options: signal.signal(
        signal.SIGTERM, lambda *args: None))  # fmt: skip
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    before = signal.getsignal(signal.SIGTERM)
    try:
        executors.check_cluster("auto")
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, before)


def training_span(run_dir):
    """(First, last) wall time of a run's training events."""
    times = [e.wall_time for e in events(run_dir / "train").Tensors("batch_loss")]
    return min(times), max(times)


def test_runs_share_a_gpu_as_ray_accounts_for_it(tmp_path, capsys, monkeypatch):
    """A one-node cluster of 4 CPUs and one GPU, on a machine without one
    (Ray counts what it is told, and the backend is told it sees one):
    `auto` asks a quarter of it per run, so runs may train at once;
    `--gpus-per-run 1` asks all of it, so Ray trains them one after
    another, whatever the CPUs allow: the two runs of `whole`, free to go
    at once (`--workers auto`; quick.toml's 1 would serialize them anyway),
    do not overlap. One run shows the quarter share. Every run is a fresh
    worker process (Ray ends a GPU task's worker), so each run costs a
    TensorFlow import."""
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # the one Ray is told of
    monkeypatch.setattr(backend, "gpu_count", lambda: 1)  # and the backend sees
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 4, "num_gpus": 1, "include_dashboard": False,
        "node_ip_address": "127.0.0.1"})  # fmt: skip
    try:
        for share, name, rates in (("auto", "quarter", "0.3"),
                                   ("1", "whole", "0.03,0.3")):  # fmt: skip
            assert run_sweep(tmp_path, "--optimizers", "adam",
                             "--learning-rates", rates, "--address", cluster.address,
                             "--workers", "auto", "--gpus-per-run", share,
                             "--name", name) == 0  # fmt: skip
    finally:
        cluster.shutdown()
    out = capsys.readouterr().out
    assert "1 GPU(s), 1 of one per run" in out
    assert "1 GPU(s), 0.25 of one per run): as many as it schedules runs" in out
    assert len(re.findall(r", GPU 0 ×0\.25\)", out)) == 1
    assert len(re.findall(r", GPU 0 ×1\)", out)) == 2
    whole = sorted(training_span(run.parent)
                   for run in (tmp_path / "whole").glob("mlp/*/lr=*/train")
                   )  # fmt: skip
    assert len(whole) == 2
    assert all(end <= start for (_, end), (start, _) in zip(whole, whole[1:]))


@pytest.mark.parametrize("share", ["1.5", "-0.1", "half", "nan"])
def test_a_gpu_share_outside_0_to_1_exits_2(share, tmp_path, capsys):
    assert run_sweep(tmp_path, "--gpus-per-run", share) == 2
    assert capsys.readouterr().err == (
        f"error: --gpus-per-run must be a number in [0, 1] or auto, got {share!r}\n"
    )


def test_a_gpu_share_in_the_config_file_is_a_number(tmp_path, capsys):
    config = tmp_path / "gpus.toml"
    config.write_text("gpus_per_run = true\n")
    assert sweep.main(["--config", str(config), "--logdir", str(tmp_path)]) == 2
    assert "gpus_per_run must be a number in [0, 1] or auto, got True" in (
        capsys.readouterr().err
    )


def test_a_gpu_share_where_ray_finds_no_gpu_exits_2_before_any_run(tmp_path, capsys):
    """Ray would hold every run back for a GPU that is not there, silently."""
    assert run_sweep(tmp_path, *FOUR_RUNS, "--workers", "2", "--gpus-per-run",
                     "0.5") == 2  # fmt: skip
    assert capsys.readouterr().err.splitlines()[-1] == (  # after the data's warning
        "error: a GPU share of 0.5 per run: Ray finds no GPU here, so no run could "
        "start; leave gpus_per_run out (auto) or give 0"
    )
    assert not list((tmp_path / "quick").rglob("result.json"))
