"""The whole permission matrix: every REST operation in the OpenAPI document, every role.

No token is 401; a role below the operation's level is 403 with PagerDuty's body;
a role at or above it gets past authorization (whatever the fake ids then cause).
"""

from __future__ import annotations

import pytest

from gateway.auth import Level, level_of
from gateway.http.openapi import OPERATIONS, Operation
from tests.rest_support import ROLES, Api, api, assert_error

pytestmark = pytest.mark.slow  # one real daemon process for the module (tests/rest_support.py)

__all__ = ["api"]  # the module-scoped daemon fixture

REST = [op for op in OPERATIONS if op.auth]


def required(op: Operation) -> Level:
    """What PagerDuty's roles allow: everyone views, responders act on incidents,
    managers and above change services, integrations, maintenance windows and webhook
    subscriptions (pinging, enabling, rotating and retrying deliveries included)."""
    if op.method == "get":
        return Level.VIEW
    if op.tag == "incidents":
        return Level.RESPOND
    return Level.MANAGE


def test_every_rest_operation_is_in_the_matrix() -> None:
    # The operations that need no token are the Events API, vendor URLs and probes.
    assert {op.tag for op in OPERATIONS if not op.auth} == {"events", "operations"}
    assert len(REST) >= 20


@pytest.mark.parametrize("op", REST, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_permission_matrix(api: Api, op: Operation) -> None:
    path = op.path.replace("{id}", "PNOSUCH").replace("{integration_id}", "PNOSUCH")
    path = path.replace("{message_id}", "MNOSUCH")
    kwargs = {"headers": {"From": "matrix@example.com"}}
    if op.method in ("post", "put"):
        kwargs["json"] = {}
    assert_error(api.call(op.method.upper(), path, role=None, **kwargs), 401, 2006)
    for role in ROLES:
        answer = api.call(op.method.upper(), path, role=role, **kwargs)
        if level_of(role) < required(op):
            error = assert_error(answer, 403, 2010)
            assert role in error["errors"][0], error
        else:
            assert answer.status_code not in (401, 403), (role, answer.text)
            assert answer.status_code < 500, (role, answer.text)
