"""Calls from the SMTP thread (asyncio) into the daemon's Trio thread.

aiosmtpd is asyncio-only, so it runs on its own loop in its own thread
(``shared/reference/stack-notes.md`` §4). A session that needs the store
(RCPT, DATA) submits a job here and awaits a ``concurrent.futures.Future``,
which does not block the asyncio loop: other sessions go on meanwhile.

The hand-off uses :meth:`trio.lowlevel.TrioToken.run_sync_soon`, which
never blocks the calling thread, and a bounded memory channel: when it is
full the session answers 451 (the sender's MTA retries) instead of queueing
without limit. Jobs run as Trio tasks under a cancel scope that the
listener's shutdown cancels only after every session has ended, so a
message that is being committed always gets its answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
import trio

log = structlog.get_logger("gateway.email")

T = TypeVar("T")

#: Jobs waiting for the Trio side before sessions are told to retry later.
QUEUE_SIZE = 200


class BridgeClosed(RuntimeError):
    """The Trio side is not taking jobs (busy, shutting down, or gone)."""


Job = tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], "concurrent.futures.Future[Any]"]


class Bridge:
    """Runs async functions in the Trio thread on behalf of the SMTP thread."""

    def __init__(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._send, self._receive = trio.open_memory_channel[Job](QUEUE_SIZE)
        self._jobs_scope = trio.CancelScope(shield=True)

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float) -> T:
        """Run ``fn(*args)`` in Trio and await its result (from the asyncio thread).

        Raises :class:`BridgeClosed` when the job cannot be handed over, and
        :class:`TimeoutError` when no answer came within ``timeout`` seconds.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            self._token.run_sync_soon(self._submit, (fn, args, future))
        except trio.RunFinishedError as exc:
            raise BridgeClosed("the daemon has stopped") from exc
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def _submit(self, job: Job) -> None:
        """(Trio thread) queue a job, or fail its future at once."""
        try:
            self._send.send_nowait(job)
        except trio.WouldBlock:
            job[2].set_exception(BridgeClosed("too many messages in flight"))
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            job[2].set_exception(BridgeClosed("the SMTP listener is stopping"))

    async def run_jobs(self) -> None:
        """(Trio thread) run queued jobs concurrently until :meth:`close`."""
        with self._jobs_scope:
            async with trio.open_nursery() as nursery:
                async for job in self._receive:
                    nursery.start_soon(self._run, job)

    async def _run(self, job: Job) -> None:
        fn, args, future = job
        if not future.set_running_or_notify_cancel():
            return  # the session gave up (timeout or disconnect) before the job started
        try:
            result = await fn(*args)
        except trio.Cancelled:
            future.set_exception(BridgeClosed("the SMTP listener stopped"))
            raise
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def close(self) -> None:
        """(Trio thread) stop taking jobs and cancel any still running."""
        self._send.close()
        self._jobs_scope.cancel()
