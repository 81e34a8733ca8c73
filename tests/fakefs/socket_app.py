"""mod_event_socket's ``socket`` application: the outbound ESL connection of a call."""

import time

from gevent import socket as gsocket

from .expand import separate_string
from .listener import EslConnection
from .registry import application


def _connect(host, port):
    """A TCP connection to the socket application's host (a numeric address
    connects directly: gevent resolves a name in a thread, which costs more
    than the whole connect)."""
    try:
        family = gsocket.AF_INET6 if ":" in host else gsocket.AF_INET
        gsocket.inet_pton(family, host)
    except OSError:
        sock = gsocket.create_connection((host, port), timeout=5)
    else:
        sock = gsocket.socket(family, gsocket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            raise
    sock.settimeout(None)
    return sock


@application("socket")
def app_socket(call, arg):
    """mod_event_socket's socket application (outbound ESL)."""
    argv = separate_string(arg, " ", 80)
    if not argv:
        return
    target = argv[0].split("|")[0]
    host, _, port = target.rpartition(":")
    if not host:
        host, port = target, "8084"
    call.set_var("socket_host", host)
    flags = [a.lower() for a in argv[1:]]
    try:
        sock = _connect(host, int(port))
    except (OSError, ValueError):
        return  # "Socket Error!": the application just returns
    call.socket_connected_at = time.perf_counter()
    # FreeSWITCH writes each message at once; no Nagle delays in the fake either.
    sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
    conn = EslConnection(call.switch, sock, session=call, async_mode="async" in flags, full="full" in flags)
    call.conn = conn
    conn.start()
    conn.connected_evt.wait()
    if call.down:
        return
    call.fire("CHANNEL_PARK")
    # Until the socket ends, or a transfer (uuid_bridge) takes the channel to another extension.
    call._park(lambda: conn.controlling and not call._released and call._transfer is None)
    if not call._released:
        while call._private:
            call._parse_next_private()
    call.fire("CHANNEL_UNPARK")
