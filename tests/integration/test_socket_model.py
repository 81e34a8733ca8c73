"""The synchronous call socket (``socket ... full``, no ``async``) on a real switch.

What the coming actions need from a call's socket, shown at the ESL level
before the product moves to this model.  In sync mode FreeSWITCH runs the
socket in the session's own thread: an ``execute`` is answered when its
application has run, and nothing reaches the socket while it runs, so a
running application is stopped from another link (the call server's inbound
connection), and events for the call wait until it ends.

Each case places a loopback call whose A leg runs ``socket('ADDR full')`` to
this test; the B leg, and any call coming back through our dialplan, reaches
``call_server_port`` and is answered and parked unless a case waits for it.
"""

import time
import uuid

import gevent
import gevent.queue
import pytest
from gevent.server import StreamServer

from voxology_fs.esl.connection import InboundConnection, OutboundSession
from voxology_fs.esl.protocol import encode_execute

LONG_S = 70  # how long a reply may take: longer than any application here


class Sockets:
    """Our end of outbound sockets: each new one is queued by channel uuid."""

    def __init__(self, port=0):
        self.arrived: dict[str, gevent.queue.Queue] = {}
        self.park_others = True
        self.wanted: set[str] = set()
        self.server = StreamServer(("127.0.0.1", port), self._handle)
        self.server.start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def _queue(self, uuid_):
        return self.arrived.setdefault(uuid_, gevent.queue.Queue())

    def _handle(self, sock, addr):
        session = OutboundSession(sock)
        session.connect()
        if session.uuid in self.wanted or not self.park_others:
            self._queue(session.uuid).put(session)
        else:  # a B leg: answer it and keep it up
            session.send_raw(encode_execute("answer", None, str(uuid.uuid4()), event_lock=True))
            session.send_raw(encode_execute("park", None, str(uuid.uuid4())))
        session.closed.wait()

    def session(self, uuid_, timeout=20) -> OutboundSession:
        return self._queue(uuid_).get(timeout=timeout)

    def stop(self):
        self.server.stop(timeout=1)


@pytest.fixture
def rig(freeswitch, call_server_port):
    sync = Sockets()
    dialplan = Sockets(call_server_port)  # B legs, and calls that come back through our dialplan
    esl = InboundConnection.open("127.0.0.1", freeswitch.esl_port, freeswitch.password)
    try:
        yield sync, dialplan, esl
    finally:
        esl.api("hupall NORMAL_CLEARING")
        esl.close()
        sync.stop()
        dialplan.stop()


def sync_call(rig, variables="") -> tuple[str, OutboundSession]:
    """A loopback call whose A leg runs a sync socket to us; returns (uuid, its socket)."""
    sync, _dialplan, esl = rig
    a_leg = str(uuid.uuid4())
    sync.wanted.add(a_leg)
    esl.bgapi(f"originate {{origination_uuid={a_leg}{variables}}}loopback/4000/default &socket('{sync.address} full')")
    return a_leg, sync.session(a_leg)


def execute(session, app, arg=None) -> gevent.Greenlet:
    """Run an application on a sync socket; the greenlet's value is (reply text, seconds it took)."""

    def run():
        started = time.monotonic()
        reply = session.send_raw(encode_execute(app, arg, str(uuid.uuid4())), timeout=LONG_S)
        return reply.reply_text, time.monotonic() - started

    return gevent.spawn(run)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.05)


def test_a_pause_is_ended_from_another_link_and_the_flow_goes_on(rig):
    """Redirect and Hangup during a 60 s PAUSE: uuid_break from the inbound
    link ends ``sleep`` at once; the socket then runs what comes next.  A
    control event sent meanwhile reaches the socket only after the reply."""
    _sync, _dialplan, esl = rig
    a_leg, session = sync_call(rig)
    controls = []
    session.register_handle("voxology::control", controls.append)
    assert session.send(f"filter Vox-Call-ID {a_leg}").reply_text.startswith("+OK")
    assert session.send("event plain CUSTOM voxology::control").reply_text.startswith("+OK")

    pause = execute(session, "sleep", "60000")
    gevent.sleep(1.0)
    esl.send(
        "sendevent CUSTOM",
        headers={"Event-Subclass": "voxology::control", "Vox-Call-ID": a_leg, "Vox-Command": "redirect"},
    )
    gevent.sleep(0.5)
    assert not controls, "an event reached a sync socket while its application ran"
    broken_at = time.monotonic()
    assert esl.api(f"uuid_break {a_leg} all").startswith("+OK")
    reply, took = pause.get(timeout=10)
    assert reply.startswith("+OK") and time.monotonic() - broken_at < 1.0 and took < 5
    wait_until(lambda: controls, 5)  # queued events come once the application has run

    # Redirect: the new actions run at once.
    reply, took = execute(session, "playback", "silence_stream://300").get(timeout=10)
    assert reply.startswith("+OK") and took < 2
    assert esl.api(f"uuid_getvar {a_leg} current_application_response").strip() == "FILE PLAYED"

    # Hangup during the next PAUSE: the reply, then FreeSWITCH's notice.
    assert session.send("linger 10").reply_text.startswith("+OK")
    pause = execute(session, "sleep", "60000")
    gevent.sleep(0.5)
    killed_at = time.monotonic()
    assert esl.api(f"uuid_kill {a_leg} NORMAL_CLEARING").startswith("+OK")
    reply, _ = pause.get(timeout=10)
    assert reply.startswith("+OK") and time.monotonic() - killed_at < 1.0
    wait_until(lambda: session.hungup.is_set(), 5)
    session.exit()


def test_a_conference_member_is_kicked_or_hung_up_from_another_link(rig):
    """Leaving a room (REST Redirect) is ``conference ROOM kick ID`` with the
    member id read from the channel; the ``conference`` reply follows."""
    _sync, _dialplan, esl = rig
    a_leg, session = sync_call(rig)
    room = f"vfs-sync-{a_leg[:8]}"
    member = execute(session, "conference", f"{room}@default")
    wait_until(lambda: esl.api(f"uuid_getvar {a_leg} conference_member_id").strip().isdigit())
    member_id = esl.api(f"uuid_getvar {a_leg} conference_member_id").strip()
    gevent.sleep(0.5)
    kicked_at = time.monotonic()
    assert "kicked" in esl.api(f"conference {room} kick {member_id}").lower()
    reply, _ = member.get(timeout=10)
    assert reply.startswith("+OK") and time.monotonic() - kicked_at < 1.0
    assert esl.api(f"uuid_getvar {a_leg} conference_member_id").strip().isdigit()  # the last member id stays

    esl.api(f"uuid_setvar {a_leg} conference_member_id")
    member = execute(session, "conference", f"{room}-again@default")
    wait_until(lambda: esl.api(f"uuid_getvar {a_leg} conference_member_id").strip().isdigit())
    killed_at = time.monotonic()
    esl.api(f"uuid_kill {a_leg} NORMAL_CLEARING")
    reply, _ = member.get(timeout=10)
    assert reply.startswith("+OK") and time.monotonic() - killed_at < 1.0
    session.exit()


def test_a_waiting_caller_taken_through_fifo_lets_go_of_its_socket_and_comes_back(rig):
    """QUEUE on sync sockets: the caller waits in ``fifo Q in``; an agent's
    ``fifo Q out nowait`` (in the agent's own sync socket) takes it.  The
    caller's ``fifo`` then returns (``fifo_serviced_uuid`` names the agent)
    and the agent's thread bridges the two: seen on 1.11.1 both before and
    after the caller's socket lets go (``exit``), so nothing may rely on
    either order.  When the agent hangs up, ``transfer_after_bridge`` brings
    the caller back through our dialplan on a new socket."""
    _sync, dialplan, esl = rig
    queue = f"vfs-sync-{uuid.uuid4().hex[:8]}"
    bridged = []
    esl.register_handle("CHANNEL_BRIDGE", bridged.append)
    esl.send("event plain CHANNEL_BRIDGE")
    caller, caller_socket = sync_call(rig, ",transfer_after_bridge=vox_resume:XML:voxology")
    dialplan.wanted.add(caller)
    waiting = execute(caller_socket, "fifo", f"{queue} in")
    wait_until(lambda: esl.api(f"uuid_getvar {caller} current_application").strip() == "fifo")
    gevent.sleep(0.5)
    agent, agent_socket = sync_call(rig)
    taking = execute(agent_socket, "fifo", f"{queue} out nowait")
    reply, _ = waiting.get(timeout=10)
    assert reply.startswith("+OK")
    assert esl.api(f"uuid_getvar {caller} fifo_serviced_uuid").strip() not in ("", "_undef_")
    caller_socket.send_raw(b"exit\n\n", timeout=5)
    wait_until(lambda: any({caller, agent} <= set(e.headers.values()) for e in bridged), 10)
    gevent.sleep(1.0)
    esl.api(f"uuid_kill {agent} NORMAL_CLEARING")
    taking.get(timeout=10)
    resumed = dialplan.session(caller, timeout=10)
    resumed.send_raw(encode_execute("playback", "silence_stream://300", str(uuid.uuid4())), timeout=10)
    wait_until(lambda: esl.api(f"uuid_getvar {caller} current_application_response").strip() == "FILE PLAYED", 5)
    resumed.exit()


def test_uuid_bridge_from_outside_needs_the_socket_to_let_go_and_the_call_comes_back(rig):
    """A state change from outside (``uuid_bridge``) ends the running
    application, but the session stays in the sync socket until it is
    released with ``exit``; then FreeSWITCH bridges, and
    ``transfer_after_bridge`` brings the call back through our dialplan to
    the call server on a new socket, with the same channel."""
    _sync, dialplan, esl = rig
    held, held_socket = sync_call(rig, ",transfer_after_bridge=vox_resume:XML:voxology")
    dialplan.wanted.add(held)
    holding = execute(held_socket, "playback", "silence_stream://-1")
    agent = esl.api("originate loopback/4001/default &park", timeout=30).split()[1]
    gevent.sleep(0.5)
    bridged = []
    esl.register_handle("CHANNEL_BRIDGE", bridged.append)
    esl.send("event plain CHANNEL_BRIDGE")
    assert esl.api(f"uuid_bridge {held} {agent}").startswith("+OK")
    reply, _ = holding.get(timeout=10)
    assert reply.startswith("+OK")
    gevent.sleep(1.0)
    assert not [e for e in bridged if held in (e.get("Unique-ID"), e.get("Other-Leg-Unique-ID"))], (
        "bridged while the session was still in its sync socket"
    )
    held_socket.send_raw(b"exit\n\n", timeout=5)
    wait_until(lambda: any(held in (e.get("Unique-ID"), e.get("Other-Leg-Unique-ID")) for e in bridged), 10)
    gevent.sleep(0.5)
    esl.api(f"uuid_kill {agent} NORMAL_CLEARING")
    resumed = dialplan.session(held, timeout=10)
    assert resumed.uuid == held
    resumed.send_raw(encode_execute("playback", "silence_stream://300", str(uuid.uuid4())), timeout=10)
    wait_until(lambda: esl.api(f"uuid_getvar {held} current_application_response").strip() == "FILE PLAYED", 5)
    resumed.exit()
