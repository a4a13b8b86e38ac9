"""Writing escalation policies in the web UI over real HTTP: the new and edit forms (levels
added, moved and removed without JavaScript, targets chosen by name), refusals shown on the
form with nothing changed, deleting one (refused while a service uses it), roles and CSRF."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.core import escalation_policies as ep
from gateway.core import users
from gateway.domain import EscalationPolicy
from gateway.store import Tx
from gateway.store.offline import read_sync, write_sync
from tests.ui.harness import UiGateway, csrf_of, signed_in, ui_running

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI

NEW = "/ui/escalation_policies/new"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("policy-forms-ui")) as gateway:
        yield gateway


def _user(gw: UiGateway, name: str) -> str:
    email = f"{name.split()[0].lower()}@example.com"

    def make(tx: Tx) -> str:
        found = tx.user_by_email(email)
        if found is not None:
            return found.id
        return users.create_user(tx, users.UserInput(name=name, email=email)).id

    return write_sync(gw.daemon.db_path, make)


def _schedule(gw: UiGateway, name: str, user_id: str) -> str:
    """A schedule through the REST API (the UI's own form is tested elsewhere)."""
    layer = {
        "start": "2026-01-01T00:00:00Z",
        "rotation_turn_length_seconds": 86400,
        "users": [{"user": {"id": user_id}}],
    }
    made = httpx.post(
        f"{gw.base_url}/schedules",
        json={"schedule": {"name": name, "time_zone": "UTC", "schedule_layers": [layer]}},
        headers={
            "Accept": "application/vnd.pagerduty+json;version=2",
            "Authorization": f"Token token={gw.tokens['manager']}",
        },
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["schedule"]["id"])


def _post(ui: httpx.Client, page_path: str, action: str, data: dict[str, object]) -> httpx.Response:
    """Fetch ``page_path`` for its CSRF token, then POST ``data`` (lists repeat a field)."""
    page = ui.get(page_path)
    assert page.status_code == 200, page.text
    return ui.post(action, data={"csrf_token": csrf_of(page.text), **data})


def _policy(gw: UiGateway, policy_id: str) -> EscalationPolicy:
    return read_sync(gw.daemon.db_path, lambda r: ep.get_policy(r, policy_id))


def _named(gw: UiGateway, name: str) -> int:
    return int(gw.daemon.scalar("SELECT count(*) FROM escalation_policies WHERE name = ?", name))


def _two_levels(ada: str, primary: str, name: str = "Storefront") -> dict[str, object]:
    return {
        "name": name,
        "description": "checkout & cart",
        "num_loops": "1",
        "levels": "2",
        "level-0-delay": "10",
        "level-0-strategy": "assign_to_everyone",
        "level-0-target": [f"schedule:{primary}", ""],
        "level-1-delay": "20",
        "level-1-strategy": "round_robin",
        "level-1-target": [f"user:{ada}", ""],
        "action": "save",
    }


def test_create_a_policy_with_levels_targets_by_name_and_edit_it(gw: UiGateway) -> None:
    ada, bo = _user(gw, "Ada Admin"), _user(gw, "Bo Backup")
    primary = _schedule(gw, "Storefront primary", ada)
    with signed_in(gw, "manager") as ui:
        form = ui.get(NEW).text
        assert "Ada Admin (ada@example.com)" in form and "Storefront primary" in form
        assert f'value="schedule:{primary}"' in form  # chosen by name, the id stays inside
        made = _post(ui, NEW, NEW, _two_levels(ada, primary))
        assert made.status_code == 303, made.text
        page = ui.get(made.headers["location"])
        assert "Escalation policy Storefront created." in page.text
        assert f'<a href="/ui/schedules/{primary}">Storefront primary</a>' in page.text
        assert "Escalates after 10 min." in page.text and "one at a time" in page.text
        pid = made.headers["location"].rsplit("/", 1)[-1]
        policy = _policy(gw, pid)
        assert policy.num_loops == 1 and policy.description == "checkout & cart"
        assert [(r.escalation_delay_in_minutes, r.assignment_strategy) for r in policy.rules] == [
            (10, "assign_to_everyone"),
            (20, "round_robin"),
        ]
        first, second = policy.rules
        assert [(t.type, t.id) for t in first.targets] == [("schedule", primary)]

        # The edit form is filled from the policy; the levels swap, a target is added.
        edit = f"/ui/escalation_policies/{pid}/edit"
        shown = ui.get(edit).text
        assert (
            'name="level-1-delay" type="number" min="0" step="1" inputmode="numeric" value="20"'
            in (shown)
        )
        assert f'<option value="user:{ada}" selected>' in shown
        data = _two_levels(ada, primary, name="Storefront (EU)")
        data |= {
            "level-0-id": first.id,
            "level-1-id": second.id,
            "level-1-target": [f"user:{ada}", f"user:{bo}"],
        }
        swapped = _post(ui, edit, edit, {**data, "action": "down-0"})
        assert swapped.status_code == 200  # the form again, levels swapped, nothing saved
        assert _policy(gw, pid).name == "Storefront"
        html = swapped.text
        assert html.index(f'value="{second.id}"') < html.index(f'value="{first.id}"')
        data |= {
            "level-0-id": second.id,
            "level-0-delay": "20",
            "level-0-strategy": "round_robin",
            "level-0-target": [f"user:{ada}", f"user:{bo}"],
            "level-1-id": first.id,
            "level-1-delay": "10",
            "level-1-strategy": "assign_to_everyone",
            "level-1-target": [f"schedule:{primary}"],
        }
        saved = _post(ui, edit, edit, data)
        assert saved.status_code == 303, saved.text
    policy = _policy(gw, pid)
    assert policy.name == "Storefront (EU)"
    assert [r.id for r in policy.rules] == [second.id, first.id]  # rule ids kept, reordered
    assert [t.id for t in policy.rules[0].targets] == [ada, bo]


def test_level_buttons_change_the_form_and_write_nothing(gw: UiGateway) -> None:
    ada = _user(gw, "Ada Admin")
    primary = _schedule(gw, "Buttons primary", ada)
    with signed_in(gw, "manager") as ui:
        data = _two_levels(ada, primary, name="Buttons")
        added = _post(ui, NEW, NEW, {**data, "action": "add"})
        assert added.status_code == 200 and "<legend>Level 3</legend>" in added.text
        removed = _post(ui, NEW, NEW, {**data, "action": "remove-0"})
        assert removed.status_code == 200 and "<legend>Level 2</legend>" not in removed.text
        assert f'value="user:{ada}" selected' in removed.text  # level 2 became level 1
        more = _post(ui, NEW, NEW, {**data, "action": "more"})
        assert more.text.count("— add a target —") == 2  # one empty slot per level
        odd = _post(ui, NEW, NEW, {**data, "action": "up-99", "levels": "many"})
        assert odd.status_code == 200  # a hand-made button or count changes nothing
    assert _named(gw, "Buttons") == 0


def test_refusals_come_back_on_the_form_and_change_nothing(gw: UiGateway) -> None:
    ada = _user(gw, "Ada Admin")
    primary = _schedule(gw, "Refusals primary", ada)
    with signed_in(gw, "manager") as ui:
        data = _two_levels(ada, primary, name="Refused")
        zero = _post(ui, NEW, NEW, {**data, "level-0-delay": "0", "level-1-delay": "soon"})
        assert zero.status_code == 400
        assert "level 1: delay (minutes) must be at least 1" in zero.text
        assert "level 2: delay (minutes) must be an integer" in zero.text
        assert 'value="soon"' in zero.text  # the form comes back as typed
        huge = _post(ui, NEW, NEW, {**data, "level-0-delay": "9" * 20, "num_loops": "9" * 20})
        assert huge.status_code == 400  # it overflowed the database's integers: a 500 before
        assert "level 1: delay (minutes) must be an integer from 0 to 525600" in huge.text
        assert "repeats must be an integer from 0 to 100" in huge.text
        empty = _post(ui, NEW, NEW, {**data, "level-1-target": ["", ""]})
        assert empty.status_code == 400 and "level 2: targets must list 1 to 10" in empty.text
        gone = _post(ui, NEW, NEW, {**data, "level-0-target": ["user:PNOSUCH"]})
        assert gone.status_code == 400 and "user PNOSUCH does not exist" in gone.text
        assert _named(gw, "Refused") == 0
        taken = _post(ui, NEW, NEW, {**data, "name": "Default"})
        assert taken.status_code == 400 and "already named" in taken.text
        # Editing: the same checks, the policy unchanged.
        made = _post(ui, NEW, NEW, data)
        assert made.status_code == 303
        pid = made.headers["location"].rsplit("/", 1)[-1]
        edit = f"/ui/escalation_policies/{pid}/edit"
        bad = _post(ui, edit, edit, {**data, "name": "", "num_loops": "-1"})
        assert bad.status_code == 400
        assert "name is required" in bad.text and "repeats must be an integer" in bad.text
        assert _policy(gw, pid).name == "Refused" and _policy(gw, pid).num_loops == 1
        assert ui.get("/ui/escalation_policies/PNOSUCH/edit").status_code == 404


def test_delete_is_refused_while_a_service_uses_the_policy(gw: UiGateway) -> None:
    ada = _user(gw, "Ada Admin")
    primary = _schedule(gw, "Delete primary", ada)
    with signed_in(gw, "manager") as ui:
        made = _post(ui, NEW, NEW, _two_levels(ada, primary, name="In use"))
        pid = made.headers["location"].rsplit("/", 1)[-1]
        page = f"/ui/escalation_policies/{pid}"
        write_sync(
            gw.daemon.db_path,
            lambda tx: tx.insert_service(name="Uses it", escalation_policy_id=pid),
        )
        refused = _post(ui, page, f"{page}/delete", {})
        assert refused.status_code == 400
        assert "is used by 1 service(s): Uses it" in refused.text and 'role="alert"' in refused.text
        assert _named(gw, "In use") == 1
        # The schedule a policy targets cannot be deleted either (the schedules' rule).
        schedule_page = f"/ui/schedules/{primary}"
        kept = _post(ui, schedule_page, f"{schedule_page}/delete", {})
        assert kept.status_code == 409 and "is used by an escalation policy" in kept.text


def test_roles_and_csrf(gw: UiGateway) -> None:
    """Every policy form refuses a responder (403) and a POST without this session's CSRF
    token (400), and nothing changes."""
    ada = _user(gw, "Ada Admin")
    primary = _schedule(gw, "Roles primary", ada)
    data = _two_levels(ada, primary, name="Not allowed")
    with signed_in(gw, "manager") as ui:
        made = _post(ui, NEW, NEW, _two_levels(ada, primary, name="Guarded"))
    page = made.headers["location"]
    pid = page.rsplit("/", 1)[-1]
    forms: dict[str, dict[str, object]] = {NEW: data, f"{page}/edit": data, f"{page}/delete": {}}

    def unchanged() -> None:
        assert _policy(gw, pid).name == "Guarded" and _named(gw, "Not allowed") == 0

    with signed_in(gw, "observer") as ui:
        assert "New escalation policy" not in ui.get("/ui/escalation_policies").text
        shown = ui.get(page).text
        assert "Edit this policy" not in shown and "Delete this policy" not in shown
    with signed_in(gw, "responder") as ui:
        assert ui.get(NEW).status_code == 403
        assert ui.get(f"{page}/edit").status_code == 403
        token = csrf_of(ui.get("/ui/escalation_policies").text)
        for action, fields in forms.items():
            refused = ui.post(action, data={"csrf_token": token, **fields})
            assert refused.status_code == 403 and "Manager" in refused.text, action
    unchanged()
    with signed_in(gw, "manager") as ui:
        assert "New escalation policy" in ui.get("/ui/escalation_policies").text
        for action, fields in forms.items():
            stale = ui.post(action, data={"csrf_token": "forged", **fields})
            assert stale.status_code == 400 and "CSRF" in stale.text, action
            assert ui.post(action, data=fields).status_code == 400, action
    unchanged()


def test_a_service_page_picks_its_policy_by_name(gw: UiGateway) -> None:
    ada = _user(gw, "Ada Admin")
    primary = _schedule(gw, "Service primary", ada)
    sid = write_sync(gw.daemon.db_path, lambda tx: tx.insert_service(name="Picky shop").id)
    page = f"/ui/services/{sid}"
    action = f"{page}/escalation_policy"
    with signed_in(gw, "manager") as ui:
        made = _post(ui, NEW, NEW, _two_levels(ada, primary, name="Picked"))
        pid = made.headers["location"].rsplit("/", 1)[-1]
        shown = ui.get(page).text
        assert f'<option value="{pid}">Picked</option>' in shown and "Change policy" in shown
        changed = _post(ui, page, action, {"escalation_policy": pid})
        assert changed.status_code == 303
        assert "now uses the escalation policy Picked" in ui.get(page).text
        assert (
            gw.daemon.scalar("SELECT escalation_policy_id FROM services WHERE id = ?", sid) == pid
        )
        refused = _post(ui, page, action, {"escalation_policy": "PNOSUCH"})
        assert refused.status_code == 303
        notice = ui.get(page).text
        assert "Escalation policy not changed: escalation_policy PNOSUCH does not exist" in notice
        assert (
            gw.daemon.scalar("SELECT escalation_policy_id FROM services WHERE id = ?", sid) == pid
        )
    with signed_in(gw, "responder") as ui:
        assert "Change policy" not in ui.get(page).text
        token = csrf_of(ui.get(page).text)
        denied = ui.post(action, data={"csrf_token": token, "escalation_policy": "PDEFALT"})
        assert denied.status_code == 403
    with signed_in(gw, "manager") as ui:
        assert ui.post(action, data={"escalation_policy": "PDEFALT"}).status_code == 400  # CSRF
    assert gw.daemon.scalar("SELECT escalation_policy_id FROM services WHERE id = ?", sid) == pid
