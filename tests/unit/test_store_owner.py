"""One coordinator to a store file: `owned` locks `<db>.lock` for its block, refuses a second
holder naming the first's process, and leaves the file for the next one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scheduler.store.errors import StoreError
from scheduler.store.owner import StoreInUse, lock_path, owned


def test_a_second_holder_is_refused_naming_the_first_and_nothing_changes(tmp_path: Path) -> None:
    db = tmp_path / "pool.db"
    with owned(db) as path:
        assert path == lock_path(db) == tmp_path / "pool.db.lock"
        assert path.read_text() == f"{os.getpid()}\n"
        refused = pytest.raises(StoreInUse, match=rf"process {os.getpid()}\) is running on this")
        with refused, owned(db):
            pass
        assert path.read_text() == f"{os.getpid()}\n"


def test_the_lock_is_free_again_once_its_block_ends(tmp_path: Path) -> None:
    db = tmp_path / "pool.db"
    with owned(db):
        pass
    with owned(db) as path:  # the file stays; the lock does not
        assert path.exists()
    with owned(tmp_path / "other.db"), owned(db):  # another store's lock is another file
        pass


def test_a_lock_file_that_cannot_be_made_is_an_error_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "missing-dir" / "pool.db"
    with pytest.raises(StoreError, match=r"missing-dir/pool.db.lock: cannot open"), owned(db):
        pass
