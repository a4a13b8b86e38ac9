"""The campaign's attacks on the wire: hostile mail over SMTP, trickled and abandoned
bodies, and idle connections against the cap (issue 14 items 1 to 4)."""

from __future__ import annotations

from collections.abc import Callable

import trio

from bench.campaign_kit import Tally, Target, closed_soon, head, read_status
from bench.mail import smtp_send

#: Seconds past a deadline the daemon may take to act on it before it counts as missed.
GRACE = 3.0

# -- mail (items 1 and 2) -----------------------------------------------------------------


async def mail(
    t: Target, tally: Tally, *, make: Callable[[], bytes], reply: str, pause: float = 0.0
) -> None:
    """Send a message over SMTP again and again until the HTTP attacks end (at least
    twice); every reply must start with ``reply`` (``554``: refused for good, never 4xx)."""
    rounds = 0
    while rounds < 2 or not t.others_done.is_set():
        answer, *_ = await trio.to_thread.run_sync(smtp_send, t.smtp_port, make())
        tally.sent += 1
        rounds += 1
        tally.answer(int(answer[:3]) if answer[:3].isdigit() else None)
        if not answer.startswith(reply):
            tally.fail(f"reply {answer[:70]!r}")
        await trio.sleep(pause)


# -- slow bodies (item 3) -----------------------------------------------------------------


async def slow_bodies(t: Target, tally: Tally) -> None:
    """Item 3: clients trickling a body one byte at a time are cut at ``body_timeout``.

    Each announces 1,000 bytes and sends one every ``drip`` seconds (under the per-read
    ``read_timeout``, so only the whole-body deadline can end it); each must get 408
    and a closed connection within ``body_timeout`` + GRACE.
    """
    clients = 10 if t.quick else 32
    drip = 1.0 if t.quick else 4.0
    late: list[float] = []

    async def one() -> None:
        stream = await trio.open_tcp_stream(t.host, t.port)
        tally.sent += 1
        started = trio.current_time()
        await stream.send_all(head("/v2/enqueue", 1000))
        status, closed = None, False
        async with trio.open_nursery() as nursery:

            async def trickle() -> None:
                try:
                    while True:
                        await trio.sleep(drip)
                        await stream.send_all(b"x")
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

            nursery.start_soon(trickle)
            with trio.move_on_after(t.body_timeout + GRACE):
                status, closed = await read_status(stream)
                closed = closed or await closed_soon(stream, GRACE)
            nursery.cancel_scope.cancel()
        elapsed = trio.current_time() - started
        await stream.aclose()
        tally.answer(status)
        if status != 408:
            tally.fail(f"answer {status} after {elapsed:.1f} s (expected 408)")
        elif not closed:
            tally.fail("408 but the connection stayed open")
        elif elapsed > t.body_timeout + GRACE:
            late.append(elapsed)

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one)
    if late:
        tally.fail(f"{len(late)} cut late (up to {max(late):.1f} s)")


# -- hang-ups (item 4) --------------------------------------------------------------------


async def hangups(t: Target, tally: Tally) -> None:
    """Item 4: clients that close mid-body. No answer is possible; the daemon must count
    them as ``client_disconnected`` (the campaign checks the metric at the end)."""
    count = 10 if t.quick else 40

    async def one(n: int) -> None:
        stream = await trio.open_tcp_stream(t.host, t.port)
        tally.sent += 1
        await stream.send_all(head("/v2/enqueue", 500) + b'{"routing_key": "')
        await trio.sleep(0.2)  # the body is being read when the client goes
        await stream.aclose()
        tally.answer(None)

    async with trio.open_nursery() as nursery:
        for n in range(count):
            nursery.start_soon(one, n)
            await trio.sleep(0.05)


# -- idle connections against the cap (item 3) ------------------------------------------------


#: Connections of the campaign's own besides the flood's (the probe's) and the lag
#: between a connection's opening here and its acceptance there.
CAP_SLACK = 10
#: Seconds before keep_alive_timeout the daemon's idle close may come (timer granularity).
HOLD_SLACK = 0.25


async def connection_flood(t: Target, tally: Tally) -> None:
    """Item 3: ``max_connections`` + 100 connections that never send a byte.

    Held to the cap whatever the timing: never more than ``max_connections`` of them are
    served at once, none is refused while fewer are open (CAP_SLACK aside), each refused
    one gets 503, each served one is closed by the daemon once no request head came
    within ``keep_alive_timeout``, and afterwards a new connection is served again.
    """
    count = t.max_connections + 100
    # (status, closed by the daemon, opened, ended), on trio's clock
    results: list[tuple[int | None, bool, float, float]] = []

    async def one() -> None:
        tally.sent += 1
        try:
            stream = await trio.open_tcp_stream(t.host, t.port)
        except OSError as exc:
            tally.answer(None)
            tally.fail(f"connect failed: {type(exc).__name__}")
            return
        opened = trio.current_time()
        status, closed = None, False
        with trio.move_on_after(t.keep_alive_timeout + GRACE):
            status, closed = await read_status(stream)
            closed = closed or await closed_soon(stream, GRACE)
        results.append((status, closed, opened, trio.current_time()))
        await stream.aclose()
        tally.answer(status)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)
            # 200 a second: a burst past the listen backlog (100) would leave connections
            # in the kernel's queue, unseen by the daemon; that is the kernel's to bound.
            await trio.sleep(0.005)
    served = [(opened, ended) for status, _, opened, ended in results if status != 503]
    refused = [opened for status, _, opened, _ in results if status == 503]

    def open_at(moment: float) -> int:
        return sum(1 for opened, ended in served if opened <= moment < ended)

    # Seen from here a served connection is open from its connect to the moment its close is
    # read, and under load both ends lag the daemon's (it accepts later, this loop reads the
    # close later): the seen spans overlap more than the daemon's did (230 "at once" at load
    # 10, with the gate holding 200). The daemon holds an idle connection keep_alive_timeout
    # from its accept, inside the seen span, so it was surely open from (seen end - hold) to
    # (seen start + hold). Those spans are the whole span on an idle machine and never
    # count a lag of ours as the daemon's.
    hold = t.keep_alive_timeout - HOLD_SLACK
    sure = [
        (ended - hold, opened + hold) for opened, ended in served if ended - hold < opened + hold
    ]
    peak = max((sum(1 for a, b in sure if a <= m < b) for m, _ in sure), default=0)
    if peak > t.max_connections:
        tally.fail(f"{peak} served at once (cap {t.max_connections})")
    early = [moment for moment in refused if open_at(moment) < t.max_connections - CAP_SLACK]
    if early or not refused:
        tally.fail(f"{len(refused)} refused, {len(early)} of them below the cap")
    for status, closed, _, _ in results:
        if status not in (None, 408, 503):
            tally.fail(f"answer {status}")
        if not closed:
            tally.fail("a connection still open past keep_alive_timeout")
    async with t.client() as http:
        tally.sent += 1
        after = await http.get("/healthz")
        tally.answer(after.status_code)
        if after.status_code != 200:
            tally.fail(f"/healthz after the flood: {after.status_code}")
