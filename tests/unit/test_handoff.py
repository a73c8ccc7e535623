"""Outcomes finished on another thread reach the event loop with one wake-up per bunch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from scheduler.api.handoff import Handoff


class CountingLoop(asyncio.SelectorEventLoop):
    """A real event loop that counts the wake-ups other threads ask of it."""

    wakeups = 0

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.wakeups += 1
        return super().call_soon_threadsafe(callback, *args, **kwargs)


def run(main: Callable[[CountingLoop], Any]) -> Any:
    loop = CountingLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


def test_a_bunch_finished_together_is_delivered_with_one_wakeup() -> None:
    async def main(loop: CountingLoop) -> list[int]:
        handoff = Handoff(loop)
        futures: list[Future[int]] = [Future() for _ in range(100)]
        waiters = [handoff.wait(f) for f in futures]

        def finish_all() -> None:  # as a group commit's writer thread does
            for i, future in enumerate(futures):
                future.set_result(i)

        threading.Thread(target=finish_all).start()
        results = await asyncio.gather(*waiters)
        assert loop.wakeups < 10  # one per bunch that found no wake-up pending; not 100
        return list(results)

    assert run(main) == list(range(100))


def test_an_error_reaches_its_waiter_alone() -> None:
    async def main(loop: CountingLoop) -> None:
        handoff = Handoff(loop)
        good: Future[str] = Future()
        bad: Future[str] = Future()
        waiting = [handoff.wait(good), handoff.wait(bad)]

        def finish() -> None:
            bad.set_exception(ValueError("not durable"))
            good.set_result("job-1")

        threading.Thread(target=finish).start()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert outcomes[0] == "job-1"
        assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "not durable"

    run(main)


def test_a_cancelled_waiter_is_skipped_and_the_others_still_delivered() -> None:
    async def main(loop: CountingLoop) -> None:
        handoff = Handoff(loop)
        first: Future[int] = Future()
        second: Future[int] = Future()
        cancelled, kept = handoff.wait(first), handoff.wait(second)
        cancelled.cancel()
        threading.Thread(target=lambda: (first.set_result(1), second.set_result(2))).start()
        assert await kept == 2
        with pytest.raises(asyncio.CancelledError):
            await cancelled

    run(main)


def test_an_outcome_already_there_is_delivered_too() -> None:
    async def main(loop: CountingLoop) -> int:
        done: Future[int] = Future()
        done.set_result(7)
        return await Handoff(loop).wait(done)

    assert run(main) == 7
