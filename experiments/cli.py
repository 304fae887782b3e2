"""What the command-line jobs (sweep, lr_finder, trajectories) share.

Every job reports bad input the same way: one line on stderr, exit status 2,
nothing written.
"""

import argparse
import contextlib
import functools
import math
import os
import signal
import sys
import tempfile
from pathlib import Path


class UsageError(ValueError):
    """Bad input from the command line or a config file: exit status 2."""


def command(main):
    """A job's `main(argv)`, where bad input (a UsageError) is one line on
    stderr and exit status 2, and a file that cannot be written or read (a
    full disk) one line naming it and exit status 1, whatever the job."""

    @functools.wraps(main)
    def run(argv=None):
        try:
            return main(argv)
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except ModuleNotFoundError as error:
            if error.name not in BACKEND_MODULES:
                raise
            print(f"error: {missing_backend(error.name)}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"error: {describe_os_error(error)}", file=sys.stderr)
            return 1

    return run


# The modules Keras's backends import (KERAS_BACKEND names them alike).
BACKEND_MODULES = {"tensorflow", "jax", "torch"}


def missing_backend(module):
    """The one line for a Keras backend that is not installed."""
    chosen = os.environ.get("KERAS_BACKEND")
    why = f"KERAS_BACKEND={chosen}" if chosen else "KERAS_BACKEND is unset: TensorFlow"
    return (
        f"Keras's backend ({why}) needs {module!r}, which is not installed; set "
        "KERAS_BACKEND to an installed one (jax, torch or tensorflow) or install "
        "it (docs/backends.md)"
    )


def describe_os_error(error):
    """ "<path>: <what went wrong>" for an OSError, on one line."""
    where = error.filename or "a file"
    return f"{where}: {error.strerror or error}".replace("\n", " ")


@contextlib.contextmanager
def writing(path):
    """Names `path` in an OSError raised while writing it (a write to a full
    disk raises one without a file name)."""
    try:
        yield
    except OSError as error:
        if error.filename:
            raise
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None


STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received = []  # the stopping signals this job got, in order


def stop_on_signals():
    """Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP raise KeyboardInterrupt in the
    main thread, recorded, so a job cleans up the same way for all three and
    `raise_if_stopped` finds one whose KeyboardInterrupt was lost."""
    forget_signals()
    for signum in STOPPING_SIGNALS:
        signal.signal(signum, stop)


def stop(signum, frame=None):
    """Stops the job for the signal `signum`, recorded: Ray re-raises a
    KeyboardInterrupt of its own from inside a wait."""
    _received.append(signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def forget_signals():
    """A new job starts: the signals that stopped an earlier one in this
    process (a notebook's) do not stop it."""
    _received.clear()


def raise_if_stopped():
    """KeyboardInterrupt if a stopping signal came but its KeyboardInterrupt
    was lost: raised inside a finalizer (`__del__`, whose exceptions Python
    ignores) or turned into another error by the code it interrupted."""
    if _received:
        raise KeyboardInterrupt(signal.Signals(_received[-1]).name)


def stopped_by():
    """The name of the signal that stopped the job ("SIGTERM"), or "" for Ctrl-C."""
    if not _received or _received[-1] == signal.SIGINT:
        return ""
    return signal.Signals(_received[-1]).name


def exit_status():
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + (_received[-1] if _received else signal.SIGINT)


def at_most_in_memory(value, flag, least, bytes_each, share=0.25):
    """`value` as an integer >= `least` whose `bytes_each` per unit fit in
    `share` of this machine's memory; UsageError naming the largest that does."""
    count = integer(value, flag, least)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    largest = int(share * memory // bytes_each)
    if count > largest:
        raise UsageError(
            f"{flag} must be at most {largest} here (each takes about {bytes_each} "
            f"bytes, kept in memory), got {value!r}"
        )
    return count


def parser(prog, doc):
    """An argument parser whose help is the module docstring: summary, then usage."""
    return argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 2)[2],
    )


def comma_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def number(value, requirement, valid):
    """`value` as a float if finite and `valid`; else a UsageError "<requirement>, got …"."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        result = math.nan
    if isinstance(value, bool) or not math.isfinite(result) or not valid(result):
        raise UsageError(f"{requirement}, got {value!r}")
    return result


def check_writable(folder, kind="log"):
    """Fails unless `folder` exists as a writable folder or could be created.

    It tries: makes and removes a scratch folder in `folder`, or in its
    nearest existing parent, since permission bits say nothing to root (or
    about /proc and read-only mounts).
    """
    path = Path(folder).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(existing)
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=existing))
    except OSError:
        raise UsageError(
            f"{kind} folder {folder} cannot be written ({existing} is not a writable folder)"
        ) from None


# What a name that becomes a folder inside the log folder may not be or
# hold, so that it stays one folder there (its length in bytes is checked
# against the file system's own limit, engine.check_folder_names).
FOLDER_NAME_RULES = (
    (lambda name: not name.strip(), "is empty"),
    (lambda name: "/" in name or "\\" in name, "has a path separator"),
    (lambda name: name.startswith("."), "starts with a dot"),
    (lambda name: any(ord(c) < 32 or ord(c) == 127 for c in name),
     "has a control character"),
    (lambda name: name != name.strip(), "has surrounding spaces"),
)  # fmt: skip


def folder_name(name, what):
    """`name` if it can be a folder's name inside the log folder as it is
    (so never `..`, nor a path); else UsageError naming `what`, the table
    or flag it came from."""
    if not isinstance(name, str):
        raise UsageError(f"{what} must be a string, got {name!r}")
    for breaks, problem in FOLDER_NAME_RULES:
        if breaks(name):
            raise UsageError(
                f"{what} {name!r} {problem}; it names a folder inside the log "
                "folder, so it must be a plain file name"
            )
    return name


def names(values, allowed, kind):
    """`values` if it is a non-empty list of names from `allowed`; else UsageError."""
    if not values:
        raise UsageError(f"no {kind} given; allowed: {', '.join(allowed)}")
    for name in values:
        if name not in allowed:
            raise UsageError(f"unknown {kind} {name!r}; allowed: {', '.join(allowed)}")
    return values


# The largest seed Keras's `set_random_seed` (and NumPy's legacy generator) takes.
MAX_SEED = 2**32 - 1


def seed(value, what="a seed"):
    """`value` as a seed, an integer in 0…MAX_SEED; else UsageError naming `what`."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if (
        isinstance(value, bool)
        or not 0 <= number <= MAX_SEED
        or str(number) != str(value).strip()
    ):
        raise UsageError(
            f"{what} must be an integer from 0 to {MAX_SEED} (the seeds Keras "
            f"takes), got {value!r}"
        )
    return number


def of_kind(value, kind):
    """`value` as a file of `kind` (a type, or a tuple of them) holds it, an
    integer passing as a float; TypeError where it is of another kind, a
    bool counting as no number and a number as no bool (TOML and JSON keep
    them apart, Python does not)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise TypeError(f"{value!r} is not {kind}")
    return value


def integer(value, flag, least):
    """`value` as an int if it is a whole number >= `least`; else UsageError."""
    requirement = f"{flag} must be an integer >= {least}"
    return int(number(value, requirement, lambda x: x >= least and x == int(x)))
