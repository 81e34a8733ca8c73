"""RECORD on the fake switch: the file, its record, and what the flow sees next."""

import os
import re
import wave

import pytest

from tests.support.provision import DID, provision
from tests.support.waiting import wait_until
from voxology_fs import models
from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.parser import parse_response


def record_then_say(**params):
    params.setdefault("name", "message")
    return {
        "actions": [
            {"type": "RECORD", "params": params},
            {"type": "SAY", "params": {"text": "ended by ${recordings[0].ended_by}"}},
        ]
    }


def flow_of(callback_server, first, then=None):
    """``first`` for init_call; ``then`` (default: a HANGUP) for every later request."""

    def answer(request):
        body = request["json"] or {}
        return first if body.get("type") == "init_call" else then or {"actions": [{"type": "HANGUP"}]}

    return callback_server.route("/rec", answer)


def of_type(callback_server, kind):
    return [r["json"] for r in callback_server.requests if r["json"] and r["json"].get("type") == kind]


def recordings():
    with models.database.connection_context():
        return list(models.Recording.select().order_by(models.Recording.created_at))


def test_a_finish_key_ends_it_and_the_next_request_carries_the_recording(switch, callback_server, settings):
    provision(flow_of(callback_server, record_then_say(finish_on_key="#")))
    call = switch.incoming_call(destination=DID)
    assert wait_until(lambda: any(app == "record" for app, _ in call.executed), 5)
    call.press("1#")  # 1 is no finish key here
    assert call.wait_closed(5)
    assert call.spoken == ["ended by key"]
    [continued] = of_type(callback_server, "continue_call")
    [entry] = continued["recordings"]
    [record] = recordings()
    assert entry["id"] == record.id and entry["name"] == "message"
    assert entry["ended_by"] == "key" and entry["finish_key"] == "#"
    assert record.status == "completed" and record.account_id and record.call_id == call.uuid
    # The file is ours: named by the account and the record's id, in the store.
    path = os.path.join(settings.recordings_dir, record.account_id, f"{record.id}.wav")
    assert record.store_key == f"{record.account_id}/{record.id}.wav" and os.path.exists(path)
    assert [arg.split(" ")[0] for app, arg in call.executed if app == "record"] == [os.path.abspath(path)]
    with wave.open(path) as w:
        assert entry["duration"] == int(w.getnframes() / 8) == record.duration_ms > 0
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:8080/v1/Recordings/{record.id}/Audio\?expires=\d+&signature=[0-9a-f]{{64}}", entry["url"]
    )
    # A beep first; the keys end only the RECORD, and PLAY is never cut by a key after it.
    apps = [(app, arg) for app, arg in call.executed]
    beep = apps.index(("playback", "tone_stream://%(250,0,1000)"))
    assert apps.index(("set", "playback_terminators=#")) < beep < [a for a, _ in apps].index("record")
    assert ("set", "playback_terminators=none") in apps[[a for a, _ in apps].index("record") :]


def test_silence_ends_it_after_timeout_seconds(switch, callback_server):
    provision(flow_of(callback_server, record_then_say(timeout=2000, play_beep=False)))
    call = switch.incoming_call(destination=DID)
    assert call.wait_closed(5)
    assert call.spoken == ["ended by silence"]
    [arg] = [arg for app, arg in call.executed if app == "record"]
    assert arg.split(" ")[1:] == ["3600", "200", "2"]  # the hour's limit, the level, 2 s of silence
    assert not any((arg or "").startswith("tone_stream://%(250") for _, arg in call.executed)


def test_max_length_ends_it_when_no_key_may_and_silence_never_does(switch, callback_server):
    provision(flow_of(callback_server, record_then_say(timeout=0, finish_on_key="none", max_length=2000)))
    call = switch.incoming_call(destination=DID)
    assert wait_until(lambda: any(app == "record" for app, _ in call.executed), 5)
    call.press("#")
    assert call.wait_closed(5)
    assert call.spoken == ["ended by max_length"]
    [arg] = [arg for app, arg in call.executed if app == "record"]
    assert arg.split(" ")[1:] == ["2"]
    assert recordings()[0].duration_ms >= 1900


def test_a_caller_who_hangs_up_leaves_the_recording_in_call_ended(switch, callback_server):
    provision(flow_of(callback_server, record_then_say(timeout=0, max_length=600000)))
    call = switch.incoming_call(destination=DID)
    assert wait_until(lambda: any(app == "record" for app, _ in call.executed), 5)
    call.hangup()
    assert call.wait_closed(5)
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 5)
    [ended] = of_type(callback_server, "call_ended")
    [entry] = ended["recordings"]
    assert entry["ended_by"] == "hangup" and entry["status"] == "completed"
    [record] = recordings()
    assert record.status == "completed" and record.ended_by == "hangup"
    with models.database.connection_context():
        assert models.Call.get_by_id(call.uuid).recordings == [entry]


def test_the_name_is_a_label_only_and_placeholders_in_it_are_text(switch, callback_server):
    provision(flow_of(callback_server, record_then_say(name="${callerNo} ${system rm -rf /}", finish_on_key="any")))
    call = switch.incoming_call(destination=DID, caller="+19495551212")
    assert wait_until(lambda: any(app == "record" for app, _ in call.executed), 5)
    call.press("5")
    assert call.wait_closed(5)
    [record] = recordings()
    assert record.name.startswith("+19495551212 ") and record.finish_key == "5"
    [arg] = [arg for app, arg in call.executed if app == "record"]
    assert "system" not in arg and "+1949" not in arg


def test_recording_status_url_hears_of_the_finished_recording(switch, callback_server):
    status = callback_server.static("/status", {})
    provision(flow_of(callback_server, record_then_say(recording_status_url=status, timeout=1000)))
    call = switch.incoming_call(destination=DID)
    assert call.wait_closed(5)
    assert wait_until(lambda: of_type(callback_server, "recording_status"), 5)
    [sent] = of_type(callback_server, "recording_status")
    assert sent["recording"]["id"] == recordings()[0].id and sent["recording"]["status"] == "completed"
    assert sent["call_id"] == call.uuid


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"finish_on_key": "hash sign"}, "/actions/0/params/finish_on_key", "finish_on_key must be"),
        ({"format": "ogg"}, "/actions/0/params/format", "format must be one of"),
        ({"max_length": 500}, "/actions/0/params/max_length", "at least 1000"),
        ({"timeout": -1}, "/actions/0/params/timeout", "at least 0"),
        ({"play_beep": "yes"}, "/actions/0/params/play_beep", "must be a boolean"),
        ({"recording_status_url": "ftp://x"}, "/actions/0/params/recording_status_url", "http or https"),
    ],
)
def test_bad_params_are_named_by_their_path(params, path, message):
    with pytest.raises(FlowValidationError) as caught:
        parse_response({"actions": [{"type": "RECORD", "params": params}]})
    assert any(p == path and message in m for p, m in caught.value.errors)
