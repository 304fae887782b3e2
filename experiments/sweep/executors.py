"""Where a sweep's runs are trained: here, one after another, or on Ray.

An executor's interface is `run(specs, dataset, sweep_dir)`, which yields
an `Outcome` per run as each finishes, plus `describe()` and
`where(outcome)`, a few words for the progress display, and `close()`.
Both executors train each run with `train_run`, which wipes
the run's folder first (so TensorBoard never holds a step twice) and turns
an error into a failed outcome instead of ending the sweep.
"""

import os
import re
import signal
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from experiments.cli import STOPPING_SIGNALS, UsageError, describe_os_error, stop
from experiments.sweep.run_files import (
    ERROR_FILE,
    run_folder,
    start_afresh,
    write_text,
)

CONNECT_SECONDS = 5.0  # how long to wait for a cluster's head to answer
# `gpus_per_run = "auto"` where Ray and the backend find a GPU: four runs
# share each. The project's shipped problems are small (at most a
# 0.8M-weight transformer on batches of 12 windows), and each backend takes
# GPU memory as it needs it rather than all at once (experiments/__init__.py),
# so several can share one.
GPU_SHARE = 0.25


def gpu_share(setting, ray_gpus, backend_gpus):
    """The share of a GPU each run asks Ray for: the setting, or for `auto`
    GPU_SHARE where Ray counts GPUs and this process's backend sees one
    (tensorflow-cpu on a GPU machine sees none), else none. Ray's accounting
    then caps the runs at once at GPUs ÷ share, whatever `workers` allows.
    UsageError for a share where Ray counts no GPU: no run could start."""
    if setting == "auto":
        return GPU_SHARE if ray_gpus and backend_gpus else 0.0
    if setting and not ray_gpus:
        raise UsageError(
            f"a GPU share of {setting:g} per run: Ray finds no GPU here, so no run "
            "could start; leave gpus_per_run out (auto) or give 0"
        )
    return setting


def check_cluster(address):
    """Fails fast, with how to start one, unless a Ray cluster answers at `address`.

    Without this, `ray.init` retries an address where nothing listens for
    minutes, and waits on a host that does not resolve until Ctrl-C.
    """
    how = (
        "start one with `ray start --head` and pass the address it prints, or "
        "leave out --address (and RAY_ADDRESS) to run on this machine"
    )
    if address == "auto":
        _check_auto(how)
        return
    target = address.removeprefix("ray://")  # Ray Client: host:port after it
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), CONNECT_SECONDS).close()
    except socket.gaierror:
        raise UsageError(
            f"no Ray cluster at {address!r}: host {host!r} is unknown; {how}"
        ) from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise UsageError(f"no Ray cluster at {address!r} ({reason}); {how}") from None


def _check_auto(how):
    """`auto` is whichever cluster Ray finds on this machine; only Ray knows
    where it records one, so connect once, as the sweep will, and let go."""
    import ray

    handlers = {signum: signal.getsignal(signum) for signum in STOPPING_SIGNALS}
    try:
        ray.init(address="auto", log_to_driver=False, logging_level="error")
    except ConnectionError as error:
        reason = str(error).splitlines()[0]
        raise UsageError(f"no Ray cluster at 'auto' ({reason}); {how}") from None
    finally:  # ray.init puts in its own SIGTERM handler; the sweep keeps its own
        ray.shutdown()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@dataclass
class Outcome:
    spec: object  # runs.RunSpec
    result: dict = None  # None when the run failed
    error: str = None  # the error's one-line message, when it failed
    seconds: float = 0.0
    node: str = ""  # host and process that trained it


def train_run(spec, dataset, sweep_dir, verbose=False):
    """Trains `spec` from scratch into its folder; never raises for a run's own error."""
    from experiments import backend
    from experiments.sweep import training

    backend.make_repeatable()
    backend.quiet_keras_step_retracing()
    started = time.perf_counter()
    node = f"{socket.gethostname()}:{os.getpid()}"
    try:
        run_dir = run_folder(sweep_dir, spec.folder)
    except ValueError as error:  # nothing is written outside the sweep folder
        return Outcome(spec, None, str(error), 0.0, node)
    try:
        start_afresh(run_dir)  # unfinished, failed, or --force
        result = training.train(spec, dataset, sweep_dir, verbose=verbose)
    except Exception as error:  # recorded; the sweep goes on
        message = one_line(error)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_text(run_dir / ERROR_FILE, f"{message}\n\n{traceback.format_exc()}")
        except OSError as unwritten:  # a full disk: the message still comes back
            message += f" ({ERROR_FILE} not written: {describe_os_error(unwritten)})"
        return Outcome(spec, None, message, time.perf_counter() - started, node)
    return Outcome(spec, result, None, time.perf_counter() - started, node)


ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")
# Lines of an error's message that frame its cause rather than state it:
# TensorFlow's graph errors open with "Graph execution error:" and a stack
# of the node's definition, and state the cause after it.
FRAMING = re.compile(r'\s*$|\s*File "|Detected at node|\s*\[\[|.*:\s*$')


def one_line(error):
    """An error as the progress line shows it: its type and the first line of
    its message that states the cause, no colour codes; for a Ray task's
    failure, the task's own error."""
    cause = getattr(error, "cause", None)  # ray.exceptions.RayTaskError
    if isinstance(cause, BaseException):
        error = cause
    lines = ANSI_CODES.sub("", str(error)).strip().splitlines() or [""]
    stated = next((line for line in lines if not FRAMING.match(line)), lines[0])
    return f"{type(error).__name__}: {stated.strip()}"[:300]


class InProcess:
    """Today's loop: every run in this process, one after another."""

    def __init__(self, verbose=False):
        self.verbose = verbose

    def run(self, specs, dataset, sweep_dir):
        for spec in specs:
            yield train_run(spec, dataset, sweep_dir, self.verbose)

    def where(self, outcome):
        return ""

    def describe(self):
        return "training one run at a time in this process"

    def close(self):
        pass


def _train_on_ray_worker(spec, dataset, sweep_dir, threads, gpus, verbose):
    """One run as a Ray task: the backend gets `threads` threads, and no GPU
    when the run asked for none (Ray leaves a task that asks for none every
    GPU), then `train_run`."""
    import ray

    if not gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before the backend starts
    from experiments import backend

    backend.use_threads(threads)
    outcome = train_run(spec, dataset, sweep_dir, verbose)
    context = ray.get_runtime_context()
    gpu = context.get_assigned_resources().get("GPU")
    outcome.node = (
        f"node {context.get_node_id()[:8]}, {outcome.node}"
        + (f", GPU {','.join(map(str, ray.get_gpu_ids()))} ×{gpu:g}" if gpu else "")
    )
    return outcome


def _start_ray(workers, address):
    """A cluster's driver at `address`, or a private local Ray of `workers` CPUs;
    workers import this project (and a user's modules) as the driver does,
    on the driver's Keras backend."""
    import ray

    from experiments import backend

    project = str(Path(__file__).resolve().parents[2])
    paths = [project, os.getcwd(), os.environ.get("PYTHONPATH")]
    runtime_env = {
        "env_vars": {
            "PYTHONPATH": os.pathsep.join(filter(None, paths)),
            "KERAS_BACKEND": backend.name(),
        }
    }
    quiet = {"log_to_driver": False, "logging_level": "error"}
    if address:
        ray.init(address=address, runtime_env=runtime_env, **quiet)
    else:
        ray.init(  # "local": not the cluster a `ray start` here last recorded
            address="local",
            num_cpus=workers,
            include_dashboard=False,
            runtime_env=runtime_env,
            **quiet,
        )


class OnRay:
    """Runs as Ray tasks: `workers` at once on a local Ray, or on a cluster.

    Locally (no `address`) it starts Ray with `workers` CPUs and no
    dashboard; each run asks for one of them and gives its backend
    cores / workers threads, so runs do not fight over cores. With
    `address` (a cluster's, or "auto") each run asks for one CPU and uses
    one thread, and at most `workers` runs are in flight (None: as many as
    the cluster schedules). A run whose worker process dies is retried
    from scratch (`train_run` wipes its folder first); Ctrl-C cancels every
    task and stops the local Ray.
    """

    RETRIES = 2  # per run, when its worker process dies

    def __init__(self, workers, address=None, gpus_per_run="auto", verbose=False):
        import ray

        self.workers = workers
        self.verbose = verbose
        self.threads = 1 if address else max(1, (os.cpu_count() or 1) // workers)
        handlers = {signum: signal.getsignal(signum) for signum in STOPPING_SIGNALS}
        try:
            _start_ray(workers, address)
        except SystemExit as exit:  # Ray's own SIGTERM handler, during ray.init
            ray.shutdown()
            if exit.code in STOPPING_SIGNALS:
                stop(exit.code)
            raise
        except BaseException:  # Ctrl-C or SIGHUP while Ray starts
            ray.shutdown()
            raise
        finally:
            for signum, handler in handlers.items():  # ray.init replaced SIGTERM's
                signal.signal(signum, handler)
        from experiments import backend

        try:
            self.gpus_per_run = gpu_share(
                gpus_per_run, ray.cluster_resources().get("GPU", 0), backend.gpu_count()
            )
        except UsageError:
            ray.shutdown()
            raise
        self.task = ray.remote(
            num_cpus=1, num_gpus=self.gpus_per_run, max_retries=self.RETRIES
        )(_train_on_ray_worker)

    def run(self, specs, dataset, sweep_dir):
        import ray

        dataset_ref = ray.put(dataset)
        sweep_dir = Path(sweep_dir).resolve()
        queue = list(specs)
        pending = {}
        try:
            while queue or pending:
                while queue and (self.workers is None or len(pending) < self.workers):
                    spec = queue.pop(0)
                    ref = self.task.remote(spec, dataset_ref, sweep_dir, self.threads,
                                           self.gpus_per_run, self.verbose)  # fmt: skip
                    pending[ref] = (spec, time.perf_counter())
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                spec, started = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:  # retries used up
                    message = one_line(error)
                    yield Outcome(
                        spec, None, message, time.perf_counter() - started, "ray"
                    )
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def where(self, outcome):
        return f", {outcome.node}"

    def describe(self):
        import ray

        from experiments import backend

        nodes = [n for n in ray.nodes() if n["Alive"]]
        cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
        at_once = "as many as it schedules" if self.workers is None else self.workers
        gpus = sum(n["Resources"].get("GPU", 0) for n in nodes)
        on_gpus = (
            f", {gpus:g} GPU(s), {self.gpus_per_run:g} of one per run" if gpus else ""
        )
        threads = (
            "XLA's own threads"
            if backend.name() == "jax"
            else f"{self.threads} {backend.name()} thread(s) each"
        )
        return (
            f"training on Ray ({len(nodes)} node(s), {cpus:g} CPUs{on_gpus}): "
            f"{at_once} runs at a time, {threads}"
        )

    def close(self):
        import ray

        ray.shutdown()
