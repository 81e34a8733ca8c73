"""TRANSFER on the fake switch: the dial, its outcomes, the child calls and what the flow sees next."""

import datetime as dt
import io
import wave

import gevent
import pytest

from tests.fakefs import FakeSwitch
from tests.support.provision import CALLER, DID, provision
from tests.support.waiting import wait_until
from voxology_fs import models
from voxology_fs.callserver import CallServer
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response

OTHER = "+13125550100"
EPOCH = dt.datetime(1970, 1, 1)


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


WAV = _wav()
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
    # Each leg's own end, from its CHANNEL_HANGUP: the busy one was busy, not a lost race.
    assert first.status == "busy" and first.hangup_cause == "USER_BUSY" and first.answer_time is None
    with models.database.connection_context():
        [busy_leg] = list(models.Leg.select().where(models.Leg.call == first.id))
    assert busy_leg.sip_code == 486
    # The switch's own times for the one that answered.
    fake = switch.calls[second.id]
    assert second.answer_time == EPOCH + dt.timedelta(microseconds=fake.times["answered"])


def test_simultaneous_ring_the_others_end_as_lost_races_each_with_its_own_end(switch, callback_server):
    def policy(dialstring, vars):
        return ("answer", 100) if OTHER in dialstring else ("noanswer",)

    third = "+13125550122"
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(to=[OTHER, SECOND, third], timeout=5),
        policy,
        on_bridge=hang_up_the_other_party_after(0.3),
    )
    by_number = {child.to_no: child for child in children(call)}
    assert ended["transfer_call_id"] == by_number[OTHER].id
    for number in (SECOND, third):
        assert by_number[number].status == "canceled" and by_number[number].hangup_cause == "LOSE_RACE"


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


def multiset_before_bridge(call):
    apps = [(app, arg) for app, arg in call.executed]
    bridge_at = next(i for i, (app, _) in enumerate(apps) if app == "bridge")
    return dict(
        part.split("=", 1) for part in next(arg for app, arg in reversed(apps[:bridge_at]) if app == "multiset").split()
    )


def test_an_answered_caller_hears_our_ring_tone_and_every_option_is_set_or_cleared(switch, callback_server):
    flow = transfer_flow()
    flow["actions"].insert(0, {"type": "SAY", "params": {"text": "Connecting."}})
    call, _ended = run(
        switch, callback_server, flow, lambda ds, v: ("answer", 0), on_bridge=hang_up_the_other_party_after(0.2)
    )
    assert multiset_before_bridge(call) == {
        "continue_on_fail": "true",
        "hangup_after_bridge": "false",
        "bridge_terminate_key": "",  # cleared: an earlier TRANSFER's * does not carry over
        "transfer_ringback": "tone_stream://%(2000,4000,440,480)",
        "ringback": "",  # not answered, a caller hears the far end's ringing itself
    }


def test_early_media_ringback_clears_ours(switch, callback_server):
    call, _ = run(
        switch,
        callback_server,
        transfer_flow(ringback="early_media"),
        lambda ds, v: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    settings = multiset_before_bridge(call)
    assert settings["transfer_ringback"] == "" and settings["ringback"] == ""


def test_an_audio_ringback_is_our_downloaded_copy(switch, callback_server):
    wav = callback_server.route("/ring.wav", lambda request: (200, WAV, {"Content-Type": "audio/wav"}))
    call, _ = run(
        switch,
        callback_server,
        transfer_flow(ringback=wav),
        lambda ds, v: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    settings = multiset_before_bridge(call)
    assert settings["ringback"] == settings["transfer_ringback"]
    assert settings["ringback"].endswith(".wav") and "://" not in settings["ringback"]


def test_send_digits_go_to_the_party_that_answered(switch, callback_server):
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(send_digits="1w23#"),
        lambda ds, v: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.3),
    )
    [child] = children(call)
    assert f"uuid_send_dtmf {child.id} 1w23#" in switch.api_log
    assert ended["transfer_status"] == "completed"


def test_hangup_on_star_ends_the_talk_and_the_flow_goes_on(switch, callback_server):
    def press_star_once_bridged(call, arg):
        def press():
            while call.partner is None and not call.down:
                gevent.sleep(0.01)
            gevent.sleep(0.1)
            call.press("*")

        gevent.spawn(press)

    call, ended = run(
        switch,
        callback_server,
        transfer_flow(hangup_on_star=True),
        lambda ds, v: ("answer", 0),
        on_bridge=press_star_once_bridged,
    )
    assert multiset_before_bridge(call)["bridge_terminate_key"] == "*"
    assert call.spoken == ["completed 200"] and ended["transfer_status"] == "completed"
    [child] = children(call)
    assert child.status == "completed"


@pytest.fixture
def sip_switch(db, settings):
    """A fake switch whose call server may transfer to sip:...@pbx.example.com only."""
    server = CallServer(settings.replace(sip_transfer_domains=("pbx.example.com",)))
    server.start()
    fake = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=0.01, media_ms=5)
    fake.start()
    yield fake
    fake.stop()
    server.stop()


def test_a_sip_uri_is_dialled_through_our_sip_profile(sip_switch, callback_server):
    call, ended = run(
        sip_switch,
        callback_server,
        transfer_flow(to="sip:agent.7@pbx.example.com:5070"),
        lambda ds, v: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.2),
    )
    [bridge] = [arg for app, arg in call.executed if app == "bridge"]
    assert bridge.endswith("]sofia/voxology/sip:agent.7@pbx.example.com:5070")
    assert ended["transfer_status"] == "completed"


def test_a_sip_uri_to_a_host_not_allowed_is_refused(sip_switch, callback_server):
    flow = transfer_flow(to=["sip:agent.7@pbx.example.com:5070", "sip:x@elsewhere.example.com"])
    call, _ = run(sip_switch, callback_server, flow, lambda ds, v: ("answer", 0))
    assert not [a for a, _ in call.executed if a == "bridge"]
    [error] = models.Call.get_by_id(call.uuid).errors
    assert error["path"] == "/actions/0/params/to/1" and "elsewhere.example.com" in error["message"]


@pytest.mark.parametrize(
    "params,path",
    [
        ({"to": "sip:a@b.example,c"}, "/actions/0/params/to"),
        ({"to": "sip:${x}@h.example"}, None),  # rendered and checked when it runs
        ({"to": "sip:a{b}@h.example"}, "/actions/0/params/to"),
        ({"to": OTHER, "send_digits": "12x"}, "/actions/0/params/send_digits"),
        ({"to": OTHER, "ringback": "loud"}, "/actions/0/params/ringback"),
        ({"to": OTHER, "hangup_on_star": "yes"}, "/actions/0/params/hangup_on_star"),
    ],
)
def test_transfer_options_are_checked_before_anything_runs(params, path):
    if path is None:
        parse_response({"actions": [{"type": "TRANSFER", "params": params}]})
        return
    with pytest.raises(FlowValidationError) as raised:
        parse_response({"actions": [{"type": "TRANSFER", "params": params}]})
    assert path in [p for p, _ in raised.value.errors], raised.value.errors


@pytest.mark.parametrize(
    "choice,options", [(True, "{RECORD_BRIDGE_REQ=true}"), ("dual", "{RECORD_STEREO=true,RECORD_BRIDGE_REQ=true}")]
)
def test_record_keeps_the_conversation_and_the_flow_sees_it(switch, callback_server, choice, options):
    call, ended = run(
        switch,
        callback_server,
        transfer_flow(record=choice),
        lambda dialstring, vars: ("answer", 0),
        on_bridge=hang_up_the_other_party_after(0.3),
    )
    [started] = [arg for app, arg in call.executed if app == "record_session"]
    path, given = started.split(" ")
    assert given == options
    apps = [app for app, _ in call.executed]
    assert apps.index("record_session") < apps.index("bridge") < apps.index("stop_record_session")
    [entry] = ended["recordings"]
    with models.database.connection_context():
        record = models.Recording.get_by_id(entry["id"])
    assert path.endswith(record.store_key) and record.source == "call" and record.status == "completed"
    assert record.channels == (2 if choice == "dual" else 1) and entry["ended_by"] == "hangup"


def test_record_of_a_transfer_no_one_answers_keeps_no_recording(switch, callback_server):
    _call, ended = run(switch, callback_server, transfer_flow(record=True, timeout=1), lambda d, v: ("noanswer",))
    assert ended["recordings"] == []
    with models.database.connection_context():
        [record] = list(models.Recording.select())
    assert record.status == "failed" and "no one answered" in record.error


def test_the_dialled_leg_is_a_child_call_while_it_rings_and_talks(rig, callback_server):
    from tests.support.provision import setup_number

    acme = rig.client()
    setup_number(acme, callback_server.static("/t", transfer_flow()))
    rig.fake.originate_policy = lambda dialstring, vars: ("answer", 50000)  # rings 0.5 s
    call = rig.fake.incoming_call(destination=DID, caller=CALLER)
    call.on_execute("bridge", hang_up_the_other_party_after(1.5))  # then they talk a second
    parent = lambda: acme.get(f"/Calls/{call.uuid}").get_json()  # noqa: E731
    assert wait_until(lambda: parent().get("child_calls"), 5)
    [child_id] = parent()["child_calls"]
    ringing = acme.get(f"/Calls/{child_id}").get_json()
    assert ringing["status"] == "ringing" and ringing["parent_call_id"] == call.uuid
    assert [leg["role"] for leg in ringing["legs"]] == ["caller"]
    assert wait_until(lambda: acme.get(f"/Calls/{child_id}").get_json()["status"] == "live-in-progress", 5)
    assert call.wait_closed(10)
    assert wait_until(lambda: acme.get(f"/Calls/{child_id}").get_json()["status"] == "completed", 5)
    done = acme.get(f"/Calls/{child_id}").get_json()
    assert done["answer_time"] and done["end_time"]
    # Another account does not see it.
    assert rig.client("globex").get(f"/Calls/{child_id}").status_code == 404
    # Exactly one call_ended: the caller's (a leg has no callbacks of its own).
    assert wait_until(lambda: callback_server.of_type("call_ended"), 5)
    assert [e["call_id"] for e in callback_server.of_type("call_ended")] == [call.uuid]


def test_legs_left_open_by_a_dead_call_server_end_with_their_parent(db):
    import datetime as dt

    from tests.support.provision import provision as provision_number
    from voxology_fs import child_calls
    from voxology_fs.flow.state import CallState
    from voxology_fs.timeutil import utcnow

    account, _ = provision_number("http://127.0.0.1:9/unused")
    with models.database.connection_context():
        models.Call.create(id="p", account=account, direction="inbound", status="live-in-progress")
    parent = CallState(call_id="p", direction="inbound", caller_no=CALLER, api_no=DID, account_id=account.id)
    now = utcnow()
    child_calls.open_child_calls(
        parent,
        [{"id": leg, "to_no": OTHER, "from_no": DID, "start_time": now} for leg in ("talking", "ringing")],
    )
    child_calls.child_answered("talking", now + dt.timedelta(seconds=1))
    assert child_calls.close_transfer_legs("p", now + dt.timedelta(seconds=5)) == 2
    with models.database.connection_context():
        got = {c.id: c.status for c in models.Call.select().where(models.Call.parent_call == "p")}
    assert got == {"talking": "completed", "ringing": "canceled"}
