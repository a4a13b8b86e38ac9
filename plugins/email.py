"""Email integrations: a mail message → PD-CEF events, by PagerDuty's email management rules.

The SMTP listener (``gateway/email/``) hands this vendor one
:class:`~gateway.pluginkit.InboundRequest` per (message, integration):
``method`` is ``"SMTP"``, ``body`` the raw RFC 5322 message, the envelope in
the ``x-smtp-*`` headers and the integration's rules in ``settings``. Rules
(``shared/reference/pagerduty-compat.md`` §4):

- ``email_incident_creation``: ``on_new_email`` (default), ``on_new_email_subject``,
  ``only_if_no_open_incidents``, ``use_rules``; each maps onto a dedup key
  (see :func:`events_for`).
- ``email_filter_mode`` ``all-email`` / ``or-rules-email`` / ``and-rules-email`` with
  ``email_filters[]``: mail that fails the filters is discarded (accepted, logged).
- ``email_parsers[]`` (``use_rules``), with ``email_parsing_fallback``.

User regexes run on untrusted mail, so they are RE2 (linear time: no rule
can hang the daemon) and are checked when the configuration is loaded.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, Literal

import msgspec
import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints
import structlog

from gateway.pluginkit import (
    SMTP_METHOD,
    Event,
    InboundRequest,
    InvalidEvent,
    PayloadTooLarge,
    RetryLater,
    Vendor,
    fit_dedup_key,
    fit_summary,
    hookimpl,
)

from ._vendor import clip, finish, rfc3339

log = structlog.get_logger(__name__)

VENDOR_ID = "generic_email"
INTEGRATION_TYPE = "generic_email_inbound_integration"
CLIENT = "Email"

INCIDENT_CREATION = (
    "on_new_email",
    "on_new_email_subject",
    "only_if_no_open_incidents",
    "use_rules",
)
FILTER_MODES = ("all-email", "or-rules-email", "and-rules-email")
FILTER_PART_MODES = ("always", "match", "no-match")
FALLBACKS = ("open_new_incident", "discard")
PARSER_ACTIONS = ("trigger", "resolve")
PARTS = ("body", "subject", "from_addresses")
PREDICATE_LEAVES = ("contains", "exactly", "regex")
PREDICATE_BRANCHES = ("all", "any", "not")
EXTRACTOR_TYPES = ("entire", "regex", "between")
KNOWN_SETTINGS = (
    "email_incident_creation",
    "email_filter_mode",
    "email_filters",
    "email_parsers",
    "email_parsing_fallback",
)
_FILTER_KEYS = (
    "subject_mode",
    "subject_regex",
    "body_mode",
    "body_regex",
    "from_email_mode",
    "from_email_regex",
)
_PREDICATE_KEYS = ("type", "matcher", "part", "children")
_EXTRACTOR_KEYS = (
    "type",
    "part",
    "value_name",
    "regex",
    "starts_after",
    "ends_with",
    "ends_before",
)
_PARSER_KEYS = ("action", "match_predicate", "value_extractors")

# PagerDuty's size rules (pagerduty-compat.md §4.2); the 10 MB limit is the SMTP listener's.
UNTOUCHED_BYTES = 96 * 1024
TEXT_PART_BYTES = 32 * 1024
MAX_TRIMMED_BYTES = 192 * 1024
MAX_INCIDENT_KEY_CHARS = 255
# A predicate tree deeper than this is a configuration mistake, not a need.
MAX_PREDICATE_DEPTH = 32

# The constant dedup key of ``only_if_no_open_incidents``: alerts dedup per integration,
# so one constant key means "append to the open one, else open a new one".
OPEN_INCIDENT_KEY = "email:only_if_no_open_incidents"

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are reported as configuration messages, not to stderr


# -- Regexes --------------------------------------------------------------------------------


class RegexError(ValueError):
    """A user regex RE2 cannot compile, or one with nested capture groups."""


def compile_regex(pattern: str, *, extractor: bool = False) -> Any:
    """Compile ``pattern`` with RE2; ``extractor`` also refuses nested capture groups.

    PagerDuty takes the incident key from the capture group(s) and calls
    nested groups an error, so an extractor's regex may not nest them.
    """
    try:
        compiled = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RegexError(f"not a valid RE2 regex: {detail}") from exc
    except (TypeError, UnicodeError) as exc:
        raise RegexError("not a valid RE2 regex") from exc
    if extractor and has_nested_groups(pattern):
        raise RegexError("nested capture groups are not allowed")
    return compiled


def has_nested_groups(pattern: str) -> bool:
    """Whether a capturing group opens inside another one (``(?:…)`` does not count)."""
    stack: list[bool] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if pattern.startswith("Q", i + 1):  # \Q…\E quotes literally
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
            else:
                i += 2
            continue
        if char == "[":  # a character class: parentheses inside are literal
            i += 1
            if pattern.startswith("^", i):
                i += 1
            if pattern.startswith("]", i):
                i += 1
            while i < n and pattern[i] != "]":
                if pattern.startswith("[:", i):
                    end = pattern.find(":]", i + 2)
                    i = i + 1 if end < 0 else end + 2
                    continue
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            continue
        if char == "(":
            rest = pattern[i + 1 : i + 4]
            capturing = not rest.startswith("?") or rest.startswith(("?P<", "?<"))
            if capturing and any(stack):
                return True
            stack.append(capturing)
        elif char == ")" and stack:
            stack.pop()
        i += 1
    return False


# -- Rules, compiled once per settings ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartFilter:
    """One part of an email filter: ``always``, or ``match``/``no-match`` with a regex."""

    mode: str
    regex: Any = None

    def accepts(self, texts: list[str]) -> bool:
        """Whether the part's text(s) pass (for several From addresses: any of them)."""
        if self.mode == "always":
            return True
        matched = any(self.regex.search(text) is not None for text in texts)
        return matched if self.mode == "match" else not matched


@dataclass(frozen=True, slots=True)
class EmailFilter:
    """One ``email_filters[]`` entry: subject, body and From must all pass."""

    subject: PartFilter
    body: PartFilter
    from_email: PartFilter

    def accepts(self, mail: Mail) -> bool:
        """Whether the mail passes this filter."""
        return (
            self.subject.accepts([mail.subject])
            and self.body.accepts([mail.body])
            and self.from_email.accepts(mail.from_addresses or [""])
        )


@dataclass(frozen=True, slots=True)
class Predicate:
    """A ``match_predicate`` tree node."""

    type: str
    part: str | None = None
    matcher: str = ""
    regex: Any = None
    children: tuple[Predicate, ...] = ()

    def holds(self, mail: Mail) -> bool:
        """Evaluate the tree; ``not`` holds when none of its children does."""
        if self.type == "all":
            return all(child.holds(mail) for child in self.children)
        if self.type == "any":
            return any(child.holds(mail) for child in self.children)
        if self.type == "not":
            return not any(child.holds(mail) for child in self.children)
        assert self.part is not None
        texts = mail.part_texts(self.part)
        if self.type == "contains":
            return any(self.matcher in text for text in texts)
        if self.type == "exactly":
            return any(text.strip() == self.matcher.strip() for text in texts)
        return any(self.regex.search(text) is not None for text in texts)


@dataclass(frozen=True, slots=True)
class Extractor:
    """A ``value_extractors[]`` entry."""

    type: str
    part: str
    value_name: str
    regex: Any = None
    starts_after: str = ""
    ends_before: str = ""

    def extract(self, mail: Mail) -> str | None:
        """The extracted value, or ``None`` when the mail does not yield one."""
        texts = mail.part_texts(self.part)
        text = texts[0] if texts else ""
        if self.type == "entire":
            value = text
        elif self.type == "regex":
            found = self.regex.search(text)
            if found is None:
                return None
            groups = [g for g in found.groups() if g is not None]
            # Several capture groups join with "-" (PagerDuty); none means the whole match.
            value = "-".join(groups) if found.groups() else found.group(0)
        else:
            start = text.find(self.starts_after)
            if start < 0:
                return None
            start += len(self.starts_after)
            if self.ends_before:
                end = text.find(self.ends_before, start)
                if end < 0:
                    return None
            else:  # no end marker: up to the end of the line
                end = text.find("\n", start)
                end = len(text) if end < 0 else end
            value = text[start:end]
        value = value.strip()
        return value or None


@dataclass(frozen=True, slots=True)
class EmailParser:
    """One ``email_parsers[]`` entry: an action, a predicate and the extractors."""

    action: Literal["trigger", "resolve"]
    predicate: Predicate
    extractors: tuple[Extractor, ...]


@dataclass(frozen=True, slots=True)
class EmailRules:
    """An email integration's settings, validated and with every regex compiled."""

    incident_creation: str = "on_new_email"
    filter_mode: str = "all-email"
    filters: tuple[EmailFilter, ...] = ()
    parsers: tuple[EmailParser, ...] = ()
    fallback: str = "open_new_incident"

    def accepts(self, mail: Mail) -> bool:
        """Whether the filters let the mail through."""
        if self.filter_mode == "or-rules-email":
            return any(f.accepts(mail) for f in self.filters)
        if self.filter_mode == "and-rules-email":
            return all(f.accepts(mail) for f in self.filters)
        return True


class _Checker:
    """Collects problems with setting paths such as ``email_parsers[0].action``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, path: str, problem: str) -> None:
        self.errors.append(f"integration setting '{path}' is invalid ({problem})")

    def choice(self, obj: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str:
        value = obj.get(key, choices[0])
        if isinstance(value, str) and value in choices:
            return value
        self.add(path, "must be one of " + ", ".join(repr(c) for c in choices))
        return choices[0]

    def table(self, value: Any, path: str, known: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, "must be a table")
            return None
        for key in value:
            if key not in known:
                self.errors.append(
                    f"integration setting '{path}.{key}' is unknown (known: {', '.join(known)})"
                )
        return value

    def tables(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "must be an array of tables")
            return []
        return value

    def string(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.errors.append(f"integration setting '{path}' is required")
            return None
        if not isinstance(value, str) or (required and not value):
            self.add(path, "must be a non-empty string")
            return None
        return value

    def regex(self, obj: Mapping[str, Any], key: str, path: str, *, extractor: bool = False) -> Any:
        pattern = self.string(obj, key, path)
        if pattern is None:
            return None
        try:
            return compile_regex(pattern, extractor=extractor)
        except RegexError as exc:
            self.add(path, f"{exc}: {clip(pattern)!r}")
            return None


def _part_filter(checker: _Checker, raw: Mapping[str, Any], name: str, path: str) -> PartFilter:
    mode = checker.choice(raw, f"{name}_mode", f"{path}.{name}_mode", FILTER_PART_MODES)
    if mode == "always":
        return PartFilter("always")
    regex = checker.regex(raw, f"{name}_regex", f"{path}.{name}_regex")
    return PartFilter(mode, regex) if regex is not None else PartFilter("always")


def _predicate(checker: _Checker, raw: Any, path: str, depth: int = 0) -> Predicate:
    table = checker.table(raw, path, _PREDICATE_KEYS)
    if table is None:
        return Predicate("any")
    if depth > MAX_PREDICATE_DEPTH:
        checker.add(path, f"predicates nest deeper than {MAX_PREDICATE_DEPTH} levels")
        return Predicate("any")
    kind = checker.choice(table, "type", f"{path}.type", PREDICATE_LEAVES + PREDICATE_BRANCHES)
    if kind in PREDICATE_BRANCHES:
        children = checker.tables(table.get("children"), f"{path}.children")
        if not children:
            checker.add(f"{path}.children", f"a {kind!r} predicate needs at least one child")
        return Predicate(
            kind,
            children=tuple(
                _predicate(checker, child, f"{path}.children[{i}]", depth + 1)
                for i, child in enumerate(children)
            ),
        )
    part = checker.choice(table, "part", f"{path}.part", PARTS) if "part" in table else None
    if part is None:
        checker.errors.append(f"integration setting '{path}.part' is required")
        part = "body"
    if kind == "regex":
        regex = checker.regex(table, "matcher", f"{path}.matcher")
        return Predicate(kind, part=part, regex=regex or re2.compile("a^", _RE2_OPTIONS))
    matcher = checker.string(table, "matcher", f"{path}.matcher") or ""
    return Predicate(kind, part=part, matcher=matcher)


def _extractor(checker: _Checker, raw: Any, path: str) -> Extractor | None:
    table = checker.table(raw, path, _EXTRACTOR_KEYS)
    if table is None:
        return None
    kind = checker.choice(table, "type", f"{path}.type", EXTRACTOR_TYPES)
    part = checker.choice(table, "part", f"{path}.part", PARTS)
    name = checker.string(table, "value_name", f"{path}.value_name") or ""
    if kind == "regex":
        regex = checker.regex(table, "regex", f"{path}.regex", extractor=True)
        return Extractor(kind, part, name, regex=regex)
    if kind == "between":
        starts = checker.string(table, "starts_after", f"{path}.starts_after") or ""
        # PagerDuty's REST schema says ends_with, Terraform says ends_before: accept both.
        end_key = "ends_with" if "ends_with" in table else "ends_before"
        ends = checker.string(table, end_key, f"{path}.{end_key}", required=False) or ""
        return Extractor(kind, part, name, starts_after=starts, ends_before=ends)
    return Extractor(kind, part, name)


def _parser(checker: _Checker, raw: Any, path: str) -> EmailParser | None:
    table = checker.table(raw, path, _PARSER_KEYS)
    if table is None:
        return None
    action = checker.choice(table, "action", f"{path}.action", PARSER_ACTIONS)
    if "match_predicate" not in table:
        checker.errors.append(f"integration setting '{path}.match_predicate' is required")
    predicate = _predicate(checker, table.get("match_predicate"), f"{path}.match_predicate")
    raw_extractors = checker.tables(table.get("value_extractors"), f"{path}.value_extractors")
    extractors = [
        e
        for i, item in enumerate(raw_extractors)
        if (e := _extractor(checker, item, f"{path}.value_extractors[{i}]")) is not None
    ]
    keys = sum(1 for e in extractors if e.value_name == "incident_key")
    if keys != 1:
        checker.add(
            f"{path}.value_extractors",
            f"exactly one extractor must have value_name = 'incident_key', found {keys}",
        )
    return EmailParser(action, predicate, tuple(extractors))  # type: ignore[arg-type]


def compile_rules(settings: Mapping[str, Any]) -> tuple[EmailRules, list[str]]:
    """Validate an email integration's settings and compile its rules.

    Returns the rules and the problems (one message per problem, naming the
    setting's path); the rules are only usable when there are none.
    """
    checker = _Checker()
    checker.errors.extend(
        f"integration setting '{key}' is unknown (known: {', '.join(KNOWN_SETTINGS)})"
        for key in settings
        if key not in KNOWN_SETTINGS
    )
    creation = checker.choice(
        settings, "email_incident_creation", "email_incident_creation", INCIDENT_CREATION
    )
    filter_mode = checker.choice(settings, "email_filter_mode", "email_filter_mode", FILTER_MODES)
    fallback = checker.choice(
        settings, "email_parsing_fallback", "email_parsing_fallback", FALLBACKS
    )
    filters = []
    for i, raw in enumerate(checker.tables(settings.get("email_filters"), "email_filters")):
        path = f"email_filters[{i}]"
        table = checker.table(raw, path, _FILTER_KEYS)
        if table is not None:
            filters.append(
                EmailFilter(
                    subject=_part_filter(checker, table, "subject", path),
                    body=_part_filter(checker, table, "body", path),
                    from_email=_part_filter(checker, table, "from_email", path),
                )
            )
    if filter_mode != "all-email" and not filters:
        checker.add("email_filters", f"email_filter_mode {filter_mode!r} needs at least one filter")
    raw_parsers = checker.tables(settings.get("email_parsers"), "email_parsers")
    parsers = [
        p
        for i, raw in enumerate(raw_parsers)
        if (p := _parser(checker, raw, f"email_parsers[{i}]")) is not None
    ]
    if creation == "use_rules" and not raw_parsers:
        checker.add(
            "email_parsers", "email_incident_creation 'use_rules' needs at least one parser"
        )
    if creation != "use_rules" and raw_parsers:
        checker.add(
            "email_parsers", "parsers are used only with email_incident_creation 'use_rules'"
        )
    rules = EmailRules(creation, filter_mode, tuple(filters), tuple(parsers), fallback)
    return rules, checker.errors


def check_settings(settings: Mapping[str, Any]) -> list[str]:
    """Validate an email integration's rules when the configuration is loaded."""
    return compile_rules(settings)[1]


def checks_sender(settings: Mapping[str, Any]) -> bool:
    """Whether the integration's filters look at who sent the mail (a From rule).

    Such an integration takes events only as mail: its key on the Events API paths is
    refused, or anyone could skip the sender filter by posting a forged event there.
    """
    rules = rules_for(settings)[0]
    return rules.filter_mode != "all-email" and any(
        f.from_email.mode != "always" for f in rules.filters
    )


_encode_settings = msgspec.json.Encoder(order="deterministic").encode
_cache: OrderedDict[bytes, tuple[EmailRules, list[str]]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def rules_for(settings: Mapping[str, Any]) -> tuple[EmailRules, list[str]]:
    """:func:`compile_rules`, remembered per distinct settings (compiling RE2 is not free)."""
    try:
        cache_key = _encode_settings(settings)
    except (TypeError, msgspec.EncodeError):
        return compile_rules(settings)
    with _cache_lock:
        hit = _cache.get(cache_key)
        if hit is not None:
            _cache.move_to_end(cache_key)
            return hit
    compiled = compile_rules(settings)
    with _cache_lock:
        _cache[cache_key] = compiled
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


# -- The message ----------------------------------------------------------------------------


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


def _header(message: Message, name: str) -> str:
    """A decoded header (the first one), never raising on a malformed value."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:  # the email package's header parser has raised on odd input before
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
        text = str(raw)
    return " ".join(_clean(text).split())


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
        name = part.get_filename()
    except Exception:
        name = None
    return clip(_clean(name or part.get_content_type()), 100)


def read_mail(raw: bytes) -> Mail:
    """Parse a raw message; MIME decoded, attachments dropped, PagerDuty's size rules applied.

    Up to 96 KB a message is used whole. Above, attachments are removed and
    each text part is cut to 32 KB; a message still over 192 KB after that
    raises :class:`PayloadTooLarge`. The body is the ``text/plain`` parts, or
    the ``text/html`` parts as raw HTML when there is no plain text.
    """
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    big = len(raw) > UNTOUCHED_BYTES
    limit = TEXT_PART_BYTES if big else None
    plain: list[str] = []
    html: list[str] = []
    removed: list[str] = []
    truncated = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        if _is_attachment(part):
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
        attachments=removed[:50],
    )


def _timestamp(date: str) -> str | None:
    if not date:
        return None
    try:
        return rfc3339(parsedate_to_datetime(date))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def subject_key(subject: str) -> str:
    """The dedup key of ``on_new_email_subject``: the subject, whitespace-normalised."""
    normal = " ".join(subject.split())
    return fit_dedup_key(f"subject:{normal}")


def message_key(message_id: str) -> str | None:
    """A dedup key from ``Message-ID``, so an MTA's redelivery of a committed mail appends.

    A mail whose ``250`` was lost (a crash between commit and reply) is sent
    again by the MTA with the same ``Message-ID``; keying ``on_new_email``
    alerts on it keeps that redelivery from opening a second incident.
    """
    if not message_id.strip():
        return None
    digest = hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()[:32]
    return f"message-id:{digest}"


# -- Events ---------------------------------------------------------------------------------


def _details(mail: Mail, request: InboundRequest) -> dict[str, Any]:
    details: dict[str, Any] = {
        "subject": mail.subject,
        "from": mail.from_header,
        "to": mail.to,
        "date": mail.date,
        "message_id": mail.message_id,
        "recipient": request.headers.get("x-smtp-rcpt-to", ""),
        "envelope_from": request.headers.get("x-smtp-mail-from", ""),
        "body": mail.body,
    }
    if mail.truncated_parts:
        details["truncated_parts"] = mail.truncated_parts
    if mail.attachments:  # never stored: the names say what the sender attached
        details["attachments"] = mail.attachments
    return details


def _event(
    mail: Mail,
    request: InboundRequest,
    action: Literal["trigger", "resolve"],
    dedup_key: str | None,
    extracted: dict[str, str] | None = None,
) -> Event:
    details = _details(mail, request)
    if extracted:
        details["extracted"] = extracted
    source = (
        mail.from_addresses[0]
        if mail.from_addresses
        else request.headers.get("x-smtp-mail-from", "") or "email"
    )
    return finish(
        Event(
            routing_key=request.integration_key or "",
            event_action=action,
            dedup_key=dedup_key,
            summary=fit_summary(mail.subject, fallback="(no subject)"),
            source=clip(source, 255),
            # Mail carries no severity: a trigger pages (PagerDuty's no-severity rule).
            severity="critical" if action == "trigger" else "info",
            timestamp=_timestamp(mail.date),
            class_="email",
            custom_details=details,
            client=CLIENT,
        )
    )


def _by_rules(rules: EmailRules, mail: Mail, request: InboundRequest) -> list[Event]:
    for index, parser in enumerate(rules.parsers):
        if not parser.predicate.holds(mail):
            continue
        values: dict[str, str] = {}
        for extractor in parser.extractors:
            value = extractor.extract(mail)
            if value is not None:
                values[extractor.value_name] = value
        key = values.pop("incident_key", None)
        if key is None:  # matched, but no key to act on: the next parser may still apply
            log.info("email.parser_no_key", parser=index, recipient=_recipient(request))
            continue
        return [_event(mail, request, parser.action, key[:MAX_INCIDENT_KEY_CHARS], values)]
    if rules.fallback == "discard":
        log.info(
            "email.discarded",
            reason="no parser matched",
            recipient=_recipient(request),
            sender=clip(mail.from_header),
            subject=clip(mail.subject),
        )
        return []
    return [_event(mail, request, "trigger", message_key(mail.message_id))]


def _recipient(request: InboundRequest) -> str:
    return request.headers.get("x-smtp-rcpt-to", "")


def events_for(rules: EmailRules, mail: Mail, request: InboundRequest) -> list[Event]:
    """The events one mail makes for one integration, by its rules.

    - ``on_new_email``: a trigger keyed by the ``Message-ID`` (a fresh key without one);
    - ``on_new_email_subject``: a trigger keyed by the normalised subject;
    - ``only_if_no_open_incidents``: a trigger with one constant key per integration;
    - ``use_rules``: the first parser whose predicate holds and whose
      extractors yield an ``incident_key``; else ``email_parsing_fallback``.
    """
    if not rules.accepts(mail):
        log.info(
            "email.filtered",
            mode=rules.filter_mode,
            recipient=_recipient(request),
            sender=clip(mail.from_header),
            subject=clip(mail.subject),
        )
        return []
    if rules.incident_creation == "use_rules":
        return _by_rules(rules, mail, request)
    if rules.incident_creation == "on_new_email_subject":
        key: str | None = subject_key(mail.subject)
    elif rules.incident_creation == "only_if_no_open_incidents":
        key = OPEN_INCIDENT_KEY
    else:
        key = message_key(mail.message_id)
    return [_event(mail, request, "trigger", key)]


async def parse(request: InboundRequest) -> list[Event]:
    """Turn one mail (for one integration) into zero or one event."""
    if request.method != SMTP_METHOD:
        raise InvalidEvent(
            ["this integration receives email only: send mail to its integration_email address"]
        )
    rules, problems = rules_for(request.settings)
    if problems:
        # Settings are checked at configuration time; reaching here means they changed
        # underneath. Keep the mail queued at the sender (4xx) rather than lose it.
        log.error("email.rules_invalid", recipient=_recipient(request), problems=problems[:5])
        raise RetryLater("the integration's email rules are invalid")
    return events_for(rules, read_mail(request.body), request)


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Email",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    aliases=("email",),
    description="Email integrations: mail to integration_email, by PagerDuty's email rules.",
    check_settings=check_settings,
    checks_sender=checks_sender,
    generic=True,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the generic email vendor."""
    return [VENDOR]
