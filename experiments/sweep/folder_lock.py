"""One sweep at a time per sweep folder.

A sweep holds an exclusive `flock` on `<sweep>/.lock` while it runs and
writes who it is into the file. The kernel drops the lock when the holder's
process dies, however it dies, so a lock left by a crashed sweep is never
in the way; its file still names the dead holder (a clean exit empties it),
which is how a takeover is noticed and reported.
"""

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = ".lock"


class FolderBusy(Exception):
    """Another live process holds the folder's lock."""


def _describe(holder):
    try:
        info = json.loads(holder)
        return (
            f"pid {info['pid']} on {info['host']}, started {info['started']} "
            f"({info['command']})"
        )
    except (ValueError, KeyError, TypeError):
        return holder.strip() or "an unknown process"


class FolderLock:
    """`with FolderLock(folder):` holds `folder` for this process or raises `FolderBusy`."""

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_FILE

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read()
            self.file.close()
            raise FolderBusy(
                f"{self.path.parent} is in use by another sweep: {_describe(holder)}; "
                "wait for it to finish or use --name for a new sweep"
            ) from None
        self.file.seek(0)
        previous = self.file.read()
        if previous.strip():
            print(
                f"warning: taking over the lock of a sweep that ended without "
                f"releasing it ({_describe(previous)}); its unfinished runs are redone",
                file=sys.stderr,
            )
        self.file.seek(0)
        self.file.truncate()
        self.file.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "command": " ".join(sys.argv),
                }
            )
        )
        self.file.flush()
        os.fsync(self.file.fileno())
        return self

    def __exit__(self, *exc_info):
        self.file.seek(0)
        self.file.truncate()
        self.file.flush()
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
