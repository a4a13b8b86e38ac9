"""The ceiling: a bare ASGI app that drains the body and answers the gateway's 202 body.

Served by Hypercorn's Trio worker exactly like the gateway, it measures what the HTTP
stack alone costs on this machine; bench/run reports the gateway as a ratio of it.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"status":"success","message":"Event processed","dedup_key":"bench"}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Drain the request and answer 202."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})
