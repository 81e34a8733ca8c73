"""TRANSFER's detection on the fake switch: the detector hears the dialled party before the bridge."""

import pytest

from tests.support.amd_set import greetings
from tests.test_transfer import OTHER, children, hang_up_the_other_party_after, transfer_flow
from tests.test_whisper import leg, run, whisper_by_number
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response

ANSWERS = lambda dialstring, vars: ("answer", 0)  # noqa: E731


def greeting(cls):
    return next(g for g in greetings("test") if g.cls == cls and not g.hard).pcm()


@pytest.mark.parametrize(("cls", "verdict"), [("human", "live_person"), ("machine", "machine")])
def test_the_verdict_on_the_answering_party_reaches_the_callback_and_they_talk(switch, callback_server, cls, verdict):
    switch.caller_audio = greeting(cls)  # what every answering party says
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(detection="detect"),
        ANSWERS,
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    [child] = children(call)
    assert ended["transfer_status"] == "completed" and ended["transfer_detection"] == verdict
    assert child.status == "completed"
    # The leg ran the detector's ear (a record into our spool) before the bridge; no whisper was fetched.
    assert any(app == "record" for app, _ in leg(switch, child).executed)
    assert callback_server.of_type("whisper") == []


def test_on_machine_hangup_refuses_a_machine_and_the_caller_s_flow_goes_on(switch, callback_server):
    switch.caller_audio = greeting("machine")
    call, ended = run(switch, callback_server, transfer_flow(detection="detect", on_machine="hangup"), ANSWERS)
    [child] = children(call)
    assert not leg(switch, child).times.get("bridged")
    assert call.spoken == ["rejected"]
    assert ended["transfer_status"] == "rejected" and ended["transfer_detection"] == "machine"
    assert child.status == "rejected"


def test_the_whisper_flow_sees_the_verdict(switch, callback_server):
    switch.caller_audio = greeting("human")
    url = whisper_by_number(callback_server)
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(detection="detect", whisper=url),
        ANSWERS,
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    [first] = children(call)
    [whisper] = callback_server.of_type("whisper")
    assert whisper["detection"] == "live_person" and whisper["caller_no"] == OTHER
    assert ended["transfer_call_id"] == first.id and ended["transfer_detection"] == "live_person"


def test_without_detection_the_callbacks_carry_no_verdict(switch, callback_server):
    _, ended = run(switch, callback_server, transfer_flow(), ANSWERS, on_bridge=hang_up_the_other_party_after(0.1))
    assert "transfer_detection" not in ended


@pytest.mark.parametrize(
    ("params", "field"), [({"detection": "maybe"}, "detection"), ({"on_machine": "x"}, "on_machine")]
)
def test_bad_detection_params_are_named(params, field):
    with pytest.raises(FlowValidationError) as caught:
        parse_response({"actions": [{"type": "TRANSFER", "params": {"to": OTHER, **params}}]})
    assert any(path == f"/actions/0/params/{field}" for path, _ in caught.value.errors)
