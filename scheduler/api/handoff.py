"""Outcomes of work done on other threads, handed to the event loop a bunch at a time.

A group commit makes many submissions durable at once, on its writer thread. `asyncio.wrap_future`
would wake the event loop once per submission (a `call_soon_threadsafe`: a lock, a write to the
loop's self-pipe and a pass of the selector each); `Handoff` wakes it once for every outcome that
became ready meanwhile, which under load is a whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class Handoff:
    """`await handoff.wait(future)` on the loop the handoff was made on."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._ready: list[tuple[asyncio.Future[Any], Future[Any]]] = []
        self._scheduled = False

    def wait(self, done: Future[T]) -> asyncio.Future[T]:
        """A loop future that takes `done`'s result or exception once `done` has one."""
        waiter: asyncio.Future[T] = self._loop.create_future()
        done.add_done_callback(lambda finished: self._post(waiter, finished))
        return waiter

    def _post(self, waiter: asyncio.Future[Any], finished: Future[Any]) -> None:
        with self._lock:
            self._ready.append((waiter, finished))
            if self._scheduled:
                return  # the wake-up already asked for will take this one too
            self._scheduled = True
        # A closed loop (RuntimeError): the server is gone and nobody awaits any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
            self._scheduled = False
        for waiter, finished in ready:
            if waiter.done():  # the call was cancelled meanwhile
                continue
            error = finished.exception()
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(finished.result())
