"""Roles, levels and the Authorization header (gateway.auth)."""

from __future__ import annotations

import pytest

from gateway.auth import Level, hash_token, level_of, new_token, normalize_role, parse_authorization


@pytest.mark.parametrize(
    ("role", "api_role", "level"),
    [
        ("observer", "observer", Level.VIEW),
        ("Stakeholder", "read_only_user", Level.VIEW),
        ("restricted_access", "restricted_access", Level.VIEW),
        ("Responder", "limited_user", Level.RESPOND),
        ("limited_user", "limited_user", Level.RESPOND),
        ("Manager", "user", Level.MANAGE),
        ("user", "user", Level.MANAGE),
        ("Global Admin", "admin", Level.ADMIN),
        ("account-owner", "owner", Level.ADMIN),
    ],
)
def test_roles_and_ui_names_map_to_levels(role: str, api_role: str, level: Level) -> None:
    assert normalize_role(role) == api_role
    assert level_of(api_role) is level


def test_unknown_roles_are_refused_and_unknown_stored_roles_may_only_view() -> None:
    assert normalize_role("boss") is None
    assert level_of("boss") is Level.VIEW


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Token token=abc123", "abc123"),
        ("Token token= abc123 ", "abc123"),
        ("Bearer abc123", "abc123"),
        ("bearer abc123", "abc123"),
        ("Token abc123", None),
        ("token token=abc123", None),
        ("Basic YWJjOmRlZg==", None),
        ("Token token=", None),
        ("", None),
        (None, None),
    ],
)
def test_authorization_header_forms(header: str | None, token: str | None) -> None:
    assert parse_authorization(header) == token


def test_tokens_are_random_and_hashes_stable() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) == 20 for t in tokens)
    assert hash_token("abc") == hash_token("abc") != hash_token("abd")
