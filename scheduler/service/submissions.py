"""Group commit: many submitters, one durable transaction per batch, no writer thread.

A submitter (a gRPC handler, any thread) queues its validated jobs. If no write is in progress it
becomes the leader: it takes everything queued, up to `max_batch` jobs, and writes it in one
call (one transaction, one fsync) on its own thread. Submitters that arrive meanwhile wait; when
the write ends, those whose jobs it wrote return, and one of the rest leads the next batch. So a
lone submitter pays no hand-off to another thread, and under load the cost of a durable write is
shared by every job that arrived while the previous one was being written. An acknowledgement
always means the job is on disk.

Callers that must not block (the gRPC handlers, on the event loop) use `submit_later`: their
jobs join the same queue and a future says when they are durable. A writer thread, started on
first use, leads a batch whenever jobs are queued and no one else is writing; it and blocking
submitters take turns as leaders, so each batch still mixes both kinds.

The writer waits `delay_s` after it finds work before it takes the batch (PostgreSQL's
`commit_delay`): single-job calls arriving one by one from many clients would otherwise be
written a few at a time, each commit with its own transaction, fsync and thread hand-offs. With
256 calls in flight a delay of 2 ms halved the commits and took ~15 % off the server's CPU per
call (benchmarks/RESULTS.md); a lone call is acknowledged that much later. It is skipped when
`DELAY_BELOW` jobs or more are already queued (bulk calls form large batches by themselves), and
blocking submitters never wait for it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from scheduler.domain.jobs import Job
from scheduler.service.errors import CoordinatorStopped
from scheduler.store.records import SubmitOutcome

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[Job]], list[SubmitOutcome]]

DELAY_BELOW = 64
"""The writer's commit delay applies only while fewer jobs than this are queued: a batch that
large is written at once (bulk submissions would only lose time waiting)."""


@dataclass(slots=True)
class _Request:
    jobs: Sequence[Job]
    done: bool = False
    outcomes: list[SubmitOutcome] | None = None
    error: BaseException | None = None
    future: Future[list[SubmitOutcome]] | None = None  # a `submit_later` caller's

    def finish(
        self, outcomes: list[SubmitOutcome] | None, error: BaseException | None = None
    ) -> None:
        self.outcomes, self.error, self.done = outcomes, error, True
        if self.future is not None:
            if error is not None:
                self.future.set_exception(error)
            else:
                assert outcomes is not None
                self.future.set_result(outcomes)


class GroupCommit:
    """`write(jobs)` stores a batch all or nothing and returns one outcome per job, in order."""

    def __init__(self, write: Writer, max_batch: int, delay_s: float = 0.0) -> None:
        self._write = write
        self._max_batch = max_batch
        self._delay_s = delay_s
        self._turn = threading.Condition()
        self._queued: deque[_Request] = deque()
        self._writing = False
        self._writer_idle = False  # the writer thread waits for work (not in its delay)
        self._closed = False
        self._writer: threading.Thread | None = None

    def submit(self, jobs: Sequence[Job]) -> list[SubmitOutcome]:
        request = _Request(jobs)
        with self._turn:
            if self._closed:
                raise CoordinatorStopped("the coordinator is shutting down; nothing was stored")
            self._queued.append(request)
            while not request.done:
                if self._writing:
                    self._turn.wait()
                    continue
                self._writing = True
                self._lead(self._take())
        if request.error is not None:
            raise request.error
        assert request.outcomes is not None
        return request.outcomes

    def submit_later(self, jobs: Sequence[Job]) -> Future[list[SubmitOutcome]]:
        """Queue the jobs and return at once; the future holds their outcomes once they are
        durable (or the error that kept them from the store)."""
        request = _Request(jobs, future=Future())
        with self._turn:
            if self._closed:
                raise CoordinatorStopped("the coordinator is shutting down; nothing was stored")
            self._queued.append(request)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_queued, name="group-commit", daemon=True
                )
                self._writer.start()
            if self._writer_idle or self._delay_s <= 0:
                self._turn.notify_all()  # during its delay the writer needs no wake-up
        assert request.future is not None
        return request.future

    def _write_queued(self) -> None:
        """The writer thread: lead a batch whenever jobs wait and no one writes."""
        with self._turn:
            while True:
                while self._writing or not self._queued:
                    if self._closed and not self._queued:
                        return
                    self._writer_idle = True
                    self._turn.wait()
                    self._writer_idle = False
                if self._delay_s > 0 and not self._closed and self._small_batch():
                    self._turn.wait(self._delay_s)  # let more join this commit
                    if self._writing or not self._queued:
                        continue  # a blocking submitter led the batch meanwhile
                self._writing = True
                self._lead(self._take())

    def _lead(self, batch: list[_Request]) -> None:
        """Write `batch` outside the lock (held on entry and on return), then let the next
        leader go."""
        self._turn.release()
        try:
            self._write_batch(batch)
        except BaseException as exc:  # interrupted: nobody may wait for these forever
            for waiting in batch:
                if not waiting.done:
                    waiting.finish(None, exc)
        finally:
            self._turn.acquire()
            self._writing = False
            self._turn.notify_all()

    @property
    def waiting(self) -> int:
        """Submissions queued behind the write in progress."""
        return len(self._queued)

    def close(self) -> None:
        """Refuse new submissions; wait until what is queued has been written."""
        with self._turn:
            self._closed = True
            self._turn.notify_all()  # the writer thread ends once nothing is queued
            while self._writing or self._queued:
                self._turn.wait()

    def _small_batch(self) -> bool:
        """Fewer than DELAY_BELOW jobs queued: worth waiting for more (bulk calls are not)."""
        size = 0
        for request in self._queued:
            size += len(request.jobs)
            if size >= DELAY_BELOW:
                return False
        return True

    def _take(self) -> list[_Request]:
        batch = [self._queued.popleft()]
        size = len(batch[0].jobs)
        while self._queued and size + len(self._queued[0].jobs) <= self._max_batch:
            size += len(self._queued[0].jobs)
            batch.append(self._queued.popleft())
        return batch

    def _write_batch(self, batch: list[_Request]) -> None:
        try:
            outcomes = self._write([job for request in batch for job in request.jobs])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].finish(None, exc)
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
            request.finish(outcomes[start:end])
            start = end
