"""RECORD on a real FreeSWITCH: sipp speaks a known tone; the file, fetched by
REST, holds it; a finish key or the silence after it ends the recording."""

import subprocess
import time
from urllib.parse import urlsplit

from tests.integration.test_callflows import dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.integration.test_make_call import configure, platform, wait_until  # noqa: F401
from tests.support.audio import wav_tones
from tests.support.provision import DID, provision
from voxology_fs import models, operator
from voxology_fs.api import create_app

VOICE_HZ = 600


def tone_file(path, hz, seconds, then_silence=0.0):
    """A tone, then silence (RTP of silence, as phones send it), PCMU: what sipp streams."""
    subprocess.run(
        [
            *("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path)),
            *("synth", str(seconds), "sine", str(hz), "vol", "0.5", "pad", "0", str(then_silence)),
        ],
        check=True,
        capture_output=True,
    )


def caller_voice(folder, seconds, then_silence=4.0):
    """The caller's "voice" (600 Hz), where uac_media_speak*.xml streams it from."""
    tone_file(folder / "caller_voice.wav", VOICE_HZ, seconds, then_silence)


def loud_part(wav_bytes):
    """(seconds of loud 20 ms frames, their frequency, the file's seconds) of a mono 8 kHz WAV."""
    [(loud_s, hz)], total = wav_tones(wav_bytes)
    return loud_s, hz, total


def record_flow(**params):
    return {
        "actions": [
            {"type": "RECORD", "params": {"name": "voicemail", **params}},
            {"type": "SAY", "params": {"text": "Ended by ${recordings[0].ended_by}."}},
            {"type": "HANGUP"},
        ]
    }


def fetch_audio(settings, recording_id):
    """A REST client with a key of the recording's account, and the audio it fetched."""
    with models.database.connection_context():
        account_id = models.Recording.get_by_id(recording_id).account_id
    _app, key = operator.create_application(account_id, "rest")
    client = create_app(settings, start_switches=False).test_client()
    return client, client.get(f"/v1/Recordings/{recording_id}/Audio", headers={"x-api-key": key})


def test_a_finish_key_ends_the_recording_and_rest_serves_what_the_caller_said(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
):
    caller_voice(sipp.workdir, 2.0)
    provision(callback_server.static("/r", record_flow(finish_on_key="#", timeout=0)))
    call = dial("uac_media_speak.xml")
    started = call.wait_execute("record", timeout=20)
    time.sleep(3.0)  # the 2 s tone, then a second of silence
    call.press("#")
    call.wait_execute("speak", data_contains="Ended by key.", timeout=10)
    finished(call, callback_server)
    assert started.get("Application-Data").endswith(" 3600")  # an hour's limit, no silence end

    [entry] = callback_server.of_type("call_ended")[0]["recordings"]
    assert entry["ended_by"] == "key" and entry["finish_key"] == "#" and entry["status"] == "completed"
    client, audio = fetch_audio(settings, entry["id"])
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    loud_s, hz, total_s = loud_part(audio.data)
    assert abs(hz - VOICE_HZ) < 30, hz
    assert 1.4 < loud_s <= 2.05, loud_s  # the tone from the moment recording began
    assert total_s < loud_s + 0.35, (total_s, loud_s)  # the second of silence after it trimmed
    assert entry["duration"] == int(total_s * 1000)
    # The signed URL in the callback serves the same file without a key.
    url = urlsplit(entry["url"])
    signed = client.get(f"{url.path}?{url.query}")
    assert signed.status_code == 200 and signed.data == audio.data
    part = client.get(f"{url.path}?{url.query}", headers={"Range": "bytes=0-43"})
    assert part.status_code == 206 and part.data == audio.data[:44]


def test_silence_after_the_caller_speaks_ends_the_recording(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
):
    caller_voice(sipp.workdir, 2.0)
    provision(callback_server.static("/r", record_flow(timeout=2000, play_beep=False, trim=False)))
    call = dial("uac_media_speak.xml")
    started = call.wait_execute("record", timeout=20)
    call.wait_execute("speak", data_contains="Ended by silence.", timeout=15)
    finished(call, callback_server)
    assert started.get("Application-Data").endswith(" 3600 200 2")

    [entry] = callback_server.of_type("call_ended")[0]["recordings"]
    assert entry["ended_by"] == "silence"
    _client, audio = fetch_audio(settings, entry["id"])
    loud_s, hz, total_s = loud_part(audio.data)
    assert abs(hz - VOICE_HZ) < 30 and loud_s > 1.4, (hz, loud_s)
    # Untrimmed: the tone, then the two seconds of silence that ended it.
    assert 1.8 < total_s - loud_s < 2.6, (total_s, loud_s)


def test_a_caller_who_hangs_up_mid_recording_leaves_the_whole_message(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
):
    caller_voice(sipp.workdir, 1.5, then_silence=0.0)
    provision(callback_server.static("/r", record_flow(timeout=0, play_beep=False)))
    call = dial("uac_media_speak_hangup.xml", duration_ms=2500)
    call.wait_execute("record", timeout=20)
    assert call.result(timeout=30).returncode == 0
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=10)
    [entry] = callback_server.of_type("call_ended")[0]["recordings"]
    assert entry["ended_by"] == "hangup" and entry["status"] == "completed"
    _client, audio = fetch_audio(settings, entry["id"])
    loud_s, hz, _total = loud_part(audio.data)
    assert abs(hz - VOICE_HZ) < 30 and loud_s > 1.2, (hz, loud_s)


def test_an_mp3_recording_is_written_by_the_switch_and_served_as_audio_mpeg(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
):
    caller_voice(sipp.workdir, 2.0)
    provision(callback_server.static("/r", record_flow(format="mp3", finish_on_key="#", timeout=0)))
    call = dial("uac_media_speak.xml")
    started = call.wait_execute("record", timeout=20)
    assert started.get("Application-Data").split(" ")[0].endswith(".mp3")
    time.sleep(2.0)
    call.press("#")
    finished(call, callback_server)
    [entry] = callback_server.of_type("call_ended")[0]["recordings"]
    assert entry["ended_by"] == "key" and entry["status"] == "completed"
    assert 1500 < entry["duration"] < 3000  # the switch's count (no trimming of mp3)
    _client, audio = fetch_audio(settings, entry["id"])
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    assert audio.data[:3] == b"ID3" or (audio.data[0] == 0xFF and audio.data[1] & 0xE0 == 0xE0)
    assert len(audio.data) > 4000


def test_a_live_call_recorded_by_rest_and_one_the_hangup_ends(
    platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    caller_voice(sipp.workdir, 8.0)
    configure(
        platform, DID, callback_server.static("/p", {"actions": [{"type": "PAUSE", "params": {"length": 30000}}]})
    )
    call = dial("uac_media_speak.xml")
    call.wait_execute("sleep", timeout=20)
    call_id = call.uuid
    r = platform.post(f"/Calls/{call_id}/Recordings", {"channels": "dual"})
    assert r.status_code == 201, r.get_json()
    first = r.get_json()["id"]
    time.sleep(2.0)
    stopped = platform.post(f"/Calls/{call_id}/Recordings/{first}", {"status": "stopped"}).get_json()
    assert stopped["status"] == "completed" and stopped["ended_by"] == "stopped" and stopped["channels"] == 2
    audio = platform.get(f"/Recordings/{first}/Audio")
    [(caller_s, caller_hz), _], _ = wav_tones(audio.data)
    # Of the 2 s between start and stop. Measured on 1.11.1: while the call
    # plays nothing (a PAUSE), about half a second of them is not in the
    # file (record_session mixes both directions); the cause is not known.
    assert abs(caller_hz - VOICE_HZ) < 30 and 1.2 < caller_s < 2.6, (caller_s, caller_hz)

    second = platform.post(f"/Calls/{call_id}/Recordings", {}).get_json()["id"]
    time.sleep(1.0)
    assert platform.post(f"/Calls/{call_id}/Hangup", {}).status_code == 202
    assert wait_until(lambda: platform.get(f"/Recordings/{second}").get_json()["status"] == "completed", 10)
    left = platform.get(f"/Recordings/{second}").get_json()
    assert left["ended_by"] == "hangup" and left["duration"] >= 400
    call.result(timeout=20)
