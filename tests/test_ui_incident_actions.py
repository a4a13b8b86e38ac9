"""The incident page's notes and snooze: forms over the same core as REST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
