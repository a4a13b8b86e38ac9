"""The hostile-input campaign's printed report: the per-attack table and the checks."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

from bench.campaign import Campaign
from bench.campaign_kit import Tally
from bench.common import percentile

CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")


def table(tallies: list[Tally], p99: Callable[[Tally], float]) -> str:
    """One row per attack: sent, answered, answers by class, the probe's p99 while the
    attack ran (others ran too), expected outcome, held."""
    width = max(len(t.name) for t in tallies)
    expected = max(len(t.expected) for t in tallies)
    header = (
        f"{'attack':<{width}}  {'sent':>5}  {'answered':>8}  "
        + "  ".join(f"{c:>5}" for c in CLASSES)
        + f"  {'p99 ms':>6}  {'expected outcome':<{expected}}  held"
    )
    lines = [header, "-" * len(header)]
    for t in tallies:
        lines.append(
            f"{t.name:<{width}}  {t.sent:>5}  {t.answered:>8}  "
            + "  ".join(f"{t.classes[c]:>5}" for c in CLASSES)
            + f"  {p99(t):>6.1f}  {t.expected:<{expected}}  {'yes' if t.held else 'NO'}"
        )
    sent = sum(t.sent for t in tallies)
    answered = sum(t.answered for t in tallies)
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<{width}}  {sent:>5}  {answered:>8}  "
        + "  ".join(f"{sum(t.classes[c] for t in tallies):>5}" for c in CLASSES)
    )
    for t in tallies:
        for problem, count in t.problems.items():
            lines.append(f"  {t.name}: {problem}" + (f" (x{count})" if count > 1 else ""))
    return "\n".join(lines)


def latency(label: str, ms: list[float]) -> str:
    """p50/p99/max of sorted latencies."""
    if not ms:
        return f"{label}: no samples"
    return (
        f"{label}: p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {ms[-1]:.1f} ms ({len(ms)} requests)"
    )


def checks(results: list[tuple[str, bool]]) -> str:
    """The campaign-wide checks, one a line."""
    return "\n".join(f"  [{'ok' if held else 'FAIL'}] {text}" for text, held in results)


def within(samples: list[tuple[float, float, int]], start: float, end: float) -> list[float]:
    """Sorted latencies (ms) of the probe requests in flight between ``start`` and ``end``."""
    return sorted((u - t) * 1000 for t, u, _ in samples if t <= end and u >= start)


def report(
    campaign: Campaign,
    samples: list[tuple[float, float, int]],
    log: str,
    peak_rss: float,
    exit_code: int,
    elapsed: float,
    max_ratio: float,
) -> int:
    """Print the table and the checks; 1 if anything failed."""
    t, marks = campaign.t, campaign.marks
    # Counted by the daemon: hang-ups are client_disconnected, cut bodies body timeouts.
    counted: list[tuple[str, bool]] = []
    for row, counter in (("hangup", "client_disconnected"), ("slow", "http_body_timeouts_total")):
        expected = campaign.rows[row].sent if row in campaign.rows else 0
        got = campaign.delta(counter)
        counted.append((f"{counter} +{got:.0f} (expected +{expected})", got == expected))
        if got != expected and row in campaign.rows:
            campaign.rows[row].fail(f"{counter} +{got:.0f}")
    secrets = [*t.keys.all(), t.rest_token, t.ui_token]
    leaked = [s[-4:] for s in secrets if s in log]
    broken = [
        line[:160] for line in log.splitlines() if "Traceback" in line or "internal_error" in line
    ]
    idle = within(samples, marks["idle_start"], marks["idle_end"])
    during = within(samples, marks["attack_start"], marks["attack_end"])
    idle99, during99 = percentile(idle, 0.99), percentile(during, 0.99)
    ratio = during99 / idle99 if idle99 else float("inf")
    statuses = Counter(status for _, _, status in samples)
    others = {s: n for s, n in statuses.items() if s != 202}
    results = [
        (
            f"probe: every /v2/enqueue answered 202 ({len(samples)} sent; others {others})",
            not others and bool(samples),
        ),
        (
            f"daemon log: no whole key or token ({len(secrets)} searched; found ...{leaked})",
            not leaked,
        ),
        (f"daemon log: no traceback, no internal_error ({len(broken)} lines)", not broken),
        (
            f'events_total{{outcome="error"}} +{campaign.delta("error"):.0f}',
            campaign.delta("error") == 0,
        ),
        *counted,
        (
            f"unexpected 5xx: {sum(r.unexpected_5xx for r in campaign.tallies)}",
            not any(r.unexpected_5xx for r in campaign.tallies),
        ),
        (f"SIGTERM: exit code {exit_code}", exit_code == 0),
        (
            f"/v2/enqueue p99 during the attacks / idle: {ratio:.2f}x (goal <= {max_ratio:g}x)",
            ratio <= max_ratio,
        ),
    ]
    print(
        f"\nhostile-input campaign: {elapsed:.0f} s, load {os.getloadavg()[0]:.2f}; "
        f"idle {marks['idle_end'] - marks['idle_start']:.0f} s, "
        f"attacks {marks['attack_end'] - marks['attack_start']:.0f} s\n"
    )
    print(table(campaign.tallies, lambda row: percentile(within(samples, *row.window), 0.99)))
    print(
        f"\ndaemon peak RSS: {peak_rss:.0f} MB "
        f"(at the end of the idle measurement: {campaign.rss_at['idle_end']:.0f} MB)"
    )
    print(
        latency("/v2/enqueue idle", idle)
        + f"; daemon CPU {campaign.busy('idle_start', 'idle_end'):.0%}"
    )
    print(
        latency("/v2/enqueue during the attacks", during)
        + f"; daemon CPU {campaign.busy('attack_start', 'attack_end'):.0%}"
    )
    print(
        f"\nfetches attempted through the proxy: {len(t.fetches.requests)} {t.fetches.requests[:3]}"
    )
    print(f"refused by the connection cap: {campaign.delta('http_connections_refused_total'):.0f}")
    print("\nchecks:")
    print(checks(results))
    failed = not all(held for _, held in results) or not all(r.held for r in campaign.tallies)
    print("\nresult: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0
