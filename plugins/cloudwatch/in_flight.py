"""SNS deliveries being stored right now: a redelivered copy waits for the first's outcome.

SNS redelivers a message it had no answer for in time, so a second copy can
arrive while the first is still being written. Answering that copy "already
seen" at once would acknowledge an event that is not on disk yet, and never
will be if the first write fails. So a copy *claims* its
``(integration key, TopicArn, MessageId)`` until the core's ``after_request``
says whether its events were committed, and a second copy waits for that
outcome: committed, it is acknowledged as a duplicate (nothing is stored
twice); not committed, it takes the claim and is processed itself. Only
committed deliveries enter the seen set, so "seen" always means "on disk".
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import structlog
import trio

from gateway.pluginkit import RetryLater

from .._vendor import SeenIds

log = structlog.get_logger(__name__)

#: How long a copy waits for the first copy's outcome before answering "retry later":
#: short of the 15 s SNS waits for an HTTP answer by default, so the answer reaches SNS.
WAIT_SECONDS = 10.0
#: A claim older than this is abandoned (its request was cancelled between parse and
#: ``after_request``, which the core then never calls): the next copy takes it over.
ABANDONED_SECONDS = 60.0


@dataclass(eq=False, slots=True)
class _Claim:
    owner: object
    since: float
    # The event loop that made the claim: one made under another loop (a gateway run
    # before this one in the same process, as in tests) is over, and times differ.
    run: trio.lowlevel.TrioToken = field(default_factory=trio.lowlevel.current_trio_token)
    done: trio.Event = field(default_factory=trio.Event)
    remember: bool = True


class Deliveries:
    """The committed deliveries (a :class:`SeenIds`) and the claims being stored (bounded)."""

    def __init__(self, seen: SeenIds, capacity: int) -> None:
        self.seen = seen
        self.capacity = capacity
        self._claims: dict[Hashable, _Claim] = {}

    def __len__(self) -> int:
        return len(self._claims)

    async def claim(self, key: Hashable, owner: object) -> bool:
        """Claim ``key`` for ``owner``; ``False``: a committed copy makes this one a duplicate.

        While another copy holds the claim this waits for its outcome, up to
        :data:`WAIT_SECONDS`, then raises :class:`RetryLater` (nothing claimed;
        cancelling the wait leaves nothing behind either).
        """
        deadline = trio.current_time() + WAIT_SECONDS
        while True:
            if key in self.seen:
                self.seen.check_and_add(key)  # refresh its place in the LRU order
                return False
            held = self._claims.get(key)
            now = trio.current_time()
            if held is None:
                break
            if held.run is not trio.lowlevel.current_trio_token():
                del self._claims[key]
                break
            if now - held.since > ABANDONED_SECONDS:
                log.warning("sns.claim_abandoned", held_seconds=round(now - held.since, 1))
                del self._claims[key]
                held.done.set()  # its other waiters re-check, then wait for this copy
                break
            with trio.move_on_at(deadline):
                await held.done.wait()
                continue  # settled: committed (seen) or not (free to claim)
            raise RetryLater(
                "an earlier copy of this SNS message is still being stored; retry later"
            )
        if len(self._claims) >= self.capacity:
            self._drop_abandoned(now)
            if len(self._claims) >= self.capacity:
                raise RetryLater("too many SNS messages are being stored at once; retry later")
        self._claims[key] = _Claim(owner, now)
        return True

    def do_not_remember(self, key: Hashable, owner: object) -> None:
        """Keep ``owner``'s delivery out of the seen set even if committed (let a copy retry)."""
        held = self._claims.get(key)
        if held is not None and held.owner is owner:
            held.remember = False

    def settle(self, key: Hashable, owner: object, *, committed: bool) -> None:
        """End ``owner``'s claim: remember it if ``committed``, and wake the copies waiting.

        A no-op unless ``owner`` holds the claim (a duplicate, a refused or a
        timed-out copy settles nothing), so calling it twice is harmless.
        """
        held = self._claims.get(key)
        if held is None or held.owner is not owner:
            return
        del self._claims[key]
        if committed and held.remember:
            self.seen.check_and_add(key)
        held.done.set()

    def clear(self) -> None:
        """Forget every claim and every committed delivery (tests, or an operator reset)."""
        for held in self._claims.values():
            held.done.set()
        self._claims.clear()
        self.seen.clear()

    def _drop_abandoned(self, now: float) -> None:
        run = trio.lowlevel.current_trio_token()
        for key, held in list(self._claims.items()):
            if held.run is not run or now - held.since > ABANDONED_SECONDS:
                del self._claims[key]
                held.done.set()
