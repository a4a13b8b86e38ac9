"""The hostile-input campaign's attacks, in the order and phases ``bench/hostile-campaign``
runs them, and the run itself: idle, all at once, then the connection flood alone."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import trio

from bench import attacks_http as web
from bench import attacks_wire as wire
from bench.campaign_kit import Tally, Target
from bench.mail import deep_mail, ordinary_mail, wide_mail

# -- the attacks -----------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    """One row of the table: what it sends and what must happen."""

    id: str  # for --attacks
    name: str
    expected: str
    run: Callable[[Target, Tally], Awaitable[None]]
    #: "timed": all at once; "loop": again and again until the timed ones end; "alone":
    #: afterwards, with only the probe (the connection cap refuses everyone's new
    #: connections while it is reached).
    phase: str = "timed"
    expects_5xx: bool = False


#: Attacks left out unless named: they fail on today's code (open findings, bench/README.md).
OPT_IN = frozenset({"sns-paths"})

ATTACKS = [
    Attack("slow", "slow bodies (1 byte/drip)", "408 at body_timeout", wire.slow_bodies),
    Attack("hangup", "hang-ups mid-body", "client_disconnected, not error", wire.hangups),
    Attack("badbody", "bad bodies /integration/KEY", "4xx; no key in log", web.bad_bodies),
    Attack("burst", "malformed/oversized burst", "4xx (400, 413)", web.malformed_burst),
    Attack("sns", "SNS forged, invented region", "400 saying why, 0 fetch", web.sns_forged),
    Attack(
        "sns",
        "SNS cert host down (control)",
        "503 saying so, 1 fetch",
        web.sns_control,
        expects_5xx=True,
    ),
    Attack("host", "REST Host: evil.example", "links under public_url", web.host_header),
    Attack("ui", "UI cookie after sign-out", "refused (302/401)", web.ui_cookie),
    Attack("rate", "URL key vs body key", "URL key limited, body key not", web.rate_limit),
    Attack(
        "wide",
        "mail: 50,000 MIME parts (SMTP)",
        "554 every time",
        partial(wire.mail, make=lambda: wide_mail(50_000), reply="554"),
        phase="loop",
        expects_5xx=True,
    ),
    Attack(
        "deep",
        "mail: MIME 2,000 deep (SMTP)",
        "554 every time",
        partial(wire.mail, make=lambda: deep_mail(2_000), reply="554"),
        phase="loop",
        expects_5xx=True,
    ),
    Attack(
        "mail",
        "mail: ordinary (control) (SMTP)",
        "250 every time",
        partial(wire.mail, make=ordinary_mail, reply="250", pause=1.0),
        phase="loop",
    ),
    Attack(
        "sns-paths",
        "SNS forged, a new cert path each",
        "no flood of fetches (<= 2 for 20)",
        web.sns_paths,
        phase="alone",
        expects_5xx=True,
    ),
    Attack(
        "flood",
        "idle connections (cap + 100)",
        "503 over the cap, rest closed",
        wire.connection_flood,
        phase="alone",
        expects_5xx=True,
    ),
]


# -- the campaign --------------------------------------------------------------------------


class Campaign:
    """The attacks' tallies and the run's marks."""

    def __init__(
        self, target: Target, only: set[str], daemon: Callable[[], tuple[float, float]]
    ) -> None:
        """``daemon``: its CPU seconds so far and its peak RSS (MB), read at each mark."""
        self.t = target
        self.only = only
        self.daemon = daemon
        self.tallies: list[Tally] = []
        self.rows: dict[str, Tally] = {}  # by attack id (sns: its last row, the control)
        self.marks: dict[str, float] = {}
        self.cpu_at: dict[str, float] = {}
        self.rss_at: dict[str, float] = {}
        self.metrics: dict[str, dict[str, float]] = {}

    def mark(self, *names: str) -> None:
        """Note the time (the probe's clock), the daemon's CPU seconds and peak RSS."""
        now, (cpu, rss) = time.monotonic(), self.daemon()
        for name in names:
            self.marks[name], self.cpu_at[name], self.rss_at[name] = now, cpu, rss

    def busy(self, start: str, end: str) -> float:
        """The share of one CPU the daemon used between two marks."""
        return (self.cpu_at[end] - self.cpu_at[start]) / (self.marks[end] - self.marks[start])

    def tally(self, attack: Attack) -> Tally:
        """A new row of the table."""
        found = Tally(attack.name, attack.expected, expects_5xx=attack.expects_5xx)
        self.tallies.append(found)
        self.rows[attack.id] = found
        return found

    async def scrape(self, label: str) -> None:
        """Keep the daemon's counters of interest under ``label``."""
        async with self.t.client() as http:
            text = (await http.get("/metrics")).text
        wanted = re.compile(
            r'^alert_gateway_(events_total\{.*outcome="(\w+)".*\}|'
            r"http_body_timeouts_total\{.*\}|http_connections_refused_total) ([0-9.e+]+)$"
        )
        found: dict[str, float] = {}
        for line in text.splitlines():
            match = wanted.match(line)
            if match:
                name = match.group(2) or match.group(1).split("{")[0]
                found[name] = found.get(name, 0.0) + float(match.group(3))
        self.metrics[label] = found

    def delta(self, name: str) -> float:
        """How much counter ``name`` grew from before the attacks to after them."""
        return self.metrics["after"].get(name, 0.0) - self.metrics["before"].get(name, 0.0)

    async def run(self, idle: float) -> None:
        """Warm up, measure idle, then the concurrent attacks, then the connection flood."""
        t = self.t
        await trio.sleep(2)  # the probe's first connection and incidents
        await self.scrape("before")
        self.mark("idle_start")
        await trio.sleep(idle)
        self.mark("idle_end", "attack_start")
        chosen = [a for a in ATTACKS if a.id in self.only]
        rows = {a: self.tally(a) for a in chosen}

        async def timed(a: Attack) -> None:
            started = time.monotonic()
            await a.run(t, rows[a])
            rows[a].window = (started, time.monotonic())

        async with trio.open_nursery() as nursery:
            for a in chosen:
                if a.phase == "loop":
                    nursery.start_soon(timed, a)
            async with trio.open_nursery() as others:
                for a in chosen:
                    if a.phase == "timed":
                        others.start_soon(timed, a)
            t.others_done.set()
        for a in chosen:
            if a.phase == "alone":
                await timed(a)
        self.mark("attack_end")
        await self.scrape("after")
