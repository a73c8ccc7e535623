"""One coordinator to a store file: `owned(db)` holds an exclusive lock on `<db>.lock` while a
coordinator runs on `db`, and refuses at once (StoreInUse) when another process holds it.

Two coordinators on one store would each admit, bill and stop jobs the other also decides on:
SQLite keeps each transaction whole, not the scheduler's single-writer view of the pool. The
lock is `flock(2)` on a file beside the database, not SQLite's own locking (which a reader or
a migration may take for a moment): the kernel drops it when its holder exits, by a crash or
a SIGKILL too, so a coordinator restarted after a crash never finds a stale lock. The file is
left in place (removing it could let two processes lock two different files); it holds the
holder's pid, for the message."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scheduler.store.errors import StoreError


class StoreInUse(StoreError):
    """Another process runs a coordinator on this store file."""


def lock_path(db: Path) -> Path:
    return db.with_name(f"{db.name}.lock")


@contextmanager
def owned(db: Path) -> Iterator[Path]:
    """Hold `db`'s lock for the block (yields the lock file's path)."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store's lock file: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise StoreInUse(
                f"{db}: another coordinator ({who}) is running on this store; stop it first,"
                " or pass another --db"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)  # drops the lock
