"""Reading untrusted MIME within bounds, in a worker thread, never on the event loop.

The stdlib parser has no limits of its own. Measured on our 2-core VM: with
``policy.default`` it spends about 2 ms per part (it parses each part's
Content-Type as a structured header, several times), so 50,000 parts took 13 to
85 s; and each level of nesting adds a generator frame that every later line
passes through, so 2,000 levels cost seconds before raising ``RecursionError``.

Here the parse is bounded *while it runs*, before the expensive part:

- the stdlib ``FeedParser`` attaches every part it creates to its parent with
  ``Message.attach``; :class:`_Part` counts there and knows its depth, so the
  parse stops at the first part over :data:`MAX_PARTS` or :data:`MAX_DEPTH`;
- before the first part is read, the top multipart's delimiter lines are counted
  (a ``find`` each): a message with more of them than :data:`MAX_PARTS` is refused
  without parsing any part (:meth:`Budget.count_delimiters`);
- the structure is parsed with ``policy.compat32`` (about 15 times cheaper per part);
  the few headers the rules read are decoded with ``policy.default`` afterwards
  (``mail.py``), which gives the same text as before;
- the message is fed in :data:`SLICE_BYTES` slices; after each the thread checks
  its own CPU clock against :data:`CPU_SECONDS` and, every :data:`YIELD_EVERY`
  of it, calls ``os.sched_yield()``.

Why the yield: the daemon is one process pinned to one CPU, and a busy thread
keeps the GIL until CPython forces a switch (5 ms). Every time the event loop or
the store's writer wants the GIL it would wait that long. Handing it back after
half a millisecond of work keeps ``/v2/enqueue`` latency near its idle value
while a mail is read (``bench/hostile-mail``).

Every refusal is :class:`~gateway.pluginkit.UnrecognizedEvent` (SMTP ``554``):
the same message would fail the same way on every retry, so a 4xx would only
keep it in the sender's queue until it expires.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.feedparser import BytesFeedParser
from email.message import Message
from typing import Any, TypeVar

import structlog
import trio

from gateway.pluginkit import RetryLater, UnrecognizedEvent

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: MIME parts in one message, the message itself included. Real mail has a few; a
#: message with many attachments some dozens.
MAX_PARTS = 1_000
#: Nesting levels (multipart or message/* in one another). A forwarded message with
#: HTML and attachments is 4 deep; a forward of that forward, 6.
MAX_DEPTH = 20
#: CPU seconds (of the reading thread, so load on the machine does not count) one
#: message may take to read. 10 MB with a base64 attachment takes ~0.4 s; 10 MB of
#: one-character lines, the costliest shape, ~2.5 s.
CPU_SECONDS = 5.0
#: Wall-clock seconds before the loop stops waiting for a read (the thread ends by
#: itself at CPU_SECONDS). Reached only when the process is starved: answered 451.
WALL_SECONDS = 60.0
#: Mails read at the same time; more wait their turn, so hostile mail cannot take
#: every worker thread (the store's reads use trio's default limiter).
PARALLEL_READS = 2
#: Bytes fed to the parser between two checks of the CPU clock (~1 ms of work at most).
SLICE_BYTES = 1024
#: CPU seconds of reading between two GIL hand-overs.
YIELD_EVERY = 0.0005


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one read (the module's constants unless a test says otherwise)."""

    parts: int = MAX_PARTS
    depth: int = MAX_DEPTH
    cpu_seconds: float = CPU_SECONDS


def _too_many_parts(limit: int) -> UnrecognizedEvent:
    return UnrecognizedEvent(f"more than {limit} MIME parts; this gateway reads at most {limit}")


class Budget:
    """What one read of one message may still spend; create it in the reading thread."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.parts = 1  # the message itself
        self._started = self._yielded = time.thread_time()

    def count_delimiters(self, raw: bytes, boundary: str) -> None:
        """Refuse ``raw`` at once if its top multipart has more delimiter lines than parts allowed.

        Each ``--boundary`` line before the closing one starts a part of the top
        multipart (the parser ends nested parts at any of them), so their count is
        a lower bound of the parts the parse would create. Counting them costs a
        ``find`` per line; the parse, ~14 µs per part: a mail of 50,000 parts is
        refused in well under a millisecond instead of parsing 1,000 parts first.
        The scan stops after a few times the bound of candidates (lines that only
        start like a delimiter), leaving the rest to the parse's own count.
        """
        try:
            needle = b"--" + boundary.encode("ascii", "surrogateescape")
        except UnicodeEncodeError:
            return
        delimiters, candidates, at = 0, 0, 0
        while candidates < 4 * self.limits.parts and (at := raw.find(needle, at)) > 0:
            candidates += 1
            end = at + len(needle)
            at = end
            if raw[end - len(needle) - 1] not in b"\r\n":
                continue  # not at a line start
            close = raw.startswith(b"--", end)
            tail = end + 2 if close else end
            while tail < len(raw) and raw[tail] in b" \t":
                tail += 1
            if tail < len(raw) and raw[tail] not in b"\r\n":
                continue  # more on the line: not a delimiter
            if close:
                return  # the rest is the epilogue
            delimiters += 1
            if 1 + delimiters > self.limits.parts:
                raise _too_many_parts(self.limits.parts)

    def add_part(self, depth: int) -> None:
        """Count one more part at ``depth``; refuse the message past a bound."""
        self.parts += 1
        if self.parts > self.limits.parts:
            raise _too_many_parts(self.limits.parts)
        if depth > self.limits.depth:
            raise UnrecognizedEvent(
                f"MIME parts nested more than {self.limits.depth} deep; this gateway reads "
                f"at most {self.limits.depth} levels"
            )

    def tick(self) -> None:
        """Between two slices of work: refuse past the CPU budget, let other threads run."""
        now = time.thread_time()
        if now - self._started > self.limits.cpu_seconds:
            raise UnrecognizedEvent(
                f"the message takes more than {self.limits.cpu_seconds:g} s of CPU to read; "
                "it is refused, not retried"
            )
        if now - self._yielded >= YIELD_EVERY:
            os.sched_yield()  # releases the GIL: the event loop takes it now, not in 5 ms
            self._yielded = now


class _Part(Message):
    """A stdlib message part that counts itself into its read's budget when attached."""

    def __init__(self, budget: Budget, raw: bytes = b"") -> None:
        super().__init__(policy.compat32)
        self.budget = budget
        self.depth = 0
        self.raw = raw  # the whole message, on the root only (for its first attach)

    def attach(self, payload: Any) -> None:
        """The parser attaches each new part to its parent here: count it first."""
        if isinstance(payload, _Part):
            if self.raw and (boundary := self.get_boundary()) is not None:
                raw, self.raw = self.raw, b""
                self.budget.count_delimiters(raw, boundary)
            payload.depth = self.depth + 1
            self.budget.add_part(payload.depth)
        super().attach(payload)


def parse_bounded(raw: bytes, budget: Budget) -> Message:
    """Parse ``raw`` into a ``compat32`` message tree, refusing it past ``budget``.

    Raises :class:`~gateway.pluginkit.UnrecognizedEvent` over a bound, with a
    text that says which (it becomes the SMTP reply).
    """
    parts = 0

    def part() -> _Part:
        nonlocal parts
        parts += 1
        return _Part(budget, raw if parts == 1 else b"")  # the first is the root

    parser: BytesFeedParser[Message] = BytesFeedParser(part, policy=policy.compat32)
    try:
        for start in range(0, len(raw), SLICE_BYTES):
            parser.feed(raw[start : start + SLICE_BYTES])
            budget.tick()
        return parser.close()
    except RecursionError:
        # Not reachable within MAX_DEPTH; kept so that no structure can turn into a
        # PluginFailure (451, retried until the sender's queue expires).
        raise UnrecognizedEvent("the MIME structure is nested too deeply to read") from None


_LIMITER: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar("email_reads")


def _limiter() -> trio.CapacityLimiter:
    """The limiter of mail reads in this Trio run (one per run: tests start many)."""
    try:
        return _LIMITER.get()
    except LookupError:
        limiter = trio.CapacityLimiter(PARALLEL_READS)
        _LIMITER.set(limiter)
        return limiter


async def off_loop(work: Callable[[], T], *, wall_seconds: float = WALL_SECONDS) -> T:
    """Run ``work`` (reading one mail) in a worker thread, at most PARALLEL_READS at once.

    The thread stops itself at its CPU budget (a permanent refusal, raised from
    ``work``). Past ``wall_seconds`` the loop stops waiting and answers
    :class:`~gateway.pluginkit.RetryLater`: the thread did not get its CPU, which
    says the machine is overloaded, not that the mail is bad. The abandoned thread
    keeps its limiter slot until it ends, so abandoned reads cannot pile up.
    """
    with trio.move_on_after(wall_seconds):
        return await trio.to_thread.run_sync(work, limiter=_limiter(), abandon_on_cancel=True)
    log.warning("email.read_abandoned", wall_seconds=wall_seconds)
    raise RetryLater(f"reading the message took more than {wall_seconds:g} s; try again later")
