"""TRANSFER on a real FreeSWITCH: a SIP caller connected through the trunk gateway to a sipp answerer."""

import itertools

import pytest

from tests.integration.test_callflows import LOUD, dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.integration.test_make_call import configure, platform, wait_until  # noqa: F401
from tests.integration.test_record_real import fetch_audio, tone_file
from tests.support.audio import ulaw_decode, wav_tones
from tests.support.provision import DID, provision
from voxology_fs import models

FAR = "+13125550100"


def transfer_flow(**params):
    return {
        "actions": [
            {"type": "SAY", "params": {"text": "Connecting you."}},
            {"type": "TRANSFER", "params": {"to": FAR, **params}},
            {"type": "SAY", "params": {"text": "The transfer ended ${transfer.status}."}},
            {"type": "HANGUP"},
        ]
    }


def children(call_id):
    with models.database.connection_context():
        return list(models.Call.select().where(models.Call.parent_call == call_id))


@pytest.mark.parametrize(
    "scenario,status,sip_code",
    [("uas_answer_bye.xml", "completed", 200), ("uas_busy.xml", "busy", 486), ("uas_noanswer.xml", "no-answer", 480)],
    ids=["answered", "busy", "no-answer"],
)
def test_transfer_through_the_trunk(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    scenario,
    status,
    sip_code,
):
    """The caller talks to the far end until it hangs up (or hears nothing
    come of a busy or unanswered dial), then the flow goes on."""
    provision(callback_server.static("/t", transfer_flow(timeout=3)))
    answerer = sipp.start(scenario, uas=True, timeout="30s", duration_ms=2000)
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)

    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == status, ended
    assert call.spoken() == ["Connecting you.", f"The transfer ended {status}."]
    bridge = [data for app, data in call.executed() if app == "bridge"]
    assert len(bridge) == 1 and bridge[0].endswith(f"sofia/gateway/trunk/{FAR}")
    assert f"origination_caller_id_number={DID}" in bridge[0]
    [child] = children(ended["call_id"])
    assert child.status == status and child.to_no == FAR and child.api_no == DID, (child.hangup_cause, ended)
    if status == "completed":
        assert ended["transfer_call_id"] == child.id and ended["transfer_sip_code"] == 200
        # They talked for the answerer's 2 s before it hung up.
        assert 1 <= ended["transfer_duration"] <= 4 and child.hangup_cause == "NORMAL_CLEARING"
    else:
        assert ended["transfer_call_id"] == "" and ended["transfer_sip_code"] == sip_code
    # The leg's own end, from its CHANNEL_HANGUP on the caller's socket.
    with models.database.connection_context():
        [leg] = list(models.Leg.select().where(models.Leg.call == child.id))
    if status == "busy":
        assert child.hangup_cause == "USER_BUSY" and leg.sip_code == 486, (child.hangup_cause, leg.sip_code)
    assert (child.answer_time is not None) == (status == "completed")


def test_a_transfer_before_any_media_leaves_the_answer_to_the_far_end(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    """TRANSFER as the first action: we never answer the caller; the bridge
    does when the far end answers."""
    flow = {"actions": [{"type": "TRANSFER", "params": {"to": FAR, "timeout": 5}}, {"type": "HANGUP"}]}
    provision(callback_server.static("/t", flow))
    answerer = sipp.start("uas_answer_bye.xml", uas=True, timeout="30s", duration_ms=1500)
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)
    apps = [app for app, _ in call.executed()]
    assert "bridge" in apps and "answer" not in apps, apps
    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == "completed" and ended["status"] == "completed"


def zero_crossing_hz(packets):
    samples = [s for p in packets for s in ulaw_decode(p.payload)]
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 8000) if samples else 0.0


def test_an_answered_caller_hears_a_ring_tone_while_the_far_end_rings(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    """After a SAY the caller is answered: FreeSWITCH plays our ring tone
    (transfer_ringback) while the far end rings, never dead air."""
    provision(callback_server.static("/t", transfer_flow(timeout=4)))
    answerer = sipp.start("uas_noanswer.xml", uas=True, timeout="30s")
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)
    bridge = call.wait_execute("bridge")
    done = call.watcher.completed(call.uuid, "bridge")[0]
    ringing = [p for p in call.rtp.audio(bridge.at, done.at) if p.rms > LOUD]
    # 2 s of tone per 6 s cycle: the first cycle's tone, 440 + 480 Hz (crossings at about 460 Hz).
    assert len(ringing) * 20 >= 1500, call.rtp.summary()
    assert 420 <= zero_crossing_hz(ringing) <= 500, zero_crossing_hz(ringing)
    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == "no-answer"


@pytest.mark.voxology_settings(sip_transfer_domains=("127.0.0.1",))
def test_transfer_to_a_sip_uri_through_our_profile(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    freeswitch,
):
    uri = f"sip:agent@127.0.0.1:{freeswitch.trunk_port}"
    provision(callback_server.static("/t", transfer_flow(to=uri, timeout=5)))
    answerer = sipp.start("uas_answer_bye.xml", uas=True, timeout="30s", duration_ms=1500)
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)
    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == "completed", ended
    [bridge] = [data for app, data in call.executed() if app == "bridge"]
    assert bridge.endswith(f"]sofia/voxology/{uri}")
    [child] = children(ended["call_id"])
    assert child.to_no == uri and child.status == "completed"


def test_the_caller_pressing_star_ends_the_talk_and_the_flow_goes_on(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    provision(callback_server.static("/t", transfer_flow(timeout=5, hangup_on_star=True)))
    answerer = sipp.start("uas_answer.xml", uas=True, timeout="30s")  # talks until we hang up
    call = dial()
    call.watcher.wait_for(
        lambda e: e.name == "CHANNEL_BRIDGE" and e.get("Unique-ID") == call.uuid, 20, "the bridge", call.uuid
    )
    call.press("*")
    finished(call, callback_server, timeout=40)
    assert answerer.wait(timeout=30).returncode == 0  # it got our BYE
    assert call.spoken() == ["Connecting you.", "The transfer ended completed."]


def test_send_digits_reach_the_party_that_answered(platform, callback_server):  # noqa: F811 (a fixture)
    """All three parties are our own numbers over loopback legs: a Make Call
    leg holds; the number it called TRANSFERs to a third with send_digits;
    the third's COLLECT hears them (the leading pause lets its COLLECT start)."""
    holder, middle, far = "+17145550100", "+17145551212", "+19495550123"
    configure(
        platform, holder, callback_server.static("/hold", {"actions": [{"type": "PAUSE", "params": {"length": 15000}}]})
    )
    configure(platform, middle, callback_server.static("/middle", transfer_flow(to=far, send_digits="ww1w2#")))
    collect = {
        "actions": [
            {"type": "COLLECT", "name": "sent", "params": {"num_digits": 3, "timeout": 6000, "finish_on_key": "none"}},
            {"type": "HANGUP"},
        ]
    }
    configure(platform, far, callback_server.static("/far", collect))
    r = platform.post("/Dials/Connect", {"call": {"no": middle, "caller_id_no": holder}, "timeout": 20})
    assert r.status_code == 201, r.get_json()

    def far_ended():
        return [
            r["json"] for r in callback_server.requests if r["path"] == "/far" and r["json"]["type"] == "call_ended"
        ]

    assert wait_until(far_ended, 40), callback_server.requests
    assert far_ended()[0]["key_presses"][0] == {"name": "sent", "digits": "12#"}


SECOND = "+13125550111"


def test_simultaneous_ring_bridges_the_first_leg_whose_whisper_accepts(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    esl_watch,  # noqa: F811
):
    """Both far ends answer; the whisper refuses the first and accepts the
    second (FreeSWITCH's group_confirm running our socket on each leg), so
    the second is bridged, whoever answered first."""
    accept = {"actions": [{"type": "SAY", "params": {"text": "A call for you."}}]}
    refuse = {"actions": [{"type": "SAY", "params": {"text": "Not now."}}, {"type": "HANGUP"}]}
    whisper = callback_server.route("/whisper", lambda r: refuse if r["json"]["caller_no"] == FAR else accept)
    flow = transfer_flow(to=[FAR, SECOND], whisper=whisper, timeout=10, time_limit=2000)
    provision(callback_server.static("/t", flow))
    answerer = sipp.start("uas_answer.xml", uas=True, timeout="30s", extra=("-m", "2"))
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)

    [ended] = callback_server.of_type("call_ended")
    first, second = sorted(children(ended["call_id"]), key=lambda child: child.to_no)
    assert ended["transfer_status"] == "completed" and ended["transfer_call_id"] == second.id, ended
    assert first.status == "rejected" and second.status == "completed"
    assert sorted(w["caller_no"] for w in callback_server.of_type("whisper")) == [FAR, SECOND]
    # Each called party heard its own whisper, on its own leg.
    for child, text in ((first, "Not now."), (second, "A call for you.")):
        assert [d.split("|", 2)[2] for a, d in esl_watch.executed(child.id) if a == "speak"] == [text]
    assert call.spoken() == ["Connecting you.", "The transfer ended completed."]


def test_a_dual_recording_of_the_transfer_holds_each_party_on_its_channel(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
):
    tone_file(sipp.workdir / "caller_voice.wav", 600, 8.0)
    tone_file(sipp.workdir / "answerer_voice.wav", 900, 3.0)
    provision(callback_server.static("/t", transfer_flow(record="dual")))
    answerer = sipp.start("uas_answer_speak_bye.xml", uas=True, timeout="30s", duration_ms=3000)
    call = dial("uac_media_speak.xml")
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)

    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == "completed"
    [entry] = ended["recordings"]
    assert entry["status"] == "completed" and entry["name"] == "transfer"
    _client, audio = fetch_audio(settings, entry["id"])
    (left, right), _ = wav_tones(audio.data)
    # The caller on the left, the answerer on the right, for the 3 s they talked.
    assert abs(left[1] - 600) < 30 and abs(right[1] - 900) < 40, (left, right)
    assert left[0] > 2.0 and right[0] > 2.0, (left, right)


@pytest.mark.parametrize(
    ("cls", "on_machine", "status"),
    [("human", "hangup", "completed"), ("machine", "hangup", "rejected")],
)
def test_detection_on_the_dialled_leg_hears_who_answered(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    cls,
    on_machine,
    status,
):
    """The far end plays a greeting of the labelled set: the detector hears it on
    the answered leg before the bridge; a machine is hung up, a person connected."""
    import subprocess

    from tests.support.amd_set import AMD_DIR, greetings

    greeting = next(g for g in greetings("test") if g.cls == cls and not g.hard)
    # Silence first, as a person picking up draws breath: sipp streams from its
    # ACK, and the leg's socket (run by the originate's screening) listens
    # only a moment later, later still on a loaded machine.
    subprocess.run(
        ["sox", f"{AMD_DIR}/{greeting.file}", str(sipp.workdir / "answerer_voice.wav"), "pad", "2.5", "0"],
        check=True,
        capture_output=True,
    )
    flow = transfer_flow(detection="detect", on_machine=on_machine, timeout=10)
    flow["actions"][2]["params"]["text"] = "The transfer ended ${transfer.status}, ${transfer.detection}."
    provision(callback_server.static("/t", flow))
    answerer = sipp.start("uas_answer_speak_bye.xml", uas=True, timeout="40s", duration_ms=12000)
    call = dial()
    finished(call, callback_server, timeout=60)
    answerer.wait(timeout=30)

    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == status and ended["transfer_detection"] == greeting.expected, ended
    [child] = children(ended["call_id"])
    assert child.status == ("completed" if status == "completed" else "rejected")
    assert call.spoken() == ["Connecting you.", f"The transfer ended {status}, {greeting.expected}."]
