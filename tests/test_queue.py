"""QUEUE on the fake switch: callers wait in order, agents take them, the flows go on."""

import gevent
import pytest

from tests.support.provision import DID, provision
from tests.support.waiting import wait_until
from voxology_fs import models, queues
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response
from voxology_fs.timeutil import utcnow

AGENT = "+19495550900"


def caller_flow(**params):
    params.setdefault("name", "support")
    return {
        "actions": [
            {"type": "QUEUE", "params": params},
            {"type": "SAY", "params": {"text": "queue ${queue.result}"}},
            {"type": "HANGUP"},
        ]
    }


AGENT_FLOW = {
    "actions": [
        {"type": "TRANSFER", "params": {"to": "queue:support"}},
        {"type": "SAY", "params": {"text": "agent ${transfer.status}"}},
        {"type": "HANGUP"},
    ]
}


def by_caller(callback_server, flows, default):
    def answer(request):
        body = request["json"] or {}
        return flows.get(body.get("caller_no"), default)

    return callback_server.route("/q", answer)


def waiting(name="support"):
    with models.database.connection_context():
        return list(
            models.QueueMember.select()
            .where(
                models.QueueMember.name == name,
                models.QueueMember.left_at.is_null(),
                models.QueueMember.taken_at.is_null(),
            )
            .order_by(models.QueueMember.id)
        )


def test_an_agent_takes_the_first_caller_and_its_flow_goes_on_after_they_talk(switch, callback_server):
    provision(by_caller(callback_server, {AGENT: AGENT_FLOW}, caller_flow()))
    first = switch.incoming_call(destination=DID, caller="+19495550001")
    assert wait_until(lambda: len(waiting()) == 1, 5)
    second = switch.incoming_call(destination=DID, caller="+19495550002")
    assert wait_until(lambda: len(waiting()) == 2, 5)
    assert [m.call_id for m in waiting()] == [first.uuid, second.uuid]

    agent = switch.incoming_call(destination=DID, caller=AGENT)
    assert wait_until(lambda: first.partner is not None, 5)
    assert f"uuid_bridge {first.uuid} {agent.uuid}" in switch.api_log
    # The agent is answered first: FreeSWITCH would hang the caller up bridging it to an unanswered channel.
    assert "answer" in [app for app, _ in agent.executed]
    gevent.sleep(0.2)
    agent.hangup()
    assert first.wait_closed(5) and first.spoken == ["queue bridged"]
    assert [m.call_id for m in waiting()] == [second.uuid]  # the second still waits, next in line
    # The first caller heard the hold tone while it waited (ours, never a caller's text).
    assert any(app == "playback" and arg.startswith("tone_stream://%(400,0,440)") for app, arg in first.executed)
    second.hangup()
    assert second.wait_closed(5)
    with models.database.connection_context():
        results = {m.call_id: m.result for m in models.QueueMember.select()}
    assert results == {first.uuid: "bridged", second.uuid: "hangup"}


def test_an_agent_with_nobody_waiting_goes_on(switch, callback_server):
    provision(by_caller(callback_server, {AGENT: AGENT_FLOW}, caller_flow()))
    agent = switch.incoming_call(destination=DID, caller=AGENT)
    assert agent.wait_closed(5) and agent.spoken == ["agent failed"]


def test_a_caller_waits_until_the_timeout_and_a_full_queue_takes_no_more(switch, callback_server):
    provision(by_caller(callback_server, {"+19495550002": caller_flow(max_size=1)}, caller_flow(timeout=1500)))
    first = switch.incoming_call(destination=DID, caller="+19495550001")
    assert wait_until(lambda: len(waiting()) == 1, 5)
    full = switch.incoming_call(destination=DID, caller="+19495550002")
    assert full.wait_closed(5) and full.spoken == ["queue queue_full"]
    assert first.wait_closed(10) and first.spoken == ["queue timeout"]


def test_two_agents_taking_the_front_at_once_get_two_callers(db):
    from tests.support.provision import provision as provision_number

    account, _ = provision_number("http://127.0.0.1:9/unused")
    book = queues.QueueBook()
    with models.database.connection_context():
        for i in range(3):
            models.Call.create(id=f"c{i}", account=account, direction="inbound", status="live-in-progress")
    for i in range(3):
        book.join(account.id, "support", f"c{i}", f"chan{i}")
    taken = [gevent.spawn(book.take, account.id, "support", f"agent{i}") for i in range(2)]
    gevent.joinall(taken)
    assert sorted(t.value for t in taken) == [("c0", "chan0"), ("c1", "chan1")]
    assert book.size(account.id, "support") == 1
    assert book.size(account.id, "other") == 0  # queues are by name, and accounts


def test_a_caller_whose_agent_went_away_waits_again_in_its_place(switch, callback_server):
    """The agent's queue_take names a channel the switch no longer has: the
    caller's uuid_bridge fails, so it is released and waits on, still first."""
    from voxology_fs import control
    from voxology_fs.esl.connection import InboundConnection

    provision(callback_server.static("/q", caller_flow()))
    caller = switch.incoming_call(destination=DID, caller="+19495550001")
    assert wait_until(lambda: len(waiting()) == 1, 5)
    [member] = waiting()
    with models.database.connection_context():
        models.QueueMember.update(taken_at=utcnow(), taken_by="agent").execute()  # the agent's claim
    headers, body = control.encode(caller.uuid, control.queue_take("00000000-0000-4000-8000-000000000000"))
    link = InboundConnection.open("127.0.0.1", switch.esl_port, "ClueCon")
    try:
        link.sendevent("CUSTOM", headers, body=body)
    finally:
        link.close()
    assert wait_until(lambda: [m.id for m in waiting()] == [member.id], 5)
    assert not caller.down and not caller.spoken  # still waiting, not gone on
    caller.hangup()


@pytest.mark.parametrize(
    "action,path",
    [
        ({"type": "TRANSFER", "params": {"to": "queue:"}}, "/actions/0/params/to"),
        ({"type": "TRANSFER", "params": {"to": [AGENT, "queue:support"]}}, "/actions/0/params/to/1"),
        ({"type": "QUEUE", "params": {"name": "support", "wait_url": "ftp://x/y"}}, "/actions/0/params/wait_url"),
        ({"type": "QUEUE", "params": {"name": "support", "max_size": 0}}, "/actions/0/params/max_size"),
        ({"type": "QUEUE", "params": {}}, "/actions/0/params/name"),
    ],
)
def test_queue_params_are_checked_before_anything_runs(action, path):
    with pytest.raises(FlowValidationError) as raised:
        parse_response({"actions": [action]})
    assert path in [p for p, _ in raised.value.errors], raised.value.errors
