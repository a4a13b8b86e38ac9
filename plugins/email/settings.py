"""Email integration settings: validated once, with every problem named by its path.

``compile_rules`` turns an integration's settings into :class:`~.rules.EmailRules`
and a list of problems such as ``integration setting 'email_parsers[0].action'
is invalid (...)``; ``rules_for`` remembers the result per distinct settings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec
import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints

from .._vendor import clip
from .nagios_mail import PRESETS
from .regex import _RE2_OPTIONS, RegexError, compile_regex
from .rules import EmailFilter, EmailParser, EmailRules, Extractor, PartFilter, Predicate

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
    "email_preset",
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
# A predicate tree deeper than this is a configuration mistake, not a need.
MAX_PREDICATE_DEPTH = 32


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
    preset = _preset(checker, settings)
    creation = checker.choice(
        settings, "email_incident_creation", "email_incident_creation", INCIDENT_CREATION
    )
    if preset is not None:
        creation = _preset_creation(checker, settings)
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
    if creation == "use_rules" and not raw_parsers and preset is None:
        checker.add(
            "email_parsers",
            "email_incident_creation 'use_rules' needs at least one parser (or an email_preset)",
        )
    if creation != "use_rules" and raw_parsers:
        checker.add(
            "email_parsers", "parsers are used only with email_incident_creation 'use_rules'"
        )
    rules = EmailRules(creation, filter_mode, tuple(filters), tuple(parsers), fallback, preset)
    return rules, checker.errors


def _preset(checker: _Checker, settings: Mapping[str, Any]) -> str | None:
    value = settings.get("email_preset")
    if value is None:
        return None
    if isinstance(value, str) and value in PRESETS:
        return value
    checker.add("email_preset", "must be one of " + ", ".join(repr(p) for p in PRESETS))
    return None


def _preset_creation(checker: _Checker, settings: Mapping[str, Any]) -> str:
    """A preset is a set of rules: it runs as ``use_rules`` (after any ``email_parsers``)."""
    given = settings.get("email_incident_creation")
    if given is not None and given != "use_rules":
        checker.add(
            "email_incident_creation",
            "an email_preset creates and resolves incidents by its own rules: leave "
            "email_incident_creation out or set it to 'use_rules'",
        )
    return "use_rules"


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
