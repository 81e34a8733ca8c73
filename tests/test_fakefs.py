"""Tests of the fake FreeSWITCH (tests/fakefs) with a tiny hand-written ESL client.

The client uses gevent sockets directly, so these tests do not depend on the
project's monkey patching nor on any project code.  Expected texts come from
the real recordings in tests/data/esl-transcripts.
"""

import glob
import os
import urllib.parse
import wave

import gevent
import pytest
from gevent import socket
from gevent.queue import Queue
from gevent.server import StreamServer

from tests.fakefs import FakeSwitch
from tests.fakefs.avmd import beep
from tests.fakefs.conference import end_conference
from tests.support.waiting import wait_until

TRANSCRIPTS = os.path.join(os.path.dirname(__file__), "data", "esl-transcripts")
need_transcripts = pytest.mark.skipif(not os.path.isdir(TRANSCRIPTS), reason="no transcripts")


# ---------------------------------------------------------------------------- transcript parsing
def parse_transcript(path):
    """[(direction '>'|'<', [(name, value)], body bytes, raw bytes)] as described in README.md."""
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        if data.startswith(b">>> SENT\n", i):
            d, i = ">", i + 9
        elif data.startswith(b"<<< RECEIVED\n", i):
            d, i = "<", i + 13
        else:
            raise ValueError("bad marker at %d" % i)
        start = i
        end = data.index(b"\n\n", i)
        head = data[i:end].decode()
        i = end + 2
        hdrs = [tuple(line.split(": ", 1)) if ": " in line else (line, "") for line in head.split("\n")]
        # sendevent's body length is written as content-length (lower case).
        n = int(next((v for k, v in hdrs if k.lower() == "content-length"), 0))
        body = data[i : i + n]
        i += n
        out.append((d, hdrs, body, data[start:i]))
    return out


def parse_event_body(body):
    text = body.decode()
    head, _, rest = text.partition("\n\n")
    hdrs = [(k, urllib.parse.unquote(v)) for k, _, v in (line.partition(": ") for line in head.split("\n") if line)]
    return hdrs, rest


def event_key(hdrs):
    d = dict(hdrs)
    return d["Event-Name"] + ("/" + d["Event-Subclass"] if "Event-Subclass" in d else "")


# ---------------------------------------------------------------------------- tiny ESL client
class Msg:
    def __init__(self, headers, body, raw):
        self.headers = headers
        self.h = dict(headers)
        self.body = body
        self.raw = raw
        self.event = None
        if self.h.get("Content-Type") == "text/event-plain":
            ev, ebody = parse_event_body(body)
            self.event = dict(ev)
            self.event_headers = ev
            self.event_body = ebody

    @property
    def name(self):
        return self.event.get("Event-Name") if self.event else self.h.get("Content-Type")

    def __repr__(self):
        if self.event:
            return "<ev %s %s>" % (self.name, self.event.get("Application", ""))
        return "<%s %s>" % (self.h.get("Content-Type"), self.h.get("Reply-Text", self.body[:40]))


class EslClient:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.pending = []  # messages read past while waiting for a reply

    @classmethod
    def connect(cls, port):
        return cls(socket.create_connection(("127.0.0.1", port)))

    def send(self, text):
        if not text.endswith("\n\n"):
            text = text.rstrip("\n") + "\n\n"
        self.sock.sendall(text.encode())

    def send_raw(self, data):
        self.sock.sendall(data)

    def read(self, timeout=3):
        if self.pending:
            return self.pending.pop(0)
        return self._read(timeout)

    def reply(self, timeout=3):
        """The next command/reply or api/response; events read meanwhile stay pending."""
        kept = []
        while True:
            m = self._read(timeout)
            if m.h.get("Content-Type") in ("command/reply", "api/response"):
                self.pending.extend(kept)
                return m
            kept.append(m)

    def _read(self, timeout=3):
        with gevent.Timeout(timeout):
            while b"\n\n" not in self.buf:
                d = self.sock.recv(65536)
                if not d:
                    raise EOFError()
                self.buf += d
            idx = self.buf.index(b"\n\n")
            head = self.buf[:idx].decode()
            hdrs = [tuple(line.split(": ", 1)) for line in head.split("\n")]
            n = int(dict(hdrs).get("Content-Length", 0))
            while len(self.buf) < idx + 2 + n:
                d = self.sock.recv(65536)
                if not d:
                    raise EOFError()
                self.buf += d
            raw = self.buf[: idx + 2 + n]
            body = self.buf[idx + 2 : idx + 2 + n]
            self.buf = self.buf[idx + 2 + n :]
            return Msg(hdrs, body, raw)

    def cmd(self, text):
        self.send(text)
        return self.reply()

    def api(self, text):
        """Send an api command, skip events, return the api/response."""
        self.send("api " + text)
        return self.reply()

    def until(self, pred, timeout=3):
        got = []
        with gevent.Timeout(timeout):
            while True:
                m = self.read(timeout)
                got.append(m)
                if pred(m):
                    return got

    def eof(self, timeout=3):
        with gevent.Timeout(timeout):
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d

    def execute(self, app, arg=None, uuid=None, extra="", body_arg=False):
        t = "sendmsg\ncall-command: execute\nexecute-app-name: %s\n" % app
        if uuid:
            t += "Event-UUID: %s\n" % uuid
        t += extra
        if arg is not None and not body_arg:
            t += "execute-app-arg: %s\n" % arg
        if body_arg:
            data = arg.encode()
            self.send_raw((t + "content-type: text/plain\ncontent-length: %d\n\n" % len(data)).encode() + data)
        else:
            self.send(t)
        return self.reply()

    def close(self):
        self.sock.close()


def is_ev(name, app=None):
    return lambda m: m.event is not None and m.name == name and (app is None or m.event.get("Application") == app)


def is_type(ct):
    return lambda m: m.h.get("Content-Type") == ct


class OutboundServer:
    """Stands in for our outbound ESL server: hands accepted sockets to the test."""

    def __init__(self):
        self.accepted = Queue()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.server_port

    def _handle(self, sock, addr):
        done = gevent.event.Event()
        self.accepted.put((sock, done))
        done.wait(30)

    def accept(self, timeout=3):
        sock, _ = self.accepted.get(timeout=timeout)
        return EslClient(sock)

    def stop(self):
        self.server.stop(timeout=0.5)


@pytest.fixture
def env():
    srv = OutboundServer()
    sw = FakeSwitch(outbound=("127.0.0.1", srv.port), password="ClueCon", time_scale=0.01, media_ms=20)
    sw.start()
    yield sw, srv
    sw.stop()
    srv.stop()


def start_call(sw, srv, linger=True, myevents=True, **kw):
    # The fake's own tests drive FreeSWITCH's defaults, not our dialplan's settings.
    kw.setdefault("dialplan", False)
    call = sw.incoming_call(**kw)
    c = srv.accept()
    data = c.cmd("connect")
    assert data.h["Content-Type"] == "command/reply"
    if myevents:
        assert c.cmd("myevents").h["Reply-Text"] == "+OK Events Enabled"
    if linger:
        assert c.cmd("linger").h["Reply-Text"] == "+OK will linger"
    return call, c, data


def inbound(sw, events="ALL"):
    c = EslClient.connect(sw.esl_port)
    assert c.read().h == {"Content-Type": "auth/request"}
    assert c.cmd("auth ClueCon").h["Reply-Text"] == "+OK accepted"
    if events:
        assert c.cmd("event plain %s" % events).h["Reply-Text"] == "+OK event listener enabled plain"
    return c


def transcript_replies(name):
    return [
        dict(h).get("Reply-Text")
        for d, h, b, r in parse_transcript(os.path.join(TRANSCRIPTS, name))
        if d == "<" and dict(h).get("Content-Type") == "command/reply" and "Event-Name" not in dict(h)
    ]


# ---------------------------------------------------------------------------- tests
@need_transcripts
def test_outbound_session_replies_match_transcript(env):
    sw, srv = env
    call = sw.incoming_call(dialplan=False)
    c = srv.accept()
    data = c.cmd("connect")
    real = next(
        m
        for m in parse_transcript(os.path.join(TRANSCRIPTS, "basic_media.outbound.log"))
        if dict(m[1]).get("Event-Name") == "CHANNEL_DATA"
    )
    ours = [k for k, v in data.headers]
    theirs = [k for k, v in real[1]]
    assert ours[-4:] == ["Content-Type", "Reply-Text", "Socket-Mode", "Control"] == theirs[-4:]
    assert [v for k, v in data.headers][-4:] == ["command/reply", "%2BOK%0A", "async", "full"]
    assert set(ours) - {"variable_app_disable_expand_variables"} <= set(theirs)
    assert data.h["Unique-ID"] == call.uuid and data.h["variable_app_disable_expand_variables"] == "true"
    assert data.h["Channel-Call-State"] == "RINGING" and data.h["variable_current_application"] == "socket"
    narrow = transcript_replies("live_control_narrow.outbound.log")
    r1 = c.cmd("filter Unique-ID %s" % call.uuid).h["Reply-Text"]
    assert r1 == narrow[0].replace("4cc681c4-e8f2-4fb2-8319-910460e1e687", call.uuid)
    r2 = c.cmd(
        "event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_ANSWER DTMF CHANNEL_HANGUP "
        "CHANNEL_HANGUP_COMPLETE CUSTOM voxology::control"
    ).h["Reply-Text"]
    r3 = c.cmd("linger").h["Reply-Text"]
    assert [r2, r3] == narrow[1:3] == ["+OK event listener enabled plain", "+OK will linger"]
    assert c.cmd("myevents").h["Reply-Text"] == "+OK Events Enabled"
    assert c.cmd("myevents").h["Reply-Text"] == "-ERR aready enabled."
    assert (
        c.cmd("filter delete Unique-ID %s" % call.uuid).h["Reply-Text"]
        == "+OK filter deleted. [Unique-ID][%s]" % call.uuid
    )
    assert c.cmd("bogus").h["Reply-Text"] == "-ERR command not found"
    reply = c.execute("answer", uuid="8821edb7-d372-4e78-9ac3-97b2fe8d0256")
    assert reply.raw == b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "answer"))
    assert [m.name for m in got] == ["CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE"]
    assert call.answered
    c.execute("hangup", "NORMAL_CLEARING")
    got = c.until(is_type("text/disconnect-notice"))
    assert [m.name if m.event else m.h["Content-Type"] for m in got] == [
        "CHANNEL_EXECUTE",
        "CHANNEL_HANGUP",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
        "text/disconnect-notice",
    ]
    assert got[4].event["Application"] == "socket"
    hc = got[7].event
    assert hc["Hangup-Cause"] == "NORMAL_CLEARING" and hc["variable_hangup_cause_q850"] == "16"
    assert "variable_billsec" in hc and hc["variable_last_app"] == "hangup"
    linger = got[-1].raw
    assert (
        linger
        == (
            "Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\n"
            "Content-Disposition: linger\nChannel-Name: %s\nLinger-Time: -1\n"
            "Content-Length: 0\n\n" % (call.uuid, call.channel_name)
        ).encode()
    )
    c.send("exit")
    bye = c.read()
    assert bye.raw == b"Content-Type: command/reply\nReply-Text: +OK bye\n\n"
    disco = c.read()
    real_disco = next(
        m[3]
        for m in parse_transcript(os.path.join(TRANSCRIPTS, "basic_media.outbound.log"))
        if dict(m[1]).get("Content-Disposition") == "disconnect"
    )
    assert disco.raw == real_disco.replace(b"dd46cb1f-8bed-44d6-944e-780ad1996f82", call.uuid.encode())
    assert c.eof()
    assert call.wait_closed(2)
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert [d for d, _ in call.wire][:2] == [">", "<"]


def test_execute_completion_carries_application_uuid(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("set", "foo=bar", uuid="11111111-2222-3333-4444-555555555555")
    ex, done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "set"))
    assert ex.event["Application-UUID"] == done.event["Application-UUID"] == "11111111-2222-3333-4444-555555555555"
    assert done.event["Application-Response"] == "_none_" and done.event["Application-Data"] == "foo=bar"
    assert done.event["variable_foo"] == "bar" and call.vars["foo"] == "bar"
    # no Event-UUID: a generated one, the same in both events; arg given as a body
    c.execute("set", "body=yes please", body_arg=True)
    ex, done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "set"))
    assert ex.event["Application-UUID"] == done.event["Application-UUID"] and len(ex.event["Application-UUID"]) == 36
    assert call.vars["body"] == "yes please"
    c.execute("multiset", "a=1 b=2")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "multiset"))
    c.execute("unset", "a")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "unset"))
    assert "a" not in call.vars and call.vars["b"] == "2"
    assert call.executed[-3:] == [("set", "body=yes please"), ("multiset", "a=1 b=2"), ("unset", "a")]


def test_play_and_get_digits(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("answer")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "answer"))
    # 1) a key pressed mid-prompt
    call.on_execute("play_and_get_digits", lambda call, arg: (gevent.sleep(0.005), call.press("1")))
    c.execute("play_and_get_digits", r"1 1 1 5000 # say:Please_press_one_now. silence_stream://250 rating \d+ 3000")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))
    assert [m.name for m in got] == ["CHANNEL_EXECUTE", "DTMF", "CHANNEL_EXECUTE_COMPLETE"]
    assert got[1].event["DTMF-Digit"] == "1" and got[1].event["DTMF-Source"] == "APP"
    done = got[-1].event
    assert done["Application-Response"] == "_none_"
    assert done["variable_read_result"] == "success" and done["variable_rating"] == "1"
    assert call.played == ["say:Please_press_one_now."]  # the invalid file was not played
    call._on_execute.clear()
    # 2) timeout: failure, the variable is not set, the invalid file is played
    c.execute("play_and_get_digits", r"1 1 1 1500 # silence_stream://200 silence_stream://250 rating2 \d+")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))
    assert [m.name for m in got] == ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]
    done = got[-1].event
    assert done["variable_read_result"] == "failure" and "variable_rating2" not in done
    assert done["Application-Response"] == "_none_"
    assert call.played[-2:] == ["silence_stream://200", "silence_stream://250"]
    # 3) 123# with # as terminator, digits queued before the app starts are consumed
    call.press("123#")
    c.execute("play_and_get_digits", r"1 5 1 5000 # silence_stream://200 silence_stream://250 many \d+ 2000")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))
    assert [m.event.get("DTMF-Digit") for m in got if m.name == "DTMF"] == ["1", "2", "3", "#"]
    done = got[-1].event
    assert done["variable_many"] == "123" and done["variable_read_terminator_used"] == "#"
    assert done["variable_read_result"] == "success"
    # 4) regexp mismatch -> <var>_invalid, tries exhausted
    call.press("9")
    c.execute("play_and_get_digits", r"1 1 1 1000 # silence_stream://10 silence_stream://10 rx ^[12]$")
    done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))[-1].event
    assert "variable_rx" not in done and done["variable_rx_invalid"] == "9"


def test_play_and_get_digits_timeout_is_scaled(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    t0 = gevent.get_hub().loop.now()
    c.execute("play_and_get_digits", r"1 1 2 5000 # silence_stream://200 silence_stream://250 v \d+")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))
    elapsed = gevent.get_hub().loop.now() - t0
    # 2 tries x (prompt 20 ms + 5000 ms x 0.01 + invalid 20 ms) ~ 0.18 s
    assert 0.12 < elapsed < 1.0
    assert call.vars["read_result"] == "failure"


def test_playback_terminators(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    sw.media_ms = 300
    # default terminator is '*': '5' does not stop the prompt and stays queued
    call.on_execute("playback", lambda call, arg: call.press("5"))
    t0 = gevent.get_hub().loop.now()
    c.execute("playback", "tone_stream://%(5000,0,350)")
    done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))[-1].event
    assert gevent.get_hub().loop.now() - t0 >= 0.28
    assert done["Application-Response"] == "FILE PLAYED" and "variable_playback_terminator_used" not in done
    assert call._dtmf == ["5"]
    call._on_execute.clear()
    # '*' stops it and is consumed; '5' is still queued for the next reader
    call.on_execute("playback", lambda call, arg: call.press("*"))
    t0 = gevent.get_hub().loop.now()
    c.execute("playback", "file_string://a.wav!b.wav")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))
    assert gevent.get_hub().loop.now() - t0 < 0.25
    assert [m.event["DTMF-Digit"] for m in got if m.name == "DTMF"] == ["*"]
    assert got[-1].event["Application-Response"] == "FILE PLAYED"
    assert got[-1].event["variable_playback_terminator_used"] == "*"
    assert call.played[-2:] == ["a.wav", "b.wav"] and call._dtmf == ["5"]
    call._on_execute.clear()
    # playback_terminators=any: the queued '5' stops the next playback at once
    c.execute("set", "playback_terminators=any")
    c.execute("playback", "/tmp/x.wav")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))
    assert got[-1].event["variable_playback_terminator_used"] == "5" and call._dtmf == []
    # none: nothing stops it; flush_dtmf drops queued keys
    c.execute("set", "playback_terminators=none")
    sw.media_ms = 20
    call.press("*")
    c.execute("playback", "/tmp/y.wav")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))
    assert not [m for m in got if m.name == "DTMF"] and call._dtmf == ["*"]
    c.execute("flush_dtmf")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "flush_dtmf"))
    assert call._dtmf == []


def test_speak_and_other_media(env, tmp_path):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("speak", "flite|kal|Hello, world.|and a pipe")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "speak"))
    c.execute("playback", "say:Goodbye")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))
    c.execute("send_dtmf", "123#")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "send_dtmf"))
    rec = str(tmp_path / "rec1.wav")
    c.execute("record", "%s 2 200 3" % rec)
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "record"))
    sess = str(tmp_path / "session.wav")
    c.execute("record_session", sess)
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "record_session"))
    c.execute("sleep", "200")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "sleep"))
    assert call.spoken == ["Hello, world.|and a pipe"]
    assert call.played == ["say:Goodbye"] and call.dtmf_sent == ["123#"]
    assert call.pre_answered and not call.answered  # media apps pre-answer an inbound channel
    # record writes the caller's "voice" for the (virtual) time it ran; record_session an empty file.
    with wave.open(rec) as w:
        assert w.getframerate() == 8000 and os.path.getsize(rec) == 44 + 2 * w.getnframes()
    assert os.path.getsize(sess) == 44


def test_variable_expansion_on_and_off(env, tmp_path):
    sw, srv = env
    marker_off = tmp_path / "off"
    call, c, _data = start_call(sw, srv)  # our dialplan disables expansion
    c.execute("set", "x=${system touch %s}" % marker_off)
    done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "set"))[-1].event
    assert done["Application-Data"] == "x=${system touch %s}" % marker_off
    assert call.vars["x"] == "${system touch %s}" % marker_off
    gevent.sleep(0.05)
    assert not marker_off.exists()
    marker_on = tmp_path / "on"
    call2, c2, data2 = start_call(sw, srv, expand_variables=True, channel_vars={"who": "world"})
    assert "variable_app_disable_expand_variables" not in data2.h and data2.h["variable_who"] == "world"
    c2.execute("set", "x=${system touch %s}" % marker_on)
    c2.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "set"))
    assert marker_on.exists()
    c2.execute("set", "greet=hello ${who} ${uuid} ${who:1:3} $${hostname}")
    done = c2.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "set"))[-1].event
    assert done["Application-Data"] == "greet=hello world %s orl vm" % call2.uuid
    assert call2.raw_executed[-1] == ("set", "greet=hello ${who} ${uuid} ${who:1:3} $${hostname}")
    assert call2.executed[-1] == ("set", "greet=hello world %s orl vm" % call2.uuid)
    assert any(cmd.startswith("system touch") for cmd in sw.api_log)


def test_sendevent_routing(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv, myevents=False)
    assert c.cmd("filter Unique-ID %s" % call.uuid).h["Reply-Text"].startswith("+OK filter added.")
    assert (
        c.cmd("filter Vox-Call-ID %s" % call.uuid).h["Reply-Text"] == "+OK filter added. [Vox-Call-ID]=[%s]" % call.uuid
    )
    c.cmd(
        "event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_ANSWER DTMF CHANNEL_HANGUP "
        "CHANNEL_HANGUP_COMPLETE CUSTOM voxology::control"
    )
    _other, oc, _ = start_call(sw, srv, myevents=False)
    oc.cmd("event plain CUSTOM voxology::control")
    ib = inbound(sw)
    body = '{"op": "session_data"}'
    ib.send(
        "sendevent CUSTOM\nEvent-Subclass: voxology::control\nUnique-ID: %s\n"
        "Content-Type: application/json\nContent-Length: %d\n\n%s" % (call.uuid, len(body), body)
    )
    r = ib.until(is_type("command/reply"))[-1]
    assert r.h["Reply-Text"].startswith("+OK ") and len(r.h["Reply-Text"]) == 40
    ib.send(
        "sendevent CUSTOM\nEvent-Subclass: voxology::control\nVox-Call-ID: %s\n"
        "Content-Type: application/json\nContent-Length: %d\n\n%s" % (call.uuid, len(body), body)
    )
    r2 = ib.until(is_type("command/reply"))[-1]
    ev = c.until(is_ev("CUSTOM"))[-1]
    assert ev.event["Vox-Call-ID"] == call.uuid and ev.event_body == body
    assert ev.event["Event-UUID"] == r2.h["Reply-Text"][4:]
    assert [k for k, v in ev.event_headers][:6] == [
        "Event-Subclass",
        "Command",
        "Vox-Call-ID",
        "Content-Type",
        "Content-Length",
        "Event-UUID",
    ]
    # the unfiltered socket subscribed to the subclass gets it too, the inbound ALL listener as well
    assert oc.until(is_ev("CUSTOM"))[-1].event["Vox-Call-ID"] == call.uuid
    customs = [m for m in ib.until(is_ev("CUSTOM")) if m.name == "CUSTOM"]
    assert len(customs) == 1 and customs[0].event["Vox-Call-ID"] == call.uuid
    # the one carrying Unique-ID went to the session, no socket saw it
    assert len(call.session_events) == 1
    c.execute("answer")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "answer"))
    assert not [m for m in got if m.name == "CUSTOM"]


def test_inbound_auth_api_and_bgapi(env):
    sw, _srv = env
    bad = EslClient.connect(sw.esl_port)
    bad.read()
    assert bad.cmd("auth nope").h["Reply-Text"] == "-ERR invalid"
    assert bad.read().h["Content-Type"] == "text/disconnect-notice"
    assert bad.eof()
    ib = inbound(sw, events=None)
    r = ib.api("no_such_command")
    assert r.raw == b"Content-Type: api/response\nContent-Length: 40\n\n-ERR no_such_command Command not found!\n"
    assert ib.api("uuid_exists 00000000-0000-0000-0000-000000000000").body == b"false"
    assert ib.api("show calls as json").body == b'{"row_count": 0}\n'
    assert ib.api("show channels count").body == b"\n0 total.\n"
    assert ib.api("status").body.startswith(b"UP 0 years")
    assert ib.cmd("event plain BACKGROUND_JOB").h["Reply-Text"] == "+OK event listener enabled plain"
    r = ib.cmd("bgapi uuid_exists 00000000-0000-0000-0000-000000000000")
    job = r.h["Job-UUID"]
    assert r.h["Reply-Text"] == "+OK Job-UUID: %s" % job
    ev = ib.until(is_ev("BACKGROUND_JOB"))[-1]
    assert ev.event["Job-UUID"] == job and ev.event_body == "false"
    assert "uuid_exists 00000000-0000-0000-0000-000000000000" in sw.api_log
    assert ib.cmd("linger").h["Reply-Text"] == "-ERR not controlling a session"
    ib.send("exit")
    assert ib.read().h["Reply-Text"] == "+OK bye"
    assert ib.read().raw.startswith(b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n")


def test_live_control_apis(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    ib = inbound(sw, events=None)
    assert ib.api("uuid_exists %s" % call.uuid).body == b"true"
    assert ib.api("uuid_setvar %s vox_injected yes" % call.uuid).body == b"+OK\n"
    assert ib.api("uuid_getvar %s vox_injected" % call.uuid).body == b"yes"
    assert ib.api("uuid_getvar %s nothing" % call.uuid).body == b"_undef_"
    assert ib.api("uuid_kill 00000000-0000-0000-0000-000000000000").body == b"-ERR No such channel!\n"
    assert ib.api("show channels count").body == b"\n1 total.\n"
    sw.media_ms = 5000
    c.execute("playback", "tone_stream://%(20000,0,350)")
    c.until(is_ev("CHANNEL_EXECUTE", "playback"))
    assert ib.api("uuid_break %s all" % call.uuid).body == b"+OK\n"
    done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))[-1].event
    assert done["Application-Response"] == "FILE PLAYED"
    sw.media_ms = 20
    r = ib.api("uuid_broadcast %s tone_stream://%%(300,0,500) aleg" % call.uuid)
    assert r.body == b"+OK Message sent\n"
    ex = c.until(is_ev("CHANNEL_EXECUTE", "playback"))[-1].event
    assert ex["Application-Data"] == "tone_stream://%(300,0,500)"
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))
    assert ib.api("uuid_recv_dtmf %s 12" % call.uuid).body == ("+OK %s received DTMF 12.\n" % call.uuid).encode()
    assert call._dtmf == ["1", "2"]
    c.execute("set", "vox_check=${vox_injected}")
    c.execute("sched_hangup", "+20 ALLOTTED_TIMEOUT")  # 20 s x 0.01
    sw.media_ms = 5000
    c.execute("playback", "tone_stream://%(5000,0,440)")
    got = c.until(is_type("text/disconnect-notice"))
    names = [m.name for m in got]
    assert names[-3:] == ["CHANNEL_EXECUTE", "CHANNEL_HANGUP", "text/disconnect-notice"]
    assert got[-2].event["Hangup-Cause"] == "ALLOTTED_TIMEOUT"
    rest = c.until(is_ev("CHANNEL_HANGUP_COMPLETE"))
    assert rest[0].event["Application-Response"] == "PLAYBACK ERROR"
    socket_done = next(m for m in rest if m.event.get("Application") == "socket")
    assert socket_done.event["Application-Response"] == "PLAYBACK ERROR"
    assert call.vars["vox_check"] == "${vox_injected}"  # expansion disabled by our dialplan


@need_transcripts
def test_uuid_break_stops_a_looped_execute_not_endless_playback(env):
    """A sendmsg execute with ``loops: -1`` is a broadcast that uuid_break
    ends; endless_playback only starts its next round (hold_stop.*.log)."""
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    ib = inbound(sw, events=None)
    recorded = [
        dict(parse_event_body(b)[0]).get("Application-UUID")
        for _d, h, b, _r in parse_transcript(os.path.join(TRANSCRIPTS, "hold_stop.outbound.log"))
        if dict(h).get("Content-Type") == "text/event-plain"
        and ("Event-Name", "CHANNEL_EXECUTE_COMPLETE") in parse_event_body(b)[0]
        and ("Application", "playback") in parse_event_body(b)[0]
    ]
    assert max(recorded.count(u) for u in recorded) >= 2  # the real switch: rounds share one Application-UUID
    loop = "aaaaaaaa-0000-0000-0000-000000000001"
    c.execute("playback", "silence_stream://1000", uuid=loop, extra="loops: -1\n")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))  # one round done, the loop goes on
    assert ib.api("uuid_getvar %s current_loop" % call.uuid).body.isdigit()
    assert ib.api("uuid_break %s all" % call.uuid).body == b"+OK\n"
    last = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))[-1].event
    assert last["Application-UUID"] == loop
    gevent.sleep(0.1)
    assert ib.api("uuid_getvar %s current_loop" % call.uuid).body == b"_undef_"
    rounds = sum(app == "playback" for app, _ in call.executed)
    gevent.sleep(0.1)
    assert sum(app == "playback" for app, _ in call.executed) == rounds  # no round after the break
    c.execute("endless_playback", "silence_stream://1000")
    c.until(is_ev("CHANNEL_EXECUTE", "endless_playback"))
    assert ib.api("uuid_break %s all" % call.uuid).body == b"+OK\n"
    gevent.sleep(0.2)
    assert call._running == ["socket", "endless_playback"]  # still playing
    ib.api("uuid_kill %s" % call.uuid)
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "endless_playback"))


def test_originate_answer_and_busy(env):
    sw, _srv = env
    other = OutboundServer()
    try:
        ib = inbound(sw, events="CHANNEL_HANGUP_COMPLETE")
        uuid = "fec0080d-2db1-4cba-bcbc-b211b8a3171e"
        r = ib.api(
            "originate {origination_uuid=%s,origination_caller_id_number=+19495551212,"
            "originate_timeout=10,vox_call_id=%s}loopback/4000/default "
            "&socket('127.0.0.1:%d async full')" % (uuid, uuid, other.port)
        )
        assert r.body == ("+OK %s\n" % uuid).encode()
        c = other.accept()
        data = c.cmd("connect")
        assert data.h["Unique-ID"] == uuid and data.h["Call-Direction"] == "outbound"
        assert data.h["Answer-State"] == "answered" and data.h["variable_vox_call_id"] == uuid
        assert data.h["Caller-Caller-ID-Number"] == "%2B19495551212"
        assert sw.calls[uuid].answered and sw.calls[uuid].direction == "outbound"
        sw.originate_policy = lambda ds, vars: ("busy",)
        r = ib.api("originate {originate_timeout=3}loopback/5000/default &park()")
        assert r.body == b"-ERR USER_BUSY\n"
        hc = ib.until(is_ev("CHANNEL_HANGUP_COMPLETE"))[-1].event
        assert hc["Hangup-Cause"] == "USER_BUSY"
        sw.originate_policy = lambda ds, vars: ("noanswer",)
        assert ib.api("originate {originate_timeout=3}loopback/5000/default &park()").body == b"-ERR NO_ANSWER\n"
        sw.originate_policy = lambda ds, vars: ("fail", "NORMAL_CLEARING")
        assert ib.api("originate loopback/x/default &park()").body == b"-ERR NORMAL_CLEARING\n"
    finally:
        other.stop()


def test_bridge(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("answer")
    c.execute("set", "continue_on_fail=true")
    seen = []
    sw.originate_policy = lambda ds, vars: (seen.append((ds, dict(vars))), ("answer", 100))[1]
    c.execute("bridge", "{origination_caller_id_number=+17145551212,leg_timeout=10}loopback/4000/default")
    br = c.until(is_ev("CHANNEL_BRIDGE"))[-1].event
    b = sw.calls[br["Bridge-B-Unique-ID"]]
    assert br["Other-Type"] == "originatee" and br["Other-Leg-Unique-ID"] == b.uuid
    assert seen[0][0] == "loopback/4000/default" and seen[0][1]["leg_timeout"] == "10"
    b.hangup()
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "bridge"))
    assert got[0].name == "CHANNEL_UNBRIDGE"
    done = got[-1].event
    assert done["variable_bridge_hangup_cause"] == "NORMAL_CLEARING" and done["variable_DIALSTATUS"] == "SUCCESS"
    assert not call.down
    sw.originate_policy = lambda ds, vars: ("busy",)
    c.execute("bridge", "loopback/no_such_extension_here/default")
    done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "bridge"))[-1].event
    assert done["variable_originate_failed_cause"] == "USER_BUSY" and not call.down
    assert done["variable_DIALSTATUS"] == "BUSY"  # as recorded in bridge_outcomes.outbound.log
    c.execute("set", "continue_on_fail=false")
    c.execute("bridge", "loopback/busy/default")
    c.until(is_ev("CHANNEL_HANGUP"))
    assert call.hangup_cause == "USER_BUSY"


@need_transcripts
def test_a_call_placed_from_a_socket_reaches_it_through_filters(env):
    """As recorded in dial.outbound.log: ``bgapi originate`` on a call's socket
    answers with the Job-UUID; the BACKGROUND_JOB (owned by that call) and the
    new channel's events come through Job-UUID and Unique-ID filters; the new
    call's socket ``uuid_bridge``s the held caller, and when the new call hangs
    up the caller is parked again (CHANNEL_UNBRIDGE) and goes on."""
    sw, srv = env
    call, c, _ = start_call(sw, srv, myevents=False)
    placed_id = "c4061090-e71a-4659-96c4-fb96cb0a747e"
    c.cmd("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP BACKGROUND_JOB CHANNEL_BRIDGE CHANNEL_UNBRIDGE")
    for header, value in (("Unique-ID", call.uuid), ("Job-UUID", placed_id), ("Unique-ID", placed_id)):
        assert c.cmd(f"filter {header} {value}").h["Reply-Text"] == f"+OK filter added. [{header}]=[{value}]"
    c.execute("answer")
    c.execute("multiset", "park_after_bridge=true hangup_after_bridge=false")
    c.execute("endless_playback", "tone_stream://%(2000,4000,440,480)")
    other = OutboundServer()
    try:
        reply = c.cmd(
            "bgapi originate {origination_uuid=%s,vox_call_id=%s}loopback/4000/default "
            "&socket('127.0.0.1:%d async full')\nJob-UUID: %s" % (placed_id, placed_id, other.port, placed_id)
        )
        assert reply.h["Reply-Text"] == f"+OK Job-UUID: {placed_id}"
        placed = other.accept()
        placed.cmd("connect")
        job = c.until(is_ev("BACKGROUND_JOB"))[-1]
        assert job.event["Job-UUID"] == placed_id and job.event["Job-Owner-UUID"] == call.uuid
        assert job.event["Job-Command"] == "originate" and job.body.endswith(f"\n\n+OK {placed_id}\n".encode())
        placed.cmd("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP")
        placed.execute("playback", "silence_stream://100")
        # The new channel's completions reach the caller's socket too (its filter).
        done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))[-1].event
        assert done["Unique-ID"] == placed_id
        assert placed.api(f"uuid_bridge {call.uuid} {placed_id}").body.startswith(b"+OK")
        bridged = c.until(is_ev("CHANNEL_BRIDGE"))[-1].event
        assert bridged["Unique-ID"] == call.uuid and bridged["Other-Leg-Unique-ID"] == placed_id
        sw.calls[placed_id].hangup()
        got = c.until(is_ev("CHANNEL_UNBRIDGE"))
        assert any(m.name == "CHANNEL_HANGUP" and m.event["Unique-ID"] == placed_id for m in got)
        assert not call.down
    finally:
        other.stop()


@need_transcripts
def test_legs_rung_at_once(env):
    """``,`` rings legs together: the first to answer wins, the others lose the
    race; none answering ends NO_ANSWER once the ring time is out, as recorded
    in bridge_simultaneous.outbound.log."""
    recorded = [
        dict(parse_event_body(b)[0]).get("variable_originate_disposition")
        for _d, h, b, _r in parse_transcript(os.path.join(TRANSCRIPTS, "bridge_simultaneous.outbound.log"))
        if dict(h).get("Content-Type") == "text/event-plain"
        and ("Event-Name", "CHANNEL_EXECUTE_COMPLETE") in parse_event_body(b)[0]
        and ("Application", "bridge") in parse_event_body(b)[0]
    ]
    assert recorded == ["NO_ANSWER", "NO_ANSWER"]
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("answer")
    c.execute("set", "continue_on_fail=true")
    sw.originate_policy = lambda ds, vars: ("busy",) if "user_busy" in ds else ("noanswer",)
    c.execute("bridge", "{originate_timeout=2}error/user_busy,loopback/4000/default")
    done = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "bridge"))[-1].event
    assert done["variable_originate_disposition"] == recorded[0] and not call.down
    sw.originate_policy = lambda ds, vars: ("busy",) if "4001" in ds else ("answer", 50)
    c.execute(
        "bridge",
        "[origination_uuid=aaaaaaaa-0000-0000-0000-00000000000a]loopback/4001/default,"
        "[origination_uuid=aaaaaaaa-0000-0000-0000-00000000000b]loopback/4002/default",
    )
    bridged = c.until(is_ev("CHANNEL_BRIDGE"))[-1].event
    assert bridged["Other-Leg-Unique-ID"] == "aaaaaaaa-0000-0000-0000-00000000000b"
    assert sw.calls["aaaaaaaa-0000-0000-0000-00000000000a"].hangup_cause == "USER_BUSY"
    sw.calls["aaaaaaaa-0000-0000-0000-00000000000b"].hangup()
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "bridge"))
    sw.originate_policy = lambda ds, vars: ("answer", 50) if "4003" in ds else ("answer", 5000)
    c.execute(
        "bridge",
        "[origination_uuid=aaaaaaaa-0000-0000-0000-00000000000c]loopback/4003/default,"
        "[origination_uuid=aaaaaaaa-0000-0000-0000-00000000000d]loopback/4004/default",
    )
    c.until(is_ev("CHANNEL_BRIDGE"))
    assert sw.calls["aaaaaaaa-0000-0000-0000-00000000000d"].hangup_cause == "LOSE_RACE"


def test_avmd_does_not_start_on_an_inbound_leg(env):
    # Our avmd.conf: inbound_channel=0 (avmd_inbound.*.log: no event, the application completes).
    sw, srv = env
    ib = inbound(sw, events="CUSTOM avmd::start avmd::beep avmd::stop")
    call, c, _ = start_call(sw, srv)
    c.execute("answer")
    c.execute("avmd_start")
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "avmd_start"))
    assert not beep(call)
    ib.send("api status")
    assert ib.reply().h["Content-Type"] == "api/response"
    assert not [m for m in ib.pending if m.event]


def test_conference_and_fifo(env):
    sw, srv = env
    ib = inbound(sw, events="CUSTOM conference::maintenance fifo::info")
    call, c, _ = start_call(sw, srv)
    c.execute("answer")
    c.execute("conference", "labconf@default")
    c.until(is_ev("CHANNEL_EXECUTE", "conference"))
    got = ib.until(lambda m: m.event and m.event.get("Action") == "add-member")
    assert [m.event["Action"] for m in got] == ["conference-create", "add-member"]
    lst = ib.api("conference labconf list")
    assert lst.body.decode().startswith("1;%s;%s;" % (call.channel_name, call.uuid))
    assert ib.api("conference labconf mute all").body == b"+OK mute 1\n"
    assert ib.api("conference labconf kick all").body == b"+OK kicked 1\n"
    c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "conference"))
    actions = [m.event["Action"] for m in ib.until(lambda m: m.event and m.event.get("Action") == "conference-destroy")]
    assert actions[-2:] == ["del-member", "conference-destroy"]
    # fifo: the caller waits until an agent takes it; then the socket app completes
    c.execute("fifo", "labqueue in")
    c.until(is_ev("CHANNEL_EXECUTE", "fifo"))
    assert "labqueue" in ib.api("fifo list").body.decode()
    assert ib.api("fifo count labqueue").body == b"labqueue:0:1:0:0:0\n"
    r = ib.api(
        "originate {origination_caller_id_number=+15550002222}loopback/4000/default &fifo('labqueue out nowait')"
    )
    assert r.body.startswith(b"+OK ")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "socket"))
    assert [m.event.get("Application") for m in got if m.name == "CHANNEL_EXECUTE_COMPLETE"] == ["fifo", "socket"]
    assert got[-1].event["variable_fifo_serviced_by"] == r.body[4:].decode().strip()
    agent = sw.calls[r.body[4:].decode().strip()]
    agent.hangup()
    c.until(is_type("text/disconnect-notice"))
    assert call.down


def test_far_end_hangup_with_and_without_linger(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("answer")
    sw.media_ms = 5000
    call.on_execute("playback", lambda call, arg: call.hangup())
    c.execute("playback", "tone_stream://%(20000,0,350)")
    got = c.until(is_ev("CHANNEL_HANGUP_COMPLETE"))
    names = [m.name for m in got]
    i = names.index("CHANNEL_HANGUP")
    assert names[i:] == [
        "CHANNEL_HANGUP",
        "text/disconnect-notice",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
    ]
    assert got[i + 2].event["Application-Response"] == "PLAYBACK ERROR"
    assert got[i + 1].h["Content-Disposition"] == "linger"
    assert not call.wait_closed(0.05)  # lingering until we say exit
    c.send("exit")
    assert c.read().h["Reply-Text"] == "+OK bye"
    assert c.read().h["Content-Disposition"] == "disconnect"
    assert c.eof() and call.wait_closed(2)
    # without linger: disconnect notice right after CHANNEL_HANGUP, then the socket is closed
    sw.media_ms = 20
    call2, c2, _ = start_call(sw, srv, linger=False)
    c2.execute("answer")
    c2.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "answer"))
    call2.hangup("USER_BUSY")
    got = c2.until(is_type("text/disconnect-notice"))
    assert got[-2].name == "CHANNEL_HANGUP" and got[-1].h["Content-Disposition"] == "disconnect"
    assert c2.eof() and call2.wait_closed(2) and call2.hangup_cause == "USER_BUSY"


def test_respond_rejects_before_answer(env):
    sw, srv = env
    for code, cause in (("486", "USER_BUSY"), ("603 Decline", "CALL_REJECTED")):
        call, c, data = start_call(sw, srv, sip=True)
        assert data.h["Channel-Name"].startswith("sofia/internal/") and "variable_sip_from_user" in data.h
        c.execute("respond", code)
        got = c.until(is_ev("CHANNEL_HANGUP_COMPLETE"))
        assert got[1].name == "CHANNEL_HANGUP" and got[1].event["Hangup-Cause"] == cause
        assert call.sip_response == int(code[:3]) and call.hangup_cause == cause
        c.send("exit")
        c.until(lambda m: m.h.get("Content-Disposition") == "disconnect")


def test_unknown_application_and_refused_socket(env):
    sw, srv = env
    call, c, _ = start_call(sw, srv)
    c.execute("no_such_app", "x")
    got = c.until(is_ev("CHANNEL_HANGUP_COMPLETE"))
    assert got[0].name == "CHANNEL_HANGUP" and call.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    # nothing listens on the outbound port: the socket app fails and the call hangs up
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sw.outbound = ("127.0.0.1", port)
    call2 = sw.incoming_call(dialplan=False)
    assert call2.wait_closed(3) and call2.hangup_cause == "NORMAL_CLEARING"
    # our server accepts then closes at once: same, no hang
    sw.outbound = ("127.0.0.1", srv.port)
    call3 = sw.incoming_call(dialplan=False)
    srv.accept().close()
    assert call3.wait_closed(3) and call3.down


def test_nested_execute_without_event_lock(env):
    sw, srv = env
    _call, c, _ = start_call(sw, srv)
    sw.media_ms = 200
    c.execute("playback", "a.wav")
    c.execute("set", "during=1")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "playback"))
    apps = [(m.name, m.event.get("Application")) for m in got if m.name.startswith("CHANNEL_EXECUTE")]
    assert apps == [
        ("CHANNEL_EXECUTE", "playback"),
        ("CHANNEL_EXECUTE", "set"),
        ("CHANNEL_EXECUTE_COMPLETE", "set"),
        ("CHANNEL_EXECUTE_COMPLETE", "playback"),
    ]
    c.execute("playback", "b.wav", extra="event-lock: true\n")
    c.execute("set", "after=1")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "set"))
    apps = [(m.name, m.event.get("Application")) for m in got if m.name.startswith("CHANNEL_EXECUTE")]
    assert apps == [
        ("CHANNEL_EXECUTE", "playback"),
        ("CHANNEL_EXECUTE_COMPLETE", "playback"),
        ("CHANNEL_EXECUTE", "set"),
        ("CHANNEL_EXECUTE_COMPLETE", "set"),
    ]


# Headers whose values say what happened (not ids or times): the fake's must be real ones.
VALUE_HEADERS = ("Action", "Call-command", "Beep-Status", "Application-Response")


@need_transcripts
def test_event_header_names_are_a_subset_of_real_ones(env, tmp_path):
    """For every event type the fake emits, its header names appear in real recordings."""
    real = {}
    real_vars = set()
    real_values = {}
    for path in glob.glob(os.path.join(TRANSCRIPTS, "*.log")):
        for _d, hdrs, body, _raw in parse_transcript(path):
            if dict(hdrs).get("Content-Type") == "text/event-plain":
                ev, _ = parse_event_body(body)
                names = {k for k, v in ev}
                real.setdefault(event_key(ev), set()).update(n for n in names if not n.startswith("variable_"))
                for k, v in ev:
                    if k in VALUE_HEADERS:
                        real_values.setdefault((event_key(ev), k), set()).add(v)
                real_vars.update(n for n in names if n.startswith("variable_"))
    sw, srv = env
    sw.events = []  # keep every event the fake fires, whoever subscribed
    ib = inbound(sw)
    other = OutboundServer()
    try:
        call, c, _ = start_call(sw, srv)
        ib.api(
            "originate {origination_uuid=fec0080d-2db1-4cba-bcbc-b211b8a3171e}loopback/4000/default "
            "&socket('127.0.0.1:%d async full')" % other.port
        )
        oc = other.accept()
        oc.cmd("connect")
        oc.cmd("myevents")
        oc.cmd("event plain CUSTOM avmd::start avmd::beep avmd::stop")
        oc.execute("avmd_start")  # Make Call's leg is outbound: the detector listens there
        oc.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "avmd_start"))
        assert beep(sw.calls["fec0080d-2db1-4cba-bcbc-b211b8a3171e"], 1000.0)
        oc.execute("avmd_stop")
        oc.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "avmd_stop"))
        oc.execute("conference", "labend@default")  # a room that ends (its endconf member left)
        oc.until(is_ev("CHANNEL_EXECUTE", "conference"))
        assert end_conference(sw, "labend")  # and hangs this leg up
        oc.until(is_ev("CHANNEL_HANGUP"))
        c.execute("pre_answer")
        c.execute("ring_ready")
        c.execute("answer")
        c.execute("set", "tts_engine=flite")
        c.execute("playback", "tone_stream://%(300,0,440)")
        call.press("1")
        c.execute("play_and_get_digits", r"1 1 1 5000 # say:x silence_stream://250 rating \d+ 3000")
        c.execute("record", "%s 1 200 1" % (tmp_path / "r.wav"))
        c.execute("bridge", "loopback/4000/default")
        c.until(is_ev("CHANNEL_BRIDGE"))
        [b] = [x for x in sw.calls.values() if x.partner is call]
        b.hangup()
        c.execute("conference", "labconf@default")
        c.until(is_ev("CHANNEL_EXECUTE", "conference"))
        ib.api("conference labconf mute all")
        assert ib.api("conference labconf recording start %s" % (tmp_path / "room.wav")).body.startswith(b"+OK Record")
        ib.api("conference labconf kick all")
        c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "conference"))
        rec = str(tmp_path / "session.wav")
        for app in ("record_session", "record_session_mask", "record_session_unmask", "stop_record_session"):
            c.execute(app, rec)
        c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "stop_record_session"))
        c.execute("multiset", "park_after_bridge=true hangup_after_bridge=false")
        c.execute("endless_playback", "silence_stream://500")  # held, then taken by uuid_bridge
        agent = ib.api("originate loopback/4000/default &park()").body.decode().split()[1]
        assert ib.api("uuid_bridge %s %s" % (call.uuid, agent)).body.startswith(b"+OK")
        c.until(is_ev("CHANNEL_BRIDGE"))
        ib.api("uuid_kill %s" % agent)
        c.until(is_ev("CHANNEL_UNBRIDGE"))
        c.execute("fifo", "labqueue in")
        c.until(is_ev("CHANNEL_EXECUTE", "fifo"))
        ib.api("originate loopback/4000/default &fifo('labqueue out nowait')")
        c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "fifo"))  # (socket completed at the uuid_bridge)
        ib.cmd("bgapi status")
        ib.send(
            "sendevent CUSTOM\nEvent-Subclass: voxology::control\nVox-Call-ID: x\n"
            "Content-Type: application/json\nContent-Length: 2\n\n{}"
        )
        ib.api("hupall NORMAL_CLEARING")
        c.until(is_type("text/disconnect-notice"))
        c.send("exit")
        assert call.wait_closed(3)
        gevent.sleep(0.1)
    finally:
        other.stop()
    emitted = {}
    for ev in sw.events:
        key = ev.name + ("/" + ev.subclass if ev.subclass else "")
        for k, v in ev.headers:
            if k in VALUE_HEADERS:
                assert str(v) in real_values.get((key, k), ()), f"{key}: {k}: {v} never seen in the recordings"
        names = {k for k, v in ev.headers}
        if ev.body:
            names.add("Content-Length")
        emitted.setdefault(ev.name + ("/" + ev.subclass if ev.subclass else ""), set()).update(names)
    assert {
        "CHANNEL_EXECUTE",
        "DTMF",
        "CHANNEL_BRIDGE",
        "CUSTOM/conference::maintenance",
        "CUSTOM/fifo::info",
        "BACKGROUND_JOB",
        "CHANNEL_HANGUP_COMPLETE",
        "PLAYBACK_START",
        "RECORD_STOP",
        "API",
        "CUSTOM/voxology::control",
        "CHANNEL_PROGRESS",
        "PRIVATE_COMMAND",
        "CUSTOM/avmd::start",
        "CUSTOM/avmd::beep",
        "CUSTOM/avmd::stop",
        "CHANNEL_UNBRIDGE",
    } <= set(emitted)
    actions = {dict(ev.headers).get("Action") for ev in sw.events if ev.subclass == "conference::maintenance"}
    assert {"conference-destroy", "start-recording", "stop-recording"} <= actions
    real_other_leg = {n for names in real.values() for n in names if n.startswith("Other-")}
    real_caller_profile = {n for names in real.values() for n in names if n.startswith("Caller-")}
    ours_allowed = {"variable_app_disable_expand_variables"}  # our dialplan sets it (not in the recordings)
    for key, names in sorted(emitted.items()):
        assert key in real, "the fake emits %s, never seen in the recordings" % key
        extra = {n for n in names if not n.startswith("variable_")} - real[key]
        # The other leg's caller profile rides on every event of a channel that
        # has (or had) one; the recordings show it on other event types.
        extra = {n for n in extra if not (n.startswith("Other-") and n in real_other_leg)}
        # A caller profile field is left out when empty (the recorded Make Call
        # leg had no caller id name); on a channel where it is set it rides along.
        extra = {n for n in extra if not (n.startswith("Caller-") and n in real_caller_profile)}
        assert not extra, "%s: headers never seen in real %s events: %s" % (key, key, sorted(extra))
        extra_vars = {n for n in names if n.startswith("variable_")} - real_vars - ours_allowed
        assert not extra_vars, "%s: variables never seen in the recordings: %s" % (key, sorted(extra_vars))


@need_transcripts
def test_a_screened_leg_runs_our_socket_once_answered_and_wins_when_it_lets_go(env):
    """As recorded in whisper.outbound.log: ``group_confirm_key=exec`` runs
    the socket in ``group_confirm_file`` on each leg that answers (the connect
    reply shows it answered, with the leg's variables unquoted); a leg hung up
    there loses; ``exit`` lets the socket go with the leg up, and that leg is
    bridged."""
    recorded = parse_transcript(os.path.join(TRANSCRIPTS, "whisper.outbound.log"))
    connect = {name: urllib.parse.unquote(value) for name, value in recorded[1][1]}
    recorded_exit = [dict(h) for d, h, _b, _r in recorded[-2:]]
    sw, srv = env
    _call, c, _ = start_call(sw, srv)
    c.execute("answer")
    c.execute("multiset", "continue_on_fail=true hangup_after_bridge=false")
    legs = ["aaaaaaaa-0000-0000-0000-00000000000a", "aaaaaaaa-0000-0000-0000-00000000000b"]
    screen = f"group_confirm_key=exec,group_confirm_file='socket 127.0.0.1:{srv.port} async full',vox_whisper=true"
    sw.originate_policy = lambda ds, vars: ("answer", 50) if "4001" in ds else ("answer", 150)
    c.execute(
        "bridge",
        f"[origination_uuid={legs[0]},{screen}]loopback/4001/default,[origination_uuid={legs[1]},{screen}]loopback/4002/default",
    )
    for leg, hang_up in zip(legs, (True, False), strict=True):
        whisper = srv.accept()
        reply = whisper.cmd("connect")
        assert reply.h["Unique-ID"] == leg
        for name in ("Answer-State", "Channel-Call-State", "variable_vox_whisper"):
            assert reply.h[name] == connect[name], name
        unquoted = urllib.parse.unquote(reply.h["variable_group_confirm_file"])
        assert unquoted == f"socket 127.0.0.1:{srv.port} async full"
        assert connect["variable_group_confirm_file"].split(":")[0] == "socket 127.0.0.1"
        whisper.cmd("linger")
        whisper.execute("playback", "silence_stream://100")
        if hang_up:
            whisper.execute("hangup", "NORMAL_CLEARING")
            assert wait_until(lambda: sw.calls[leg].down)  # noqa: B023 (called at once)
            whisper.cmd("exit")
            continue
        assert whisper.cmd("exit").h["Reply-Text"] == recorded_exit[0]["Reply-Text"] == "+OK bye"
        notice = whisper.until(is_type("text/disconnect-notice"))[-1]
        assert notice.h["Content-Disposition"] == recorded_exit[1]["Content-Disposition"] == "disconnect"
    bridged = c.until(is_ev("CHANNEL_BRIDGE"))[-1].event
    assert bridged["Other-Leg-Unique-ID"] == legs[1]
    assert sw.calls[legs[0]].down and not sw.calls[legs[1]].down


@need_transcripts
def test_a_dialled_legs_own_hangup_reaches_the_callers_socket_through_a_filter(env):
    """As recorded in bridge_leg_ends.outbound.log: with ``filter Unique-ID``
    on the leg, the caller's socket gets the leg's CHANNEL_HANGUP before the
    bridge completes; a refused trunk leg carries its SIP answer, and its
    hangup time is still 0 there."""
    recorded = [
        dict(parse_event_body(b)[0])
        for _d, h, b, _r in parse_transcript(os.path.join(TRANSCRIPTS, "bridge_leg_ends.outbound.log"))
        if dict(h).get("Content-Type") == "text/event-plain"
    ]
    caller = recorded[0]["Unique-ID"]
    names = [(e["Event-Name"], e["Unique-ID"] == caller, e.get("Application")) for e in recorded]
    busy_at = names.index(("CHANNEL_HANGUP", False, None))
    assert names[busy_at + 1] == ("CHANNEL_EXECUTE_COMPLETE", True, "bridge")
    busy = recorded[busy_at]
    assert (busy["Hangup-Cause"], busy["variable_sip_term_status"]) == ("USER_BUSY", "486")
    assert busy["variable_proto_specific_hangup_cause"] == "sip:486"
    assert busy["Caller-Channel-Hangup-Time"] == busy["Caller-Channel-Answered-Time"] == "0"

    sw, srv = env
    call, c, _ = start_call(sw, srv, myevents=False)
    c.cmd("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP")
    leg = "aaaaaaaa-0000-0000-0000-00000000000a"
    for uuid in (call.uuid, leg):
        c.cmd(f"filter Unique-ID {uuid}")
    c.execute("answer")
    c.execute("set", "continue_on_fail=true")
    sw.originate_policy = lambda ds, vars: ("busy",)
    c.execute("bridge", f"[origination_uuid={leg}]sofia/gateway/trunk/+13125550100")
    got = c.until(is_ev("CHANNEL_EXECUTE_COMPLETE", "bridge"))
    [hangup] = [m.event for m in got if m.name == "CHANNEL_HANGUP"]
    assert hangup["Unique-ID"] == leg and hangup["Hangup-Cause"] == busy["Hangup-Cause"]
    for name in ("variable_sip_term_status", "variable_proto_specific_hangup_cause", "Caller-Channel-Hangup-Time"):
        assert urllib.parse.unquote(hangup[name]) == busy[name], name
