"""mod_avmd in the fake FreeSWITCH: avmd_start, avmd_stop, and a far end that beeps.

As recorded (tests/data/esl-transcripts/avmd.*.log): each CUSTOM ``avmd::start``,
``avmd::beep`` and ``avmd::stop`` is sent twice with one Event-Sequence, first
bare, then with the channel's data; the detector listens only on channels of
the directions our ``avmd.conf`` allows (``inbound_channel``/``outbound_channel``),
elsewhere it does not start and fires nothing (avmd_inbound.*.log).
"""

import copy
import os
import xml.etree.ElementTree as ET

from . import wire
from .registry import application

AVMD_CONF = os.path.join(os.path.dirname(__file__), "..", "..", "freeswitch", "autoload_configs", "avmd.conf.xml")


def _listened_directions():
    try:
        params = {p.get("name"): p.get("value") for p in ET.parse(AVMD_CONF).iter("param")}
    except (OSError, ET.ParseError):
        params = {}
    return {d for d in ("inbound", "outbound") if params.get(d + "_channel", "1" if d == "outbound" else "0") == "1"}


LISTENED_DIRECTIONS = _listened_directions()


def _avmd_event(call, subclass, headers=()):
    ev = wire.Event("CUSTOM", subclass=subclass, calling=("mod_avmd.c", "avmd_fire_event", 700))
    ev.add("Unique-ID", call.uuid)
    ev.add("Call-command", "avmd")
    for k, v in headers:
        ev.add(k, v)
    with_data = copy.deepcopy(ev)
    call._channel_data(with_data)
    call.switch.fire(ev)
    call.switch.fire(with_data)


@application("avmd_start")
def app_avmd_start(call, arg):
    if call.direction not in LISTENED_DIRECTIONS:
        return  # "Can't set direction for channel": not started, no event
    call.avmd_running = True
    call.avmd_started_us = wire.now_us()
    call.avmd_heard = False
    _avmd_event(call, "avmd::start", [("Start-time", call.avmd_started_us)])


@application("avmd_stop")
def app_avmd_stop(call, arg):
    if not getattr(call, "avmd_running", False):
        return
    call.avmd_running = False
    _avmd_event(
        call,
        "avmd::stop",
        [
            ("Beep-Status", "DETECTED" if call.avmd_heard else "NOTDETECTED"),
            ("Total-time", wire.now_us() - call.avmd_started_us),
        ],
    )


def beep(call, frequency=1000.0):
    """The far end beeps: mod_avmd, when listening on the call, reports it."""
    if not getattr(call, "avmd_running", False) or call.down:
        return False
    call.avmd_heard = True
    _avmd_event(
        call,
        "avmd::beep",
        [
            ("Beep-Status", "DETECTED"),
            ("Frequency", f"{frequency:.6f}"),
            ("Frequency-variance", "0.000018"),
            ("Amplitude", "14401.345206"),
            ("Amplitude-variance", "27176.962574"),
            ("Detection-time", wire.now_us() - call.avmd_started_us),
            ("Detector-resolution", 1),
            ("Detector-offset", 0),
            ("Detector-index", 0),
        ],
    )
    return True
