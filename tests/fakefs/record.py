"""Recording applications of the fake FreeSWITCH: record, record_session, stop_record_session.

The files they name are written as empty WAV files (a header, no samples).
"""

import os
import struct

from .expand import separate_string
from .media import playback_terminators
from .registry import application

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


@application("record", media=True)
def app_record(call, arg):
    argv = separate_string(arg, " ", 4)
    if not argv:
        return
    path = argv[0]
    limit = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 0
    hits = int(argv[3]) if len(argv) > 3 and argv[3].isdigit() else 0
    _write_wav(path)
    call.fire("RECORD_START", post=[("Record-File-Path", path)])
    secs = [s for s in (limit, hits) if s > 0]
    timeout = call._scaled(min(secs) * 1000) if secs else None
    call.set_var("playback_terminator_used", None)
    reason, key = call._wait(timeout, dtmf=playback_terminators(call) or None)
    if reason == "dtmf":
        call.set_var("playback_terminator_used", key)
    call.set_var(
        "silence_hits_exhausted", "true" if (reason == "timeout" and hits and (not limit or hits <= limit)) else "false"
    )
    call.set_var("record_record_file_size", 44)
    call.set_var("record_file_size", 44)
    call.set_var("record_seconds", 0)
    call.set_var("record_ms", 0)
    call.set_var("record_samples", 0)
    call.fire("RECORD_STOP", post=[("Record-File-Path", path)])


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
