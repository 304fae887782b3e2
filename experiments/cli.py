"""What the command-line jobs (sweep, lr_finder, trajectories) share.

Every job reports bad input the same way: one line on stderr, exit status 2,
nothing written.
"""

import argparse
import functools
import math
import os
import sys
import tempfile
from pathlib import Path


class UsageError(ValueError):
    """Bad input from the command line or a config file: exit status 2."""


def command(main):
    """A job's `main(argv)`, where bad input (a UsageError) is one line on
    stderr and exit status 2, whatever the job."""

    @functools.wraps(main)
    def run(argv=None):
        try:
            return main(argv)
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return run


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


def names(values, allowed, kind):
    """`values` if it is a non-empty list of names from `allowed`; else UsageError."""
    if not values:
        raise UsageError(f"no {kind} given; allowed: {', '.join(allowed)}")
    for name in values:
        if name not in allowed:
            raise UsageError(f"unknown {kind} {name!r}; allowed: {', '.join(allowed)}")
    return values


def integer(value, flag, least):
    """`value` as an int if it is a whole number >= `least`; else UsageError."""
    requirement = f"{flag} must be an integer >= {least}"
    return int(number(value, requirement, lambda x: x >= least and x == int(x)))
