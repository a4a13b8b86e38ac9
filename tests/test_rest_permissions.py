"""The whole permission matrix: every REST operation in the OpenAPI document, every role.

The expected answers come from the table below, written by hand from PagerDuty's role
documentation, never from the gateway's own role mapping (``gateway.auth``): a wrong
mapping there must fail here. No token is 401; a role the table does not allow is 403
with PagerDuty's body naming the role; an allowed role gets past authorization (whatever
the fake ids then cause, but never a 5xx).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.auth import hash_token
from gateway.http.openapi import OPERATIONS
from gateway.store import Tx
from tests.scaffold import TestGateway, config, gateway_running

# PagerDuty's eight REST roles (``User.role``), with their UI names:
#   obs  observer                  Observer
#   ro   read_only_user            (Full) Stakeholder
#   rol  read_only_limited_user    Limited Stakeholder
#   ra   restricted_access         Restricted Access
#   lu   limited_user              Responder
#   u    user                      Manager
#   adm  admin                     Global Admin
#   own  owner                     Account Owner
# PagerDuty's roles table: everyone can view; Responders (limited users) and above trigger,
# acknowledge and resolve incidents; Managers (users), admins and the owner add, edit and
# delete services, integrations and maintenance windows (and retry or drop what a service
# forwards upstream, a gateway extension kept at the Manager's level); Managers and above
# create and manage webhook subscriptions, everyone views them. Admins and the owner add,
# change and delete users and anyone's contact methods and notification rules (a user's own
# token may change their own: tests/test_rest_users.py; these tokens belong to nobody).
# Managers and above create and manage escalation policies, everyone views them.
# Y: allowed, -: 403.
# create and manage webhook subscriptions, everyone views them; Managers and above create,
# edit and delete on-call schedules and their overrides, everyone views them. Y: allowed, -: 403.
MATRIX = """
                                                   obs ro  rol ra  lu  u   adm own
GET    /services                                    Y   Y   Y   Y   Y   Y   Y   Y
POST   /services                                    -   -   -   -   -   Y   Y   Y
GET    /services/{id}                               Y   Y   Y   Y   Y   Y   Y   Y
PUT    /services/{id}                               -   -   -   -   -   Y   Y   Y
DELETE /services/{id}                               -   -   -   -   -   Y   Y   Y
POST   /services/{id}/integrations                  -   -   -   -   -   Y   Y   Y
GET    /services/{id}/integrations/{integration_id} Y   Y   Y   Y   Y   Y   Y   Y
PUT    /services/{id}/integrations/{integration_id} -   -   -   -   -   Y   Y   Y
DELETE /services/{id}/integrations/{integration_id} -   -   -   -   -   Y   Y   Y
GET    /services/{id}/forwarding/messages           Y   Y   Y   Y   Y   Y   Y   Y
POST   /services/{id}/forwarding/retry              -   -   -   -   -   Y   Y   Y
POST   /services/{id}/forwarding/messages/{message_id}/retry -   -   -   -   -   Y   Y   Y
DELETE /services/{id}/forwarding/messages/{message_id}       -   -   -   -   -   Y   Y   Y
GET    /webhook_subscriptions                        Y   Y   Y   Y   Y   Y   Y   Y
POST   /webhook_subscriptions                        -   -   -   -   -   Y   Y   Y
GET    /webhook_subscriptions/{id}                   Y   Y   Y   Y   Y   Y   Y   Y
PUT    /webhook_subscriptions/{id}                   -   -   -   -   -   Y   Y   Y
DELETE /webhook_subscriptions/{id}                   -   -   -   -   -   Y   Y   Y
POST   /webhook_subscriptions/{id}/enable            -   -   -   -   -   Y   Y   Y
POST   /webhook_subscriptions/{id}/ping              -   -   -   -   -   Y   Y   Y
POST   /webhook_subscriptions/{id}/rotate_secret     -   -   -   -   -   Y   Y   Y
POST   /webhook_subscriptions/{id}/end_rotation      -   -   -   -   -   Y   Y   Y
GET    /webhook_subscriptions/{id}/deliveries        Y   Y   Y   Y   Y   Y   Y   Y
POST   /webhook_subscriptions/{id}/deliveries/{message_id}/retry -   -   -   -   -   Y   Y   Y
DELETE /webhook_subscriptions/{id}/deliveries/{message_id} -   -   -   -   -   Y   Y   Y
GET    /vendors                                     Y   Y   Y   Y   Y   Y   Y   Y
GET    /vendors/{id}                                Y   Y   Y   Y   Y   Y   Y   Y
GET    /incidents                                   Y   Y   Y   Y   Y   Y   Y   Y
POST   /incidents                                   -   -   -   -   Y   Y   Y   Y
PUT    /incidents                                   -   -   -   -   Y   Y   Y   Y
GET    /incidents/{id}                              Y   Y   Y   Y   Y   Y   Y   Y
PUT    /incidents/{id}                              -   -   -   -   Y   Y   Y   Y
GET    /incidents/{id}/alerts                       Y   Y   Y   Y   Y   Y   Y   Y
GET    /incidents/{id}/log_entries                  Y   Y   Y   Y   Y   Y   Y   Y
GET    /log_entries                                 Y   Y   Y   Y   Y   Y   Y   Y
GET    /log_entries/{id}                            Y   Y   Y   Y   Y   Y   Y   Y
GET    /maintenance_windows                         Y   Y   Y   Y   Y   Y   Y   Y
POST   /maintenance_windows                         -   -   -   -   -   Y   Y   Y
GET    /maintenance_windows/{id}                    Y   Y   Y   Y   Y   Y   Y   Y
PUT    /maintenance_windows/{id}                    -   -   -   -   -   Y   Y   Y
DELETE /maintenance_windows/{id}                    -   -   -   -   -   Y   Y   Y
GET    /users                                       Y   Y   Y   Y   Y   Y   Y   Y
POST   /users                                       -   -   -   -   -   -   Y   Y
GET    /users/me                                    Y   Y   Y   Y   Y   Y   Y   Y
GET    /users/{id}                                  Y   Y   Y   Y   Y   Y   Y   Y
PUT    /users/{id}                                  -   -   -   -   -   -   Y   Y
DELETE /users/{id}                                  -   -   -   -   -   -   Y   Y
GET    /users/{id}/contact_methods                  Y   Y   Y   Y   Y   Y   Y   Y
POST   /users/{id}/contact_methods                  -   -   -   -   -   -   Y   Y
GET    /users/{id}/contact_methods/{contact_method_id} Y   Y   Y   Y   Y   Y   Y   Y
PUT    /users/{id}/contact_methods/{contact_method_id} -   -   -   -   -   -   Y   Y
DELETE /users/{id}/contact_methods/{contact_method_id} -   -   -   -   -   -   Y   Y
GET    /users/{id}/notification_rules               Y   Y   Y   Y   Y   Y   Y   Y
POST   /users/{id}/notification_rules               -   -   -   -   -   -   Y   Y
GET    /users/{id}/notification_rules/{notification_rule_id} Y   Y   Y   Y   Y   Y   Y   Y
PUT    /users/{id}/notification_rules/{notification_rule_id} -   -   -   -   -   -   Y   Y
DELETE /users/{id}/notification_rules/{notification_rule_id} -   -   -   -   -   -   Y   Y
GET    /schedules                                   Y   Y   Y   Y   Y   Y   Y   Y
POST   /schedules                                   -   -   -   -   -   Y   Y   Y
GET    /schedules/{id}                              Y   Y   Y   Y   Y   Y   Y   Y
PUT    /schedules/{id}                              -   -   -   -   -   Y   Y   Y
DELETE /schedules/{id}                              -   -   -   -   -   Y   Y   Y
GET    /schedules/{id}/overrides                    Y   Y   Y   Y   Y   Y   Y   Y
POST   /schedules/{id}/overrides                    -   -   -   -   -   Y   Y   Y
DELETE /schedules/{id}/overrides/{override_id}      -   -   -   -   -   Y   Y   Y
GET    /schedules/{id}/users                        Y   Y   Y   Y   Y   Y   Y   Y
GET    /notifications                               Y   Y   Y   Y   Y   Y   Y   Y
GET    /incidents/{id}/notes                        Y   Y   Y   Y   Y   Y   Y   Y
POST   /incidents/{id}/notes                        -   -   -   -   Y   Y   Y   Y
POST   /incidents/{id}/snooze                       -   -   -   -   Y   Y   Y   Y
GET    /escalation_policies                         Y   Y   Y   Y   Y   Y   Y   Y
POST   /escalation_policies                         -   -   -   -   -   Y   Y   Y
GET    /escalation_policies/{id}                    Y   Y   Y   Y   Y   Y   Y   Y
PUT    /escalation_policies/{id}                    -   -   -   -   -   Y   Y   Y
DELETE /escalation_policies/{id}                    -   -   -   -   -   Y   Y   Y
GET    /oncalls                                     Y   Y   Y   Y   Y   Y   Y   Y
"""

ROLES = (
    "observer",
    "read_only_user",
    "read_only_limited_user",
    "restricted_access",
    "limited_user",
    "user",
    "admin",
    "owner",
)


def _table() -> dict[tuple[str, str], dict[str, bool]]:
    rows = [line.split() for line in MATRIX.strip().splitlines()[1:]]
    assert all(len(row) == 2 + len(ROLES) and set(row[2:]) <= {"Y", "-"} for row in rows)
    return {
        (row[0], row[1]): {role: mark == "Y" for role, mark in zip(ROLES, row[2:], strict=True)}
        for row in rows
    }


ALLOWED = _table()
REST = [op for op in OPERATIONS if op.auth]


def test_the_table_lists_every_rest_operation_once() -> None:
    # The operations that need no token are the Events API, vendor URLs and probes.
    assert {op.tag for op in OPERATIONS if not op.auth} == {"events", "operations"}
    listed = [(op.method.upper(), op.path) for op in REST]
    assert len(listed) == len(set(listed)) and set(listed) == set(ALLOWED)


async def _insert_tokens(gw: TestGateway) -> dict[str, str]:
    """One API token per role, straight into the store: ``{role: token}``."""

    def insert(tx: Tx) -> dict[str, str]:
        tokens = {}
        for role in ROLES:
            secret = f"matrix-token-{role}"
            tx.insert_token(name=role, role=role, token_hash=hash_token(secret), last4=secret[-4:])
            tokens[role] = secret
        return tokens

    return await gw.store.write(insert)


async def _call(
    gw: TestGateway, method: str, path: str, token: str | None
) -> tuple[int, Any, list[str]]:
    """``(status, error code, error details)`` of one REST call."""
    headers = {"Accept": "application/vnd.pagerduty+json;version=2", "From": "matrix@example.com"}
    if token is not None:
        headers["Authorization"] = f"Token token={token}"
    body = {} if method in ("POST", "PUT") else None
    answer = await gw.client.request(method, path, headers=headers, json=body)
    error = answer.json().get("error", {}) if answer.content else {}
    return answer.status_code, error.get("code"), error.get("errors", [])


async def test_permission_matrix(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, config()) as gw:
        tokens = await _insert_tokens(gw)
        wrong: list[str] = []
        for (method, template), allowed in ALLOWED.items():
            path = (
                template.replace("{id}", "PNOSUCH")
                .replace("{integration_id}", "PNOSUCH")
                .replace("{message_id}", "MNOSUCH")
                .replace("{contact_method_id}", "PNOSUCH")
                .replace("{notification_rule_id}", "PNOSUCH")
            )
            status, code, _ = await _call(gw, method, path, None)
            if (status, code) != (401, 2006):
                wrong.append(f"{method} {template} without a token: {status} {code}")
            for role in ROLES:
                status, code, errors = await _call(gw, method, path, tokens[role])
                if not allowed[role]:
                    if (status, code) != (403, 2010) or role not in errors[0]:
                        wrong.append(f"{method} {template} as {role}: {status} {errors}, not 403")
                elif status in (401, 403) or status >= 500:
                    wrong.append(f"{method} {template} as {role}: {status} {errors}, not allowed")
        assert not wrong, "\n".join(wrong)
