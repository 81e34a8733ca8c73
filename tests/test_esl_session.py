"""A call's outbound socket (OutboundSession) against the fake switch."""

import gevent
import gevent.event
import pytest
from gevent.server import StreamServer

from tests.fakefs import FakeSwitch
from voxology_fs.esl.connection import LINGER_SECONDS, OutboundSession

TIME_SCALE = 0.01  # the fake switch's seconds last 10 ms


@pytest.fixture
def sessions():
    """A socket server that subscribes each call, then does nothing more (a stuck call server)."""
    arrived = gevent.queue.Queue()

    def handle(sock, address):
        session = OutboundSession(sock)
        session.wire_log = []
        session.connect()
        session.subscribe(["CHANNEL_HANGUP"], filters={"Unique-ID": session.uuid})
        arrived.put(session)
        session.closed.wait()  # never says exit

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    switch = FakeSwitch(outbound=("127.0.0.1", server.address[1]), time_scale=TIME_SCALE, media_ms=5)
    switch.start()
    yield switch, arrived
    switch.stop()
    server.stop()


def test_linger_is_bounded_so_a_stuck_call_server_is_let_go(sessions):
    switch, arrived = sessions
    call = switch.incoming_call()
    session = arrived.get(timeout=5)
    sent = b"".join(data for direction, data in session.wire_log if direction == ">")
    assert f"linger {LINGER_SECONDS}\n\n".encode() in sent
    call.hangup()
    assert session.hungup.wait(2)
    # The switch keeps the socket for the call's last events...
    assert not session.closed.wait(LINGER_SECONDS * TIME_SCALE / 3)
    # ...then closes it itself, though we never sent exit.
    assert session.closed.wait(LINGER_SECONDS * TIME_SCALE + 2)
    assert call.wait_closed(1)
    assert b"exit" not in b"".join(data for direction, data in session.wire_log if direction == ">")
