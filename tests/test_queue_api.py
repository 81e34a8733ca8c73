"""The queue REST API on the fake switch: who waits, and taking a caller out to a flow or a number."""

import pytest

from tests.support.provision import DID, setup_number
from tests.support.waiting import wait_until
from tests.test_queue import caller_flow, waiting
from voxology_fs import models

FIRST, SECOND = "+19495550001", "+19495550002"
OTHER = "+13125550100"


@pytest.fixture
def acme(rig):
    return rig.client()


@pytest.fixture
def two_waiting(rig, acme, callback_server):
    """Two callers waiting in acme's queue support, FIRST first."""
    setup_number(acme, callback_server.static("/q", caller_flow()))
    calls = []
    for caller in (FIRST, SECOND):
        calls.append(rig.fake.incoming_call(destination=DID, caller=caller))
        assert wait_until(lambda: len(waiting()) == len(calls), 5)
    yield calls
    for call in calls:
        call.hangup()


def test_the_account_sees_its_queues_and_who_waits_in_order(acme, two_waiting):
    [summary] = acme.get("/Queues").get_json()["queues"]
    assert summary["name"] == "support" and summary["size"] == 2
    assert 0 <= summary["average_wait"] <= summary["longest_wait"] <= 5
    members = acme.get("/Queues/support/Members").get_json()
    assert members["size"] == 2
    assert [(m["position"], m["call_id"]) for m in members["members"]] == [
        (1, two_waiting[0].uuid),
        (2, two_waiting[1].uuid),
    ]
    assert acme.get("/Queues/nosuch/Members").status_code == 404


def test_the_front_caller_taken_to_a_flow_leaves_the_queue_and_runs_it(acme, two_waiting, callback_server):
    url = callback_server.static(
        "/next", {"actions": [{"type": "SAY", "params": {"text": "queue ${queue.result}"}}, {"type": "HANGUP"}]}
    )
    r = acme.post("/Queues/support/Members/front", {"url": url})
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["call_id"] == two_waiting[0].uuid and r.get_json()["command"] == "redirect"
    first = two_waiting[0]
    assert wait_until(lambda: "queue leave" in first.spoken, 5), first.spoken
    # The other caller is now the first, and no agent can take the one taken.
    members = acme.get("/Queues/support/Members").get_json()["members"]
    assert [(m["position"], m["call_id"]) for m in members] == [(1, two_waiting[1].uuid)]
    with models.database.connection_context():
        taken = models.QueueMember.get(models.QueueMember.call == first.uuid)
    assert taken.result == "leave" and taken.left_at is not None


def test_a_caller_taken_to_a_number_is_transferred(rig, acme, two_waiting):
    rig.fake.originate_policy = lambda dialstring, vars: ("busy",)
    second = two_waiting[1]
    r = acme.post(f"/Queues/support/Members/{second.uuid}", {"to": OTHER})
    assert r.status_code == 202, r.get_json()
    assert wait_until(lambda: any(app == "bridge" and OTHER in arg for app, arg in second.executed), 5)
    with models.database.connection_context():
        first_wait = (
            models.QueueMember.select()
            .where(models.QueueMember.call == second.uuid)
            .order_by(models.QueueMember.id)
            .first()
        )
    assert first_wait.result == "leave" and first_wait.taken_at is not None


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "url"),
        ({"url": "http://127.0.0.1/x", "to": OTHER}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"to": "1000"}, "to"),
        ({"to": OTHER, "hold": True}, "hold"),
        ({"url": "http://127.0.0.1/x", "method": "PUT"}, "method"),
    ],
)
def test_a_bad_body_is_refused_and_the_caller_keeps_its_place(acme, two_waiting, body, field):
    r = acme.post("/Queues/support/Members/front", body)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field, r.get_json()
    assert [m.call_id for m in waiting()] == [c.uuid for c in two_waiting]


def test_a_caller_not_waiting_is_not_found(acme, two_waiting):
    r = acme.post("/Queues/support/Members/00000000-0000-4000-8000-000000000000", {"to": OTHER})
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "call_id"
    assert acme.post("/Queues/sales/Members/front", {"to": OTHER}).status_code == 404


def test_another_account_neither_sees_nor_takes_the_callers(rig, two_waiting):
    other = rig.client("other")
    assert other.get("/Queues").get_json()["queues"] == []
    assert other.get("/Queues/support/Members").status_code == 404
    assert other.post("/Queues/support/Members/front", {"to": OTHER}).status_code == 404
    assert other.post(f"/Queues/support/Members/{two_waiting[0].uuid}", {"to": OTHER}).status_code == 404
    assert [m.call_id for m in waiting()] == [c.uuid for c in two_waiting]
