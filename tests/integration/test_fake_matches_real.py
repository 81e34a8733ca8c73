"""The fake FreeSWITCH checked against the real one, on what FreeSWITCH returns.

Each flow runs twice through our call server: once on a real FreeSWITCH
(a loopback call placed with ``originate``), once on the fake switch. The
messages that reached the call's socket are reduced to their shape (reply
texts with ids masked, event names, ``Application-Response`` values, hangup
causes, DTMF digits, disconnect notices, the expansion setting) and the two
sequences must be equal.
"""
import os
import re
import uuid

import gevent
import pytest

from tests.fakefs import FakeSwitch
from tests.support.provision import CALLER, DID, provision
from voxology_fs.callserver import CallServer
from voxology_fs.esl.connection import InboundConnection
from voxology_fs.esl.protocol import Parser, parse_event

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shape(wire) -> tuple[list, list]:
    """What FreeSWITCH said on one call's socket, without ids and times: the
    command replies in order, and the events and notices in order.

    The two are kept apart because FreeSWITCH answers commands from the
    socket's thread and runs applications on the session's: how replies
    interleave with events is timing, not behaviour.
    """
    parser, out = Parser(), []
    for direction, data in wire:
        if direction != "<":
            continue
        for message in parser.feed(data):
            kind = message.content_type
            if kind == "command/reply":
                if "Unique-ID" in message.headers:  # the reply to connect carries the channel
                    out.append(("connect", message.headers.get("Answer-State"),
                                message.headers.get("variable_app_disable_expand_variables")))
                else:
                    out.append(("reply", UUID.sub("<uuid>", message.reply_text)))
            elif kind == "text/event-plain":
                event = parse_event(message.body)
                key = (event.name,)
                if event.name == "CHANNEL_EXECUTE_COMPLETE":
                    key += (event.get("Application"), event.get("Application-Response"))
                elif event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
                    key += (event.get("Hangup-Cause"),)
                elif event.name == "DTMF":
                    key += (event.get("DTMF-Digit"),)
                out.append(key)
            elif kind == "text/disconnect-notice":
                out.append(("disconnect", message.headers.get("Content-Disposition")))
    replies = [item for item in out if item[0] in ("connect", "reply")]
    events = [item for item in out if item[0] not in ("connect", "reply")]
    return replies, events


def assert_same_events(real: list, fake: list) -> None:
    """Equal up to the hangup; after it, one side's events are a prefix of the other's.

    Once the channel hangs up, FreeSWITCH sends the linger notice at a
    moment that varies from run to run, and what else arrives before our
    ``exit`` depends only on how soon we exit.
    """
    def split(events):
        cut = next((i for i, e in enumerate(events) if e[0] == "CHANNEL_HANGUP"), len(events))
        after = [e for e in events[cut:] if e != ("disconnect", "linger")]
        final = [e for e in after if e == ("disconnect", "disconnect")]
        return events[:cut], [e for e in after if e not in final], final

    report = "\nreal " + "\n     ".join(map(str, real)) + "\nfake " + "\n     ".join(map(str, fake))
    real_before, real_after, real_end = split(real)
    fake_before, fake_after, fake_end = split(fake)
    assert fake_before == real_before, "events differ before the hangup:" + report
    shorter = min(len(real_after), len(fake_after))
    assert fake_after[:shorter] == real_after[:shorter], "events differ after the hangup:" + report
    assert fake_end == real_end, "the socket did not end the same way:" + report


class Recorder:
    def __init__(self):
        self.sessions = []

    def __call__(self, session):
        session.wire_log = []
        self.sessions.append(session)


FLOWS = {
    "hello_world": ({"actions": [{"type": "SAY", "params": {"text": "Hello, world."}}, {"type": "HANGUP"}]},
                    None),
    "collect_key": ({"actions": [
        {"type": "COLLECT", "name": "k", "params": {"num_digits": 1, "timeout": 3000},
         "actions": [{"type": "SAY", "params": {"text": "Press a key now please, any key will do."}}]},
        {"type": "SAY", "params": {"text": "You pressed ${keyPresses}."}}, {"type": "HANGUP"}]}, "press"),
    "collect_timeout": ({"actions": [
        {"type": "COLLECT", "name": "k", "params": {"num_digits": 1, "timeout": 1000}},
        {"type": "HANGUP"}]}, None),
    "literal_text": ({"actions": [{"type": "SAY", "params": {"text": "${system touch /nonexistent} ${uuid}"}},
                                  {"type": "HANGUP"}]}, None),
    "far_end_hangs_up": ({"actions": [{"type": "PAUSE", "params": {"length": 20000}}]}, "hangup"),
    "reject_busy": ({"actions": [{"type": "REJECT", "params": {"reason": "busy"}}]}, None),
}


def run_real(freeswitch, call_server_port, settings, url, action):
    server = CallServer(settings.replace(outbound_port=call_server_port))
    recorder = Recorder()
    server.session_hook = recorder
    server.start()
    esl = InboundConnection.open("127.0.0.1", freeswitch.esl_port, freeswitch.password)
    try:
        started = []
        esl.register_handle("CHANNEL_EXECUTE", lambda e: started.append(e))
        esl.send("event plain CHANNEL_EXECUTE")
        # bgapi: a call that our flow rejects or ends early still comes to the socket.
        a_leg = str(uuid.uuid4())
        esl.bgapi(f"originate {{origination_uuid={a_leg},origination_caller_id_number={CALLER}}}"
                  f"loopback/{DID}/voxology &park()")
        if action:
            wanted = "play_and_get_digits" if action == "press" else "sleep"
            with gevent.Timeout(15):
                while not any(e.get("Application") == wanted for e in started):
                    gevent.sleep(0.05)
            b_leg = next(e.get("Unique-ID") for e in started if e.get("Application") == wanted)
            gevent.sleep(0.3)
            if action == "press":
                esl.api(f"uuid_recv_dtmf {b_leg} 5")
            else:
                esl.api(f"uuid_kill {a_leg} NORMAL_CLEARING")
        with gevent.Timeout(30):
            while not recorder.sessions or recorder.sessions[0].connected:
                gevent.sleep(0.05)
        gevent.sleep(0.2)
    finally:
        esl.close()
        server.stop()
    return recorder.sessions[0].wire_log


def run_fake(settings, url, action):
    server = CallServer(settings)
    recorder = Recorder()
    server.session_hook = recorder
    server.start()
    switch = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=0.05, media_ms=300)
    switch.start()
    try:
        call = switch.incoming_call(destination=DID, caller=CALLER)
        if action == "press":
            call.on_execute("play_and_get_digits", lambda c, a: gevent.spawn_later(0.3, c.press, "5"))
        elif action == "hangup":
            call.on_execute("sleep", lambda c, a: gevent.spawn_later(0.3, c.hangup, "NORMAL_CLEARING"))
        assert call.wait_closed(timeout=30)
        gevent.sleep(0.2)
    finally:
        switch.stop()
        server.stop()
    return recorder.sessions[0].wire_log


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_fake_switch_answers_like_the_real_one(name, freeswitch, call_server_port, db, settings, callback_server):
    flow, action = FLOWS[name]
    url = callback_server.static("/" + name, flow)
    provision(url)
    real = shape(run_real(freeswitch, call_server_port, settings, url, action))
    fake = shape(run_fake(settings, url, action))
    assert_same_events(real[1], fake[1])
    assert fake[0] == real[0], "replies differ"
    assert not os.path.exists("/nonexistent")
