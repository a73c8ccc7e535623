"""A checkpoint directory belongs to one database: a new database's job-0 must never resume from
the checkpoints an old database's job-0 left there. Real SQLite files; `gbasched serve` once as a
real process (it refuses before starting Ray)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.cli.checkpoints import MARKER, bind_checkpoints
from scheduler.cli.errors import CommandError
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.requests import JobRequest
from scheduler.store.sqlite import SqliteStore
from tests.builders import ASCEND
from tests.service_builders import a_world

STATUS = 2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "pool.db") as opened:
        yield opened


def knows(store: SqliteStore) -> object:
    return lambda job_id: store.job(job_id) is not None


def test_a_store_has_one_identity_for_life_and_another_store_another(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "a.db") as a:
        first = a.identity
    with SqliteStore(tmp_path / "a.db") as again:
        assert again.identity == first, "the same database keeps its identity"
    (tmp_path / "a.db").unlink()
    with SqliteStore(tmp_path / "a.db") as remade:
        assert remade.identity != first, "a database made again at the same path is another"
    assert len(first) == 32 and int(first, 16) >= 0


def test_a_new_directory_is_claimed_for_the_store(store: SqliteStore, tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    bind_checkpoints(directory, store.identity, knows(store), STATUS)
    assert (directory / MARKER).read_text(encoding="utf-8") == store.identity + "\n"
    bind_checkpoints(directory, store.identity, knows(store), STATUS)  # the same store: fine


def test_another_stores_directory_is_refused_naming_both(
    store: SqliteStore, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / MARKER).write_text("0" * 32 + "\n", encoding="utf-8")
    (directory / "job-0").mkdir()

    with pytest.raises(CommandError) as refused:
        bind_checkpoints(directory, store.identity, knows(store), STATUS)

    assert refused.value.status == STATUS
    message = str(refused.value)
    assert message.startswith(f"--checkpoints: {directory} holds the checkpoints of another")
    assert "0" * 32 in message and store.identity in message
    assert (directory / MARKER).read_text(encoding="utf-8") == "0" * 32 + "\n", "left as it was"


def test_an_unmarked_directory_of_jobs_this_store_does_not_know_is_refused(
    store: SqliteStore, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    for job in ("job-0", "job-1"):
        (directory / job).mkdir(parents=True)
        (directory / job / "ckpt-200.npz").write_bytes(b"weights")

    with pytest.raises(CommandError) as refused:
        bind_checkpoints(directory, store.identity, knows(store), STATUS)

    assert "of 2 job(s) this database does not know (job-0, job-1)" in str(refused.value)
    assert not (directory / MARKER).exists()


def test_an_unmarked_directory_of_this_stores_own_jobs_is_claimed(tmp_path: Path) -> None:
    world = a_world(store=SqliteStore(tmp_path / "pool.db"))
    request = JobRequest("t1", 1, 8, 3600, Jurisdiction.MAINLAND, models=(ASCEND,))
    [outcome] = world.coordinator.submit([request])
    directory = tmp_path / "checkpoints"
    (directory / outcome.job_id).mkdir(parents=True)
    store = world.store
    assert isinstance(store, SqliteStore)

    bind_checkpoints(directory, store.identity, knows(store), STATUS)

    assert (directory / MARKER).read_text(encoding="utf-8").strip() == store.identity
    world.coordinator.close()
    store.close()


def test_serve_refuses_another_databases_checkpoints_before_starting_ray(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "job-0").mkdir(parents=True)  # left by a database since deleted
    serve = [sys.executable, "-m", "scheduler.cli", "serve", "--executor", "ray"]
    done = subprocess.run(
        [
            *serve,
            "--db",
            str(tmp_path / "new.db"),
            "--checkpoints",
            str(checkpoints),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == STATUS, done.stderr
    assert f"--checkpoints: {checkpoints} holds checkpoints of 1 job(s)" in done.stderr
    assert "connecting to Ray" not in done.stderr
