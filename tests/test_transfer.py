"""TRANSFER on the fake switch: the dial, its outcomes, the child calls and what the flow sees next."""

import gevent
import pytest

from tests.fakefs import FakeSwitch
from tests.support.provision import CALLER, DID, provision
from voxology_fs import models
from voxology_fs.callserver import CallServer
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response

OTHER = "+13125550100"
SECOND = "+13125550111"
UNVERIFIED = "+13125550199"


def transfer_flow(**params):
    params.setdefault("to", OTHER)
    return {
        "actions": [
            {"type": "TRANSFER", "params": params},
            {"type": "SAY", "params": {"text": "${transfer.status} ${transfer.sip_code}"}},
            {"type": "HANGUP"},
        ]
    }


def run(switch, callback_server, flow, policy, on_bridge=None):
    provision(callback_server.static("/t", flow))
    switch.originate_policy = policy
    call = switch.incoming_call(destination=DID, caller=CALLER)
    if on_bridge is not None:
        call.on_execute("bridge", on_bridge)
    assert call.wait_closed(timeout=10), "the call server never released the call"
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=5)
    return call, callback_server.of_type("call_ended")[0]


def children(call):
    with models.database.connection_context():
        return list(models.Call.select().where(models.Call.parent_call == call.uuid).order_by(models.Call.to_no))


def hang_up_the_other_party_after(seconds):
    def later(call, arg):
        def hang_up():
            while call.partner is None and not call.down:
                gevent.sleep(0.01)
            if call.partner is not None:
                call.partner.hangup()

        gevent.spawn_later(seconds, hang_up)

    return later


def test_an_answered_transfer_talks_then_the_flow_goes_on(switch, callback_server):
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(timeout=20),
        lambda dialstring, vars: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.3),
    )
    [bridge] = [arg for app, arg in call.executed if app == "bridge"]
    [child] = children(call)
    # Our variables only: the caller ID, the ring time, the leg's uuid (the child call's id), the trunk.
    assert bridge == (
        f"{{originate_timeout=20,origination_caller_id_number={DID}}}"
        f"[origination_uuid={child.id}]sofia/gateway/trunk/{OTHER}"
    )
    assert call.spoken == ["completed 200"]
    assert ended["transfer_status"] == "completed" and ended["transfer_call_id"] == child.id
    assert ended["transfer_sip_code"] == 200 and ended["transfer_duration"] == 0  # talk seconds, rounded down
    assert child.status == "completed" and child.direction == "outbound" and child.to_no == OTHER
    assert child.api_no == DID and child.answer_time is not None and child.end_time >= child.answer_time
    with models.database.connection_context():
        [leg] = list(models.Leg.select().where(models.Leg.call == child.id))
    assert leg.channel_uuid == child.id and leg.sip_code == 200


@pytest.mark.parametrize(
    "verdict,status,sip",
    [(("busy",), "busy", 486), (("noanswer",), "no-answer", 480), (("fail", "CALL_REJECTED"), "rejected", 603)],
    ids=["busy", "no-answer", "rejected"],
)
def test_a_failed_transfer_leaves_the_caller_in_the_flow(switch, callback_server, verdict, status, sip):
    call, ended = run(switch, callback_server, transfer_flow(timeout=1), lambda dialstring, vars: verdict)
    assert call.spoken == [f"{status} {sip}"]
    assert ("hangup", "NORMAL_CLEARING") in call.executed  # our HANGUP, not the failed dial
    assert ended["transfer_status"] == status and ended["transfer_call_id"] == ""
    [child] = children(call)
    assert child.status == status and child.answer_time is None


def test_simultaneous_ring_the_first_to_answer_wins(switch, callback_server):
    def policy(dialstring, vars):
        return ("busy",) if OTHER in dialstring else ("answer", 500)

    call, ended = run(
        switch,
        callback_server,
        transfer_flow(to=[OTHER, SECOND]),
        policy,
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    [bridge] = [arg for app, arg in call.executed if app == "bridge"]
    first, second = children(call)
    assert bridge.endswith(
        f"[origination_uuid={first.id}]sofia/gateway/trunk/{OTHER},"
        f"[origination_uuid={second.id}]sofia/gateway/trunk/{SECOND}"
    )
    assert ended["transfer_status"] == "completed" and ended["transfer_call_id"] == second.id
    assert second.status == "completed"
    assert first.status == "canceled" and first.hangup_cause == "LOSE_RACE"  # the others end as lost races


def test_the_caller_hanging_up_while_it_rings_cancels_the_dial(switch, callback_server):
    def hang_up_the_caller(call, arg):
        gevent.spawn_later(0.1, call.hangup)

    call, ended = run(
        switch, callback_server, transfer_flow(), lambda dialstring, vars: ("answer", 60000), hang_up_the_caller
    )
    assert call.spoken == []
    [child] = children(call)
    assert child.status == "canceled" and ended["transfer_status"] == "canceled"


def test_time_limit_ends_the_talk(switch, callback_server):
    call, _ended = run(switch, callback_server, transfer_flow(time_limit=1000), lambda dialstring, vars: ("answer", 0))
    [child] = children(call)
    assert call.spoken == ["completed 200"]
    assert child.hangup_cause == "ALLOTTED_TIMEOUT" and (child.end_time - child.answer_time).total_seconds() >= 0.9


def test_a_caller_id_the_account_may_not_show_is_an_error_and_the_flow_goes_on(switch, callback_server):
    call, ended = run(
        switch, callback_server, transfer_flow(caller_id_no=UNVERIFIED), lambda dialstring, vars: ("answer", 0)
    )
    assert not [app for app, _ in call.executed if app == "bridge"]
    assert not any("completed" in text for text in call.spoken)  # no outcome: $transfer is empty
    with models.database.connection_context():
        record = models.Call.get_by_id(call.uuid)
    [error] = record.errors
    assert error["path"] == "/actions/0/params/caller_id_no" and "verified caller ID" in error["message"]
    assert "transfer_status" not in ended


def test_a_number_rendered_into_dial_string_syntax_is_refused(switch, callback_server):
    call, _ended = run(
        switch, callback_server, transfer_flow(to="${callerNo},user/1000"), lambda dialstring, vars: ("answer", 0)
    )
    assert not [app for app, _ in call.executed if app == "bridge"]
    with models.database.connection_context():
        [error] = models.Call.get_by_id(call.uuid).errors
    assert error["path"] == "/actions/0/params/to" and f"{CALLER},user/1000" in error["message"]


@pytest.mark.parametrize(
    "to,path,message",
    [
        ("+13125550100,sofia/gateway/x/1", "/actions/0/params/to", "E.164"),
        ([OTHER, "${x}|user/1000", 7], "/actions/0/params/to/2", "E.164 numbers"),
        ([OTHER] * 11, "/actions/0/params/to", "1 to 10"),
        ([], "/actions/0/params/to", "1 to 10"),
        (["${" + "x" * 100000 + "}"], "/actions/0/params/to/0", ""),
        ("1000", "/actions/0/params/to", "E.164"),
    ],
)
def test_to_must_be_e164_numbers(to, path, message):
    with pytest.raises(FlowValidationError) as raised:
        parse_response({"actions": [{"type": "TRANSFER", "params": {"to": to}}]})
    assert any(p == path and message in m for p, m in raised.value.errors), raised.value.errors


def test_a_transfer_over_the_accounts_limit_of_placed_calls_is_refused(db, settings, callback_server):
    server = CallServer(settings.replace(max_outbound_calls_per_account=1))
    server.start()
    fake = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=0.01, media_ms=5)
    fake.start()
    try:
        call, _ended = run(fake, callback_server, transfer_flow(to=[OTHER, SECOND]), lambda ds, v: ("answer", 0))
    finally:
        fake.stop()
        server.stop()
    assert not [app for app, _ in call.executed if app == "bridge"] and children(call) == []
    [error] = models.Call.get_by_id(call.uuid).errors
    assert error["path"] == "/actions/0" and "its limit is 1" in error["message"]
