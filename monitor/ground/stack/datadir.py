"""One owner per data folder: an embedded server that persists takes an exclusive lock on its folder first.

Two Valkey processes appending to the same ``appendonlydir`` would interleave their writes and corrupt it, and
nothing in Valkey prevents that (two ``bearwatch up`` with the same ``BEARWATCH_VAR_DIR`` pick different free
ports, so the port does not collide either). The lock is a ``flock`` held by the process that launches the
server, so the kernel drops it when that process exits, crashes included: a stale lock file never blocks a
later start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from monitor.ground.errors import BearwatchError


class DataDirBusy(RuntimeError, BearwatchError):
    """Another live process holds the folder; the message names it and the fix."""


class DataDirLock:
    """``lock = DataDirLock(folder).acquire()`` … ``lock.release()``; the lock file is ``folder/.bearwatch.lock``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / ".bearwatch.lock"
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise DataDirBusy(
                f"{self.folder} is in use by another Bearwatch process (pid {holder}): stop that `bearwatch up`, "
                "or give this one its own BEARWATCH_VAR_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
