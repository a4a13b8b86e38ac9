"""Request bodies for the people routes (users, schedules, overrides, escalation policies),
shared by the tests that walk every REST route with real objects."""

from __future__ import annotations

from typing import Any


def user_body(name: str, email: str) -> dict[str, Any]:
    """POST /users: a user (made with a default email contact method and rules)."""
    return {"user": {"type": "user", "name": name, "email": email}}


def schedule_body(user_id: str, name: str = "Walked") -> dict[str, Any]:
    """POST /schedules: one daily layer of one user."""
    return {
        "schedule": {
            "type": "schedule",
            "name": name,
            "time_zone": "UTC",
            "schedule_layers": [
                {
                    "name": "Daily",
                    "start": "2026-01-01T00:00:00Z",
                    "rotation_virtual_start": "2026-01-01T00:00:00Z",
                    "rotation_turn_length_seconds": 86400,
                    "users": [{"user": {"id": user_id, "type": "user_reference"}}],
                }
            ],
        }
    }


def override_body(user_id: str) -> dict[str, Any]:
    """POST /schedules/{id}/overrides: one override of one day."""
    return {
        "overrides": [
            {
                "start": "2030-01-01T00:00:00Z",
                "end": "2030-01-02T00:00:00Z",
                "user": {"id": user_id, "type": "user_reference"},
            }
        ]
    }


def policy_body(user_id: str, schedule_id: str, name: str = "Walked") -> dict[str, Any]:
    """POST /escalation_policies: one rule paging the schedule, then the user."""
    return {
        "escalation_policy": {
            "type": "escalation_policy",
            "name": name,
            "escalation_rules": [
                {
                    "escalation_delay_in_minutes": 30,
                    "targets": [
                        {"id": schedule_id, "type": "schedule_reference"},
                        {"id": user_id, "type": "user_reference"},
                    ],
                }
            ],
        }
    }
