"""Users in the web UI (plain forms, no JavaScript): the list and the form to add one, a
user's page with contact methods and notification rules named by label, and who may
change them: admins anyone's, a user's own token their own, nobody else."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from gateway.core import users
from gateway.store import Tx
from gateway.store.offline import write_sync
from tests.ui.harness import UiGateway, create_token, post_form, signed_in, ui_running

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("users-ui")) as gateway:
        gateway.tokens["admin"] = create_token(gateway.daemon, "admin", "admin")
        yield gateway


def _add_user(gw: UiGateway, name: str, email: str, **extra: str) -> str:
    with signed_in(gw, "admin") as ui:
        made = post_form(
            ui, "/ui/users", "/ui/users/new", name=name, email=email, role="limited_user", **extra
        )
        assert made.status_code == 303, made.text
        return made.headers["location"].rsplit("/", 1)[-1]


def test_an_admin_adds_a_user_who_gets_the_defaults(gw: UiGateway) -> None:
    user_id = _add_user(gw, "Ada Lovelace", "ada@ui.example", time_zone="Europe/London")
    with signed_in(gw, "observer") as ui:
        listing = ui.get("/ui/users").text
        assert "Ada Lovelace" in listing and "ada@ui.example" in listing
        assert "Add a user" not in listing  # observers see no form
        page = ui.get(f"/ui/users/{user_id}").text
    assert "Europe/London" in page and "limited_user" in page
    assert re.search(r"<td>Default</td>\s*<td>Email</td>\s*<td>ada@ui.example</td>", page)
    assert page.count("immediately") == 2 and "Add a contact method" not in page
    assert user_id not in re.sub(r'(href|action)="[^"]*"', "", page)  # names, not ids


def test_bad_input_shows_the_form_again_with_every_problem(gw: UiGateway) -> None:
    with signed_in(gw, "admin") as ui:
        bad = post_form(
            ui, "/ui/users", "/ui/users/new", name="", email="nope", time_zone="Mars/Base"
        )
    assert bad.status_code == 400
    assert "name must be a non-empty string" in bad.text and "Mars/Base" in bad.text
    assert gw.daemon.scalar("SELECT count(*) FROM users WHERE email = 'nope'") == 0


def test_only_admins_add_users(gw: UiGateway) -> None:
    with signed_in(gw, "manager") as ui:
        refused = post_form(ui, "/ui/users", "/ui/users/new", name="M", email="m@ui.example")
    assert refused.status_code == 403 and "admin or owner" in refused.text


def test_contact_methods_and_rules_added_and_deleted_by_label(gw: UiGateway) -> None:
    user_id = _add_user(gw, "Grace Hopper", "grace@ui.example")
    page = f"/ui/users/{user_id}"
    with signed_in(gw, "admin") as ui:
        sms = post_form(
            ui, page, f"{page}/contact_methods/new",
            type="sms_contact_method", label="Mobile", address="555",
        )  # fmt: skip
        assert sms.status_code == 400 and "no loaded plugin" in sms.text
        added = post_form(
            ui, page, f"{page}/contact_methods/new",
            type="email_contact_method", label="Pager", address="pager@ui.example",
        )  # fmt: skip
        assert added.status_code == 303
        pager = gw.daemon.scalar("SELECT id FROM contact_methods WHERE label = 'Pager'")
        rule = post_form(
            ui, page, f"{page}/notification_rules/new",
            contact_method=pager, start_delay_in_minutes="5", urgency="high",
        )  # fmt: skip
        assert rule.status_code == 303
        shown = ui.get(page).text
        assert "5 min" in shown and "Pager <span" in shown
        bad_rule = post_form(
            ui, page, f"{page}/notification_rules/new",
            contact_method=pager, start_delay_in_minutes="-3", urgency="high",
        )  # fmt: skip
        assert bad_rule.status_code == 400 and "start_delay_in_minutes" in bad_rule.text
        in_use = post_form(ui, page, f"{page}/contact_methods/{pager}/delete")
        assert in_use.status_code == 409 and "delete or change those rules first" in in_use.text
        rule_id = gw.daemon.scalar(
            "SELECT id FROM notification_rules WHERE contact_method_id = ?", pager
        )
        assert post_form(ui, page, f"{page}/notification_rules/{rule_id}/delete").status_code == 303
        assert post_form(ui, page, f"{page}/contact_methods/{pager}/delete").status_code == 303
        assert "Pager" not in ui.get(page).text
        gone = post_form(ui, page, f"{page}/delete")
        assert gone.status_code == 303
        assert ui.get(page).status_code == 404


def test_a_user_changes_their_own_contact_methods_only(gw: UiGateway) -> None:
    mine = _add_user(gw, "Self Service", "self@ui.example")
    theirs = _add_user(gw, "Someone Else", "else@ui.example")
    done = gw.daemon.cli("token", "create", "--user", "self@ui.example", "--name", "self")
    assert done.returncode == 0, done.stderr
    gw.tokens["self"] = done.stdout.strip().splitlines()[-1].split()[-1]
    with signed_in(gw, "self") as ui:
        assert "Add a contact method" in ui.get(f"/ui/users/{mine}").text
        assert "Add a contact method" not in ui.get(f"/ui/users/{theirs}").text
        ok = post_form(
            ui, f"/ui/users/{mine}", f"/ui/users/{mine}/contact_methods/new",
            type="email_contact_method", label="Home", address="home@ui.example",
        )  # fmt: skip
        assert ok.status_code == 303
        refused = post_form(
            ui, f"/ui/users/{theirs}", f"/ui/users/{theirs}/contact_methods/new",
            type="email_contact_method", label="Home", address="home2@ui.example",
        )  # fmt: skip
        assert refused.status_code == 403 and "own token" in refused.text


def test_the_list_pages_by_25_and_searches(gw: UiGateway) -> None:
    def add(tx: Tx) -> None:
        for n in range(30):
            users.create_user(
                tx, users.UserInput(name=f"Paged {n:02d}", email=f"p{n}@page.example")
            )

    write_sync(gw.daemon.db_path, add)
    with signed_in(gw, "observer") as ui:
        first = ui.get("/ui/users?query=page.example").text
        assert "30 users match" in first and "showing 1\u201325" in first and "Paged 24" in first
        assert "Paged 25" not in first and 'rel="next"' in first
        second = ui.get("/ui/users?query=page.example&offset=25").text
        assert "showing 26\u201330" in second and "Paged 29" in second and 'rel="prev"' in second
        assert ui.get("/ui/users?offset=-1").status_code == 400


def test_a_rule_for_assigned_incident_changes_from_the_user_page(gw: UiGateway) -> None:
    user_id = _add_user(gw, "Watcher Ui", "watcher@ui.example")
    page = f"/ui/users/{user_id}"
    method = gw.daemon.scalar("SELECT id FROM contact_methods WHERE user_id = ?", user_id)
    with signed_in(gw, "admin") as ui:
        form = ui.get(page).text
        assert 'name="type"' in form and "assigned to them changes" in form
        added = post_form(
            ui, page, f"{page}/notification_rules/new",
            type="status_change_notification_rule", contact_method=method,
            start_delay_in_minutes="0", urgency="high",
        )  # fmt: skip
        assert added.status_code == 303, added.text
        shown = ui.get(page).text
        refused = post_form(
            ui, page, f"{page}/notification_rules/new",
            type="status_change_notification_rule", contact_method=method,
            start_delay_in_minutes="0", urgency="low",
        )  # fmt: skip
    assert "<td>assigned incident changes</td>" in shown
    assert refused.status_code == 400 and "high-urgency incidents only" in refused.text
    stored = gw.daemon.scalar(
        "SELECT count(*) FROM notification_rules WHERE user_id = ?"
        " AND type = 'status_change_notification_rule'",
        user_id,
    )
    assert stored == 1
