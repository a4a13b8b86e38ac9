"""Writing schedules in the web UI over real HTTP: the new and edit forms (wall-clock times in
the schedule's zone, turn presets and custom lengths, users in order by name, restrictions,
layers added, moved and removed without JavaScript), deleting one (refused while a policy
targets it), adding and removing overrides (also on a schedule the configuration file
declares), refusals on the form with nothing changed, roles and CSRF; and a policy the
configuration file declares, refused on its forms."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.core import schedules, users
from gateway.core.schedules import ScheduleDetails
from gateway.store import Tx
from gateway.store.offline import read_sync, write_sync
from tests.ui.harness import CONFIG, UiGateway, csrf_of, signed_in, ui_running

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI

NEW = "/ui/schedules/new"
DECLARED = """
[[users]]
name = "Cy Config"
email = "cy@example.com"

[[schedules]]
name = "Declared rota"
time_zone = "UTC"

[[schedules.layers]]
start = 2026-01-01T00:00:00Z
rotation_turn_length_seconds = 86400
users = ["cy@example.com"]

[[escalation_policies]]
name = "Declared policy"

  [[escalation_policies.escalation_rules]]
  escalation_delay_in_minutes = 15
  schedules = ["Declared rota"]
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("schedule-forms-ui"), CONFIG + DECLARED) as gateway:
        yield gateway


def _user(gw: UiGateway, name: str) -> str:
    email = f"{name.lower()}@example.com"

    def make(tx: Tx) -> str:
        found = tx.user_by_email(email)
        if found is not None:
            return found.id
        return users.create_user(tx, users.UserInput(name=name, email=email)).id

    return write_sync(gw.daemon.db_path, make)


def _post(ui: httpx.Client, page_path: str, action: str, data: dict[str, object]) -> httpx.Response:
    """Fetch ``page_path`` for its CSRF token, then POST ``data`` (lists repeat a field)."""
    page = ui.get(page_path)
    assert page.status_code == 200, page.text
    return ui.post(action, data={"csrf_token": csrf_of(page.text), **data})


def _details(gw: UiGateway, schedule_id: str) -> ScheduleDetails:
    return read_sync(gw.daemon.db_path, lambda r: schedules.get_schedule(r, schedule_id))


def _named(gw: UiGateway, name: str) -> int:
    return int(gw.daemon.scalar("SELECT count(*) FROM schedules WHERE name = ?", name))


def _berlin(name: str, first: str, second: str) -> dict[str, object]:
    """A weekly Berlin rotation, Monday 09:00 local, office hours Monday to Friday."""
    return {
        "name": name,
        "time_zone": "Europe/Berlin",
        "description": "first line",
        "layers": "1",
        "layer-0-name": "Weekly",
        "layer-0-start": "2030-03-04T09:00",
        "layer-0-virtual_start": "",
        "layer-0-end": "",
        "layer-0-turn": "604800",
        "layer-0-turn_count": "1",
        "layer-0-turn_unit": "days",
        "layer-0-user": [first, second, ""],
        "layer-0-restrictions": "1",
        "layer-0-r0-type": "weekly_restriction",
        "layer-0-r0-day": "1",
        "layer-0-r0-start": "09:00",
        "layer-0-r0-hours": "105",
        "action": "save",
    }


def test_create_a_schedule_in_its_zone_and_edit_it(gw: UiGateway) -> None:
    alice, bob = _user(gw, "Alice"), _user(gw, "Bob")
    with signed_in(gw, "manager") as ui:
        form = ui.get(NEW).text
        assert "Alice (alice@example.com)" in form and '<option value="Europe/Berlin">' in form
        made = _post(ui, NEW, NEW, _berlin("Primary", bob, alice))
        assert made.status_code == 303, made.text
        page = ui.get(made.headers["location"]).text
        assert "Schedule Primary created." in page
        sid = made.headers["location"].rsplit("/", 1)[-1]
        details = _details(gw, sid)
        assert details.schedule.time_zone == "Europe/Berlin"
        (layer,) = details.layers
        assert layer.start == "2030-03-04T08:00:00.000Z"  # 09:00 CET
        assert layer.rotation_virtual_start == layer.start  # left empty: the layer's start
        assert layer.users == [bob, alice] and layer.rotation_turn_length_seconds == 604800
        assert layer.restrictions == [
            {
                "type": "weekly_restriction",
                "start_time_of_day": "09:00:00",
                "duration_seconds": 378000,
                "start_day_of_week": 1,
            }
        ]
        assert "every week from Monday 09:00 for 4 days 9 hours" in page

        # The edit form shows local times; a summer start and a custom 12-hour turn save.
        edit = f"/ui/schedules/{sid}/edit"
        shown = ui.get(edit).text
        assert 'value="2030-03-04T09:00"' in shown and f'value="{layer.id}"' in shown
        assert f'<option value="{bob}" selected>Bob (bob@example.com)</option>' in shown
        data = _berlin("Primary (EU)", alice, bob) | {
            "layer-0-id": layer.id,
            "layer-0-start": "2030-07-01T09:00",
            "layer-0-turn": "custom",
            "layer-0-turn_count": "12",
            "layer-0-turn_unit": "hours",
            "layer-0-r0-type": "",  # removes the restriction
        }
        saved = _post(ui, edit, edit, data)
        assert saved.status_code == 303, saved.text
    details = _details(gw, sid)
    (changed,) = details.layers
    assert details.schedule.name == "Primary (EU)" and changed.id == layer.id
    assert changed.start == "2030-07-01T07:00:00.000Z"  # 09:00 CEST
    assert changed.rotation_turn_length_seconds == 43200
    assert changed.users == [alice, bob] and changed.restrictions == []


def test_layer_buttons_change_the_form_and_write_nothing(gw: UiGateway) -> None:
    alice, bob = _user(gw, "Alice"), _user(gw, "Bob")
    data = _berlin("Buttons", alice, bob)
    with signed_in(gw, "manager") as ui:
        added = _post(ui, NEW, NEW, {**data, "action": "add"})
        assert added.status_code == 200 and "<legend>Layer 2</legend>" in added.text
        restricted = _post(ui, NEW, NEW, {**data, "action": "add-restriction-0"})
        assert restricted.text.count('name="layer-0-r1-type"') == 1
        two = data | {
            "layers": "2",
            "layer-1-name": "Nights",
            "layer-1-start": "2030-03-04T20:00",
            "layer-1-turn": "86400",
            "layer-1-user": [bob],
        }
        moved = _post(ui, NEW, NEW, {**two, "action": "up-1"})
        assert moved.text.index('value="Nights"') < moved.text.index('value="Weekly"')
        removed = _post(ui, NEW, NEW, {**two, "action": "remove-0"})
        assert 'value="Weekly"' not in removed.text and 'value="Nights"' in removed.text
    assert _named(gw, "Buttons") == 0


def test_refusals_come_back_on_the_form_and_change_nothing(gw: UiGateway) -> None:
    alice, bob = _user(gw, "Alice"), _user(gw, "Bob")
    data = _berlin("Refused", alice, bob)
    with signed_in(gw, "manager") as ui:
        bad = _post(
            ui,
            NEW,
            NEW,
            data
            | {
                "time_zone": "Mars/Olympus",
                "layer-0-user": ["", ""],
                "layer-0-turn": "custom",
                "layer-0-turn_count": "0.5",
                "layer-0-turn_unit": "minutes",
                "layer-0-r0-hours": "200",
            },
        )
        assert bad.status_code == 400
        text = bad.text
        assert "time zone &#39;Mars/Olympus&#39; is not a known IANA time zone" in text
        assert "layer 1: users must list at least one user" in text
        assert "layer 1: turn length (in seconds) must be from 60" in text
        assert "layer 1: restriction 1: length (in seconds) must be an integer" in text
        assert 'value="Mars/Olympus"' in text  # refilled as typed
        nonsense = _post(ui, NEW, NEW, data | {"layer-0-start": "next monday"})
        assert nonsense.status_code == 400 and "layer 1: start" in nonsense.text
        # Out of datetime's range once in UTC, or infinite: refused, never a 500.
        extreme = {
            "time_zone": "America/New_York",
            "layer-0-start": "9999-12-31T23:59",
            "layer-0-end": "0001-01-01T00:00",
            "layer-0-r0-hours": "inf",
        }
        far = _post(ui, NEW, NEW, data | extreme)
        assert far.status_code == 400 and "between the years 1970 and 2999" in far.text
        assert "restriction 1: length (in seconds) must be an integer" in far.text
        assert _named(gw, "Refused") == 0
        made = _post(ui, NEW, NEW, data)
        sid = made.headers["location"].rsplit("/", 1)[-1]
        edit = f"/ui/schedules/{sid}/edit"
        later = _post(ui, edit, edit, data | {"name": "", "layer-0-end": "2030-01-01T00:00"})
        assert later.status_code == 400
        assert "name is required" in later.text and "layer 1: end must be after its start" in (
            later.text
        )
        assert _details(gw, sid).schedule.name == "Refused"
        assert ui.get("/ui/schedules/PNOSUCH/edit").status_code == 404


def test_delete_a_schedule(gw: UiGateway) -> None:
    alice, bob = _user(gw, "Alice"), _user(gw, "Bob")
    with signed_in(gw, "manager") as ui:
        made = _post(ui, NEW, NEW, _berlin("Short lived", alice, bob))
        page = made.headers["location"]
        gone = _post(ui, page, f"{page}/delete", {})
        assert gone.status_code == 303
        assert "Schedule deleted." in ui.get(gone.headers["location"]).text
        assert _named(gw, "Short lived") == 0
        # A schedule the configuration file declares offers no edit or delete, and the
        # core refuses a hand-made POST.
        declared = gw.daemon.scalar("SELECT id FROM schedules WHERE name = 'Declared rota'")
        shown = ui.get(f"/ui/schedules/{declared}").text
        assert "Edit this schedule" not in shown and "Delete this schedule" not in shown
        kept = _post(ui, f"/ui/schedules/{declared}", f"/ui/schedules/{declared}/delete", {})
        assert kept.status_code == 409 and "declared in the configuration file" in kept.text
        assert _named(gw, "Declared rota") == 1


def test_add_and_remove_an_override(gw: UiGateway) -> None:
    alice, bob, carol = _user(gw, "Alice"), _user(gw, "Bob"), _user(gw, "Carol")
    with signed_in(gw, "manager") as ui:
        made = _post(ui, NEW, NEW, _berlin("Swaps", alice, bob))
        page = made.headers["location"]
        sid = page.rsplit("/", 1)[-1]
        shown = ui.get(page).text
        assert "Add an override" in shown and "Europe/Berlin time" in shown
        action = f"{page}/overrides"
        added = _post(
            ui,
            page,
            action,
            {"user_id": carol, "start": "2030-03-05T18:00", "end": "2030-03-06T08:00"},
        )
        assert added.status_code == 303, added.text
        listed = ui.get(page).text
        assert "Override added." in listed
        assert 'title="2030-03-05 17:00:00 UTC"' in listed  # relative, the exact time on hover
        (override,) = read_sync(
            gw.daemon.db_path, lambda r: schedules.get_schedule(r, sid).overrides
        )
        assert (override.user_id, override.start, override.end) == (
            carol,
            "2030-03-05T17:00:00.000Z",
            "2030-03-06T07:00:00.000Z",
        )
        backwards = _post(
            ui,
            page,
            action,
            {"user_id": carol, "start": "2030-03-06T08:00", "end": "2030-03-05T18:00"},
        )
        assert backwards.status_code == 400 and "end must be after its start" in backwards.text
        assert 'value="2030-03-06T08:00"' in backwards.text  # the form refilled
        nobody = _post(ui, page, action, {"user_id": "", "start": "2030-03-05T18:00", "end": ""})
        assert nobody.status_code == 400 and "user" in nobody.text
        assert len(_details(gw, sid).overrides) == 1
        removed = _post(ui, page, f"{action}/{override.id}/delete", {})
        assert removed.status_code == 303 and not _details(gw, sid).overrides
        again = _post(ui, page, f"{action}/{override.id}/delete", {})
        assert "already removed" in ui.get(again.headers["location"]).text
        # Overrides stay open on a schedule the configuration file declares.
        declared = gw.daemon.scalar("SELECT id FROM schedules WHERE name = 'Declared rota'")
        swap = _post(
            ui,
            f"/ui/schedules/{declared}",
            f"/ui/schedules/{declared}/overrides",
            {"user_id": carol, "start": "2030-03-05T18:00", "end": "2030-03-06T08:00"},
        )
        assert swap.status_code == 303, swap.text


def test_roles_and_csrf(gw: UiGateway) -> None:
    """Every schedule form refuses a responder (403) and a POST without this session's CSRF
    token (400), and nothing changes."""
    alice, bob = _user(gw, "Alice"), _user(gw, "Bob")
    data = _berlin("Not allowed", alice, bob)
    override: dict[str, object] = {
        "user_id": alice,
        "start": "2030-03-05T18:00",
        "end": "2030-03-06T08:00",
    }
    with signed_in(gw, "manager") as ui:
        made = _post(ui, NEW, NEW, _berlin("Guarded", alice, bob))
        page = made.headers["location"]
        assert _post(ui, page, f"{page}/overrides", override).status_code == 303
    sid = page.rsplit("/", 1)[-1]
    (kept,) = _details(gw, sid).overrides
    forms: dict[str, dict[str, object]] = {
        NEW: data,
        f"{page}/edit": data | {"name": "Renamed"},
        f"{page}/delete": {},
        f"{page}/overrides": override,
        f"{page}/overrides/{kept.id}/delete": {},
    }

    def unchanged() -> None:
        details = _details(gw, sid)
        assert details.schedule.name == "Guarded" and details.overrides == (kept,)
        assert _named(gw, "Not allowed") == 0

    with signed_in(gw, "observer") as ui:
        assert "New schedule" not in ui.get("/ui/schedules").text
        shown = ui.get(page).text
        assert "Add an override" not in shown and "Remove" not in shown
        assert "Edit this schedule" not in shown and "Delete this schedule" not in shown
    with signed_in(gw, "responder") as ui:
        assert ui.get(NEW).status_code == 403
        assert ui.get(f"{page}/edit").status_code == 403
        token = csrf_of(ui.get(page).text)
        for action, fields in forms.items():
            refused = ui.post(action, data={"csrf_token": token, **fields})
            assert refused.status_code == 403, action
            assert "Manager" in refused.text
    unchanged()
    with signed_in(gw, "manager") as ui:
        assert "New schedule" in ui.get("/ui/schedules").text
        for action, fields in forms.items():
            forged = ui.post(action, data={"csrf_token": "forged", **fields})
            assert forged.status_code == 400 and "CSRF" in forged.text, action
            assert ui.post(action, data=fields).status_code == 400, action
    unchanged()


def test_a_declared_policy_is_changed_in_the_file_only(gw: UiGateway) -> None:
    pid = gw.daemon.scalar("SELECT id FROM escalation_policies WHERE name = 'Declared policy'")
    page = f"/ui/escalation_policies/{pid}"
    with signed_in(gw, "manager") as ui:
        shown = ui.get(page).text
        assert "Edit this policy" not in shown and "Delete this policy" not in shown
        edit = f"{page}/edit"
        form = ui.get(edit).text  # a hand-typed address still shows the form…
        assert "Declared rota" in form
        data = {
            "name": "Renamed",
            "levels": "1",
            "level-0-delay": "15",
            "level-0-target": [f"schedule:{_declared(gw)}"],
            "action": "save",
        }
        refused = ui.post(edit, data={"csrf_token": csrf_of(form), **data})
        assert refused.status_code == 409  # …and the core refuses the change
        assert "declared in the configuration file" in refused.text
        gone = ui.post(f"{page}/delete", data={"csrf_token": csrf_of(form)})
        assert gone.status_code == 409 and "declared in the configuration file" in gone.text
    assert gw.daemon.scalar("SELECT name FROM escalation_policies WHERE id = ?", pid) == (
        "Declared policy"
    )


def _declared(gw: UiGateway) -> str:
    return str(gw.daemon.scalar("SELECT id FROM schedules WHERE name = 'Declared rota'"))
