"""CONFERENCE on the fake switch, with the REST API's live view and control."""

import pytest

from tests.support.provision import DID, setup_number
from tests.support.rig import of_type
from tests.support.waiting import wait_until
from voxology_fs import models
from voxology_fs.flow.actions.conference import conference_room
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response


def member_flow(**params):
    params.setdefault("name", "sales")
    return {
        "actions": [
            {"type": "CONFERENCE", "params": params},
            {"type": "SAY", "params": {"text": "left ${conference.end_reason}"}},
            {"type": "HANGUP"},
        ]
    }


def flows_by_caller(callback_server, by_caller, default):
    """One number whose flow depends on who calls."""

    def answer(request):
        body = request["json"] or {}
        return by_caller.get(body.get("caller_no"), default)

    return callback_server.route("/conf", answer)


def members_inside(room):
    with models.database.connection_context():
        return list(
            models.ConferenceMember.select().where(
                models.ConferenceMember.conference == room, models.ConferenceMember.left_at.is_null()
            )
        )


@pytest.fixture
def acme(rig):
    return rig.client()


def join(rig, callers, room, count):
    calls = [rig.fake.incoming_call(destination=DID, caller=c) for c in callers]
    assert wait_until(lambda: len(members_inside(room)) == count, 5), members_inside(room)
    return calls


def account_of(client):
    return client.get("/PhoneNumbers/CallFlows").get_json()


def room_of(acme):
    with models.database.connection_context():
        account = models.PhoneNumber.get_by_id(DID).account_id
    return conference_room(account, "sales")


def test_two_callers_meet_and_rest_sees_mutes_kicks_and_ends_the_room(rig, acme, callback_server):
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    room = room_of(acme)
    first, second, third = join(rig, ["+19495550001", "+19495550002", "+19495550003"], room, 3)

    listed = acme.get("/Conferences").get_json()["conferences"]
    assert [(c["name"], c["member_count"]) for c in listed] == [("sales", 3)]
    doc = acme.get("/Conferences/sales").get_json()
    assert sorted(m["call_id"] for m in doc["members"]) == sorted([first.uuid, second.uuid, third.uuid])
    assert all(m["muted"] is False for m in doc["members"])

    r = acme.post(f"/Conferences/sales/Participants/{second.uuid}", {"muted": True})
    assert r.status_code == 200 and r.get_json()["muted"] is True
    fake_room = rig.fake.conferences[room]
    assert {m["call"].uuid: m["muted"] for m in fake_room.members} == {
        first.uuid: False,
        second.uuid: True,
        third.uuid: False,
    }
    [muted_id] = [m["id"] for m in fake_room.members if m["call"] is second]
    assert f"conference {room} mute {muted_id}" in rig.fake.api_log
    members = {m["call_id"]: m["muted"] for m in acme.get("/Conferences/sales").get_json()["members"]}
    assert members == {first.uuid: False, second.uuid: True, third.uuid: False}

    assert acme.delete(f"/Conferences/sales/Participants/{first.uuid}").status_code == 204
    assert first.wait_closed(5) and first.spoken == ["left kicked"]
    assert sorted(m.call_id for m in members_inside(room)) == sorted([second.uuid, third.uuid])

    r = acme.post("/Conferences/sales/End")
    assert r.status_code == 202
    for call in (second, third):
        assert call.wait_closed(5) and call.spoken == ["left ended_by_api"]
    assert acme.get("/Conferences").get_json()["conferences"] == []
    assert acme.get("/Conferences/sales").status_code == 404
    assert wait_until(lambda: len(of_type(callback_server, "call_ended")) == 3, 5)
    reasons = sorted(e["conference_end_reason"] for e in of_type(callback_server, "call_ended"))
    assert reasons == ["ended_by_api", "ended_by_api", "kicked"]


def test_rest_refuses_bad_bodies_and_unknown_members(rig, acme, callback_server):
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    [call] = join(rig, ["+19495550001"], room_of(acme), 1)
    url = f"/Conferences/sales/Participants/{call.uuid}"
    bad = (({}, "muted"), ({"muted": "yes"}, "muted"), ({"hold": 1}, "hold"), ({"muted": True, "coach": True}, "coach"))
    for body, field in bad:
        r = acme.post(url, body)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field, r.get_json()
    assert (
        acme.post("/Conferences/sales/Participants/00000000-0000-4000-8000-000000000000", {"muted": True}).status_code
        == 404
    )
    assert acme.post("/Conferences/nosuch/End").status_code == 404
    call.hangup()


def test_another_account_neither_sees_nor_controls_the_room(rig, acme, callback_server):
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    [call] = join(rig, ["+19495550001"], room_of(acme), 1)
    other = rig.client("other")
    assert other.get("/Conferences").get_json()["conferences"] == []
    assert other.get("/Conferences/sales").status_code == 404
    assert other.post(f"/Conferences/sales/Participants/{call.uuid}", {"muted": True}).status_code == 404
    assert other.delete(f"/Conferences/sales/Participants/{call.uuid}").status_code == 404
    assert other.post("/Conferences/sales/End").status_code == 404
    assert not any(" mute " in c or " kick " in c for c in rig.fake.api_log)
    call.hangup()


def test_an_end_on_exit_member_leaving_ends_the_room_and_the_others_go_on(rig, acme, callback_server):
    host = "+19495550001"
    setup_number(acme, flows_by_caller(callback_server, {"+" + host[1:]: member_flow(end_on_exit=True)}, member_flow()))
    room = room_of(acme)
    hosting, guest = join(rig, [host, "+19495550002"], room, 2)
    hosting.hangup()
    assert guest.wait_closed(5) and guest.spoken == ["left end_on_exit"]


def test_params_reach_the_switch_and_a_full_room_lets_the_flow_go_on(rig, acme, callback_server):
    muted_caller, waiting_caller = "+19495550001", "+19495550002"
    by_caller = {
        muted_caller: member_flow(muted=True, max_participants=2),
        waiting_caller: member_flow(start_on_enter=False),
    }
    setup_number(acme, flows_by_caller(callback_server, by_caller, member_flow()))
    room = room_of(acme)
    # The member who opens the room sets its size: the muted one, first.
    [muted] = join(rig, [muted_caller], room, 1)
    [waiting] = join(rig, [waiting_caller], room, 2)
    apps = dict(muted.executed)
    settings = (
        "multiset",
        "conference_flags=wait-mod conference_max_members=2 conference_enter_sound= conference_exit_sound= "
        "conference_controls=",
    )
    assert settings in muted.executed
    assert apps["conference"] == f"{room}@default+flags{{moderator|mute}}"
    assert dict(waiting.executed)["conference"] == f"{room}@default"  # waits for a member who starts it
    members = {m["call_id"]: m["muted"] for m in acme.get("/Conferences/sales").get_json()["members"]}
    assert members == {muted.uuid: True, waiting.uuid: False}
    [third] = [rig.fake.incoming_call(destination=DID, caller="+19495550003")]
    assert third.wait_closed(5) and third.spoken == ["left full"]
    for call in (muted, waiting):
        call.hangup()


def test_a_room_that_fills_again_starts_afresh(rig, acme, callback_server):
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    room = room_of(acme)
    [first] = join(rig, ["+19495550001"], room, 1)
    assert acme.post("/Conferences/sales/End").status_code == 202
    assert first.wait_closed(5) and first.spoken == ["left ended_by_api"]
    [again] = join(rig, ["+19495550002"], room, 1)
    assert acme.delete(f"/Conferences/sales/Participants/{again.uuid}").status_code == 204
    assert again.wait_closed(5) and again.spoken == ["left kicked"]  # not the earlier end


def test_rest_puts_a_member_on_hold_and_takes_it_off(rig, acme, callback_server):
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    room = room_of(acme)
    first, second = join(rig, ["+19495550001", "+19495550002"], room, 2)
    url = f"/Conferences/sales/Participants/{second.uuid}"
    r = acme.post(url, {"hold": True})
    assert r.status_code == 200 and r.get_json()["hold"] is True and r.get_json()["muted"] is False
    [held] = [m for m in rig.fake.conferences[room].members if m["call"] is second]
    # The member hears the room's hold tone, looped, until taken off hold.
    assert held["held"] and held["hold_file"] == "tone_stream://%(400,2600,440);loops=-1"
    members = {m["call_id"]: m["hold"] for m in acme.get("/Conferences/sales").get_json()["members"]}
    assert members == {first.uuid: False, second.uuid: True}
    r = acme.post(url, {"hold": False, "muted": True})
    assert r.get_json()["hold"] is False and r.get_json()["muted"] is True
    assert not held["held"] and f"conference {room} unhold {held['id']}" in rig.fake.api_log
    for call in (first, second):
        call.hangup()


@pytest.mark.parametrize(
    "beep,enter,exit",
    [
        (None, "tone_stream://%(200,0,500,600,700)", "tone_stream://%(500,0,300,200,100,50,25)"),
        (False, "silence_stream://1", "silence_stream://1"),
        ("on_enter", "tone_stream://%(200,0,500,600,700)", "silence_stream://1"),
        ("on_exit", "silence_stream://1", "tone_stream://%(500,0,300,200,100,50,25)"),
    ],
    ids=["default", "false", "on_enter", "on_exit"],
)
def test_beep_says_what_the_room_hears_as_the_member_enters_and_leaves(rig, acme, callback_server, beep, enter, exit):
    beeping = "+19495550002"
    params = {} if beep is None else {"beep": beep}
    setup_number(acme, flows_by_caller(callback_server, {beeping: member_flow(**params)}, member_flow()))
    room = room_of(acme)
    first, second = join(rig, ["+19495550001", beeping], room, 2)
    second.hangup()
    assert wait_until(lambda: len(members_inside(room)) == 1, 5)
    sounds = [(kind, f) for r, kind, uuid, f in rig.fake.conference_sounds if r == room and uuid == second.uuid]
    assert sounds == [("enter", enter), ("exit", exit)]
    first.hangup()


def test_beep_must_be_one_of_its_choices():
    from voxology_fs.flow.errors import FlowValidationError
    from voxology_fs.flow.parser import parse_response

    with pytest.raises(FlowValidationError) as raised:
        parse_response({"actions": [{"type": "CONFERENCE", "params": {"name": "x", "beep": "loud"}}]})
    assert [p for p, _m in raised.value.errors] == ["/actions/0/params/beep"]


def test_the_leave_key_takes_the_caller_out_and_its_flow_goes_on(rig, acme, callback_server):
    leaving = "+19495550002"
    setup_number(acme, flows_by_caller(callback_server, {leaving: member_flow(leave_key="*")}, member_flow()))
    room = room_of(acme)
    staying, leaver = join(rig, ["+19495550001", leaving], room, 2)
    assert ("multiset", "conference_controls=leave-star") in [
        (app, arg.split(" ")[-1]) for app, arg in leaver.executed if app == "multiset"
    ]
    staying.press("*")  # not its key: it stays
    leaver.press("*")
    assert leaver.wait_closed(5) and leaver.spoken == ["left left"]
    assert [m.call_id for m in members_inside(room)] == [staying.uuid]
    staying.hangup()


def test_a_recorded_room_is_recorded_once_and_completed_when_its_last_member_leaves(rig, acme, callback_server):
    ready = callback_server.static("/rec-ready", {})
    recorded = member_flow(record=True, recording_status_url=ready)
    recorded["actions"][1]["params"]["text"] = "left ${conference.end_reason} ${conference.recording_id}"
    setup_number(acme, flows_by_caller(callback_server, {"+19495550003": member_flow()}, recorded))
    room = room_of(acme)
    # Two members ask for a recording, one does not: the room has one.
    first, second, third = join(rig, ["+19495550001", "+19495550002", "+19495550003"], room, 3)
    assert wait_until(lambda: len(rig.fake.conferences[room].recordings) == 1, 5)
    with models.database.connection_context():
        [recording] = list(models.Recording.select())
    assert recording.source == "conference" and recording.room == room and recording.status == "in-progress"
    assert recording.call_id in (first.uuid, second.uuid) and recording.name == "sales"

    # A member leaving does not end it; the last one does.
    assert acme.delete(f"/Conferences/sales/Participants/{first.uuid}").status_code == 204
    assert first.wait_closed(5) and first.spoken == [f"left kicked {recording.id}"]
    with models.database.connection_context():
        assert models.Recording.get_by_id(recording.id).status == "in-progress"
    assert acme.post("/Conferences/sales/End").status_code == 202
    for call in (second, third):
        assert call.wait_closed(5)
    assert second.spoken == [f"left ended_by_api {recording.id}"] and third.spoken == ["left ended_by_api"]
    doc = acme.get(f"/Recordings/{recording.id}").get_json()
    assert doc["status"] == "completed" and doc["ended_by"] == "ended" and doc["source"] == "conference"
    assert doc["duration"] > 0 and acme.get(f"/Recordings/{recording.id}/Audio").data[:4] == b"RIFF"
    told = lambda: of_type(callback_server, "recording_status")  # noqa: E731
    assert wait_until(told, 5) and told()[0]["recording"]["id"] == recording.id
    assert len(told()) == 1
    ended = {e["call_id"]: e for e in of_type(callback_server, "call_ended")}
    assert ended[first.uuid]["conference_recording_id"] == recording.id
    assert "conference_recording_id" not in ended[third.uuid]
    # Another account cannot see it.
    assert rig.client("globex").get(f"/Recordings/{recording.id}").status_code == 404


def test_a_room_that_refuses_to_record_fails_the_recording_and_the_member_stays(
    rig, acme, callback_server, monkeypatch
):
    from tests.fakefs.registry import API_COMMANDS

    real = API_COMMANDS["conference"]

    def refusing(switch, arg, session):
        if " recording start " in f" {arg} ":
            return "-ERR Conference recording failed\n"
        return real(switch, arg, session)

    monkeypatch.setitem(API_COMMANDS, "conference", refusing)
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow(record=True)))
    room = room_of(acme)
    [call] = join(rig, ["+19495550001"], room, 1)
    with models.database.connection_context():
        assert wait_until(lambda: models.Recording.select().where(models.Recording.status == "failed").exists(), 5)
        [recording] = list(models.Recording.select())
    assert "did not record" in recording.error
    assert members_inside(room) and call.spoken == []
    assert acme.delete(f"/Conferences/sales/Participants/{call.uuid}").status_code == 204
    assert call.wait_closed(5) and call.spoken == ["left kicked"]


def test_a_recording_status_url_that_is_not_http_is_a_flow_error(rig, acme, callback_server):
    setup_number(acme, callback_server.static("/c", member_flow(record=True, recording_status_url="file:///etc")))
    call = rig.fake.incoming_call(destination=DID)
    assert call.wait_closed(5)
    with models.database.connection_context():
        errors = models.Call.get_by_id(call.uuid).errors
    assert any(e["path"] == "/actions/0/params/recording_status_url" for e in errors), errors


def test_the_room_s_status_url_hears_start_join_speaker_mute_hold_leave_and_end(rig, acme, callback_server):
    events_url = callback_server.static("/events", {})
    # The first member's status_url is the room's; the second gives none.
    flows = {"+19495550001": member_flow(status_url=events_url)}
    setup_number(acme, flows_by_caller(callback_server, flows, member_flow()))
    room = room_of(acme)

    def events():
        return [r["json"] for r in callback_server.requests if r["path"] == "/events"]

    def seen(event, call_id):
        # Each is sent on its own, without waiting: wait for it, in any order.
        found = lambda: [e for e in events() if e["event"] == event and e["call_id"] == call_id]  # noqa: E731
        assert wait_until(found, 5), (event, events())
        return found()

    [first] = join(rig, ["+19495550001"], room, 1)
    assert seen("start", first.uuid) and seen("join", first.uuid)
    [second] = join(rig, ["+19495550002"], room, 2)
    assert seen("join", second.uuid)
    assert rig.fake.member_talks(second, True)
    talks, *more = seen("speaker", second.uuid)
    assert not more, events()
    assert talks["talking"] is True
    assert rig.fake.member_talks(second, False)
    assert wait_until(lambda: len([e for e in events() if e["event"] == "speaker"]) == 2, 5)
    assert acme.post(f"/Conferences/sales/Participants/{second.uuid}", {"muted": True}).status_code == 200
    [mute] = seen("mute", second.uuid)
    assert mute["muted"] is True and mute["member_count"] == 2
    assert acme.post(f"/Conferences/sales/Participants/{second.uuid}", {"hold": True}).status_code == 200
    assert seen("hold", second.uuid)[0]["hold"] is True
    assert acme.post("/Conferences/sales/End").status_code == 202
    for call in (first, second):
        assert call.wait_closed(5)
    assert seen("leave", first.uuid) and seen("leave", second.uuid)
    [end] = seen("end", None)
    assert end["reason"] == "ended_by_api" and end["member_count"] == 0
    assert len([e for e in events() if e["event"] == "start"]) == 1
    assert all(e["type"] == "conference_status" and e["conference_name"] == "sales" for e in events())


def test_a_status_url_that_is_not_http_is_refused_before_the_call_runs():
    with pytest.raises(FlowValidationError) as raised:
        parse_response({"actions": [{"type": "CONFERENCE", "params": {"name": "x", "status_url": "ftp://x"}}]})
    assert "/actions/0/params/status_url" in [p for p, _ in raised.value.errors]


def test_rest_announces_a_text_or_an_audio_url_to_the_room(rig, acme, callback_server, settings):
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    audio_url = callback_server.route(
        "/chime.wav", lambda request: (200, buf.getvalue(), {"Content-Type": "audio/wav"})
    )
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    room = room_of(acme)
    [call] = join(rig, ["+19495550001"], room, 1)
    said = acme.post("/Conferences/sales/Announce", {"text": "{tts_engine=x}The meeting\nends ${system reboot} soon"})
    assert said.status_code == 202, said.get_json()
    played = acme.post("/Conferences/sales/Announce", {"url": audio_url})
    assert played.status_code == 202, played.get_json()
    [(r1, kind1, text), (r2, kind2, path)] = rig.fake.conference_announcements
    assert r1 == r2 == room and kind1 == "say" and kind2 == "play"
    # Our engine and voice first; the customer's text after them, on one line, not read as variables.
    assert f"conference {room} say {{tts_engine=flite,tts_voice=kal}}{{tts_engine=x}}The meeting ends" in " ".join(
        rig.fake.api_log
    )
    assert text == "{tts_engine=flite,tts_voice=kal}{tts_engine=x}The meeting ends ${system reboot} soon"
    assert path.startswith(settings.audio_cache_dir) or path.startswith("/")
    for body, field in (
        ({}, "text"),
        ({"text": "a", "url": audio_url}, "text"),
        ({"text": "   "}, "text"),
        ({"url": "ftp://x/y"}, "url"),
        ({"url": callback_server.url("/missing.wav")}, "url"),
        ({"say": "x"}, "say"),
    ):
        r = acme.post("/Conferences/sales/Announce", body)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field, (body, r.get_json())
    assert rig.client("globex").post("/Conferences/sales/Announce", {"text": "hi"}).status_code == 404
    call.hangup()


def test_a_coach_is_heard_by_the_call_it_coaches_alone_and_rest_moves_it(rig, acme, callback_server):
    setup_number(acme, flows_by_caller(callback_server, {}, member_flow()))
    room = room_of(acme)
    agent, customer = join(rig, ["+19495550001", "+19495550002"], room, 2)
    # The supervisor coaches the agent: it joins with coach set to the agent's call.
    coach_flow = member_flow(coach=agent.uuid)
    callback_server.routes["/conf"] = lambda request: (
        coach_flow if (request["json"] or {}).get("caller_no") == "+19495550003" else member_flow()
    )
    [supervisor] = join(rig, ["+19495550003"], room, 3)
    ids = {m["call"].uuid: m["id"] for m in rig.fake.conferences[room].members}
    unheard = lambda: rig.fake.conferences[room].unheard  # noqa: E731  (set just after the member is in)
    assert wait_until(lambda: unheard() == {(ids[supervisor.uuid], ids[customer.uuid])}, 5), unheard()
    # A later member does not hear the coach either.
    [late] = join(rig, ["+19495550004"], room, 4)
    ids = {m["call"].uuid: m["id"] for m in rig.fake.conferences[room].members}
    expected = {(ids[supervisor.uuid], ids[customer.uuid]), (ids[supervisor.uuid], ids[late.uuid])}
    assert wait_until(lambda: unheard() == expected, 5), unheard()
    doc = {m["call_id"]: m for m in acme.get("/Conferences/sales").get_json()["members"]}
    assert doc[supervisor.uuid]["coaching"] == agent.uuid and doc[agent.uuid]["coaching"] is None
    # REST: coach the customer instead, then no one.
    r = acme.post(f"/Conferences/sales/Participants/{supervisor.uuid}", {"coach": customer.uuid})
    assert r.status_code == 200 and r.get_json()["coaching"] == customer.uuid
    assert rig.fake.conferences[room].unheard == {
        (ids[supervisor.uuid], ids[agent.uuid]),
        (ids[supervisor.uuid], ids[late.uuid]),
    }
    assert acme.post(f"/Conferences/sales/Participants/{supervisor.uuid}", {"coach": None}).status_code == 200
    assert rig.fake.conferences[room].unheard == set()
    for body in ({"coach": supervisor.uuid}, {"coach": "00000000-0000-4000-8000-000000000000"}, {"coach": 5}):
        r = acme.post(f"/Conferences/sales/Participants/{supervisor.uuid}", body)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == "coach", r.get_json()
    acme.post("/Conferences/sales/End")
    for call in (agent, customer, supervisor, late):
        assert call.wait_closed(5)


def test_a_coach_of_another_account_s_call_is_refused_and_the_flow_goes_on(rig, acme, callback_server):
    rig.client("globex")  # the account
    with models.database.connection_context():
        globex = models.Account.get(models.Account.name == "globex")
        models.Call.create(
            id="00000000-0000-4000-8000-000000000000", account=globex, direction="inbound", status="live-in-progress"
        )
    flow = {
        "actions": [
            {"type": "CONFERENCE", "params": {"name": "sales", "coach": "00000000-0000-4000-8000-000000000000"}},
            {"type": "SAY", "params": {"text": "after"}},
            {"type": "HANGUP"},
        ]
    }
    setup_number(acme, callback_server.static("/c", flow))
    call = rig.fake.incoming_call(destination=DID, caller="+19495550001")
    assert call.wait_closed(5) and call.spoken == ["after"]
    with models.database.connection_context():
        errors = models.Call.get_by_id(call.uuid).errors
    assert [e["path"] for e in errors] == ["/actions/0/params/coach"]
