"""Recording applications of the fake FreeSWITCH: record, record_session, stop_record_session.

``record`` writes what the caller "said" for as long as it ran, in the
switch's virtual time (a 440 Hz tone, 8 kHz 16-bit mono, at most a minute);
``record_session`` and ``uuid_record start`` write an empty WAV file (a
header, no samples); ``uuid_record`` replies as recorded in
tests/data/esl-transcripts/uuid_record.*.log.
"""

import math
import os
import struct
import time
import wave

import gevent

from .expand import separate_string
from .media import playback_terminators
from .registry import api_command, application

WAV_HEADER = (
    b"RIFF"
    + struct.pack("<I", 36)
    + b"WAVEfmt "
    + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    + b"data"
    + struct.pack("<I", 0)
)


def _write_wav(path):
    try:
        d = os.path.dirname(path)
        if d and not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
        with open(path, "wb") as f:
            f.write(WAV_HEADER)
    except OSError:
        pass


def _write_tone(path, ms):
    samples = 8 * min(int(ms), 60000)
    try:
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(
                b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(samples))
            )
    except OSError:
        return 0
    return samples


@application("record", media=True)
def app_record(call, arg):
    argv = separate_string(arg, " ", 4)
    if not argv:
        return
    path = argv[0]
    limit = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 0
    hits = int(argv[3]) if len(argv) > 3 and argv[3].isdigit() else 0
    if not os.path.isdir(os.path.dirname(path) or "."):
        # The real switch fails to open the file and hangs the call up.
        call._hangup("DESTINATION_OUT_OF_ORDER", from_app=True)
        return
    _write_wav(path)
    call.fire("RECORD_START", post=[("Record-File-Path", path)])
    secs = [s for s in (limit, hits) if s > 0]
    timeout = call._scaled(min(secs) * 1000) if secs else None
    call.set_var("playback_terminator_used", None)
    began = time.monotonic()
    if call.caller_audio is None:
        call.caller_audio = getattr(call.switch, "caller_audio", None)  # every call's, by default
    streaming = gevent.spawn(_stream_caller_audio, call, path, began) if call.caller_audio else None
    reason, key = call._wait(timeout, dtmf=playback_terminators(call) or None)
    if streaming is not None:
        streaming.kill()
        _finish_streamed(path)
        call.set_var("record_ms", (os.path.getsize(path) - 44) // 16)
        call.set_var("playback_terminator_used", key if reason == "dtmf" else None)
        call.fire("RECORD_STOP", post=[("Record-File-Path", path)])
        return
    if reason == "dtmf":
        call.set_var("playback_terminator_used", key)
    call.set_var(
        "silence_hits_exhausted", "true" if (reason == "timeout" and hits and (not limit or hits <= limit)) else "false"
    )
    virtual_ms = (time.monotonic() - began) / call.switch.time_scale * 1000
    samples = _write_tone(path, virtual_ms)
    size = os.path.getsize(path) if os.path.exists(path) else 44
    call.set_var("record_record_file_size", size)
    call.set_var("record_file_size", size)
    call.set_var("record_seconds", samples // 8000)
    call.set_var("record_ms", samples // 8)
    call.set_var("record_samples", samples)
    call.fire("RECORD_STOP", post=[("Record-File-Path", path)])


def _stream_caller_audio(call, path, began):
    """Append the caller's audio to the open file as the switch's virtual time passes
    (a header with zero sizes first, as a WAV file being written has)."""
    audio = call.caller_audio
    written = 0
    with open(path, "wb") as f:
        f.write(WAV_HEADER)
        while written < len(audio):
            virtual_s = (time.monotonic() - began) / call.switch.time_scale
            upto = min(len(audio), int(virtual_s * 8000) * 2)
            if upto > written:
                f.write(audio[written:upto])
                f.flush()
                written = upto
            gevent.sleep(0.002)


def _finish_streamed(path):
    """The header's sizes, written at close."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", size - 8))
        f.seek(40)
        f.write(struct.pack("<I", size - 44))


@application("record_session", media=True)
def app_record_session(call, arg):
    path = separate_string(arg, " ", 2)[0] if arg.strip() else ""
    if not path:
        return
    _write_wav(path)
    call._records.append(path)
    call.fire(
        "RECORD_START", post=[("Record-File-Path", path)], calling=("switch_ivr_async.c", "record_callback", 1482)
    )


@application("stop_record_session")
def app_stop_record_session(call, arg):
    path = arg.strip()
    for p in list(call._records):
        if path in ("all", p):
            call._stop_record(p)


@application("record_session_mask")
def app_record_session_mask(call, arg):
    if arg.strip() in call._records:
        call.masked_records = getattr(call, "masked_records", set()) | {arg.strip()}


@application("record_session_unmask")
def app_record_session_unmask(call, arg):
    call.masked_records = getattr(call, "masked_records", set()) - {arg.strip()}


@api_command("uuid_record")
def api_uuid_record(switch, arg, session):
    argv = separate_string(arg or "", " ", 5)
    if len(argv) < 3:
        return "-USAGE: <uuid> [start|stop|mask|unmask|pause|resume] <path> [<limit>] [<recording_vars>]\n"
    call = switch._call(argv[0])
    if call is None:
        return "-ERR Cannot locate session!\n"
    action, path = argv[1].lower(), argv[2]
    if action == "start":
        if call.down or not os.path.isdir(os.path.dirname(path) or "."):
            return "-ERR Cannot record session!\n"
        _write_wav(path)
        call._records.append(path)
        call.stereo_records = getattr(call, "stereo_records", set()) | (
            {path} if len(argv) > 4 and "RECORD_STEREO=true" in argv[4] else set()
        )
        call.fire(
            "RECORD_START", post=[("Record-File-Path", path)], calling=("switch_ivr_async.c", "record_callback", 1482)
        )
        return "+OK Success\n"
    if path not in call._records:
        return {
            "stop": "-ERR Cannot stop record session!\n",
            "pause": "-ERR Cannot pause recording session!\n",
            "resume": "-ERR Cannot resume recording session!\n",
        }.get(action, "-ERR Cannot mask recording session!\n")
    if action == "stop":
        call._stop_record(path)
    elif action in ("pause", "resume"):
        call.paused_records = getattr(call, "paused_records", set()) - {path}
        if action == "pause":
            call.paused_records.add(path)
    return "+OK Success\n"
