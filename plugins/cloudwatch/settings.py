"""A CloudWatch integration's settings: the SNS topic allow-list, signatures, old messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._vendor import setting_bool, setting_choice, unknown_settings

SETTINGS = (
    "sns_topic_allowlist",
    "insufficient_data",
    "verify_signature",
    "allow_signature_version_1",
    "max_message_age_seconds",
)


@dataclass(frozen=True, slots=True)
class CloudWatchSettings:
    """An integration's CloudWatch settings, checked."""

    topic_allowlist: frozenset[str] = frozenset()
    insufficient_data: str = "trigger"
    verify_signature: bool = True
    allow_signature_version_1: bool = True
    max_message_age_seconds: float = 0.0


def read_settings(raw: Mapping[str, Any], errors: list[str]) -> CloudWatchSettings:
    """Read the integration's settings, appending an error for each invalid one."""
    allowlist = raw.get("sns_topic_allowlist", [])
    if isinstance(allowlist, str):  # a single ARN written without brackets
        allowlist = [allowlist]
    if not isinstance(allowlist, list) or not all(isinstance(a, str) for a in allowlist):
        errors.append(
            "integration setting 'sns_topic_allowlist' is invalid (must be a list of topic ARNs)"
        )
        allowlist = []
    age = raw.get("max_message_age_seconds", 0)
    if isinstance(age, bool) or not isinstance(age, int | float) or age < 0:
        errors.append(
            "integration setting 'max_message_age_seconds' is invalid (must be a number >= 0)"
        )
        age = 0
    return CloudWatchSettings(
        topic_allowlist=frozenset(allowlist),
        insufficient_data=setting_choice(raw, "insufficient_data", ("trigger", "ignore"), errors),
        verify_signature=setting_bool(raw, "verify_signature", True, errors),
        allow_signature_version_1=setting_bool(raw, "allow_signature_version_1", True, errors),
        max_message_age_seconds=float(age),
    )


def checks_sender(raw: Mapping[str, Any]) -> bool:
    """Whether the integration authenticates its sender: SNS signatures or a topic allow-list.

    With either on, events reach it only through SNS: a forged Events API event posted
    with its key carries no signature and no topic, so the generic paths refuse it.
    """
    settings = read_settings(raw, [])
    return settings.verify_signature or bool(settings.topic_allowlist)


def check_settings(raw: Mapping[str, Any]) -> list[str]:
    """Every problem with an integration's CloudWatch settings (for start-up checks)."""
    errors = unknown_settings(raw, SETTINGS)
    read_settings(raw, errors)
    return errors
