"""Media applications of the fake FreeSWITCH: files, speech, digits, waiting.

playback, speak, play_and_get_digits, sleep, send_dtmf, flush_dtmf, echo.
A played file lasts ``media_ms``; timeouts are scaled by ``time_scale``.
"""

import re
import time

from .expand import separate_string, switch_true
from .registry import application


def media_seconds(call, nfiles):
    """How long nfiles played files last."""
    return max(nfiles, 1) * call.switch.media_ms / 1000.0


def playback_terminators(call):
    """The keys that end a playback (``playback_terminators``; default ``*``)."""
    t = call.get_var("playback_terminators")
    if t is None:
        t = "*"
    if t.lower() == "any":
        t = "1234567890*#"
    if t.lower() == "none":
        t = ""
    return t


def play_file(call, path, collect=False, terminators=None):
    """switch_ivr_play_file. Returns ('done'|'break'|'hangup'|'dtmf', key)."""
    files = path[len("file_string://") :].split("!") if path.startswith("file_string://") else [path]
    call.played.extend(files)
    ftype = path.split("://", 1)[0] if "://" in path else None
    call.fire("PLAYBACK_START", post=[("Playback-File-Type", ftype), ("Playback-File-Path", path)])
    want = True if collect else (terminators or None)
    started = time.monotonic()
    reason, key = call._wait(media_seconds(call, len(files)), dtmf=want, media=True)
    ms = int((time.monotonic() - started) * 1000)
    status = "done" if reason == "timeout" else "break"
    call.fire(
        "PLAYBACK_STOP", post=[("Playback-File-Type", ftype), ("Playback-File-Path", path), ("Playback-Status", status)]
    )
    call.set_var("playback_last_offset_pos", ms * 8)
    call.set_var("playback_seconds", ms // 1000)
    call.set_var("playback_ms", ms)
    call.set_var("playback_samples", ms * 8)
    return ("done" if reason == "timeout" else reason), key


@application("playback", media=True)
def app_playback(call, arg):
    path = arg
    if "@@" in path:
        path = path.split("@@", 1)[0]
    call.set_var("playback_terminator_used", None)
    terms = playback_terminators(call)
    reason, key = play_file(call, path, terminators=terms)
    if reason == "dtmf":
        call.set_var("playback_terminator_used", key)
    if reason == "hangup" or call._transfer is not None:
        # Hung up, or taken away by uuid_bridge: the channel is not ready,
        # which play_file reports as an error (hold_stop.outbound.log).
        call.set_var("current_application_response", "PLAYBACK ERROR")
    else:
        call.set_var("current_application_response", "FILE PLAYED")


@application("speak", media=True)
def app_speak(call, arg):
    parts = separate_string(arg, "|", 3)
    raw = arg.split("|", len(parts) - 1) if parts else []
    engine = voice = None
    text = None
    if len(parts) == 1:
        text = arg
    elif len(parts) == 2:
        voice, text = parts[0], raw[-1]
    elif len(parts) >= 3:
        engine, voice, text = parts[0], parts[1], raw[-1]
    engine = engine or call.get_var("tts_engine")
    voice = voice or call.get_var("tts_voice")
    if not (engine and voice and text):
        call._hangup("DESTINATION_OUT_OF_ORDER", from_app=True)
        return
    call.spoken.append(text)
    call.set_var("playback_terminator_used", None)
    reason, key = call._wait(media_seconds(call, 1), dtmf=playback_terminators(call) or None, media=True)
    if reason == "dtmf":
        call.set_var("playback_terminator_used", key)


def _read(call, min_d, max_d, prompt, var_name, timeout, terms, digit_timeout):
    """switch_ivr_read -> (status, digits)."""
    if not digit_timeout:
        digit_timeout = timeout
    if max_d < min_d:
        max_d = min_d
    call.set_var("read_result", None)
    if var_name:
        call.set_var(var_name, None)
    buf = ""
    status = "success"
    if prompt and prompt.lower() != "silence":
        reason, key = play_file(call, prompt, collect=True)
        if reason == "dtmf":
            buf = key
        elif reason == "hangup":
            status = "false"
    term = ""
    if status != "false":
        if (min_d and len(buf) < min_d) or len(buf) < max_d:
            status, buf, term = _collect(call, buf, max_d, terms, digit_timeout if buf else timeout, digit_timeout)
        if term:
            call.set_var("read_terminator_used", term)
            p = terms.find(term)
            if p >= 1 and terms[p - 1] in "+x":
                buf += term
                if terms[p - 1] == "x":
                    status = "restart"
        elif terms and terms.startswith("="):
            status = "too_small"
        if min_d and len(buf) < min_d:
            status = "too_small"
        call.set_var("read_result", {"success": "success", "timeout": "timeout"}.get(status, "failure"))
    if status != "restart" and max_d == 1 and len(buf) == 1 and terms and buf in terms:
        buf = ""
    if var_name and buf:
        call.set_var(var_name, buf)
    return status, buf


def _collect(call, buf, max_d, terms, first_timeout, digit_timeout):
    """switch_ivr_collect_digits_count -> (status, buf, terminator)."""
    if len(buf) >= max_d:
        return "false", buf, ""
    if terms:
        for i, d in enumerate(buf):
            if d in terms:
                return "success", buf[:i], d
    eff = first_timeout if first_timeout else digit_timeout
    deadline = time.monotonic() + call._scaled(eff) if eff else None
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        reason, key = call._wait(remaining, dtmf=True, breakable=False)
        if reason == "hangup":
            return "false", buf, ""
        if reason == "timeout":
            return "timeout", buf, ""
        if reason == "dtmf":
            if terms and key in terms:
                return "success", buf, key
            buf += key
            if len(buf) >= max_d:
                return "success", buf, ""
            if digit_timeout:
                deadline = time.monotonic() + call._scaled(digit_timeout)


@application("play_and_get_digits", media=True)
def app_play_and_get_digits(call, arg):
    argv = separate_string(arg, " ", 11)
    if not argv:
        return
    argv += [None] * (11 - len(argv))

    def atoi(s, d=0):
        return int(re.match(r"\s*([+-]?\d*)", s or "").group(1) or d) if s else d

    min_d = max(atoi(argv[0]), 0)
    max_d = atoi(argv[1])
    tries = atoi(argv[2])
    timeout = atoi(argv[3], 1000) if argv[3] is not None else 1000
    terms = argv[4]
    prompt, invalid, var_name, regex = argv[5], argv[6], argv[7], argv[8]
    digit_timeout = atoi(argv[9]) if argv[9] else 0
    transfer_on_failure = argv[10]
    if max_d < min_d:
        max_d = min_d
    if timeout <= 1000:
        timeout = 1000
    if not terms:
        terms = "#"
    if regex and var_name:
        call.set_var(var_name + "_invalid", None)
    while not call.down and tries:
        status, buf = _read(call, min_d, max_d, prompt, var_name, timeout, terms, digit_timeout)
        if status == "restart":
            return
        if status == "timeout" and len(buf) >= min_d:
            status = "success"
        if min_d == 0 and not buf and call.vars.get("read_terminator_used"):
            return
        if status == "success" and buf:
            if not regex or re.search(regex, buf):
                return
            if var_name:
                call.set_var(var_name, None)
                call.set_var(var_name + "_invalid", buf)
        if call.down:
            break
        if invalid:
            play_file(call, invalid)
        tries -= 1
    if transfer_on_failure:
        call.switch.log.append((call.uuid, "PAGD failure! Transfer to: %s" % transfer_on_failure))


@application("sleep")
def app_sleep(call, arg):
    try:
        ms = int(arg.strip() or 0)
    except ValueError:
        return
    if switch_true(call.get_var("sleep_eat_digits")):
        # Keys are read (and dropped) unless they are playback terminators, which end it.
        deadline = time.monotonic() + call._scaled(ms)
        while True:
            reason, key = call._wait(max(0.0, deadline - time.monotonic()), dtmf=True)
            if reason != "dtmf" or key in (playback_terminators(call) or ""):
                return
    else:
        # Without it, mod_dptools' sleep ends at the first key and leaves it queued
        # (checked on a real switch: tests/integration/test_callflows.py).
        call._wait(call._scaled(ms), stop_on_key=True)


@application("send_dtmf", media=True)
def app_send_dtmf(call, arg):
    digits = arg.strip().split("@", 1)[0]
    call.dtmf_sent.append(digits)


@application("flush_dtmf")
def app_flush_dtmf(call, arg):
    del call._dtmf[:]


@application("echo", media=True)
def app_echo(call, arg):
    call._wait(None, breakable=True)


@application("endless_playback", media=True)
def app_endless_playback(call, arg):
    """Plays the file over and over until hung up or taken away (uuid_bridge):
    a break ends one round, not the loop (mod_dptools; hold.outbound.log)."""
    while not call.down:
        play_file(call, arg)
        if call._transfer is not None:
            # Taken away by uuid_bridge (hold.outbound.log).
            call.set_var("current_application_response", "PLAYBACK ERROR")
            break
