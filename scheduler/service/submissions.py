"""Group commit: many submitters, one writer, one durable transaction per batch.

Submitters (gRPC handlers, any thread) hand their validated jobs to `GroupCommit.submit` and
block until the batch holding them is durable. One writer thread takes everything queued at that
moment, up to `max_batch` jobs, and writes it with one call (one transaction, one fsync), so
under load the cost of a durable write is shared by every job that arrived while the previous
one was being written. An acknowledgement always means the job is on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from scheduler.domain.jobs import Job
from scheduler.service.errors import CoordinatorStopped
from scheduler.store.records import SubmitOutcome

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[Job]], list[SubmitOutcome]]


@dataclass(slots=True)
class _Request:
    jobs: Sequence[Job]
    done: Future[list[SubmitOutcome]] = field(default_factory=Future)


class GroupCommit:
    """`write(jobs)` stores a batch all or nothing and returns one outcome per job, in order."""

    def __init__(self, write: Writer, max_batch: int) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, jobs: Sequence[Job]) -> list[SubmitOutcome]:
        request = _Request(jobs)
        with self._lock:
            if self._closed:
                raise CoordinatorStopped("the coordinator is shutting down; nothing was stored")
            self._queue.put(request)
        return request.done.result()

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.jobs)
            stop = False
            while size < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.jobs)
            self._write_batch(batch)
            if stop:
                return

    def _write_batch(self, batch: list[_Request]) -> None:
        try:
            outcomes = self._write([job for request in batch for job in request.jobs])
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].done.set_exception(exc)
                return
            # One request's trouble must not fail the others: write each on its own.
            log.warning(
                "a batch of %d submissions failed (%s); writing them one by one", len(batch), exc
            )
            for request in batch:
                self._write_batch([request])
            return
        start = 0
        for request in batch:
            end = start + len(request.jobs)
            request.done.set_result(outcomes[start:end])
            start = end
