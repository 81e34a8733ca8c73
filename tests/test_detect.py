"""DETECT on the fake switch: the caller's audio reaches the detector as it comes."""

import os

import pytest

from tests.support.amd_set import greetings
from tests.support.provision import DID, provision, setup_number
from tests.support.waiting import wait_until
from voxology_fs import models
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response


def detect_flow(**params):
    return {
        "actions": [
            {"type": "DETECT", "params": params},
            {"type": "SAY", "params": {"text": "${detection} ${detectionDetail}"}},
            {"type": "HANGUP"},
        ]
    }


def first(cls, split="test"):
    return next(g for g in greetings(split) if g.cls == cls and not g.hard)


@pytest.mark.parametrize(
    ("cls", "mode", "spoken"),
    [
        ("human", "detect", "live_person"),
        ("machine", "detect", "machine"),
        ("unknown", "detect", "unknown"),
    ],
)
def test_the_verdict_on_what_the_caller_says(switch, callback_server, settings, cls, mode, spoken):
    provision(callback_server.static("/d", detect_flow(mode=mode)))
    call = switch.incoming_call(destination=DID, caller="+19495551212")
    call.caller_audio = first(cls).pcm()
    assert call.wait_closed(10)
    assert call.spoken == [spoken]
    [ended] = [r["json"] for r in callback_server.requests if (r["json"] or {}).get("type") == "call_ended"]
    assert ended["detection"] == spoken.strip()
    with models.database.connection_context():
        assert models.Call.get_by_id(call.uuid).detection == spoken.strip()
    # The spooled audio is gone; nothing of it was kept as a recording.
    assert os.listdir(os.path.join(settings.recordings_dir, "listening")) == []
    with models.database.connection_context():
        assert models.Recording.select().count() == 0


def test_a_verdict_breaks_off_the_listening_before_the_timeout(switch, callback_server):
    provision(callback_server.static("/d", detect_flow(timeout=30000)))
    call = switch.incoming_call(destination=DID)
    call.caller_audio = first("human").pcm()
    assert wait_until(lambda: call.spoken, 10)
    [arg] = [arg for app, arg in call.executed if app == "record"]
    assert arg.endswith(" 32")  # the timeout and a margin, in seconds
    assert f"uuid_break {call.uuid} all" in switch.api_log
    # Broken off at the verdict (about 2.5 s into the answer), not at 32 s.
    assert int(call.vars["record_ms"]) < 8000


def test_detect_message_end_waits_for_the_machine_s_beep_or_silence(switch, callback_server):
    provision(callback_server.static("/d", detect_flow(mode="detect_message_end")))
    call = switch.incoming_call(destination=DID)
    call.caller_audio = first("machine").pcm()
    assert call.wait_closed(10)
    [said] = call.spoken
    assert said.split(" ")[0] == "machine" and said.split(" ")[1].startswith("machine_end_")
    [ended] = [r["json"] for r in callback_server.requests if (r["json"] or {}).get("type") == "call_ended"]
    assert ended["detection_detail"] == said.split(" ")[1]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"mode": "guess"}, "/actions/0/params/mode"),
        ({"timeout": 100}, "/actions/0/params/timeout"),
        ({"speech_threshold": "long"}, "/actions/0/params/speech_threshold"),
    ],
)
def test_bad_params_are_named_by_their_path(params, path):
    with pytest.raises(FlowValidationError) as caught:
        parse_response({"actions": [{"type": "DETECT", "params": params}]})
    assert caught.value.errors[0][0] == path


def test_make_call_with_detection_decides_before_init_call(rig, callback_server):
    acme = rig.client()
    rig.fake.caller_audio = next(g for g in greetings("test") if g.cls == "machine" and not g.hard).pcm()
    hello = {"actions": [{"type": "SAY", "params": {"text": "${detection}"}}, {"type": "HANGUP"}]}
    setup_number(acme, callback_server.static("/hello", hello))
    r = acme.post("/Dials/Connect", {"call": {"no": "+13125550100", "caller_id_no": DID}, "detection": "detect"})
    assert r.status_code == 201, r.get_json()
    call_id = r.get_json()["call_id"]
    assert wait_until(
        lambda: [x for x in callback_server.requests if (x["json"] or {}).get("type") == "call_ended"], 10
    )
    assert "vox_detect=detect" in next(c for c in rig.fake.api_log if c.startswith("originate"))
    [init] = [x["json"] for x in callback_server.requests if (x["json"] or {}).get("type") == "init_call"]
    assert init["detection"] == "machine" and rig.fake.calls[call_id].spoken == ["machine"]
    assert acme.get(f"/Calls/{call_id}").get_json()["detection"] == "machine"
    bad = acme.post("/Dials/Connect", {"call": {"no": "+13125550100", "caller_id_no": DID}, "detection": "yes"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "detection"


def test_the_operator_s_detector_thresholds_reach_the_detector(db, settings):
    from voxology_fs.callserver import CallServer

    server = CallServer(settings.replace(detector_thresholds=("activity_db=7.5", "beep_min_ms=200")))
    assert server.services.detector_settings.activity_db == 7.5
    assert server.services.detector_settings.beep_min_ms == 200


@pytest.mark.parametrize(
    ("value", "message"),
    [("nonsense=1", "not name=value"), ("activity_db", "not name=value"), ("beep_min_ms=soon", "must be a number")],
)
def test_bad_detector_thresholds_stop_the_settings_and_name_it(value, message):
    from voxology_fs.settings import SettingsError, load

    with pytest.raises(SettingsError, match=message) as raised:
        load(env={"VOXOLOGY_DETECTOR_THRESHOLDS": value})
    assert "detector_thresholds" in str(raised.value)


def test_a_detector_that_hears_nothing_as_speech_says_unknown():
    from voxology_fs.detection import AnsweringMachineDetector, DetectionParams
    from voxology_fs.detection.settings import detector_settings_from

    pcm = first("human").pcm()
    deaf = AnsweringMachineDetector(DetectionParams(), detector_settings_from(["min_level_dbfs=-0.5"]))
    heard = AnsweringMachineDetector(DetectionParams())
    for detector in (deaf, heard):
        detector.feed(pcm)
    assert (deaf.result or deaf.finish()).detection == "unknown"
    assert (heard.result or heard.finish()).detection == "live_person"
