#!/usr/bin/env python3
"""Record real FreeSWITCH ESL traffic into tests/data/esl-transcripts/.

    FREESWITCH_BIN=... PYTHONPATH=. python scripts/record_esl_transcripts.py [SCENARIO ...]

Starts FreeSWITCH with our configuration (scripts/run-freeswitch) on free
loopback ports, runs each scenario through our own ESL code (an
``OutboundSession`` per call on the socket, an ``InboundConnection`` with
``event plain ALL``) and writes ``NAME.outbound.log`` and ``NAME.inbound.log``
in the format described in that folder's README.md. Only the first call that
reaches the socket in a scenario is recorded; other legs (agents, members,
dialled targets) are driven unrecorded. The run folder's path is rewritten to
``/rec`` (Content-Length follows) and the host's addresses to documentation ones.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import urllib.parse  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.queue  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

from tests.support.run_freeswitch import runfs  # noqa: E402
from voxology_fs.esl.connection import InboundConnection, OutboundSession  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "esl-transcripts"
EXTEN = "1000"


# ----------------------------------------------------------------- writing


def frames(chunks):
    """Raw chunks of one direction -> whole messages (header block, blank line, Content-Length bytes)."""
    buf, out = b"", []
    for chunk in chunks:
        buf += chunk
        while b"\n\n" in buf:
            end = buf.index(b"\n\n") + 2
            length = 0
            for line in buf[:end].split(b"\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(buf) < end + length:
                break
            out.append(buf[: end + length])
            buf = buf[end + length :]
    return out


def rewrite(message, replacements):
    """Apply replacements to a message and set its Content-Length to the new body's length."""
    head, sep, body = message.partition(b"\n\n")
    new_body = body
    for old, new in replacements:
        head, new_body = head.replace(old, new), new_body.replace(old, new)
    if new_body != body:
        lines = [
            b"Content-Length: %d" % len(new_body) if line.lower().startswith(b"content-length:") else line
            for line in head.split(b"\n")
        ]
        head = b"\n".join(lines)
    return head + sep + new_body


def write_transcript(path, wire, replacements):
    """Messages in the order their chunks were read or written."""
    pending = {"<": [], ">": []}
    ordered = []
    for direction, chunk in wire:
        before = len(frames(pending[direction]))
        pending[direction].append(chunk)
        for message in frames(pending[direction])[before:]:
            ordered.append((direction, message))
    with open(path, "wb") as f:
        for direction, message in ordered:
            f.write(b"<<< RECEIVED\n" if direction == "<" else b">>> SENT\n")
            f.write(rewrite(message, replacements))


# ----------------------------------------------------------------- the rig


class Rig:
    def __init__(self, state):
        self.state = state
        self.run_dir = Path(state["run_dir"])
        self.sessions = gevent.queue.Queue()
        self.esl = None

    def handle(self, sock, addr):
        session = OutboundSession(sock)
        session.wire_log = []  # set before the reader greenlet first runs
        self.sessions.put(session)
        session.closed.wait()

    def open_inbound(self):
        sock = socket.create_connection(("127.0.0.1", self.state["esl_port"]))
        conn = InboundConnection(sock)
        conn.wire_log = []
        conn.start()
        conn._auth_request_event.wait(5)
        assert conn.send("auth " + self.state["esl_password"]).reply_text == "+OK accepted"
        conn.send("event plain ALL")
        self.esl = conn
        return conn

    def session(self, timeout=15):
        return self.sessions.get(timeout=timeout)

    def record(self, session):
        """The call whose socket goes to NAME.outbound.log."""
        self.recorded = session
        return session

    def originate(self, app="park()", vars=""):
        """A loopback call: its B leg comes to the socket; its A leg runs ``app``. Returns the A leg's uuid."""
        a_leg = str(uuid.uuid4())
        self.esl.bgapi(f"originate {{origination_uuid={a_leg}{vars}}}loopback/{EXTEN}/default &{app}")
        return a_leg


def start_call(session, events=True):
    session.connect()
    if events:
        session.send("myevents")
        session.send("linger")


def run(session, app, arg=None, timeout=30):
    return session.execute_async(app, arg).get(timeout=timeout)


def finish(session):
    try:
        run(session, "hangup", "NORMAL_CLEARING", timeout=5)
    except (Exception, gevent.Timeout):
        pass
    with gevent.Timeout(5, False):
        session.hungup.wait()
    gevent.sleep(0.3)
    session.exit()


def helper(session, *steps):
    """An unrecorded leg on the socket: connect, then the applications given (queued, not awaited)."""
    start_call(session, events=False)
    for app, arg in steps:
        session.execute_async(app, arg)


def wait_until(predicate, timeout=10):
    with gevent.Timeout(timeout):
        while not predicate():
            gevent.sleep(0.05)


# ----------------------------------------------------------------- scenarios


def avmd(rig):
    """On an outbound leg (Make Call's: the A leg of a loopback originate, sent
    to the socket): avmd_start, a 1000 Hz beep from the far end (avmd::beep),
    avmd_stop; then a start and stop with no beep."""
    rig.originate(f"socket('{rig.state['socket']} async full')")
    far = rig.session()  # the B leg runs our dialplan first; it answers the A leg
    helper(far, ("answer", None), ("park", None))
    s = rig.record(rig.session())
    start_call(s)
    beeps = []
    s.register_handle("avmd::beep", beeps.append)
    s.send("event plain CUSTOM avmd::beep")  # myevents gives no CUSTOM subclass unless named
    run(s, "avmd_start")
    gevent.sleep(0.5)
    rig.esl.api(f"uuid_broadcast {far.uuid} tone_stream://%(500,500,1000);loops=10 aleg")
    wait_until(lambda: beeps, 12)
    run(s, "avmd_stop")
    gevent.sleep(0.5)
    run(s, "avmd_start")
    gevent.sleep(0.5)
    run(s, "avmd_stop")
    finish(s)


def avmd_inbound(rig):
    """avmd_start on an inbound leg: our avmd.conf listens on outbound channels only."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    run(s, "avmd_start")
    run(s, "sleep", "300")
    run(s, "avmd_stop")
    finish(s)


def hold(rig):
    """Held (park_after_bridge, endless_playback): uuid_break does not end the
    endless playback (each file ends and the next starts); uuid_bridge to
    another call does, and when that call hangs up our call goes on."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    run(s, "multiset", "park_after_bridge=true hangup_after_bridge=false")
    held = s.execute_async("endless_playback", "tone_stream://%(400,200,440)")
    gevent.sleep(1.0)
    rig.esl.api(f"uuid_break {s.uuid} all")
    gevent.sleep(1.5)
    assert not held.ready(), "uuid_break ended endless_playback"
    agent = rig.originate()
    gevent.spawn(helper, rig.session(), ("answer", None), ("park", None))
    gevent.sleep(1.0)
    rig.esl.api(f"uuid_bridge {s.uuid} {agent}")
    held.get(timeout=10)
    gevent.sleep(1.0)
    rig.esl.api(f"uuid_kill {agent}")
    gevent.sleep(0.5)
    run(s, "playback", "silence_stream://300")
    finish(s)


def hold_stop(rig):
    """Hold audio as a looped execute (``loops: -1``): each round completes with
    the same Application-UUID while ``current_loop`` counts; uuid_break ends
    the loop; a second loop is ended by uuid_bridge to another call, and when
    that call hangs up our call goes on."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    run(s, "multiset", "park_after_bridge=true hangup_after_bridge=false")
    rounds = []
    s.execute_looped("playback", "silence_stream://600", rounds.append)
    wait_until(lambda: len(rounds) >= 2, 10)
    assert rig.esl.api(f"uuid_getvar {s.uuid} current_loop").strip().isdigit()
    rig.esl.api(f"uuid_break {s.uuid} all")
    gevent.sleep(1.5)
    assert rig.esl.api(f"uuid_getvar {s.uuid} current_loop").strip() == "_undef_"
    ended_at = len(rounds)
    gevent.sleep(1.0)
    assert len(rounds) == ended_at, "uuid_break did not end the loop"
    taken = []
    s.execute_looped("playback", "silence_stream://600", taken.append)
    agent = rig.originate()
    gevent.spawn(helper, rig.session(), ("answer", None), ("park", None))
    gevent.sleep(1.5)
    rig.esl.api(f"uuid_bridge {s.uuid} {agent}")
    gevent.sleep(1.0)
    rig.esl.api(f"uuid_kill {agent}")
    gevent.sleep(0.5)
    run(s, "playback", "silence_stream://300")
    finish(s)


def record_mask(rig):
    """record_session, record_session_mask, record_session_unmask, stop_record_session."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    path = str(rig.run_dir / "recordings" / "esl_capture_mask.wav")
    run(s, "answer")
    run(s, "record_session", path)
    run(s, "sleep", "500")
    run(s, "record_session_mask", path)
    run(s, "sleep", "300")
    run(s, "record_session_unmask", path)
    run(s, "sleep", "300")
    run(s, "stop_record_session", path)
    run(s, "sleep", "200")
    finish(s)


def uuid_record(rig):
    """Whole-call recording from outside the call: uuid_record start (mono, then
    stereo), pause, resume, stop, a stop of nothing, and one that the hangup ends."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    mono = str(rig.run_dir / "recordings" / "uuid_record_mono.wav")
    stereo = str(rig.run_dir / "recordings" / "uuid_record_stereo.wav")
    uuid_ = s.uuid
    os.makedirs(os.path.dirname(mono), exist_ok=True)
    rig.esl.api(f"uuid_record {uuid_} start {mono}")
    rig.esl.api(f"uuid_record {uuid_} start {stereo} 0 {{RECORD_STEREO=true}}")
    run(s, "playback", "tone_stream://%(500,0,600)")
    rig.esl.api(f"uuid_record {uuid_} pause {mono}")
    run(s, "sleep", "300")
    rig.esl.api(f"uuid_record {uuid_} resume {mono}")
    run(s, "sleep", "300")
    rig.esl.api(f"uuid_record {uuid_} stop {mono}")
    rig.esl.api(f"uuid_record {uuid_} stop {mono}")
    rig.esl.api(f"uuid_record nosuch-{uuid_} start {mono}")
    run(s, "sleep", "200")
    finish(s)


def listen(rig):
    """DETECT's ear: record to a spool file written as heard (no write
    buffering, RTP gaps filled), broken off by uuid_break from the socket."""
    rig.originate("playback(tone_stream://%(3000,0,600))")
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    path = str(rig.run_dir / "recordings" / "listen.wav")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    run(s, "multiset", "enable_file_write_buffering=false record_fill_cng=1400")
    done = s.execute_async("record", f"{path} 12")
    gevent.sleep(1.0)
    s.send(f"api uuid_break {s.uuid} all")
    done.get(timeout=10)
    run(s, "multiset", "enable_file_write_buffering= record_fill_cng=")
    finish(s)


def sms(rig):
    """SMS over SIP MESSAGE: an SMS::SEND_MESSAGE event sent on a call's socket
    and one on the inbound link (the text is the body), each to a sipp that
    answers 202, with their SMS::DELIVERY_REPORT; then a MESSAGE from sipp,
    which reaches the inbound link as RECV_MESSAGE."""
    answerer = sipp_answerer(rig, "uas_message.xml", calls=2)
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    s.send("event plain CUSTOM SMS::DELIVERY_REPORT")
    to = f"sip:+13125550100@127.0.0.1:{rig.state['trunk_port']}"
    for link, mid in ((s, "msg-from-socket"), (rig.esl, "msg-from-inbound")):
        headers = {
            "Event-Subclass": "SMS::SEND_MESSAGE",
            "proto": "sip",
            "dest_proto": "sip",
            "from": "+17145551212@127.0.0.1",
            "from_full": "sip:+17145551212@127.0.0.1",
            "to": to,
            "sip_profile": "voxology",
            "type": "text/plain",
            "blocking": "true",
            "vox_message_id": mid,
        }
        link.sendevent("CUSTOM", headers, body="Hello | world ${system echo hi}")
        gevent.sleep(1.0)
    answerer.wait(timeout=20)
    caller = subprocess.run(
        [
            "sipp",
            "-sf",
            str(Path(__file__).resolve().parent.parent / "tests" / "integration" / "sipp" / "uac_message.xml"),
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(runfs.free_port(udp=True)),
            "-key",
            "caller",
            "+13125550100",
            "-s",
            "+17145551212",
            "-nostdin",
            "-timeout",
            "15s",
            f"127.0.0.1:{rig.state['sip_port']}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    print("sipp MESSAGE sender:", caller.returncode)
    gevent.sleep(1.0)
    finish(s)


def _member_joins(rig, room):
    """Another member (a loopback A leg) joins ``room``; returns its uuid."""
    member = rig.originate(f"conference({room})")
    gevent.spawn(helper, rig.session(), ("answer", None), ("park", None))
    return member


def _count(rig, name):
    text = rig.esl.api(f"conference {name} count").strip()
    return int(text) if text.isdigit() else 0


def conference_end(rig):
    """Three ways our member's conference ends: ``kick all`` with two members; our
    member kicked by id after the other left (the last member leaving); an
    endconf member leaving."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    # 1. kick all
    done = s.execute_async("conference", "labend1@default")
    wait_until(lambda: _count(rig, "labend1") == 1)
    other = _member_joins(rig, "labend1@default")
    wait_until(lambda: _count(rig, "labend1") == 2)
    rig.esl.api("conference labend1 kick all")
    done.get(timeout=10)
    rig.esl.api(f"uuid_kill {other}")
    gevent.sleep(0.5)
    # 2. the other member leaves, then ours is kicked by id: the last member leaving
    done = s.execute_async("conference", "labend2@default")
    wait_until(lambda: _count(rig, "labend2") == 1)
    other = _member_joins(rig, "labend2@default")
    wait_until(lambda: _count(rig, "labend2") == 2)
    rig.esl.api(f"uuid_kill {other}")
    wait_until(lambda: _count(rig, "labend2") == 1)
    ours = rig.esl.api("conference labend2 list").split(";", 1)[0]
    rig.esl.api(f"conference labend2 kick {ours}")
    done.get(timeout=10)
    gevent.sleep(0.5)
    # 3. an endconf member leaves
    done = s.execute_async("conference", "labend3@default")
    wait_until(lambda: _count(rig, "labend3") == 1)
    other = _member_joins(rig, "labend3@default++flags{endconf}")
    wait_until(lambda: _count(rig, "labend3") == 2)
    gevent.sleep(0.5)
    rig.esl.api(f"uuid_kill {other}")
    done.get(timeout=10)
    gevent.sleep(0.3)
    finish(s)


def conference_record(rig):
    """A room recorded by mod_conference's own recorder (``recording start``),
    as CONFERENCE's ``record`` does: the reply, start-recording, and the
    stop-recording that the last member's leaving brings before the room's end."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    # As CONFERENCE subscribes: the room's events carry no Unique-ID of ours.
    s.send("filter Unique-ID " + s.uuid)
    s.send("filter Conference-Name labrec")
    s.send("event plain CUSTOM conference::maintenance")
    path = str(rig.run_dir / "recordings" / "conference_record.wav")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    done = s.execute_async("conference", "labrec@default")
    wait_until(lambda: _count(rig, "labrec") == 1)
    rig.esl.api(f"conference labrec recording start {path}")
    other = _member_joins(rig, "labrec@default")
    wait_until(lambda: _count(rig, "labrec") == 2)
    gevent.sleep(1.0)
    rig.esl.api(f"uuid_kill {other}")
    wait_until(lambda: _count(rig, "labrec") == 1)
    ours = rig.esl.api("conference labrec list").split(";", 1)[0]
    rig.esl.api(f"conference labrec kick {ours}")
    done.get(timeout=10)
    gevent.sleep(1.0)
    finish(s)


def bridge_outcomes(rig):
    """bridge to a busy target (FreeSWITCH's error/user_busy) and to a loopback
    leg that rings and never answers (leg_timeout); the answered case is in
    bridge.*.log."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    run(s, "multiset", "continue_on_fail=true hangup_after_bridge=false")
    run(s, "bridge", "{leg_timeout=3}error/user_busy")
    gevent.sleep(0.3)
    done = s.execute_async("bridge", f"{{leg_timeout=2}}loopback/{EXTEN}/default")
    gevent.spawn(helper, rig.session(), ("ring_ready", None), ("sleep", "10000"))
    done.get(timeout=20)
    gevent.sleep(0.3)
    finish(s)


def bridge_simultaneous(rig):
    """Legs rung at once (``,``), as TRANSFER to several numbers, none
    answering: FreeSWITCH's error/user_busy and a leg that rings out
    originate_timeout (NO_ANSWER wins over the busy leg), then one leg that
    rings out alone."""
    rig.originate()
    s = rig.record(rig.session())
    start_call(s)
    run(s, "answer")
    run(s, "multiset", "continue_on_fail=true hangup_after_bridge=false")
    done = s.execute_async("bridge", f"{{originate_timeout=2}}error/user_busy,loopback/{EXTEN}/default")
    gevent.spawn(helper, rig.session(), ("ring_ready", None), ("sleep", "10000"))
    done.get(timeout=20)
    gevent.sleep(0.3)
    done = s.execute_async("bridge", f"{{originate_timeout=2}}loopback/{EXTEN}/default")
    gevent.spawn(helper, rig.session(), ("ring_ready", None), ("sleep", "10000"))
    done.get(timeout=20)
    gevent.sleep(0.3)
    finish(s)


def dial(rig):
    """DIAL with connect, as our call server does it: the caller's socket sends
    ``bgapi originate`` of a new call (its A leg comes to the socket), whose
    BACKGROUND_JOB and channel events reach the caller's socket through
    Job-UUID and Unique-ID filters; the caller holds (park_after_bridge, a
    looped ring tone) until the new call's own socket ``uuid_bridge``s it; the
    far end hangs up, the new call ends, and the caller goes on."""
    rig.originate()
    s = rig.record(rig.session())
    s.connect()
    s.send("linger")
    placed_id = str(uuid.uuid4())
    s.send("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP BACKGROUND_JOB CHANNEL_BRIDGE CHANNEL_UNBRIDGE")
    for header, value in (("Unique-ID", s.uuid), ("Job-UUID", placed_id), ("Unique-ID", placed_id)):
        s.send(f"filter {header} {value}")
    run(s, "answer")
    run(s, "multiset", "park_after_bridge=true hangup_after_bridge=false")
    rounds = []
    s.execute_looped("playback", "tone_stream://%(2000,4000,440,480)!silence_stream://500", rounds.append)
    socket_app = f"&socket('{rig.state['socket']} async full')"
    s.bgapi(
        f"originate {{origination_uuid={placed_id},vox_call_id={placed_id}}}loopback/{EXTEN}/default {socket_app}",
        job_uuid=placed_id,
    )
    far = rig.session()  # the B leg runs our dialplan first; it answers the A leg
    helper(far, ("answer", None), ("park", None))
    placed = rig.session()
    placed.connect()
    placed.send("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP")
    placed.send(f"filter Unique-ID {placed.uuid}")
    run(placed, "playback", "silence_stream://700")  # its own flow
    assert placed.send(f"api uuid_bridge {s.uuid} {placed.uuid}").text().startswith("+OK")
    gevent.sleep(1.5)
    rig.esl.api(f"uuid_kill {far.uuid}")
    with gevent.Timeout(10):
        placed.hungup.wait()
    gevent.sleep(0.5)
    run(s, "playback", "silence_stream://300")
    finish(s)
    placed.exit()


def sipp_answerer(rig, scenario, calls=1):
    """sipp on the trunk gateway's port, answering with one of our sipp scenarios."""
    answerer = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(Path(__file__).resolve().parent.parent / "tests" / "integration" / "sipp" / scenario),
            "-m",
            str(calls),
            "-i",
            "127.0.0.1",
            "-p",
            str(rig.state["trunk_port"]),
            "-mp",
            str(runfs.free_rtp_range(size=4, low=30000, high=60000)[0]),
            "-nostdin",
            "-timeout",
            "30s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gevent.sleep(0.5)  # listening before the first INVITE
    return answerer


def bridge_leg_ends(rig):
    """Each dialled leg's own CHANNEL_HANGUP on the caller's socket, through a
    filter on the leg's uuid, as TRANSFER learns every leg's end: a trunk leg
    a sipp answerer refuses (486), then one it answers and we hang up."""
    rig.originate()
    s = rig.record(rig.session())
    s.connect()  # subscribed as our call server is: named events, filtered on uuids
    s.send("linger")
    s.send("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_BRIDGE")
    s.send(f"filter Unique-ID {s.uuid}")
    run(s, "answer")
    run(s, "multiset", "continue_on_fail=true hangup_after_bridge=false")
    for scenario in ("uas_busy.xml", "uas_answer.xml"):
        answerer = sipp_answerer(rig, scenario)
        leg = str(uuid.uuid4())
        s.send(f"filter Unique-ID {leg}")
        done = s.execute_async(
            "bridge", f"{{absolute_codec_string=PCMU}}[origination_uuid={leg}]sofia/gateway/trunk/+13125550100"
        )
        if scenario == "uas_answer.xml":
            gevent.sleep(1.5)
            rig.esl.api(f"uuid_kill {leg}")
        done.get(timeout=20)
        gevent.sleep(0.5)
        s.send(f"filter delete Unique-ID {leg}")
        answerer.wait(timeout=30)
    finish(s)


def whisper(rig):
    """TRANSFER's whisper, as our call server does it: two legs through the
    trunk gateway rung at once (a sipp answerer answers both), each with
    ``group_confirm_key=exec`` running our socket once it answers.  The first
    leg's whisper hangs it up (refused); the second's (recorded) plays, then
    lets its socket go (``exit``) with the leg up, and the originate bridges
    that leg to the caller.  Loopback legs cannot show it: a loopback leg
    that answers wins at once, unscreened."""
    answerer = sipp_answerer(rig, "uas_answer.xml", calls=2)
    gevent.sleep(0.5)
    rig.originate()
    caller = rig.session()
    start_call(caller)
    run(caller, "answer")
    run(caller, "multiset", "continue_on_fail=true hangup_after_bridge=false")
    legs = [str(uuid.uuid4()), str(uuid.uuid4())]
    confirm = (
        f"group_confirm_key=exec,group_confirm_file='socket {rig.state['socket']} async full',"
        "group_confirm_timeout=20,leg_timeout=10,vox_whisper=true,app_disable_expand_variables=true"
    )
    targets = ",".join(
        f"[origination_uuid={u},vox_call_id={u},{confirm}]sofia/gateway/trunk/+1312555010{i}"
        for i, u in enumerate(legs)
    )
    # PCMU: the sipp answerer's only codec (a loopback caller's own is L16).
    done = caller.execute_async("bridge", "{originate_timeout=30,absolute_codec_string=PCMU}" + targets)
    whispers = {}
    while len(whispers) < 2:
        session = rig.session()
        whispers[session.connect()["Unique-ID"]] = session
    refused, accepted = whispers[legs[0]], rig.record(whispers[legs[1]])
    for session in (refused, accepted):
        session.send("linger")
        session.send("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP")
        session.send(f"filter Unique-ID {session.uuid}")
    run(refused, "playback", "silence_stream://300")
    run(refused, "hangup", "NORMAL_CLEARING")
    with gevent.Timeout(5):
        refused.hungup.wait()
    refused.exit()
    run(accepted, "playback", "silence_stream://300")
    accepted.exit()
    gevent.sleep(1.5)
    rig.esl.api(f"uuid_kill {legs[1]}")
    done.get(timeout=20)
    gevent.sleep(0.3)
    finish(caller)
    answerer.wait(timeout=30)


SCENARIOS = {
    f.__name__: f
    for f in (
        avmd,
        avmd_inbound,
        hold,
        hold_stop,
        record_mask,
        uuid_record,
        listen,
        sms,
        conference_end,
        conference_record,
        bridge_outcomes,
        bridge_simultaneous,
        dial,
        whisper,
        bridge_leg_ends,
    )
}


def local_addresses():
    """This host's own addresses as FreeSWITCH reports them, for the documentation ones."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        ipv4 = probe.getsockname()[0]
    except OSError:
        ipv4 = None
    finally:
        probe.close()
    return ipv4


def record(names):
    run_dir = Path(tempfile.mkdtemp(prefix="esl-record-"))
    socket_port = runfs.free_port()
    rtp_start, rtp_end = runfs.free_rtp_range()
    trunk_port = runfs.free_port(udp=True)
    state = runfs.start(
        run_dir,
        sip_port=runfs.free_port(udp=True),
        esl_port=runfs.free_port(),
        socket_addr=f"127.0.0.1:{socket_port}",
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        trunk_proxy=f"127.0.0.1:{trunk_port}",
        timeout=45,
    )
    state["trunk_port"] = trunk_port
    replacements = [(str(Path(state["run_dir"]) / "recordings").encode(), b"/rec")]
    replacements.append((urllib.parse.quote(replacements[0][0].decode(), safe="").encode(), b"%2Frec"))
    ipv4 = local_addresses()
    if ipv4 and ipv4 != "127.0.0.1":
        replacements.append((ipv4.encode(), b"192.0.2.2"))
    rig = Rig(state)
    server = StreamServer(("127.0.0.1", socket_port), rig.handle)
    server.start()
    try:
        for name in names:
            rig.sessions = gevent.queue.Queue()
            inbound = rig.open_inbound()
            try:
                SCENARIOS[name](rig)
                gevent.sleep(1.0)
            finally:
                inbound.close()
            write_transcript(OUT_DIR / f"{name}.outbound.log", rig.recorded.wire_log, replacements)
            write_transcript(OUT_DIR / f"{name}.inbound.log", inbound.wire_log, replacements)
            print("recorded", name)
            rig.esl.close()
            runfs.esl_api("127.0.0.1", state["esl_port"], state["esl_password"], "hupall NORMAL_CLEARING")
            gevent.sleep(1.0)
    finally:
        server.stop(timeout=1)
        runfs.stop(run_dir, timeout=10)


if __name__ == "__main__":
    record(sys.argv[1:] or list(SCENARIOS))
