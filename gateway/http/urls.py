"""Absolute URLs the gateway hands out: REST ``self``/``html_url`` links and the UI's.

One place builds them. With ``[server] public_url`` set every absolute URL starts with it,
whatever ``Host`` header a client sends: a client cannot make the gateway print links to
a host of its choosing (``Host: evil.example``). Without it the request's own host is the
only guess there is, which docs/configuration.md names as a risk behind a proxy or on a
shared host.
"""

from __future__ import annotations

from quart import current_app, request

from gateway.context import GatewayContext

__all__ = ["absolute_url", "base_url"]


def base_url() -> str:
    """``[server] public_url`` when set, else this request's scheme and host; no final ``/``."""
    gateway: GatewayContext = current_app.config["GATEWAY"]
    public = gateway.settings.server.public_url
    if public:
        return public.rstrip("/")
    return request.host_url.rstrip("/")


def absolute_url(path: str) -> str:
    """The absolute URL of ``path`` (which starts with ``/``) on this gateway."""
    return base_url() + path
