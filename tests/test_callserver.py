"""The call server end to end: a fake FreeSWITCH connects calls to the real socket server."""

import os

import gevent
import pytest

from tests.fakefs import FakeSwitch
from tests.support.provision import CALLER, DID, provision
from voxology_fs import models, store
from voxology_fs.callserver import CallServer

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "voxology_fs", "examples")


def example(name):
    import json

    with open(os.path.join(EXAMPLES, name + ".json")) as fh:
        return json.load(fh)


def finished(call, callback_server, timeout=10):
    assert call.wait_closed(timeout=timeout), "the call server never released the call"
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=5)


def apps(call, skip=("socket", "multiset", "set", "unset", "flush_dtmf")):
    return [(app, arg) for app, arg in call.executed if app not in skip]


def test_hello_world_inbound(switch, callback_server):
    url = callback_server.static("/hello", example("hello-world"))
    _account, app = provision(url)
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert apps(call) == [
        ("ring_ready", None),
        ("answer", None),
        ("speak", "flite|kal|Hello, world."),
        ("hangup", "NORMAL_CLEARING"),
    ]
    assert call.spoken == ["Hello, world."]
    init = callback_server.of_type("init_call")[0]
    assert init["app_id"] == app.id and init["subaccount_id"] == "0" and init["call_id"] == call.uuid
    assert init["direction"] == "inbound" and init["status"] == "live-in-progress"
    assert init["caller_no"] == CALLER and init["api_no"] == DID and init["api_no_region"] == "CA"
    ended = callback_server.of_type("call_ended")
    assert len(ended) == 1 and ended[0]["status"] == "completed" and ended[0]["end_time"]
    record = store.load_call(call.uuid)
    assert record.status == "completed" and record.end_time and record.duration_ms >= 0


def test_channel_set_up_and_narrow_subscription(switch, callback_server):
    provision(callback_server.static("/hello", example("hello-world")))
    call = switch.incoming_call(destination="(714) 555-1212", caller=CALLER)
    finished(call, callback_server)
    sent = b"".join(data for direction, data in call.wire if direction == ">")
    assert b"myevents" not in sent
    assert f"filter Unique-ID {call.uuid}".encode() in sent
    assert b"event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CUSTOM voxology::control\n" in sent
    # Our dialplan set the channel up before the socket: no set-up application was needed.
    # One application, since each costs FreeSWITCH two events with every variable.
    assert call.executed[:2] == [
        (
            "multiset",
            f"vox_call_id={call.uuid} vox_make_call= playback_delimiter=! playback_terminators=none "
            "sleep_eat_digits=true app_disable_expand_variables=true",
        ),
        ("socket", f"127.0.0.1:{switch.outbound[1]} async full"),
    ]
    assert call.executed[2] == ("ring_ready", None)
    assert (call.vars["vox_call_id"], call.vars["app_disable_expand_variables"]) == (call.uuid, "true")


def test_a_leg_that_inherited_the_make_call_mark_is_an_inbound_call(switch, callback_server):
    """A loopback leg inherits the variables of the originate that made it; our
    dialplan unsets vox_make_call, so the call is looked up by its number."""
    provision(callback_server.static("/hello", example("hello-world")))
    call = switch.incoming_call(destination=DID, caller=CALLER, channel_vars={"vox_make_call": "true"})
    finished(call, callback_server)
    assert "vox_make_call" not in call.vars and call.spoken == ["Hello, world."]
    [init] = callback_server.of_type("init_call")
    assert init["direction"] == "inbound" and init["api_no"] == DID


def test_a_bare_dialplan_gets_the_channel_set_up_by_the_call_server(switch, callback_server):
    provision(callback_server.static("/hello", example("hello-world")))
    call = switch.incoming_call(destination=DID, caller=CALLER, dialplan=False)
    finished(call, callback_server)
    ours = call.executed[call.executed.index(("socket", f"127.0.0.1:{switch.outbound[1]} async full")) + 1 :]
    assert ours[0] == (
        "multiset",
        f"playback_delimiter=! playback_terminators=none sleep_eat_digits=true vox_call_id={call.uuid}",
    )
    assert call.spoken == ["Hello, world."]


def test_multi_action_goto(switch, callback_server):
    provision(callback_server.static("/multi", example("Example-MultiActionProcessing")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert [a for a, _ in apps(call)] == ["ring_ready", "answer", "speak", "speak", "hangup"]
    assert call.spoken[1] == "You successfully navigated to a labeled action."


@pytest.mark.parametrize(
    "press,expected", [("1", "You pressed 1."), ("2", "You did not press 1"), (None, "You did not press 1")]
)
def test_conditional_processing(switch, callback_server, press, expected):
    provision(callback_server.static("/cond", example("Example-ConditionalProcessing")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    if press:
        call.on_execute("play_and_get_digits", lambda c, arg: c.press(press))
    finished(call, callback_server, timeout=15)
    collect = [arg for app, arg in call.executed if app == "play_and_get_digits"]
    assert collect == [
        "1 1 1 5000 # 'say:Hello world. Welcome to conditional processing. Please press one on "
        "your telephone keypad.' silence_stream://1 vox_collected_1 ^[0-9*#A-Da-d]+$ 5000"
    ]
    assert call.spoken[-1].startswith(expected)
    ended = callback_server.of_type("call_ended")[0]
    assert ended["key_presses"] == [{"name": "rating", "digits": press or ""}]


def test_variable_processing_press_1_then_pound(switch, callback_server):
    provision(callback_server.static("/var", example("Example-VariableProcessing")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute("play_and_get_digits", lambda c, arg: c.press("1#"))
    finished(call, callback_server, timeout=15)
    assert "You pressed 1, or you are over 21." in call.spoken
    assert callback_server.of_type("call_ended")[0]["session_data"] == {"gender": "male", "age": 19, "isNice": True}


def test_say_text_is_never_expanded_by_freeswitch(switch, callback_server, tmp_path):
    marker = tmp_path / "pwned"
    text = f"${{system touch {marker}}} and ${{uuid}}"
    provision(
        callback_server.static("/evil", {"actions": [{"type": "SAY", "params": {"text": text}}, {"type": "HANGUP"}]})
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert call.spoken == [text]
    gevent.sleep(0.1)
    assert not marker.exists()


def test_number_without_flow_is_refused_with_404(switch, callback_server):
    call = switch.incoming_call(destination="+15555550123", caller=CALLER)
    assert call.wait_closed(timeout=5)
    assert call.sip_response == 404 and not call.answered


def test_reject_busy_before_answer(switch, callback_server):
    provision(callback_server.static("/rej", {"actions": [{"type": "REJECT", "params": {"reason": "busy"}}]}))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert call.sip_response == 486 and not call.answered
    assert callback_server.of_type("call_ended")[0]["status"] == "busy"


def test_caller_hangs_up_mid_prompt(switch, callback_server):
    provision(
        callback_server.static(
            "/long",
            {"actions": [{"type": "PAUSE", "params": {"length": 60000}}, {"type": "SAY", "params": {"text": "never"}}]},
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute("sleep", lambda c, arg: c.hangup("NORMAL_CLEARING"))
    finished(call, callback_server)
    ended = callback_server.of_type("call_ended")
    assert len(ended) == 1 and ended[0]["hangup_cause"] == "NORMAL_CLEARING"
    assert "never" not in call.spoken


def test_callback_down_gives_apology_not_dead_air(switch, callback_server):
    provision("http://127.0.0.1:9/nothing")
    call = switch.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(timeout=10)
    assert call.spoken == ["We are sorry, an application error has occurred. Goodbye."]
    record = store.load_call(call.uuid)
    assert record.errors[0]["code"] == "connection_failed" and record.status == "completed"


def test_fallback_url(switch, callback_server):
    fallback = callback_server.static("/fallback", example("hello-world"))
    provision(callback_server.route("/broken", lambda r: (500, "no")), fallback_url=fallback)
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert call.spoken == ["Hello, world."]


def test_over_capacity_answers_503(db, settings, callback_server):
    server = CallServer(settings.replace(max_calls=1))
    server.start()
    fake = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=0.01, media_ms=5)
    fake.start()
    try:
        provision(callback_server.static("/p", {"actions": [{"type": "PAUSE", "params": {"length": 30000}}]}))
        first = fake.incoming_call(destination=DID, caller=CALLER)
        assert callback_server.wait_for(lambda: callback_server.of_type("init_call"))
        second = fake.incoming_call(destination=DID, caller=CALLER)
        assert second.wait_closed(timeout=5)
        assert second.sip_response == 503 and server.stats.rejected_over_capacity == 1
        first.hangup()
        assert first.wait_closed(timeout=5)
    finally:
        fake.stop()
        server.stop()


def test_trace_is_written(switch, callback_server, call_server):
    provision(callback_server.static("/hello", example("hello-world")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    call_server.trace_writer.flush()
    with models.database.connection_context():
        kinds = [
            e.kind
            for e in models.CallEvent.select().where(models.CallEvent.call == call.uuid).order_by(models.CallEvent.id)
        ]
    assert kinds[0] == "callback" and "action" in kinds and "say" in kinds


def test_subaccount_numbers_report_their_subaccount(switch, callback_server):
    url = callback_server.static("/hello", example("hello-world"))
    parent = models.Account.create(name="parent")
    child = models.Account.create(name="child", parent=parent)
    app = models.Application.create(account=child, name="main")
    phone = models.PhoneNumber.create(number=DID, account=child, application=app, service="CallFlows")
    models.CallFlowConfig.create(phone_number=phone, url=url)
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    init = callback_server.of_type("init_call")[0]
    assert init["subaccount_id"] == child.id and init["app_id"] == app.id


@pytest.mark.parametrize(
    "method,content_type",
    [("GET", "application/json"), ("POST", "application/xml"), ("POST", "application/x-www-form-urlencoded")],
)
def test_callbacks_in_every_encoding(switch, callback_server, method, content_type):
    def flow(request):
        return {"actions": [{"type": "SAY", "params": {"text": "hi"}}, {"type": "HANGUP"}]}

    provision(callback_server.route("/enc", flow), method=method, content_type=content_type)
    call = switch.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(timeout=10)
    assert callback_server.wait_for(lambda: len(callback_server.requests) == 2)
    first, last = callback_server.requests
    assert first["method"] == method and last["method"] == method
    if method == "GET":
        fields = dict(first["query"])
        assert fields["type"] == "init_call" and fields["call_id"] == call.uuid
        assert dict(last["query"])["type"] == "call_ended"
    elif content_type == "application/xml":
        assert b"<type>init_call</type>" in first["raw"] and b"<type>call_ended</type>" in last["raw"]
    else:
        assert b"type=init_call" in first["raw"] and b"type=call_ended" in last["raw"]
    assert call.spoken == ["hi"]


def test_keys_before_a_collect_are_not_type_ahead(switch, callback_server):
    """A '#' left over after num_digits, and keys pressed during a SAY, never reach the next COLLECT."""
    provision(
        callback_server.static(
            "/keys",
            {
                "actions": [
                    {
                        "type": "COLLECT",
                        "name": "first",
                        "params": {"num_digits": 1},
                        "actions": [{"type": "SAY", "params": {"text": "press one then pound"}}],
                    },
                    {"type": "SAY", "params": {"text": "thanks"}},
                    {"type": "COLLECT", "name": "second", "params": {"num_digits": 1, "timeout": 1000}},
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    pgd = []

    def on_collect(c, arg):
        pgd.append(arg)
        if len(pgd) == 1:
            c.press("1#")  # '#' arrives after num_digits is reached

    call.on_execute("play_and_get_digits", on_collect)
    call.on_execute("speak", lambda c, arg: c.press("7") if "thanks" in arg else None)
    finished(call, callback_server)
    ended = callback_server.of_type("call_ended")[0]
    assert ended["key_presses"] == [{"name": "second", "digits": ""}, {"name": "first", "digits": "1"}]


def test_play_fetches_audio_once_and_hands_freeswitch_a_cached_file(switch, callback_server, settings):
    wav = (
        b"RIFF"
        + (36 + 1600).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + (8000).to_bytes(4, "little")
        + (16000).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + (1600).to_bytes(4, "little")
        + b"\x10\x00" * 800
    )
    callback_server.route("/tone.wav", lambda r: (200, wav))
    flow = {
        "actions": [
            {"type": "PLAY", "params": {"url": callback_server.url("/tone.wav")}},
            {"type": "PLAY", "params": {"url": callback_server.url("/missing.wav")}},
            {"type": "PLAY", "params": {"url": callback_server.url("/tone.wav"), "loop": 2}},
            {"type": "HANGUP"},
        ]
    }
    provision(callback_server.static("/play", flow))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    played = [arg for app, arg in call.executed if app == "playback"]
    cache = os.path.abspath(settings.audio_cache_dir)
    assert len(played) == 3 and all(p.startswith(cache) and p.endswith(".wav") for p in played)
    assert open(played[0], "rb").read() == wav
    fetches = [r for r in callback_server.requests if r["path"] == "/tone.wav"]
    assert len(fetches) == 2  # no caching headers: asked again (no max-age), never more than once per PLAY
    record = store.load_call(call.uuid)
    assert [e["code"] for e in record.errors] == ["action_failed"] and "404" in record.errors[0]["message"]


def test_conference_greeting_interpolates_and_goes_on_after_the_conference(switch, callback_server):
    from voxology_fs.esl.connection import InboundConnection
    from voxology_fs.flow.actions.conference import conference_room

    account, _ = provision(callback_server.static("/conf", example("conference-greeting")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    rooms = []

    def kick_later(c, arg):
        rooms.append(arg)
        gevent.spawn_later(0.05, lambda: esl.api(f"conference {arg.split('@')[0]} kick all"))

    esl = InboundConnection.open("127.0.0.1", switch.esl_port, "ClueCon")
    call.on_execute("conference", kick_later)
    assert callback_server.wait_for(lambda: len(call.spoken) >= 2, timeout=10)
    call.hangup()
    finished(call, callback_server)
    esl.close()
    assert call.spoken[0] == "Hello, . Welcome to our conference."
    # The room is ours: an account prefix and a hash, never the flow's text.
    assert rooms == [conference_room(str(account.id), "myConference") + "@default+flags{moderator}"]
    assert call.spoken[1].startswith("You have left the conference. This call lasted ")


def send_control(switch, call_id, request):
    """Send a live-control request as the REST API does."""
    from voxology_fs import control
    from voxology_fs.esl.connection import InboundConnection

    headers, body = control.encode(call_id, request)
    esl = InboundConnection.open("127.0.0.1", switch.esl_port, "ClueCon")
    try:
        esl.sendevent("CUSTOM", headers, body=body)
    finally:
        esl.close()


def test_live_session_data_waits_for_the_next_action_and_does_not_cut_the_pause(switch, callback_server):
    provision(
        callback_server.static(
            "/live",
            {
                "actions": [
                    {"type": "PAUSE", "params": {"length": 300000}},
                    {"type": "SAY", "params": {"text": "hello ${sessionData.name}"}},
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute(
        "sleep",
        lambda c, arg: send_control(switch, c.uuid, {"command": "session_data", "session_data": {"name": "Ann"}}),
    )
    gevent.sleep(0.6)
    assert call.spoken == [] and not call.wait_closed(timeout=0.1)  # the PAUSE (3 s here) goes on
    finished(call, callback_server)
    assert call.spoken == ["hello Ann"]
    assert callback_server.of_type("call_ended")[0]["session_data"] == {"name": "Ann"}


def test_live_actions_interrupt_what_plays(switch, callback_server):
    provision(
        callback_server.static(
            "/live",
            {
                "actions": [
                    {"type": "PAUSE", "params": {"length": 600000}},
                    {"type": "SAY", "params": {"text": "never"}},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute(
        "sleep",
        lambda c, arg: send_control(
            switch,
            c.uuid,
            {"command": "actions", "actions": [{"type": "SAY", "params": {"text": "now"}}, {"type": "HANGUP"}]},
        ),
    )
    finished(call, callback_server)
    assert call.spoken == ["now"]


def test_live_hangup(switch, callback_server):
    provision(callback_server.static("/live", {"actions": [{"type": "PAUSE", "params": {"length": 600000}}]}))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute("sleep", lambda c, arg: send_control(switch, c.uuid, {"command": "hangup"}))
    finished(call, callback_server)
    assert [a for a, _ in apps(call)][-1] == "hangup"


def test_a_key_does_not_cut_a_pause(switch, callback_server):
    provision(
        callback_server.static(
            "/pause", {"actions": [{"type": "PAUSE", "params": {"length": 50000}}, {"type": "HANGUP"}]}
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute("sleep", lambda c, arg: gevent.spawn_later(0.05, c.press, "5"))
    started = gevent.get_hub().loop.now()
    finished(call, callback_server)
    # 50 s at time_scale 0.01: the whole 0.5 s, not cut short at the key.
    assert gevent.get_hub().loop.now() - started >= 0.45


def test_live_redirect_to_an_empty_flow_hangs_up(switch, callback_server):
    empty = callback_server.static("/empty", {"actions": []})
    provision(callback_server.static("/live", {"actions": [{"type": "PAUSE", "params": {"length": 600000}}]}))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute("sleep", lambda c, arg: send_control(switch, c.uuid, {"command": "redirect", "url": empty}))
    finished(call, callback_server)
    assert [r["path"] for r in callback_server.requests] == ["/live", "/empty", "/empty"]
    assert [a for a, _ in apps(call)][-1] == "hangup"


def test_set_up_time_runs_from_connect_to_the_first_application(switch, callback_server, call_server):
    """The figure the call server reports: connect to its first sendmsg (here
    ring_ready, since our dialplan already set the channel up), not to the
    event subscription that precedes it."""
    sessions = []
    call_server.session_hook = sessions.append
    provision(callback_server.static("/hello", example("hello-world")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert callback_server.wait_for(lambda: call_server.stats.handled == 1)
    [session] = sessions
    [setup] = call_server.stats.setup_times
    assert apps(call)[0] == ("ring_ready", None)
    assert 0 < setup < 1 and session.first_app_written_at is not None
    assert "connect to first application p50" in call_server.stats.summary()


def test_a_refused_subscription_ends_the_call_cleanly(switch, callback_server, monkeypatch, caplog):
    """The subscription is confirmed before the first application: if FreeSWITCH
    refuses it, no application runs on the channel, the call is logged as
    failed and still gets its one call_ended."""
    from voxology_fs.esl import channel as esl_channel

    monkeypatch.setattr(esl_channel, "CALL_EVENTS", ["NOT_AN_EVENT"])
    provision(callback_server.static("/hello", example("hello-world")))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(timeout=10)
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"))
    assert [app for app, _ in apps(call)] == ["hangup"]  # nothing of the flow ran
    assert "-ERR no keywords supplied" in caplog.text
    [ended] = callback_server.of_type("call_ended")
    assert ended["call_id"] == call.uuid and ended["status"] != "live-in-progress"


def test_a_control_message_the_call_does_not_understand_is_ignored(switch, callback_server):
    from voxology_fs.esl.connection import InboundConnection

    provision(callback_server.static("/live", {"actions": [{"type": "PAUSE", "params": {"length": 300000}}]}))
    call = switch.incoming_call(destination=DID, caller=CALLER)

    def send_garbage(c, arg):
        esl = InboundConnection.open("127.0.0.1", switch.esl_port, "ClueCon")
        try:
            for command, body in (("dance", '{"command": "dance"}'), ("hangup", "{not json")):
                esl.sendevent(
                    "CUSTOM",
                    {"Event-Subclass": "voxology::control", "Vox-Call-ID": c.uuid, "Vox-Command": command},
                    body=body,
                )
        finally:
            esl.close()
        gevent.spawn_later(0.6, send_control, switch, c.uuid, {"command": "hangup"})

    call.on_execute("sleep", send_garbage)
    gevent.sleep(0.4)
    assert not call.wait_closed(timeout=0.1)  # neither message cut the PAUSE (3 s here)
    finished(call, callback_server)
    # No continue_call was fetched: the call ran its PAUSE until the real hangup.
    assert [r["path"] for r in callback_server.requests] == ["/live", "/live"]
    assert [a for a, _ in apps(call)][-1] == "hangup"


def test_media_actions_answer_once_and_only_when_needed(switch, callback_server):
    provision(
        callback_server.static(
            "/media",
            {
                "actions": [
                    {"type": "SESSIONDATA", "session_data": {"a": 1}},
                    {"type": "SAY", "params": {"text": "one"}},
                    {"type": "PLAY", "params": {"digits": "12"}},
                    {"type": "PAUSE", "params": {"length": 10}},
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    names = [app for app, _ in apps(call)]
    assert names.count("answer") == 1
    assert names.index("answer") < names.index("speak") < names.index("send_dtmf")


def test_reject_after_non_media_actions_is_still_before_answer(switch, callback_server):
    provision(
        callback_server.static(
            "/rej",
            {
                "actions": [
                    {"type": "SESSIONDATA", "session_data": {"a": 1}},
                    {"type": "REJECT", "params": {"reason": "rejected"}},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert call.sip_response == 603 and not call.answered
    assert "answer" not in [app for app, _ in apps(call)]


def test_live_actions_kick_our_member_out_of_a_conference(switch, callback_server):
    provision(
        callback_server.static(
            "/conf",
            {
                "actions": [
                    {"type": "CONFERENCE", "params": {"name": "sales"}},
                    {"type": "SAY", "params": {"text": "never"}},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    call.on_execute(
        "conference",
        lambda c, arg: gevent.spawn_later(
            0.05,
            send_control,
            switch,
            c.vars["vox_call_id"],
            {"command": "actions", "actions": [{"type": "SAY", "params": {"text": "moved"}}, {"type": "HANGUP"}]},
        ),
    )
    finished(call, callback_server)
    assert call.spoken == ["moved"]
    room = next(arg for app, arg in apps(call) if app == "conference").split("@")[0]
    assert f"conference {room} kick 1" in switch.api_log
    assert not any(line.startswith("uuid_break") for line in switch.api_log)  # kicked, not broken
    assert room not in switch.conferences


def test_a_flow_nested_thousands_deep_gets_the_apology_and_an_invalid_flow_error(switch, callback_server):
    deep = (
        '{"actions": ['
        + '{"type": "IF", "condition": "true", "then": [' * 3000
        + '{"type": "HANGUP"}'
        + "]}" * 3000
        + "]}"
    )
    provision(callback_server.route("/deep", lambda r: (200, deep)))
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert call.spoken == ["We are sorry, an application error has occurred. Goodbye."]
    error = store.load_call(call.uuid).errors[0]
    assert error["code"] == "invalid_flow" and error["path"].startswith("/actions/0/then/0/then/0")


def test_a_param_rendered_past_its_limit_gets_the_apology_and_a_typed_error(switch, callback_server):
    provision(
        callback_server.static(
            "/long",
            {
                "actions": [
                    {"type": "SESSIONDATA", "session_data": {"chunk": "x" * 60000}},
                    {"type": "SAY", "params": {"text": "${sessionData.chunk}${sessionData.chunk}"}},
                ]
            },
        )
    )
    call = switch.incoming_call(destination=DID, caller=CALLER)
    finished(call, callback_server)
    assert call.spoken == ["We are sorry, an application error has occurred. Goodbye."]
    error = store.load_call(call.uuid).errors[0]
    assert error["code"] == "param_render_failed" and error["path"] == "/actions/1/params/text"
