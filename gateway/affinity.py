"""Keep the daemon's threads on one CPU (``[server] cpu_affinity``).

Why: the daemon's threads (Trio's event loop, the store's writer, read workers, the
SMTP listener) take turns holding one GIL, so the process never computes on two cores
at once; what it gets from a second core is the cost of waking a thread over there.
On the 2-vCPU VMs we measure on that wake-up costs ~115 µs against ~20 µs on the same
core (docs/architecture.md), and the writer and the event loop hand the GIL to each
other for every SQLite statement. Pinned to one core, Events API v2 ingest took less
CPU per event and did 22% more events per second (bench/README.md).

The mask is set on the calling thread before any other thread exists (``serve`` calls
:func:`pin` before ``trio.run``), so every thread started later inherits it.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

__all__ = ["AffinityError", "choose", "current_cpu", "pin"]

log = structlog.get_logger("gateway.daemon")

#: ``"auto"``: one CPU picked at start; ``"off"``: leave the mask alone; or CPU numbers.
Setting = str | tuple[int, ...]


class AffinityError(ValueError):
    """The configured CPUs are not ones this process may run on."""


def current_cpu() -> int | None:
    """The CPU this process last ran on (``/proc/self/stat`` field 39), if Linux says."""
    try:
        stat = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[36])  # field 39 overall; fields 1-2 are before the split
    except (IndexError, ValueError):
        return None


def choose(setting: Setting, allowed: set[int], current: int | None) -> set[int] | None:
    """The CPUs to pin to, or None to leave the mask as it is.

    ``"auto"`` stays on the CPU the scheduler started us on (so several gateways on
    one host tend to land on different cores), else the highest allowed CPU. A list
    must name only CPUs in ``allowed``.
    """
    if setting == "off":
        return None
    if setting == "auto":
        if len(allowed) <= 1:
            return None
        return {current} if current in allowed else {max(allowed)}
    assert isinstance(setting, tuple)
    wanted = set(setting)
    missing = wanted - allowed
    if missing:
        raise AffinityError(
            f"CPU {', '.join(map(str, sorted(missing)))} is not available to this process "
            f"(available: {', '.join(map(str, sorted(allowed)))})"
        )
    return None if wanted == allowed else wanted


def pin(setting: Setting) -> set[int] | None:
    """Apply ``setting`` to this process; return the CPUs now used, or None if unchanged.

    Logs ``daemon.cpu_affinity`` with the CPUs chosen. Call it before starting threads.
    Platforms without ``sched_setaffinity`` are left alone.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    target = choose(setting, set(os.sched_getaffinity(0)), current_cpu())
    if target is None:
        return None
    try:
        os.sched_setaffinity(0, target)
    except OSError as exc:  # e.g. a seccomp profile answering EPERM
        if setting != "auto":
            raise AffinityError(f"cannot pin to CPU {sorted(target)}: {exc}") from exc
        log.warning("daemon.cpu_affinity_unavailable", error=str(exc))
        return None
    log.info("daemon.cpu_affinity", cpus=sorted(target), setting=setting)
    return target
