"""The incident page's notes, snooze and reopen: forms over the same core as REST."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import iso
from tests.ui.harness import PAYMENTS_KEY, UiGateway, post_form, signed_in, ui_running, v2_event

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[UiGateway]:
    with ui_running(tmp_path) as gateway:
        yield gateway


def _incident(gw: UiGateway) -> str:
    assert v2_event(gw, PAYMENTS_KEY, summary="Card declines").status_code == 202
    return str(gw.daemon.scalar("SELECT id FROM incidents ORDER BY number DESC LIMIT 1"))


def test_a_responder_adds_notes_and_snoozes_from_the_incident_page(gw: UiGateway) -> None:
    incident = _incident(gw)
    page_path = f"/ui/incidents/{incident}"
    with signed_in(gw, "responder") as ui:
        page = ui.get(page_path).text
        assert "No notes yet." in page and "Add note</button>" in page
        assert "Snooze</button>" not in page  # only an acknowledged incident can be snoozed
        added = post_form(ui, page_path, f"{page_path}/notes", content="Checked the <db> logs")
        assert added.status_code == 303
        page = ui.get(page_path).text
        assert "Checked the &lt;db&gt; logs" in page and "Note added." in page
        empty = post_form(ui, page_path, f"{page_path}/notes", content="  ")
        assert (
            "Note not added: &#39;content&#39; is required."
            in ui.get(empty.headers["location"]).text
        )
        early = post_form(ui, page_path, f"{page_path}/snooze", duration="3600")
        assert "Not snoozed" in ui.get(early.headers["location"]).text
        post_form(ui, page_path, f"{page_path}/acknowledge")
        assert "Snooze</button>" in ui.get(page_path).text
        snoozed = post_form(ui, page_path, f"{page_path}/snooze", duration="3600")
        assert snoozed.status_code == 303
        page = ui.get(page_path).text
        assert 'id="snoozed-until"' in page and "Snoozed by responder for 3600 seconds" in page
    types = gw.daemon.query(
        "SELECT type FROM log_entries WHERE incident_id = ? ORDER BY seq", incident
    )
    assert [t for (t,) in types] == [
        "trigger_log_entry",
        "annotate_log_entry",
        "acknowledge_log_entry",
        "snooze_log_entry",
    ]
    assert gw.daemon.query(
        "SELECT kind FROM timers WHERE incident_id = ? ORDER BY kind", incident
    ) == [
        ("auto_resolve",),
        ("snooze_end",),
    ]


def test_an_observer_sees_notes_but_no_forms(gw: UiGateway) -> None:
    incident = _incident(gw)
    with signed_in(gw, "observer") as ui:
        page = ui.get(f"/ui/incidents/{incident}").text
        assert 'id="notes-h"' in page and "Add note</button>" not in page


def test_a_resolved_incident_is_reopened_from_its_page_within_the_window(gw: UiGateway) -> None:
    incident = _incident(gw)
    page_path = f"/ui/incidents/{incident}"
    with signed_in(gw, "responder") as ui:
        assert "Reopen</button>" not in ui.get(page_path).text  # open: nothing to reopen
        post_form(ui, page_path, f"{page_path}/resolve")
        assert "Reopen</button>" in ui.get(page_path).text
        # Without the session's CSRF token: refused, nothing changed.
        forged = ui.post(f"{page_path}/reopen", data={"status": "triggered"})
        assert forged.status_code == 400
        assert gw.daemon.scalar("SELECT status FROM incidents WHERE id = ?", incident) == (
            "resolved"
        )
        done = post_form(ui, page_path, f"{page_path}/reopen", status="acknowledged")
        assert done.status_code == 303
        page = ui.get(done.headers["location"]).text
        assert "reopened." in page and "Reopen</button>" not in page
        again = post_form(ui, page_path, f"{page_path}/reopen", status="triggered")
        assert "Not reopened: Incident" in ui.get(again.headers["location"]).text
    assert gw.daemon.scalar("SELECT status FROM incidents WHERE id = ?", incident) == (
        "acknowledged"
    )
    types = gw.daemon.query(
        "SELECT type, agent_id FROM log_entries WHERE incident_id = ? ORDER BY seq", incident
    )
    assert types[-2:] == [("reopen_log_entry", "responder"), ("acknowledge_log_entry", "responder")]


def test_reopen_is_offered_only_to_responders_and_within_the_window(gw: UiGateway) -> None:
    incident = _incident(gw)
    page_path = f"/ui/incidents/{incident}"
    with signed_in(gw, "responder") as ui:
        post_form(ui, page_path, f"{page_path}/resolve")
    with signed_in(gw, "observer") as ui:
        assert "Reopen</button>" not in ui.get(page_path).text
        refused = post_form(ui, page_path, f"{page_path}/reopen", status="triggered")
        assert refused.status_code == 403
    # Resolved 31 days ago: past the window, no button, and the form is refused.
    with sqlite3.connect(gw.daemon.db_path) as db:
        db.execute(
            "UPDATE incidents SET resolved_at = ? WHERE id = ?",
            (iso(datetime.now(UTC) - timedelta(days=31)), incident),
        )
    with signed_in(gw, "responder") as ui:
        assert "Reopen</button>" not in ui.get(page_path).text
        late = post_form(ui, page_path, f"{page_path}/reopen", status="triggered")
        assert "within 30 days of its resolution" in ui.get(late.headers["location"]).text
    assert gw.daemon.scalar("SELECT status FROM incidents WHERE id = ?", incident) == "resolved"
