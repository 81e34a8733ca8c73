"""TRANSFER's whisper on the fake switch: the called party's flow before the bridge."""

import gevent
import pytest

from tests.support.provision import CALLER, DID, provision
from tests.support.waiting import wait_until
from tests.test_transfer import OTHER, SECOND, children, hang_up_the_other_party_after, transfer_flow
from voxology_fs import models
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response

ACCEPT = {"actions": [{"type": "SAY", "params": {"text": "A call for you"}}]}
REFUSE = {"actions": [{"type": "SAY", "params": {"text": "Not now"}}, {"type": "HANGUP"}]}


def whisper_by_number(callback_server, refusing=()):
    """The whisper flow refuses for the numbers in ``refusing``, accepts for the others."""
    return callback_server.route(
        "/whisper", lambda request: REFUSE if request["json"]["caller_no"] in refusing else ACCEPT
    )


def run(switch, callback_server, flow, policy, on_bridge=None):
    provision(callback_server.static("/t", flow))
    switch.originate_policy = policy
    call = switch.incoming_call(destination=DID, caller=CALLER)
    if on_bridge is not None:
        call.on_execute("bridge", on_bridge)
    assert call.wait_closed(timeout=10), "the call server never released the call"
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=5)
    return call, callback_server.of_type("call_ended")[0]


def leg(switch, child):
    return switch.calls[child.id]


def traced(call_id, kind):
    """Whether the call's trace (written in batches, off the call's path) gets an event of ``kind``."""

    def written():
        with models.database.connection_context():
            return (
                models.CallEvent.select()
                .where(models.CallEvent.call == call_id, models.CallEvent.kind == kind)
                .exists()
            )

    return wait_until(written, timeout=5)


def test_an_accepting_whisper_hears_its_flow_then_talks(switch, callback_server):
    url = whisper_by_number(callback_server)
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(whisper=url),
        lambda dialstring, vars: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.3),
    )
    [child] = children(call)
    [bridge] = [arg for app, arg in call.executed if app == "bridge"]
    # FreeSWITCH's screening: the answered leg runs our socket; its ring time
    # is the TRANSFER's timeout, and the whisper has 60 s more.
    assert bridge.startswith("{originate_timeout=90,")
    assert (
        f"[origination_uuid={child.id},group_confirm_key=exec,"
        f"group_confirm_file='socket 127.0.0.1:{switch.outbound[1]} async full',group_confirm_timeout=60,"
        f"leg_timeout=30,vox_whisper=true,vox_call_id={child.id},app_disable_expand_variables=true]"
    ) in bridge
    assert leg(switch, child).spoken == ["A call for you"]
    [whisper] = callback_server.of_type("whisper")
    assert whisper["call_id"] == child.id and whisper["caller_no"] == OTHER and whisper["api_no"] == DID
    assert whisper["parent_call_id"] == call.uuid and whisper["direction"] == "outbound"
    assert ended["transfer_status"] == "completed" and ended["transfer_call_id"] == child.id
    assert child.status == "completed"
    # The whisper is no call of its own: one call_ended (the caller's), its trace on the caller's call.
    assert len(callback_server.of_type("call_ended")) == 1
    assert traced(call.uuid, "whisper_accepted")


def test_a_refusing_whisper_leaves_the_caller_in_the_flow(switch, callback_server):
    url = whisper_by_number(callback_server, refusing=(OTHER,))
    call, ended = run(switch, callback_server, transfer_flow(whisper=url), lambda dialstring, vars: ("answer", 0))
    [child] = children(call)
    assert leg(switch, child).spoken == ["Not now"]
    assert not leg(switch, child).times.get("bridged")
    assert call.spoken == ["rejected"]  # the caller's flow goes on (no SIP code: the leg answered)
    assert ended["transfer_status"] == "rejected" and ended["transfer_call_id"] == ""
    assert child.status == "rejected"


def test_with_simultaneous_ring_the_first_to_accept_wins_not_the_first_to_answer(switch, callback_server):
    url = whisper_by_number(callback_server, refusing=(OTHER,))

    def policy(dialstring, vars):
        return ("answer", 100) if OTHER in dialstring else ("answer", 400)

    call, ended = run(
        switch,
        callback_server,
        transfer_flow(to=[OTHER, SECOND], whisper=url),
        policy,
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    first, second = children(call)
    assert [w["caller_no"] for w in callback_server.of_type("whisper")] == [OTHER, SECOND]
    assert ended["transfer_status"] == "completed" and ended["transfer_call_id"] == second.id
    assert second.status == "completed" and first.status == "rejected"


def test_a_whisper_that_cannot_be_fetched_refuses_the_leg_quietly(switch, callback_server):
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(whisper=callback_server.url("/nowhere")),
        lambda dialstring, vars: ("answer", 0),
    )
    [child] = children(call)
    assert leg(switch, child).spoken == []  # no apology to the called party
    assert leg(switch, child).down
    assert ended["transfer_status"] == "rejected"
    assert traced(call.uuid, "whisper_error")
    with models.database.connection_context():
        [error] = models.Call.get_by_id(call.uuid).errors  # on the caller's record
    assert "404" in error["message"]


def test_the_caller_hanging_up_during_the_whisper_cancels_the_leg(switch, callback_server):
    slow = {"actions": [{"type": "PAUSE", "params": {"length": 30000}}]}
    url = callback_server.static("/whisper", slow)

    def hang_up_the_caller(call, arg):
        def once_the_whisper_runs():
            assert callback_server.wait_for(lambda: callback_server.of_type("whisper"), timeout=5)
            gevent.sleep(0.1)
            call.hangup()

        gevent.spawn(once_the_whisper_runs)

    call, ended = run(
        switch,
        callback_server,
        transfer_flow(whisper=url),
        lambda dialstring, vars: ("answer", 0),
        on_bridge=hang_up_the_caller,
    )
    [child] = children(call)
    assert leg(switch, child).down and leg(switch, child).hangup_cause == "ORIGINATOR_CANCEL"
    assert ended["transfer_status"] == "canceled"


@pytest.mark.parametrize("whisper", ["ftp://example.com/w", "not a url"])
def test_a_whisper_must_be_an_http_url(whisper):
    with pytest.raises(FlowValidationError) as raised:
        parse_response({"actions": [{"type": "TRANSFER", "params": {"to": OTHER, "whisper": whisper}}]})
    assert [p for p, _m in raised.value.errors] == ["/actions/0/params/whisper"]


def test_a_whisper_may_not_take_the_leg_elsewhere(switch, callback_server):
    """Its leg is still in the caller's dial: a CONFERENCE (even inside an IF) refuses it."""
    elsewhere = {
        "actions": [{"type": "IF", "condition": "true", "then": [{"type": "CONFERENCE", "params": {"name": "x"}}]}]
    }
    url = callback_server.static("/whisper", elsewhere)
    call, ended = run(switch, callback_server, transfer_flow(whisper=url), lambda dialstring, vars: ("answer", 0))
    assert ended["transfer_status"] == "rejected"
    [child] = children(call)
    assert not any(app == "conference" for app, _arg in leg(switch, child).executed)
    with models.database.connection_context():
        [error] = models.Call.get_by_id(call.uuid).errors
    assert "CONFERENCE cannot run in a whisper" in error["message"]
