"""SNS (un)subscribe confirmations: check a ``SubscribeURL``, then GET it exactly once.

The URL is checked against the SNS host pattern, the topic, its region and its
token *before* any network I/O, so a forged confirmation cannot make the
gateway request a URL of its choosing. The GET goes through
:data:`.._sns.transport`, the plugin's one network edge.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import structlog

from gateway.pluginkit import InvalidEvent

from .. import _sns
from .._sns_transport import SnsTransportError

log = structlog.get_logger(__name__)

_SUBSCRIBE_URL = re.compile(
    rf"https://(?P<host>{_sns.HOST})/\?(?P<query>[A-Za-z0-9._~\-%&=:+]+)", re.ASCII
)
_HOST_ONLY = re.compile(_sns.HOST, re.ASCII)


def check_subscribe_url(url: str, topic: _sns.TopicArn, token: str) -> None:
    """Refuse a ``SubscribeURL`` that is not this topic's SNS ``ConfirmSubscription`` URL."""
    problem = "'SubscribeURL' is invalid (must be an https://sns.<region>.amazonaws.com "
    match = _SUBSCRIBE_URL.fullmatch(url)
    if match is None or not _HOST_ONLY.fullmatch(urlsplit(url).hostname or ""):
        raise InvalidEvent([problem + "ConfirmSubscription URL)"])
    query = dict(parse_qsl(match["query"], keep_blank_values=True))
    if query.get("Action") != "ConfirmSubscription":
        raise InvalidEvent([problem + "URL with Action=ConfirmSubscription)"])
    if query.get("TopicArn") != topic.arn:
        raise InvalidEvent([problem + "URL for the message's TopicArn)"])
    if match["region"] != topic.region:
        raise InvalidEvent([problem + "URL in the topic's region)"])
    if not query.get("Token") or query["Token"] != token:
        raise InvalidEvent([problem + "URL carrying the message's Token)"])


async def confirm_subscription(url: str) -> str | None:
    """GET a validated ``SubscribeURL`` once; the ``SubscriptionArn``, or ``None`` on failure.

    A failure is logged, not raised: SNS must get a 2xx either way (a 5xx
    would only make it redeliver the same, soon stale, token).
    """
    try:
        return await _sns.transport.confirm(url)
    except SnsTransportError as exc:
        log.warning("sns.subscription_confirm_failed", error=str(exc))
        return None
