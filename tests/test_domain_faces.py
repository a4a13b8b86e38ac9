"""One domain layer, one error tree: every face refuses with the core's rule and words.

The REST API, the CLI and configuration provisioning refuse an Events API v2
integration on a ``create_incidents`` service with the sentence of one function
(:func:`gateway.core.services.placement_problem`); each class of the error tree
has one REST answer, one UI page and one CLI message; and nothing imports the
old per-module error classes any more.
"""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gateway.cli_services import integrations
from gateway.config import parse_settings
from gateway.core.inputs import IntegrationInput, ServiceInput
from gateway.core.integrations import add_integration
from gateway.core.provision import provision
from gateway.core.services import create_service, placement_problem
from gateway.domain import EVENTS_API_V1, EVENTS_API_V2, GENERIC_EMAIL
from gateway.errors import (
    ConfigError,
    Conflict,
    Difference,
    Incompatible,
    Invalid,
    NotFound,
    OperationError,
    PastWindow,
    Refused,
)
from gateway.plugins import load_plugins
from gateway.store import Tx
from gateway.store.offline import write_sync
from tests.incident_helpers import headers, make_tokens
from tests.scaffold import REPO, config, gateway_running

RULE = placement_problem(EVENTS_API_V2, "create_incidents")
V2 = {"type": EVENTS_API_V2}


def test_the_rule_itself() -> None:
    assert RULE is not None and "Events API v2" in RULE and "create_incidents" in RULE
    assert placement_problem(EVENTS_API_V2, "create_alerts_and_incidents") is None
    assert placement_problem(EVENTS_API_V1, "create_incidents") is None
    assert placement_problem(GENERIC_EMAIL, "create_incidents") is None


async def test_rest_and_cli_refuse_with_the_rules_words(tmp_path: Path) -> None:
    async with gateway_running(tmp_path) as gw:
        manager = headers((await make_tokens(gw))["user"])
        http = gw.client

        async def create(name: str, alert_creation: str) -> str:
            body = {"service": {"name": name, "alert_creation": alert_creation}}
            answer = await http.post("/services", headers=manager, json=body)
            assert answer.status_code == 201, answer.text
            return str(answer.json()["service"]["id"])

        only = await create("Incidents only", "create_incidents")
        alerts = await create("Alerts", "create_alerts_and_incidents")

        def refused(answer: object) -> list[str]:
            assert getattr(answer, "status_code", None) == 400
            body = answer.json()["error"]  # type: ignore[attr-defined]
            assert (body["code"], body["message"]) == (2001, "Invalid Input Provided")
            return list(body["errors"])

        # REST: add, switch alert_creation, move: each answers the rule's sentence.
        added = await http.post(f"/services/{only}/integrations", headers=manager, json=V2)
        assert refused(added) == [RULE]
        made = await http.post(f"/services/{alerts}/integrations", headers=manager, json=V2)
        integration = made.json()["integration"]["id"]
        switch = {"service": {"alert_creation": "create_incidents"}}
        assert refused(await http.put(f"/services/{alerts}", headers=manager, json=switch)) == [
            RULE
        ]
        move = {"integration": {"service": {"id": only, "type": "service_reference"}}}
        moved = await http.put(
            f"/services/{alerts}/integrations/{integration}?confirm=true",
            headers=manager,
            json=move,
        )
        assert refused(moved) == [RULE]

        # The CLI, on the same database file: the same sentence, exit 1.
        path = tmp_path / "cli.toml"
        path.write_text(config(storage=gw.running.context.settings.storage.path))
        # The subcommand itself: the top-level group would reconfigure this process's logging.
        result = CliRunner().invoke(
            integrations, ["add", "Incidents only", "--type", "events_api_v2", "-c", str(path)]
        )
        assert result.exit_code == 1
        assert result.stderr.strip() == f"error: {RULE}"


# Literal TOML: the refusal names the block's line in this text.
PROVISIONED = """
[[services]]
name = "Legacy"
alert_creation = "create_incidents"
  [[services.integrations]]
  name = "v2 by vendor"
  vendor = "events_api_v2"
"""


def test_provisioning_refuses_with_the_rules_words(tmp_path: Path) -> None:
    plugins = load_plugins()
    # A generic vendor names its type only once resolved, past the parser's own check:
    # the service layer's rule refuses it, naming the block and its line.
    settings = parse_settings(PROVISIONED)
    with pytest.raises(ConfigError) as caught:
        write_sync(tmp_path / "a.db", lambda tx: provision(tx, settings, plugins))
    assert caught.value.message == RULE
    assert (caught.value.key, caught.value.line) == ("services[0].integrations[0]", 5)

    # A file that switches a service to create_incidents while the API gave it an
    # Events API v2 integration is refused by the same rule, and nothing changes.
    def api_made(tx: Tx) -> None:
        service = create_service(tx, ServiceInput(name="Legacy"))
        add_integration(tx, service.id, IntegrationInput(type="events_api_v2"), plugins)

    write_sync(tmp_path / "b.db", api_made)
    switched = parse_settings(
        '[[services]]\nname = "Legacy"\nalert_creation = "create_incidents"\n'
    )
    with pytest.raises(ConfigError) as caught:
        write_sync(tmp_path / "b.db", lambda tx: provision(tx, switched, plugins))
    assert caught.value.message == RULE
    assert (caught.value.key, caught.value.line) == ("services[0]", 1)


# -- the error tree and its one mapping per face -------------------------------------------------

DIFF = Difference("incident_urgency_rule", "high", "low")
TREE: list[tuple[OperationError, int, int, str, list[str]]] = [
    (NotFound("Service", "PX"), 404, 5002, "Service Not Found", []),
    (NotFound("Incident", "7"), 404, 5001, "Incident Not Found", []),
    (Invalid(["a", "b"]), 400, 2001, "Invalid Input Provided", ["a", "b"]),
    (Incompatible(["never"]), 400, 2001, "Invalid Input Provided", ["never"]),
    (
        Refused("Incident Already Resolved", code=1001),
        400,
        1001,
        "Incident Already Resolved",
        ["Incident Already Resolved"],
    ),
    (
        PastWindow(),
        405,
        5003,
        "Cannot cancel a maintenance window from the past",
        ["Cannot cancel a maintenance window from the past"],
    ),
]


@pytest.mark.parametrize(("exc", "status", "code", "message", "errors"), TREE)
def test_each_class_has_one_rest_answer(
    exc: OperationError, status: int, code: int, message: str, errors: list[str]
) -> None:
    from gateway.http.rest._common import rest_error

    answer = rest_error(exc)
    assert answer.status == status
    assert answer.body() == {"error": {"message": message, "code": code, "errors": errors}}


def test_a_conflict_answers_409_with_its_differences() -> None:
    from gateway.http.rest._common import MOVE_CONFLICT, rest_error

    answer = rest_error(Conflict([DIFF]))
    assert answer.status == 409
    assert answer.body() == {
        "error": {
            "message": MOVE_CONFLICT,
            "code": 2001,
            "errors": ["incident_urgency_rule: high -> low"],
            "differences": [{"field": "incident_urgency_rule", "from": "high", "to": "low"}],
        }
    }


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (NotFound("Service", "PX"), 404, "Service PX not found. It may have been deleted."),
        (Invalid(["a", "b"]), 400, "a; b"),
        (Incompatible(["never"]), 400, "never"),
        (Conflict([DIFF]), 409, "incident_urgency_rule: high -> low"),
        (Refused("Invalid operation", code=2015, errors=["from the file"]), 409, "from the file"),
        (PastWindow(), 409, "Cannot cancel a maintenance window from the past"),
    ],
)
def test_each_class_has_one_ui_page(exc: OperationError, status: int, text: str) -> None:
    from gateway.http.ui._web import page_error

    page = page_error(exc)
    assert page.code == status and text in (page.description or "")


def test_each_class_has_one_cli_message(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli_common import fail

    for exc, lines in (
        (NotFound("Service", "Nope"), ["error: Service Nope not found"]),
        (Invalid(["a", "b"]), ["error: a", "error: b"]),
        (PastWindow(), ["error: Cannot cancel a maintenance window from the past"]),
        (Conflict([DIFF]), ["error: " + str(Conflict([DIFF]))]),
    ):
        with pytest.raises(SystemExit) as exited:
            fail(exc)
        assert exited.value.code == 1
        assert capsys.readouterr().err.splitlines() == lines
    with pytest.raises(SystemExit) as exited:
        fail(Invalid(["usage"]), status=2)
    assert exited.value.code == 2


def test_one_tree_under_gateway_error() -> None:
    from gateway.errors import GatewayError

    for cls in (NotFound, Invalid, Incompatible, Conflict, Refused, PastWindow):
        assert issubclass(cls, OperationError) and issubclass(OperationError, GatewayError)
    assert not issubclass(OperationError, click.ClickException)


# -- nothing uses the old trees ------------------------------------------------------------------

CORE = {
    f"gateway.core.{name}"
    for name in (
        "services",
        "integrations",
        "moves",
        "inputs",
        "incidents",
        "incident_reads",
        "maintenance",
        "provision",
        "tokens",
    )
}
ERRORS = {
    "ServiceError",
    "OperationError",
    "NotFound",
    "Invalid",
    "Incompatible",
    "Conflict",
    "Refused",
    "PastWindow",
}


def _old_error_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in CORE:
            found += [f"from {node.module} import {a.name}" for a in node.names if a.name in ERRORS]
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.core":
            aliases |= {a.asname or a.name for a in node.names if f"gateway.core.{a.name}" in CORE}
        if isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name in CORE and a.asname}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ERRORS
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return [f"{path.relative_to(REPO)}: {use}" for use in found]


def test_nothing_takes_error_classes_from_the_core_modules() -> None:
    files = [
        p
        for folder in ("gateway", "tests", "plugins", "bench", "examples")
        if (REPO / folder).is_dir()
        for p in sorted((REPO / folder).rglob("*.py"))
    ]
    assert [use for path in files for use in _old_error_uses(path)] == []


def test_the_core_modules_define_no_exceptions_of_their_own() -> None:
    for module in CORE:
        path = REPO / (module.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                assert not any(
                    isinstance(b, ast.Name) and ("Error" in b.id or b.id in ERRORS)
                    for b in node.bases
                ), f"{module}.{node.name}"
