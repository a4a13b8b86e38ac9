"""The schedule and policy forms with more than 100 people: each user or target slot is a text
box suggesting names from one shared list (a list per slot repeated every person: 1,000
users made a 1.5 MB page), and takes an email address or a schedule's name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.core import escalation_policies as ep
from gateway.core import schedules, users
from gateway.core.inputs import SYSTEM
from gateway.store import Tx
from gateway.store.offline import read_sync, write_sync
from tests.ui.harness import UiGateway, csrf_of, signed_in, ui_running

pytestmark = pytest.mark.slow  # a real daemon process and the token CLI

PEOPLE = 150


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    with ui_running(tmp_path_factory.mktemp("forms-many")) as gateway:

        def crowd(tx: Tx) -> None:
            for n in range(PEOPLE):
                users.create_user(
                    tx, users.UserInput(name=f"Person {n:03d}", email=f"p{n:03d}@example.com")
                )

        write_sync(gateway.daemon.db_path, crowd)
        yield gateway


def _id(gw: UiGateway, email: str) -> str:
    return str(gw.daemon.scalar("SELECT id FROM users WHERE email = ?", email))


def test_schedule_users_are_typed_by_email_from_one_list(gw: UiGateway) -> None:
    path = "/ui/schedules/new"
    data = {
        "name": "Crowded",
        "time_zone": "UTC",
        "layers": "1",
        "layer-0-start": "2030-01-07T09:00",
        "layer-0-turn": "86400",
        "layer-0-user": ["p007@example.com", " P003@Example.com ", ""],
        "action": "save",
    }
    with signed_in(gw, "manager") as ui:
        form = ui.get(path).text
        assert form.count('<option value="p042@example.com">Person 042</option>') == 1
        assert 'name="layer-0-user" type="text" list="people"' in form
        assert '<select id="layer-0-user-0"' not in form
        token = csrf_of(form)
        unknown = ui.post(path, data={"csrf_token": token, **data, "layer-0-user": ["nobody@x"]})
        assert (
            unknown.status_code == 400 and "user &#39;nobody@x&#39; does not exist" in unknown.text
        )
        assert 'value="nobody@x"' in unknown.text  # refilled as typed
        made = ui.post(path, data={"csrf_token": token, **data})
        assert made.status_code == 303, made.text
        sid = made.headers["location"].rsplit("/", 1)[-1]
        (layer,) = read_sync(gw.daemon.db_path, lambda r: schedules.get_schedule(r, sid)).layers
        assert layer.users == [_id(gw, "p007@example.com"), _id(gw, "p003@example.com")]
        edit = ui.get(f"/ui/schedules/{sid}/edit").text
        assert 'value="p007@example.com"' in edit and 'value="p003@example.com"' in edit
        assert len(edit) < 40_000  # one shared list, not one per slot


def test_policy_targets_are_typed_by_email_or_schedule_name(gw: UiGateway) -> None:
    path = "/ui/escalation_policies/new"
    lead = _id(gw, "p001@example.com")

    def rota(tx: Tx) -> str:
        data = schedules.ScheduleInput(
            name="Crowd rota",
            time_zone="UTC",
            layers=[
                {"start": "2030-01-07T09:00:00Z", "rotation_turn_length_seconds": 86400,
                 "users": [lead]}
            ],
        )  # fmt: skip
        return schedules.create_schedule(tx, data, by=SYSTEM).schedule.id

    rota_id = write_sync(gw.daemon.db_path, rota)
    data = {
        "name": "Crowd policy",
        "levels": "1",
        "level-0-delay": "5",
        "level-0-target": ["Crowd rota", "p001@example.com", ""],
        "action": "save",
    }
    with signed_in(gw, "manager") as ui:
        form = ui.get(path).text
        assert '<option value="Crowd rota">schedule: whoever is on call</option>' in form
        assert 'type="text" list="targets"' in form
        token = csrf_of(form)
        unknown = ui.post(path, data={"csrf_token": token, **data, "level-0-target": ["Nope"]})
        assert unknown.status_code == 400 and "user Nope does not exist" in unknown.text
        made = ui.post(path, data={"csrf_token": token, **data})
        assert made.status_code == 303, made.text
        pid = made.headers["location"].rsplit("/", 1)[-1]
        edit = ui.get(f"/ui/escalation_policies/{pid}/edit").text
        assert 'value="Crowd rota"' in edit and 'value="p001@example.com"' in edit
    policy = read_sync(gw.daemon.db_path, lambda r: ep.get_policy(r, pid))
    assert [(t.type, t.id) for t in policy.rules[0].targets] == [
        ("schedule", rota_id),
        ("user", lead),
    ]
