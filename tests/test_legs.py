"""A call's legs, its parent and child calls, on the record and through ``GET /v1/Calls/{id}``."""

import datetime as dt

from tests.support.provision import DID, FAR, HELLO, call_record, setup_number
from tests.support.rig import of_type
from tests.support.waiting import wait_until
from voxology_fs import models, store
from voxology_fs.flow.state import CallState


def legs_of(call_id):
    with models.database.connection_context():
        return list(models.Leg.select().where(models.Leg.call == call_id))


def test_an_inbound_call_is_written_with_its_caller_leg(db):
    account = models.Account.create(name="acme")
    started = dt.datetime(2026, 11, 30, 9, 0, 0)
    state = CallState(
        call_id="c-in",
        direction="inbound",
        caller_no="+19495551212",
        api_no=DID,
        account_id=account.id,
        start_time=started,
    )
    store.create_call(state, "fs1", "chan-1", None)
    [leg] = legs_of("c-in")
    assert (leg.role, leg.direction, leg.from_no, leg.to_no, leg.switch, leg.channel_uuid, leg.created_at) == (
        "caller",
        "inbound",
        "+19495551212",
        DID,
        "fs1",
        "chan-1",
        started,
    )
    assert leg.answered_at is None and leg.ended_at is None

    state.answer_time = started + dt.timedelta(seconds=1)
    state.end_time = started + dt.timedelta(seconds=5)
    state.status, state.hangup_cause = "completed", "NORMAL_CLEARING"
    assert store.finish_call(state)
    [leg] = legs_of("c-in")
    assert (leg.answered_at, leg.ended_at, leg.hangup_cause) == (state.answer_time, state.end_time, "NORMAL_CLEARING")


def test_the_leg_keeps_the_switch_figures_a_watcher_wrote_first(db):
    account = models.Account.create(name="acme")
    started = dt.datetime(2026, 11, 30, 9, 0, 0)
    state = CallState(
        call_id="c-2",
        direction="inbound",
        caller_no="+19495551212",
        api_no=DID,
        account_id=account.id,
        start_time=started,
    )
    store.create_call(state, "fs1", "chan-2", None)
    exact = started + dt.timedelta(seconds=4, microseconds=123456)
    with models.database.connection_context():
        models.Leg.update(ended_at=exact, hangup_cause="USER_BUSY").where(models.Leg.call == "c-2").execute()
    state.end_time, state.status, state.hangup_cause = started + dt.timedelta(seconds=5), "completed", "X"
    assert store.finish_call(state)
    [leg] = legs_of("c-2")
    assert (leg.ended_at, leg.hangup_cause) == (exact, "USER_BUSY")


def test_get_call_shows_its_legs_parent_and_children_within_the_account(rig, callback_server):
    acme, other = rig.client("acme"), rig.client("other")
    setup_number(acme, callback_server.static("/hello", HELLO))
    call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"]
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    assert wait_until(lambda: call_record(call_id).end_time is not None)

    doc = acme.get(f"/Calls/{call_id}").get_json()
    assert doc["parent_call_id"] is None and doc["child_calls"] == []
    # The record says which call server ran it (this process, its socket's port).
    assert call_record(call_id).call_server == rig.server.identity
    assert rig.server.identity.endswith(f":{rig.server.port}")
    [leg] = doc["legs"]
    assert (leg["role"], leg["direction"], leg["from_no"], leg["to_no"]) == ("caller", "outbound", DID, FAR)
    assert leg["answered_at"] and leg["ended_at"] and leg["hangup_cause"] == "NORMAL_CLEARING"
    assert leg["bridged_to"] is None and leg["created_at"] <= leg["answered_at"] <= leg["ended_at"]
    assert "legs" not in acme.get("/Calls").get_json()["calls"][0]  # the list stays lean

    # A child call of acme's, and one of another account's that claims the same parent.
    acme_account = call_record(call_id).account_id
    other_account = models.Account.get(models.Account.name == "other").id
    with models.database.connection_context():
        child = models.Call.create(
            account=acme_account, direction="outbound", status="queued", api_no=DID, parent_call=call_id
        )
        models.Call.create(account=other_account, direction="outbound", status="queued", parent_call=call_id)
    doc = acme.get(f"/Calls/{call_id}").get_json()
    assert doc["child_calls"] == [child.id]
    assert acme.get(f"/Calls/{child.id}").get_json()["parent_call_id"] == call_id
    assert other.get(f"/Calls/{call_id}").status_code == 404


def test_the_answer_time_is_the_switch_answer_not_the_end_of_the_first_action(db, settings, callback_server):
    """A flow whose first media action lasts: the answer time is when the switch answered."""
    from tests.fakefs import FakeSwitch
    from tests.support.provision import provision
    from voxology_fs.callserver import CallServer
    from voxology_fs.timeutil import iso

    flow = {
        "actions": [
            {"type": "PAUSE", "params": {"length": 400}},
            {"type": "SAY", "params": {"text": "answered ${answerTime}"}},
            {"type": "HANGUP"},
        ]
    }
    provision(callback_server.static("/flow", flow))
    server = CallServer(settings)
    server.start()
    fake = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=1.0, media_ms=5)
    fake.start()
    try:
        call = fake.incoming_call(destination=DID, caller="+19495551212")
        assert call.wait_closed(timeout=10)
        assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=5)
    finally:
        fake.stop()
        server.stop()
    answered = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=call.times["answered"])
    assert call.spoken == [f"answered {iso(answered)}"]
    assert call_record(call.uuid).answer_time == answered
    [leg] = legs_of(call.uuid)
    assert leg.answered_at == answered and leg.ended_at is not None
