"""What the schedule and escalation-policy forms share: ordered lists edited without JavaScript.

A form with levels or layers is one HTML form. Its buttons each send an ``action``:
``save`` writes through the core; ``add``, ``remove-N``, ``up-N`` and ``down-N`` change the
list of levels or layers and show the form again, nothing written; ``more`` only shows the
form again, which always carries one empty slot per list (a target, a user, a restriction)
so a person fills it and asks for another. The core's refusals come back on the form with
the REST field paths in words ("level 2", "layer 1").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from gateway.core import users
from gateway.errors import NotFound, OperationError
from gateway.http.ui._web import page_error
from gateway.store import Reader

__all__ = [
    "MAX_ITEMS",
    "SELECT_LIMIT",
    "apply_action",
    "form_problems",
    "refusal_status",
    "user_ref",
    "whole_number",
]

T = TypeVar("T")

#: The most levels or layers a form reads: above the core's own limits (it says why), and
#: a bound on how much a hand-made POST makes the server render.
MAX_ITEMS = 60
#: Up to this many people (and schedules) a slot is a list to choose from; past it every slot
#: would repeat the whole list (1,000 users in 27 slots made a 1.5 MB page), so a slot is a
#: text box suggesting names from one shared list, and takes an email address (or an id).
#: The incident filter switches from a list to a box at 100 services the same way.
SELECT_LIMIT = 100

_ACTION = re.compile(r"^(remove|up|down)-(\d+)$")
_PATHS = (
    (re.compile(r"schedule_layers\[(\d+)\]\.?"), lambda m: f"layer {int(m[1]) + 1}: "),
    (re.compile(r"escalation_rules\[(\d+)\]\.?"), lambda m: f"level {m[1]}: "),
    (re.compile(r"overrides\[0\]\.?"), lambda m: ""),
    (re.compile(r"restrictions\[(\d+)\]\.?"), lambda m: f"restriction {int(m[1]) + 1}: "),
    (re.compile(r"targets\[(\d+)\]:?"), lambda m: f"target {m[1]}:"),
)
#: The REST field names a problem may quote, as the forms label them.
_FIELDS = {
    "rotation_turn_length_seconds": "turn length (in seconds)",
    "rotation_virtual_start": "rotation start",
    "escalation_delay_in_minutes": "delay (minutes)",
    "escalation_rule_assignment_strategy": "assignment",
    "num_loops": "repeats",
    "start_time_of_day": "start time",
    "duration_seconds": "length (in seconds)",
    "start_day_of_week": "day",
    "time_zone": "time zone",
    "schedule_layers": "layers",
    "escalation_rules": "levels",
}
_FIELD = re.compile(r"\b(" + "|".join(_FIELDS) + r")\b")


def apply_action(items: list[T], action: str, blank: Callable[[], T]) -> bool:
    """Change ``items`` as ``action`` asks; ``False`` when the action is not a list change.

    ``add`` appends ``blank()``; ``remove-N`` drops item N; ``up-N`` / ``down-N`` swap it
    with its neighbour (0-based N; out-of-range indexes change nothing).
    """
    if action == "add":
        if len(items) < MAX_ITEMS:
            items.append(blank())
        return True
    found = _ACTION.match(action)
    if found is None:
        return False
    verb, index = found[1], int(found[2])
    if not 0 <= index < len(items):
        return True
    if verb == "remove":
        del items[index]
    elif verb == "up" and index > 0:
        items[index - 1], items[index] = items[index], items[index - 1]
    elif verb == "down" and index < len(items) - 1:
        items[index + 1], items[index] = items[index], items[index + 1]
    return True


def form_problems(exc: OperationError) -> list[str]:
    """The core's problems in the form's words: ``schedule_layers[0].`` is ``layer 1:``,
    ``escalation_rules[2].`` is ``level 2:``, and field names are the forms' labels."""
    problems = exc.errors
    out = []
    for problem in problems:
        text = problem
        for pattern, words in _PATHS:
            text = pattern.sub(words, text)
        out.append(_FIELD.sub(lambda m: _FIELDS[m[1]], text))
    return out


def refusal_status(exc: OperationError) -> int:
    """The status a refused form answers with: the one mapping's (:func:`page_error`)."""
    return page_error(exc).code or 400


def user_ref(reader: Reader, text: str) -> str:
    """The id of the user ``text`` names (an id, or an email address in any case); the text
    as typed when none does, for the core to refuse naming it."""
    try:
        return users.find_user(reader, text.strip()).id
    except NotFound:
        return text


def whole_number(text: str) -> object:
    """``text`` as an int when it is one (``-3`` too: the core says what is allowed), else
    the text itself, which the core refuses naming the field."""
    try:
        return int(text)
    except ValueError:
        return text
