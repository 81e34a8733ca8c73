"""CONFERENCE on a real FreeSWITCH: two SIP callers meet in a room; the REST
API mutes one, kicks it (its flow goes on), and ends the room."""

import time

from tests.integration.test_callflows import LOUD, dial, esl_watch  # noqa: F401  (fixtures)
from tests.integration.test_make_call import configure, trunk_platform, wait_until  # noqa: F401
from tests.integration.test_record_real import VOICE_HZ, caller_voice, fetch_audio
from tests.integration.test_transfer_real import zero_crossing_hz
from tests.support.audio import wav_tones
from tests.support.provision import DID
from voxology_fs import models
from voxology_fs.flow.actions.conference import conference_room

FLOW = {
    "actions": [
        {"type": "SAY", "params": {"text": "Joining."}},
        {"type": "CONFERENCE", "params": {"name": "sales room"}},
        {"type": "SAY", "params": {"text": "You left, ${conference.end_reason}."}},
        {"type": "HANGUP"},
    ]
}


def room_named(name):
    """Our FreeSWITCH room of the DID's account's conference ``name``."""
    with models.database.connection_context():
        return conference_room(models.PhoneNumber.get_by_id(DID).account_id, name)


def inside(room):
    with models.database.connection_context():
        return list(
            models.ConferenceMember.select().where(
                models.ConferenceMember.conference == room, models.ConferenceMember.left_at.is_null()
            )
        )


def test_two_callers_meet_then_rest_mutes_kicks_and_ends(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    freeswitch,
):
    configure(trunk_platform, DID, callback_server.static("/conf", FLOW))
    room = room_named("sales room")
    first, second = dial(), dial()
    assert wait_until(lambda: len(inside(room)) == 2, 20), freeswitch.esl(f"conference {room} list")
    members = {m["call_id"] for m in trunk_platform.get("/Conferences/sales%20room").get_json()["members"]}
    assert members == {first.uuid, second.uuid}

    r = trunk_platform.post(f"/Conferences/sales%20room/Participants/{second.uuid}", {"muted": True})
    assert r.status_code == 200, r.get_json()
    listing = freeswitch.esl(f"conference {room} list")
    [line] = [row for row in listing.splitlines() if second.uuid in row]
    assert "speak" not in line.split(";")[5], line  # FreeSWITCH's flags for the member: hear, not speak

    assert trunk_platform.delete(f"/Conferences/sales%20room/Participants/{first.uuid}").status_code == 204
    first.wait_execute("speak", data_contains="You left, kicked.", timeout=15)
    time.sleep(0.5)
    assert trunk_platform.post("/Conferences/sales%20room/End").status_code == 202
    second.wait_execute("speak", data_contains="You left, ended_by_api.", timeout=15)
    for call in (first, second):
        assert call.result(timeout=30).returncode == 0
    assert trunk_platform.get("/Conferences").get_json()["conferences"] == []
    assert wait_until(lambda: len(callback_server.of_type("call_ended")) == 2, 15)
    reasons = sorted(e["conference_end_reason"] for e in callback_server.of_type("call_ended"))
    assert reasons == ["ended_by_api", "kicked"]


def test_a_member_waiting_for_the_room_to_start_hears_hold_audio(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    freeswitch,
):
    waiting_flow = {
        "actions": [{"type": "CONFERENCE", "params": {"name": "later", "start_on_enter": False}}, {"type": "HANGUP"}]
    }
    configure(trunk_platform, DID, callback_server.static("/wait", waiting_flow))
    call = dial()
    joined = call.wait_execute("conference", timeout=20)
    time.sleep(4)
    heard = [p for p in call.rtp.audio(since=joined.at) if p.rms > LOUD]
    # The room's hold tone (400 ms of 440 Hz every 3 s), not silence.
    assert len(heard) * 20 >= 300, call.rtp.summary()
    assert 400 <= zero_crossing_hz(heard) <= 480, zero_crossing_hz(heard)
    assert trunk_platform.post("/Conferences/later/End").status_code == 202
    assert call.result(timeout=30).returncode == 0


def test_the_end_on_exit_member_hanging_up_ends_the_room_and_the_other_flow_goes_on(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
):
    host_flow = {"actions": [{"type": "CONFERENCE", "params": {"name": "briefing", "end_on_exit": True}}]}
    guest_flow = {
        "actions": [
            {"type": "CONFERENCE", "params": {"name": "briefing"}},
            {"type": "SAY", "params": {"text": "The host left: ${conference.end_reason}."}},
            {"type": "HANGUP"},
        ]
    }
    first = []

    def answer(request):
        body = request["json"] or {}
        if not first:
            first.append(body.get("caller_no"))
        return host_flow if body.get("caller_no") == first[0] else guest_flow

    configure(trunk_platform, DID, callback_server.route("/brief", answer))
    host = dial("uac_media_hangup.xml", duration_ms=6000)  # hangs up itself after 6 s
    host.wait_execute("conference", timeout=20)
    guest = dial()
    guest.wait_execute("speak", data_contains="The host left: end_on_exit.", timeout=30)
    assert host.result(timeout=30).returncode == 0 and guest.result(timeout=30).returncode == 0


def loud_ms(call, since, until):
    return 20 * len([p for p in call.rtp.audio(since, until) if p.rms > LOUD])


def test_beeps_as_members_enter_and_rest_puts_one_on_hold(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    freeswitch,
):
    """The room hears the profile's enter tone as a member joins unless its
    ``beep`` is false; a member REST puts on hold hears the hold tone."""
    order = []

    def answer(request):
        caller = (request["json"] or {}).get("caller_no")
        if caller not in order:
            order.append(caller)
        beep = {1: False}.get(order.index(caller), True)  # the second caller joins without a beep
        return {"actions": [{"type": "CONFERENCE", "params": {"name": "beeps", "beep": beep}}, {"type": "HANGUP"}]}

    configure(trunk_platform, DID, callback_server.route("/beeps", answer))
    room = room_named("beeps")
    first = dial()
    first.wait_execute("conference", timeout=20)
    time.sleep(1.0)
    quiet = dial()
    joined = quiet.wait_execute("conference", timeout=20)
    assert wait_until(lambda: len(inside(room)) == 2, 10)
    time.sleep(1.5)
    assert loud_ms(first, joined.at, joined.at + 1.5) <= 60, first.rtp.summary()  # no beep

    r = trunk_platform.post(f"/Conferences/beeps/Participants/{first.uuid}", {"hold": True})
    assert r.status_code == 200 and r.get_json()["hold"] is True, r.get_json()
    held_at = time.monotonic()
    time.sleep(3.5)
    tone = [p for p in first.rtp.audio(held_at, held_at + 3.5) if p.rms > LOUD]
    assert len(tone) * 20 >= 300, first.rtp.summary()  # the hold tone: 400 ms of 440 Hz every 3 s
    assert 400 <= zero_crossing_hz(tone) <= 480, zero_crossing_hz(tone)
    r = trunk_platform.post(f"/Conferences/beeps/Participants/{first.uuid}", {"hold": False})
    assert r.status_code == 200 and r.get_json()["hold"] is False
    time.sleep(1.0)

    beeping = dial()
    entered = beeping.wait_execute("conference", timeout=20)
    time.sleep(1.5)
    assert loud_ms(first, entered.at, entered.at + 1.5) >= 100, first.rtp.summary()  # the enter tone
    assert trunk_platform.post("/Conferences/beeps/End").status_code == 202
    for call in (first, quiet, beeping):
        assert call.result(timeout=30).returncode == 0


def test_the_leave_key_takes_a_member_out_and_its_flow_goes_on(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    freeswitch,
):
    """Our caller-controls group leave-pound: the member's # ends its membership, not its call."""
    flow = {
        "actions": [
            {"type": "CONFERENCE", "params": {"name": "keys", "leave_key": "#"}},
            {"type": "SAY", "params": {"text": "You left, ${conference.end_reason}."}},
            {"type": "HANGUP"},
        ]
    }
    configure(trunk_platform, DID, callback_server.static("/keys", flow))
    room = room_named("keys")
    staying, leaving = dial(), dial()
    assert wait_until(lambda: len(inside(room)) == 2, 20), freeswitch.esl(f"conference {room} list")
    staying.press("1")  # not the leave key
    leaving.press("#")
    leaving.wait_execute("speak", data_contains="You left, left.", timeout=15)
    assert [m.call_id for m in inside(room)] == [staying.uuid]
    assert trunk_platform.post("/Conferences/keys/End").status_code == 202
    staying.wait_execute("speak", data_contains="You left, ended_by_api.", timeout=15)
    for call in (staying, leaving):
        assert call.result(timeout=30).returncode == 0


def test_a_recorded_room_holds_what_its_members_said_once_the_last_leaves(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
):
    caller_voice(sipp.workdir, 2.0, then_silence=6.0)
    ready = callback_server.static("/ready", {})
    flow = {
        "actions": [
            {
                "type": "CONFERENCE",
                "params": {"name": "taped", "record": True, "beep": False, "recording_status_url": ready},
            },
            {"type": "SAY", "params": {"text": "Recorded as ${conference.recording_id}."}},
            {"type": "HANGUP"},
        ]
    }
    configure(trunk_platform, DID, callback_server.static("/taped", flow))
    room = room_named("taped")
    listener = dial()  # silent
    assert wait_until(lambda: len(inside(room)) == 1, 20)
    speaker = dial("uac_media_speak.xml")  # 2 s of 600 Hz once it is in
    assert wait_until(lambda: len(inside(room)) == 2, 20)
    time.sleep(4.0)
    with models.database.connection_context():
        [recording] = list(models.Recording.select().where(models.Recording.room == room))
    assert recording.status == "in-progress" and recording.source == "conference"
    assert trunk_platform.post("/Conferences/taped/End").status_code == 202
    for call in (listener, speaker):
        call.wait_execute("speak", data_contains=f"Recorded as {recording.id}.", timeout=15)
        assert call.result(timeout=30).returncode == 0
    told = lambda: callback_server.of_type("recording_status")  # noqa: E731
    assert wait_until(told, 15), "the room's recording was never completed"
    [status] = told()
    assert status["recording"]["id"] == recording.id and status["recording"]["ended_by"] == "ended"
    _client, audio = fetch_audio(settings, recording.id)
    assert audio.status_code == 200
    [(loud_s, hz)], total_s = wav_tones(audio.data)
    # The speaker's 2 s tone, in the room's mix, in a file as long as the room was recorded.
    assert abs(hz - VOICE_HZ) < 30, hz
    assert 1.5 < loud_s <= 2.1, loud_s
    assert total_s >= 4.0, total_s


def test_the_room_s_status_url_hears_its_events_and_who_speaks(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    caller_voice(sipp.workdir, 2.0, then_silence=4.0)
    events_url = callback_server.static("/events", {})
    flow = {
        "actions": [{"type": "CONFERENCE", "params": {"name": "heard", "status_url": events_url}}, {"type": "HANGUP"}]
    }
    configure(trunk_platform, DID, callback_server.static("/heard", flow))
    room = room_named("heard")
    listener = dial()
    assert wait_until(lambda: len(inside(room)) == 1, 20)
    speaker = dial("uac_media_speak.xml")
    assert wait_until(lambda: len(inside(room)) == 2, 20)

    def events():
        return [r["json"] for r in callback_server.requests if r["path"] == "/events"]

    spoke = lambda: [e for e in events() if e["event"] == "speaker" and e["call_id"] == speaker.uuid]  # noqa: E731
    assert wait_until(spoke, 15), events()
    assert spoke()[0]["talking"] is True
    assert trunk_platform.post(f"/Conferences/heard/Participants/{listener.uuid}", {"muted": True}).status_code == 200
    assert trunk_platform.post("/Conferences/heard/End").status_code == 202
    for call in (listener, speaker):
        assert call.result(timeout=30).returncode == 0
    assert wait_until(lambda: any(e["event"] == "end" for e in events()), 15), events()
    kinds = {(e["event"], e["call_id"]) for e in events()}
    assert {("start", listener.uuid), ("join", listener.uuid), ("join", speaker.uuid)} <= kinds
    assert {("mute", listener.uuid), ("leave", listener.uuid), ("leave", speaker.uuid), ("end", None)} <= kinds


def test_rest_announces_a_text_to_the_room_and_nothing_of_it_runs_on_the_switch(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    freeswitch,
    tmp_path,
):
    flow = {"actions": [{"type": "CONFERENCE", "params": {"name": "news", "beep": False}}, {"type": "HANGUP"}]}
    configure(trunk_platform, DID, callback_server.static("/news", flow))
    room = room_named("news")
    call = dial()
    joined = call.wait_execute("conference", timeout=20)
    assert wait_until(lambda: len(inside(room)) == 1, 20)
    time.sleep(1.0)
    marker = tmp_path / "ran"
    text = f"Good morning. ${{system touch {marker}}} The meeting starts now."
    r = trunk_platform.post("/Conferences/news/Announce", {"text": text})
    assert r.status_code == 202, r.get_json()
    time.sleep(4.0)
    # The member heard speech (flite: seconds of it, more than the room's
    # hold tone's 400 ms every 3 s), and the switch ran nothing of the text.
    heard = [p for p in call.rtp.audio(since=joined.at + 1.0) if p.rms > LOUD]
    assert len(heard) * 20 >= 2000, call.rtp.summary()
    assert not marker.exists()
    assert trunk_platform.post("/Conferences/news/End").status_code == 202
    assert call.result(timeout=30).returncode == 0


def test_a_coach_is_heard_by_the_agent_alone(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    caller_voice(sipp.workdir, 3.0, then_silence=6.0)
    plain = {"actions": [{"type": "CONFERENCE", "params": {"name": "desk", "beep": False}}, {"type": "HANGUP"}]}
    first = []

    def answer(request):
        body = request["json"] or {}
        if not first:
            first.append(body["call_id"])  # the agent
        if len(first) == 1 and body["call_id"] != first[0] and body.get("type") == "init_call":
            first.append(body["call_id"])  # the customer
        elif len(first) == 2 and body["call_id"] not in first and body.get("type") == "init_call":
            coach = {"type": "CONFERENCE", "params": {"name": "desk", "beep": False, "coach": first[0]}}
            return {"actions": [coach, {"type": "HANGUP"}]}
        return plain

    configure(trunk_platform, DID, callback_server.route("/desk", answer))
    room = room_named("desk")
    agent = dial()
    assert wait_until(lambda: len(inside(room)) == 1, 20)
    customer = dial()
    assert wait_until(lambda: len(inside(room)) == 2, 20)
    supervisor = dial("uac_media_speak.xml")  # 3 s of 600 Hz once in
    joined = supervisor.wait_execute("conference", timeout=20)
    assert wait_until(lambda: len(inside(room)) == 3, 20)
    time.sleep(4.5)
    until = joined.at + 5.0

    def loud_ms(call):
        return 20 * len([p for p in call.rtp.audio(since=joined.at, until=until) if p.rms > LOUD])

    assert loud_ms(agent) >= 1500, agent.rtp.summary()
    assert loud_ms(customer) <= 200, customer.rtp.summary()
    assert trunk_platform.post("/Conferences/desk/End").status_code == 202
    for call in (agent, customer, supervisor):
        assert call.result(timeout=30).returncode == 0
