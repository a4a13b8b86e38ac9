"""Reading a raw mail: MIME decoded, attachments dropped, PagerDuty's size rules applied.

Mail is hostile input: every header and part is decoded without ever raising,
and text that is not UTF-8 is repaired rather than refused. The MIME structure
is read within bounds (parts, depth, CPU time: :mod:`.mime`); call
:func:`read_mail` from a worker thread (:func:`.mime.off_loop`), never the event loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

from gateway.pluginkit import PayloadTooLarge

from .._vendor import clip
from .mime import Budget, Limits, parse_bounded

# PagerDuty's size rules for email; the 10 MB limit is the SMTP listener's.
UNTOUCHED_BYTES = 96 * 1024
TEXT_PART_BYTES = 32 * 1024
MAX_TRIMMED_BYTES = 192 * 1024
#: Attachment names listed in an event's details.
MAX_ATTACHMENT_NAMES = 50


def _clean(text: str) -> str:
    """Text safe to store: undo the parser's surrogate escapes, replace what is not UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class Mail:
    """What the rules see of one message (headers decoded, body as text)."""

    subject: str = ""
    from_header: str = ""
    from_addresses: list[str] = field(default_factory=list)
    to: str = ""
    date: str = ""
    message_id: str = ""
    body: str = ""
    truncated_parts: int = 0
    attachments: list[str] = field(default_factory=list)

    def part_texts(self, part: str) -> list[str]:
        """The text(s) a rule's ``part`` names (From may hold several addresses)."""
        if part == "subject":
            return [self.subject]
        if part == "from_addresses":
            return self.from_addresses or [""]
        return [self.body]


_LINE_BREAK = re.compile(r"\r\n?|\n")


def _header(message: Message, name: str) -> str:
    """A decoded header (the first one), never raising on a malformed value.

    The tree is parsed with ``compat32`` (cheap); the headers the rules read are
    decoded here with ``policy.default``, exactly as a ``policy.default`` parse
    would have decoded them (RFC 2047 words, unfolding).
    """
    found = next(((k, v) for k, v in message.raw_items() if k.lower() == name), None)
    if found is None:
        return ""
    try:
        text = str(policy.default.header_fetch_parse(*found))
    except Exception:  # the email package's header parser has raised on odd input before
        text = str(found[1])
    # Unfolding removes the line breaks only (RFC 5322 2.2.3): the sender's spaces are
    # part of the text, kept exactly as every other vendor keeps a summary.
    return _LINE_BREAK.sub("", _clean(text))


def _addresses(value: str) -> list[str]:
    try:
        pairs = getaddresses([value])
    except Exception:  # malformed address lists: keep what looks like an address
        return [w.strip("<>,;") for w in value.split() if "@" in w]
    return [address for _, address in pairs if address and "@" in address]


def _part_text(part: Message, limit: int | None) -> tuple[str, bool]:
    """A text part decoded (transfer encoding, then charset); cut to ``limit`` bytes."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    truncated = False
    if limit is not None and len(payload) > limit:
        payload, truncated = payload[:limit], True
    try:
        charset = part.get_content_charset() or "utf-8"
        text = payload.decode(charset, "replace")
    except (LookupError, TypeError, ValueError):  # an unknown or bogus charset name
        text = payload.decode("utf-8", "replace")
    return _clean(text), truncated


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    return disposition == "attachment" or not part.get_content_type().startswith("text/")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()  # RFC 2231 parameters are decoded here
        if name and "=?" in name:  # RFC 2047 words in a parameter: not standard, common
            name = str(make_header(decode_header(name)))
    except Exception:
        name = None
    return clip(_clean(name or part.get_content_type()), 100)


def read_mail(raw: bytes, limits: Limits | None = None) -> Mail:
    """Parse a raw message; MIME decoded, attachments dropped, PagerDuty's size rules applied.

    Up to 96 KB a message is used whole. Above, attachments are removed and
    each text part is cut to 32 KB; a message still over 192 KB after that
    raises :class:`PayloadTooLarge`. The body is the ``text/plain`` parts, or
    the ``text/html`` parts as raw HTML when there is no plain text.

    A message over ``limits`` (MIME parts, nesting depth, CPU time; :mod:`.mime`)
    raises :class:`~gateway.pluginkit.UnrecognizedEvent`. CPU-bound: run it in a
    worker thread.
    """
    budget = Budget(limits)
    message = parse_bounded(raw, budget)
    big = len(raw) > UNTOUCHED_BYTES
    limit = TEXT_PART_BYTES if big else None
    plain: list[str] = []
    html: list[str] = []
    removed: list[str] = []
    truncated = 0
    for part in message.walk():
        budget.tick()
        if part.is_multipart():
            continue
        if _is_attachment(part):
            if len(removed) < MAX_ATTACHMENT_NAMES:
                removed.append(_filename(part))
            continue
        text, cut = _part_text(part, limit)
        truncated += cut
        (html if part.get_content_type() == "text/html" else plain).append(text)
    body = "\n".join(plain or html)
    header_bytes = raw.find(b"\r\n\r\n")
    if header_bytes < 0:
        header_bytes = raw.find(b"\n\n")
    kept = (header_bytes if header_bytes >= 0 else len(raw)) + len(body.encode("utf-8"))
    if big and kept > MAX_TRIMMED_BYTES:
        raise PayloadTooLarge(MAX_TRIMMED_BYTES)
    from_header = _header(message, "from")
    return Mail(
        subject=_header(message, "subject"),
        from_header=from_header,
        from_addresses=_addresses(from_header),
        to=_header(message, "to"),
        date=_header(message, "date"),
        message_id=_header(message, "message-id"),
        body=body,
        truncated_parts=truncated,
        attachments=removed,
    )
