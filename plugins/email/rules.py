"""An email integration's rules, compiled: filters, predicates, extractors and parsers.

These are the checked, ready-to-run forms of the ``email_filters`` and
``email_parsers`` settings (built by :mod:`.settings`); each knows how to
apply itself to a :class:`~.mail.Mail`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .mail import Mail


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
    preset: str | None = None

    def accepts(self, mail: Mail) -> bool:
        """Whether the filters let the mail through."""
        if self.filter_mode == "or-rules-email":
            return any(f.accepts(mail) for f in self.filters)
        if self.filter_mode == "and-rules-email":
            return all(f.accepts(mail) for f in self.filters)
        return True
