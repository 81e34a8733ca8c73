"""The fake FreeSWITCH itself: event bus, inbound ESL server, API dispatch.

``FakeSwitch`` owns the channels (``calls``), the inbound listener
(gevent StreamServer on 127.0.0.1, ephemeral port) and what the families keep
between channels (``conferences``, ``fifos``; see ``registry.switch_state``),
scheduled hangups and sendevent.  ``api()`` runs the API commands that the
families registered (``registry.API_COMMANDS``) with FreeSWITCH's reply
texts; it serves inbound ``api``/``bgapi``, outbound ``api`` and
``${api ...}`` variable expansion alike.
"""

import functools
import os
import time
import uuid as _uuid
from xml.etree import ElementTree

import gevent
from gevent.server import StreamServer

from . import api, avmd, bridge, conference, control, fifo, media, record, sms, socket_app, wire
from .channel import FakeCall
from .expand import switch_true
from .listener import EslConnection
from .registry import API_COMMANDS, SWITCH_STATE

# Each family registers its applications, API commands and state on import.
FAMILIES = (api, avmd, bridge, conference, control, fifo, media, record, sms, socket_app)

DIALPLAN = os.path.join(os.path.dirname(__file__), "..", "..", "freeswitch", "dialplan", "voxology.xml")


@functools.lru_cache(maxsize=1)
def project_dialplan():
    """(application, data) of the call server extension in our dialplan."""
    root = ElementTree.parse(DIALPLAN).getroot()
    context = next(c for c in root.iter("context") if c.get("name") == "voxology")
    return tuple((a.get("application"), a.get("data")) for a in context.iter("action"))


def _default_policy(dialstring, vars):
    return ("answer", 0)


class FakeSwitch:
    """A stateful fake FreeSWITCH speaking real ESL on loopback.  See the package docstring."""

    def __init__(self, outbound=("127.0.0.1", 8084), password="ClueCon", time_scale=0.01, media_ms=20):
        self.outbound = tuple(outbound)
        self.password = password
        self.time_scale = time_scale
        self.media_ms = media_ms
        self.originate_policy = _default_policy
        self.strict_event_lock = True
        self.calls = {}
        self.api_log = []
        self.log = []
        # A list to keep every event fired (tests that inspect them set it);
        # None: events nobody subscribed to are not even built.
        self.events = None
        self.global_vars = {"hostname": wire.HOSTNAME, "local_ip_v4": "127.0.0.1", "domain": "127.0.0.1"}
        for name, factory in SWITCH_STATE.items():
            setattr(self, name, factory())
        self.esl_port = None
        self._listeners = []
        self._server = None
        self._session_ids = iter(range(10001, 10**9))
        self._sessions_since_start = 0
        self._started = time.time()

    # ------------------------------------------------------------------ lifecycle
    def start(self, port=0):
        """Listen for inbound ESL on 127.0.0.1:port (0: an ephemeral port, see ``esl_port``)."""
        self._server = StreamServer(("127.0.0.1", port), self._handle_inbound)
        self._server.start()
        self.esl_port = self._server.server_port
        return self

    def stop(self):
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None
        for listener in list(self._listeners):
            listener.kill()
        for call in list(self.calls.values()):
            if call._greenlet is not None:
                call._greenlet.kill(block=False)
            if call.conn is not None:
                call.conn.kill()
            call._closed.set()
        gevent.sleep(0)

    def _handle_inbound(self, sock, address):
        conn = EslConnection(self, sock)
        conn.start()
        conn.closed_evt.wait()

    def _add_listener(self, listener):
        self._listeners.append(listener)

    def _remove_listener(self, listener):
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _next_session_id(self):
        self._sessions_since_start += 1
        return next(self._session_ids)

    @staticmethod
    def _truthy(v):
        return switch_true(v)

    def fire(self, ev):
        """switch_event_fire: hand the event to every listener that wants it."""
        if self.events is not None:
            self.events.append(ev)
        for listener in list(self._listeners):
            listener.offer(ev)

    def anyone_subscribed(self, name, subclass=None):
        """Whether some listener's event list takes this event (filters aside).

        Lets a channel skip building an event that nobody would receive: a
        channel event carries every variable, and the fake is part of every
        benchmark.
        """
        return self.events is not None or any(listener.subscribed(name, subclass) for listener in self._listeners)

    def live_calls(self):
        return [c for c in self.calls.values() if not c.destroyed]

    # ------------------------------------------------------------------ calls
    def incoming_call(
        self,
        destination="+17145551212",
        caller="+19495551212",
        caller_name="",
        channel_vars=None,
        expand_variables=False,
        sip=False,
        dialplan=True,
    ):
        """A new inbound channel routed by our dialplan to the outbound socket.

        The applications are those of the project's own
        ``freeswitch/dialplan/voxology.xml`` (``dialplan=False``: only the
        expansion switch and the socket, as a bare dialplan would do);
        ``expand_variables=True`` leaves ``app_disable_expand_variables`` out.
        """
        call = FakeCall(self, destination, caller, caller_name, channel_vars, sip=sip)
        self.calls[call.uuid] = call
        self._fire_create(call)
        socket_arg = "%s:%d async full" % self.outbound
        if dialplan:
            program = [(app, socket_arg if app == "socket" else data) for app, data in project_dialplan()]
        else:
            program = [("set", "app_disable_expand_variables=true"), ("socket", socket_arg)]
        if expand_variables:
            program = [step for step in program if step != ("set", "app_disable_expand_variables=true")]
        call.start(program)
        return call

    def _fire_create(self, call, originate=False):
        if originate:
            call.fire("CHANNEL_OUTGOING")
        call.fire("CHANNEL_CREATE")
        if originate:
            call.fire("CHANNEL_ORIGINATE")
        call.state, call.state_number = "CS_ROUTING", 2
        if not originate:
            call._set_callstate("RINGING")
        call.fire("CHANNEL_STATE")
        call.state, call.state_number = "CS_EXECUTE", 4
        call.fire("CHANNEL_STATE")

    # ------------------------------------------------------------------ scheduling
    def schedule_hangup(self, call, when, cause):
        try:
            secs = int(when[1:]) if when.startswith("+") else int(when) - int(time.time())
        except ValueError:
            secs = 0
        if secs <= 0:
            call._hangup(cause)
        else:
            gevent.spawn_later(secs * self.time_scale, call._hangup, cause)

    # ------------------------------------------------------------------ sendevent
    def sendevent(self, msg):
        ev_uuid = str(_uuid.uuid4())
        name = msg.command[9:].strip() or "CUSTOM"
        ename = name.upper() if name.upper() in wire.EVENT_NAMES else name
        subclass = msg.get("Event-Subclass") if ename == "CUSTOM" else None
        ev = wire.Event(ename, subclass=subclass, standard=False)
        ev.add("Command", msg.command)
        for k, v in msg.headers:
            if subclass and k.lower() == "event-subclass":
                continue
            ev.add(k, v)
        ev.add("Event-UUID", ev_uuid)
        ev.add_standard(wire.CALLING["CUSTOM"])
        ev.body = msg.body
        target = msg.get("Unique-ID")
        if target and target in self.calls and not self.calls[target].destroyed:
            # switch_core_session_queue_event: the session gets it, it is not fired
            self.calls[target].session_events.append(ev)
        else:
            self.fire(ev)
        if subclass == "SMS::SEND_MESSAGE":
            gevent.spawn(sms.send, self, ev)
        return "+OK %s" % ev_uuid

    def receive_message(self, from_no, to_no, text, from_ip="127.0.0.1"):
        """A SIP MESSAGE reaches the profile (sofia's RECV_MESSAGE)."""
        sms.receive(self, from_no, to_no, text, from_ip)

    # ------------------------------------------------------------------ api
    def bgapi(self, cmd, arg, job_uuid, owner=None):
        out = self.api(cmd, arg)
        ev = wire.Event("BACKGROUND_JOB")
        ev.add("Job-UUID", job_uuid)
        ev.add("Job-Owner-UUID", owner)
        ev.add("Job-Command", cmd)
        ev.add("Job-Command-Arg", arg)
        ev.body = out or "Command returned no output!"
        self.fire(ev)

    def api(self, cmd, arg=None, listener=None, session=None):
        """Run an API command; returns the text FreeSWITCH would stream back."""
        cmd = (cmd or "").strip()
        self.api_log.append(cmd + (" " + arg if arg else ""))
        handler = API_COMMANDS.get(cmd.lower())
        out = "-ERR %s Command not found!\n" % cmd if handler is None or not cmd else handler(self, arg, session)
        ev = wire.Event("API")
        ev.add("API-Command", cmd)
        ev.add("API-Command-Argument", arg)
        self.fire(ev)
        return out

    def member_talks(self, call, talking=True):
        """The conference member on ``call`` starts (or stops) talking."""
        return conference.member_talks(self, call, talking)

    def end_conference(self, name):
        """End room ``name`` as its end-conference member leaving would."""
        return conference.end_conference(self, name)

    def _call(self, uuid):
        c = self.calls.get((uuid or "").strip())
        return c if c is not None and not c.destroyed else None
