"""Incident notes over REST: PagerDuty's shapes, the timeline's annotate entries, refusals."""

from __future__ import annotations

from pathlib import Path

from gateway.core.incident_notes import MAX_NOTE_CHARS
from gateway.testing import gateway_running
from tests.incident_helpers import CONFIG, WEB_KEY, error, headers, make_tokens, trigger


async def test_notes_are_added_listed_and_shown_in_the_timeline(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, WEB_KEY, "disk")
        user, view = headers(tokens["limited_user"]), headers(tokens["observer"])
        assert (await gw.client.get("/incidents/1/notes", headers=view)).json() == {"notes": []}
        for text in ("first look", "rebooted db01"):
            answer = await gw.client.post(
                "/incidents/1/notes", headers=user, json={"note": {"content": text}}
            )
            assert answer.status_code == 200, answer.text
        note = answer.json()["note"]
        assert note["content"] == "rebooted db01" and note["type"] == "incident_note"
        assert note["user"]["summary"] == "oncall@example.com"
        listed = (await gw.client.get("/incidents/1/notes", headers=view)).json()["notes"]
        assert [n["content"] for n in listed] == ["first look", "rebooted db01"]
        assert listed[1]["id"] == note["id"]
        timeline = await gw.client.get("/incidents/1/log_entries", headers=view)
        last = timeline.json()["log_entries"][-1]
        assert (last["type"], last["id"], last["note"]) == (
            "annotate_log_entry",
            note["id"],
            "rebooted db01",
        )


async def test_bad_notes_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        tokens = await make_tokens(gw)
        await trigger(gw.client, WEB_KEY, "disk")
        user = headers(tokens["user"])
        for body in (
            {"note": {"content": ""}},
            {"note": {"content": "   "}},
            {"note": {"content": 42}},
            {"note": {}},
            {"note": {"content": "x" * (MAX_NOTE_CHARS + 1)}},
            {"note": "text"},
        ):
            answer = await gw.client.post("/incidents/1/notes", headers=user, json=body)
            assert error(answer)[:2] == (400, 2001), body
        missing = await gw.client.post(
            "/incidents/PNOSUCH/notes", headers=user, json={"note": {"content": "hi"}}
        )
        assert error(missing)[0] == 404
        assert error(await gw.client.get("/incidents/77/notes", headers=user))[0] == 404
        no_from = await gw.client.post(
            "/incidents/1/notes",
            headers=headers(tokens["user"], None),
            json={"note": {"content": "x"}},
        )
        assert error(no_from)[:2] == (400, 2016)
        (incident,) = await gw.incidents()
        assert [e.type for e in await gw.log_entries(incident.id)] == ["trigger_log_entry"]
