"""Email integrations: the built-in SMTP listener (being built; see issue 5)."""

from __future__ import annotations

import trio

from gateway.config import SmtpSettings
from gateway.http.app import GatewayContext


async def serve_smtp(
    context: GatewayContext,
    settings: SmtpSettings,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve SMTP until ``shutdown`` is set; start ``task_status`` with the bound addresses."""
    raise NotImplementedError("the SMTP listener is not built yet")
