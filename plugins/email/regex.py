"""User regexes for email rules: RE2 only (linear time), checked for nested capture groups.

Rules run on untrusted mail, so no pattern may backtrack without bound: RE2
guarantees that, and every pattern is compiled when the configuration loads.
"""

from __future__ import annotations

from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are reported as configuration messages, not to stderr


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
