"""Amazon SNS HTTP(S) delivery: envelope fields, signature verification, the network edge.

Follows AWS's "Verifying the signatures of Amazon SNS messages" procedure:
every URL that the gateway will fetch (``SigningCertURL``, ``SubscribeURL``)
is checked against the SNS host pattern *before* any network I/O, so a
forged message can never make the gateway request an arbitrary URL.

The network is reached only through :data:`transport`, an
:class:`SnsTransport`; tests replace it with a fake. Certificates are cached
in memory by URL (SNS rotates them rarely); a failed fetch is remembered for
:data:`FAILED_FETCH_SECONDS`, concurrent requests for one URL share one fetch, and
each SNS host may name at most :data:`NEW_URLS_PER_HOST` new URLs a minute, so a
flood of forged messages makes no flood of fetches, one URL or many.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
import trio
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from gateway.pluginkit import InvalidEvent, RetryLater

from ._sns_transport import HttpxSnsTransport, SnsTransport, SnsTransportError
from ._vendor import clip, invalid_type

log = structlog.get_logger(__name__)

MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")

# The fields each message type signs, already in the byte-sorted order AWS requires.
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_FIELDS["UnsubscribeConfirmation"] = _SIGNED_FIELDS["SubscriptionConfirmation"]
_OPTIONAL_SIGNED = frozenset({"Subject"})

# AWS's own validators' default host pattern (commercial, GovCloud and China). The
# whole URL is matched, not just the parsed host: a strict character set leaves no
# room for URL-parser disagreements (userinfo, ports, backslashes, whitespace).
# (cloudwatch.sns_hosts then pins the host to the TopicArn's region.)
_REGION = r"[a-zA-Z0-9\-]{3,}"
#: The SNS host pattern, with a ``region`` group (``SubscribeURL`` checks use it too).
HOST = rf"sns\.(?P<region>{_REGION})\.amazonaws\.com(?:\.cn)?"
_CERT_URL = re.compile(rf"https://(?P<host>{HOST})/[A-Za-z0-9._\-/]*[A-Za-z0-9_\-]\.pem", re.ASCII)
_TOPIC_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z\-]*):sns:(?P<region>[a-z0-9\-]+):(?P<account>\d{12}):"
    r"(?P<name>[A-Za-z0-9_\-]{1,256}(?:\.fifo)?)",
    re.ASCII,
)

#: How many signing certificates to keep in memory.
CERTIFICATE_CACHE_SIZE = 32
#: How long a failed certificate fetch is answered from memory. Shorter than the 20 s
#: SNS waits before its first HTTP/S retry, so a genuine message's redelivery fetches
#: afresh, while a flood naming one URL makes one fetch per period.
FAILED_FETCH_SECONDS = 10.0
#: How many failed certificate URLs to remember (oldest first out).
FAILED_FETCH_CACHE_SIZE = 256
#: How many certificate URLs not yet in memory one SNS host may make the gateway fetch per
#: :data:`NEW_URL_WINDOW_SECONDS`. AWS signs with a handful of certificates per region, so
#: a genuine topic needs one or two; a forged flood naming a new path on the right host in
#: each message is held to this many fetches, and the rest are answered "retry later"
#: (503), which SNS honours by redelivering: nothing genuine is lost.
NEW_URLS_PER_HOST = 4
NEW_URL_WINDOW_SECONDS = 60.0


class SnsUnavailable(RetryLater):
    """A transient failure reaching SNS (the signing certificate could not be fetched).

    Not an :class:`~gateway.errors.EventError`: the request must be answered
    with a 5xx so that SNS redelivers it, instead of dropping an alarm.
    """


#: The transport in use. Tests replace it (``monkeypatch.setattr(_sns, "transport", fake)``).
transport: SnsTransport = HttpxSnsTransport()

_certificates: OrderedDict[str, RSAPublicKey] = OrderedDict()
# URL -> (event loop, until, transient, message): failed fetches, answered without the
# network (by the loop whose clock ``until`` is on: each loop's clock has its own origin).
_failures: OrderedDict[str, tuple[trio.lowlevel.TrioToken, float, bool, str]] = OrderedDict()
# URL -> set once the fetch in progress for it has ended (success or not).
_fetching: dict[str, trio.Event] = {}
# (event loop, SNS host) -> when each of its recent new-URL fetches started.
_new_urls: dict[tuple[trio.lowlevel.TrioToken, str], list[float]] = {}


def clear_certificate_cache() -> None:
    """Forget every cached signing certificate and every remembered failed fetch."""
    _certificates.clear()
    _failures.clear()
    _new_urls.clear()


@dataclass(frozen=True, slots=True)
class TopicArn:
    """The parts of an SNS topic ARN."""

    arn: str
    partition: str
    region: str
    account: str
    name: str


def parse_topic_arn(value: str) -> TopicArn | None:
    """Split ``arn:<partition>:sns:<region>:<account>:<name>``; ``None`` if malformed."""
    match = _TOPIC_ARN.fullmatch(value)
    if match is None:
        return None
    return TopicArn(value, match["partition"], match["region"], match["account"], match["name"])


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked SNS message envelope (not yet verified)."""

    type: str
    message_id: str
    topic: TopicArn
    message: str
    timestamp: str
    fields: Mapping[str, Any]

    @property
    def subscribe_url(self) -> str:
        """The ``SubscribeURL`` of a (un)subscribe confirmation (``""`` otherwise)."""
        value = self.fields.get("SubscribeURL")
        return value if isinstance(value, str) else ""


def read_envelope(body: Mapping[str, Any], *, signed: bool) -> Envelope:
    """Check an SNS envelope's fields and types; raise :class:`InvalidEvent` listing problems.

    With ``signed``, the signature fields are required too.
    """
    errors: list[str] = []
    kind = body.get("Type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        errors.append(
            "'Type' is invalid (must be one of: Notification, SubscriptionConfirmation, "
            "UnsubscribeConfirmation)"
        )
        raise InvalidEvent(errors)
    required = [f for f in _SIGNED_FIELDS[kind] if f not in _OPTIONAL_SIGNED]
    if signed:
        required += ["SignatureVersion", "Signature", "SigningCertURL"]
    for name in required:
        value = body.get(name)
        if value is None or value == "":
            errors.append(f"'{name}' is missing or blank")
        elif not isinstance(value, str):
            errors.append(invalid_type(name, "a string"))
    subject = body.get("Subject")
    if subject is not None and not isinstance(subject, str):
        errors.append(invalid_type("Subject", "a string"))
    topic = None
    if isinstance(body.get("TopicArn"), str) and body["TopicArn"]:
        topic = parse_topic_arn(body["TopicArn"])
        if topic is None:
            errors.append("'TopicArn' is invalid (must be an SNS topic ARN)")
    if errors:
        raise InvalidEvent(errors)
    assert topic is not None
    return Envelope(
        type=kind,
        message_id=body["MessageId"],
        topic=topic,
        message=body["Message"],
        timestamp=body["Timestamp"],
        fields=body,
    )


def string_to_sign(fields: Mapping[str, Any]) -> bytes:
    """AWS's canonical string: ``Name\\nvalue\\n`` for each signed field that is present."""
    parts: list[str] = []
    for name in _SIGNED_FIELDS[fields["Type"]]:
        value = fields.get(name)
        if value is None:  # only Subject may be absent; AWS signs it only when present
            continue
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8", "surrogatepass")


def check_certificate_url(url: str) -> None:
    """Refuse a ``SigningCertURL`` that is not ``https://sns.<region>.amazonaws.com[.cn]/….pem``.

    Runs before any fetch: this is the guard against a forged message making
    the gateway download a key of the attacker's choosing.
    """
    match = _CERT_URL.fullmatch(url)
    parts = urlsplit(url) if match else None
    if (
        match is None
        or parts is None
        or parts.hostname != match["host"].lower()
        or parts.port is not None
        or parts.username is not None
    ):
        raise InvalidEvent(
            [
                "'SigningCertURL' is invalid (must be an https://sns.<region>.amazonaws.com "
                "URL ending in .pem)"
            ]
        )


async def _public_key(url: str) -> RSAPublicKey:
    """The certificate's key: from memory, or the one fetch in progress, or a new fetch."""
    while True:
        cached = _certificates.get(url)
        if cached is not None:
            _certificates.move_to_end(url)
            return cached
        failure = _failures.get(url)
        if failure is not None:
            run, until, transient, message = failure
            if run is trio.lowlevel.current_trio_token() and trio.current_time() < until:
                raise _fetch_failed(transient, message)
            del _failures[url]
        pending = _fetching.get(url)
        if pending is None:
            break
        # Another request is fetching this URL: share its outcome (loop: it may have
        # been cancelled, and then this request fetches).
        await pending.wait()
    _spend_new_url_budget(url)
    done = _fetching[url] = trio.Event()
    try:
        key = await _fetch_key(url)
    except _Failed as failed:
        # A fresh exception per answer: re-raising one stored instance grows its traceback.
        until = trio.current_time() + FAILED_FETCH_SECONDS
        run = trio.lowlevel.current_trio_token()
        _failures[url] = (run, until, failed.transient, str(failed))
        if len(_failures) > FAILED_FETCH_CACHE_SIZE:
            _failures.popitem(last=False)
        raise _fetch_failed(failed.transient, str(failed)) from failed.__cause__
    finally:
        del _fetching[url]
        done.set()
    _certificates[url] = key
    if len(_certificates) > CERTIFICATE_CACHE_SIZE:
        _certificates.popitem(last=False)
    log.info("sns.certificate_cached", url=url)
    return key


def _spend_new_url_budget(url: str) -> None:
    """Count a fetch of a URL not in memory against its host; refuse past the budget."""
    host = urlsplit(url).hostname or ""
    now = trio.current_time()
    key = (trio.lowlevel.current_trio_token(), host)
    recent = [t for t in _new_urls.get(key, []) if now - t < NEW_URL_WINDOW_SECONDS]
    if len(recent) >= NEW_URLS_PER_HOST:
        _new_urls[key] = recent
        log.warning("sns.certificate_fetch_budget_spent", host=host, url=url)
        raise SnsUnavailable(
            f"too many new SNS signing certificate URLs on {host} in "
            f"{NEW_URL_WINDOW_SECONDS:g} s; retry later"
        )
    recent.append(now)
    _new_urls[key] = recent
    if len(_new_urls) > FAILED_FETCH_CACHE_SIZE:
        _new_urls.pop(next(iter(_new_urls)))


class _Failed(Exception):
    """A certificate fetch failed: ``transient`` (retry later) or for good."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def _fetch_failed(transient: bool, message: str) -> RetryLater | InvalidEvent:
    return SnsUnavailable(message) if transient else InvalidEvent([message])


async def _fetch_key(url: str) -> RSAPublicKey:
    try:
        pem = await transport.fetch_certificate(url)
    except SnsTransportError as exc:
        log.warning("sns.certificate_fetch_failed", url=url, error=str(exc))
        if exc.transient:
            message = f"the SNS signing certificate could not be fetched ({exc}); retry later"
            raise _Failed(message, transient=True) from exc
        raise _Failed(f"SNS signing certificate could not be fetched ({exc})") from exc
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError as exc:
        raise _Failed("SNS signing certificate is not a valid PEM certificate") from exc
    if not isinstance(key, RSAPublicKey):
        raise _Failed("SNS signing certificate does not hold an RSA key")
    return key


async def verify(fields: Mapping[str, Any], *, allow_version_1: bool = True) -> None:
    """Verify an SNS message signature (SignatureVersion 1: SHA1, 2: SHA256).

    Raises :class:`InvalidEvent` for a message that fails verification and
    :class:`SnsUnavailable` when the certificate cannot be fetched right now.
    Expects fields already checked by :func:`read_envelope` with ``signed``.
    """
    version = fields["SignatureVersion"]
    if version not in ("1", "2"):
        raise InvalidEvent(['\'SignatureVersion\' is invalid (must be "1" or "2")'])
    if version == "1" and not allow_version_1:
        raise InvalidEvent(["'SignatureVersion' 1 is refused by this integration (use 2)"])
    url = fields["SigningCertURL"]
    check_certificate_url(url)
    try:
        signature = base64.b64decode(fields["Signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEvent(["'Signature' is invalid (must be base64)"]) from exc
    key = await _public_key(url)
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    try:
        key.verify(signature, string_to_sign(fields), padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError, TypeError) as exc:
        log.warning(
            "sns.signature_invalid",
            topic=clip(str(fields.get("TopicArn")), 200),
            message_id=clip(str(fields.get("MessageId")), 80),
        )
        raise InvalidEvent(["SNS message signature is invalid"]) from exc
