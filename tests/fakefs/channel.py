"""The channel core of the fake FreeSWITCH: state, events, waiting, execution.

A ``FakeCall`` is one FreeSWITCH channel (session).  Its own greenlet runs a
tiny "dialplan" (for an incoming call: ``set app_disable_expand_variables=true``
then ``socket 127.0.0.1:PORT async full``), exactly the way
switch_core_session_exec does it: CHANNEL_EXECUTE, the application, then
CHANNEL_EXECUTE_COMPLETE with Application-Response taken from
``current_application_response``.

The ``socket`` application connects to the outbound server, answers
``connect`` with CHANNEL_DATA, fires CHANNEL_PARK and parks.  While parked,
``sendmsg`` commands (private events) are parsed one by one
(switch_ivr_parse_event: ``execute`` with ``loops``/``Event-UUID``/
``event-lock``, ``hangup``).  As in FreeSWITCH every media/wait loop also
parses queued private events, so a ``sendmsg`` that arrives while an
application runs is executed *nested* inside it unless a running application
was started with ``event-lock: true`` (set ``FakeSwitch.strict_event_lock =
False`` to get a plain FIFO instead).

Media timing: each played file lasts ``media_ms`` real milliseconds; sleeps
and (digit) timeouts last their value x ``time_scale``.  DTMF from the caller
is queued on the channel; a DTMF event is fired when a reader dequeues a key
(switch_channel_dequeue_dtmf), keys nobody reads stay queued.

The applications themselves live in the family modules (``control``,
``media``, ``record``, ``bridge``, ``conference``, ``fifo``, ``socket_app``),
found through ``registry.APPS``; event headers in ``channel_data``, sendmsg
parsing in ``private``, hangup causes in ``causes``.
"""

import uuid as _uuid

import gevent
from gevent.event import Event as GEvent

from . import wire
from .causes import str2cause
from .channel_data import ChannelData
from .expand import expand_variables, switch_true
from .private import PrivateEventParsing
from .registry import APPS, MEDIA_APPS

STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 1,
    "CS_ROUTING": 2,
    "CS_SOFT_EXECUTE": 3,
    "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6,
    "CS_CONSUME_MEDIA": 7,
    "CS_HIBERNATE": 8,
    "CS_RESET": 9,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
    "CS_DESTROY": 12,
}


class FakeCall(ChannelData, PrivateEventParsing):
    """One fake FreeSWITCH channel.  See the package docstring for the public attributes."""

    def __init__(
        self,
        switch,
        destination,
        caller,
        caller_name="",
        channel_vars=None,
        direction="inbound",
        sip=False,
        uuid=None,
        channel_name=None,
    ):
        self.switch = switch
        self.uuid = uuid or str(_uuid.uuid4())
        self.direction = direction
        self.sip = sip
        self.destination = destination
        self.caller = caller
        self.caller_name = caller_name or ""
        self.created = wire.now_us()
        self.times = {"answered": 0, "progress": 0, "progress_media": 0, "hangup": 0, "bridged": 0}
        if channel_name:
            self.channel_name = channel_name
        elif sip:
            self.channel_name = "sofia/internal/%s@127.0.0.1:5070" % caller
        elif direction == "inbound":
            self.channel_name = "loopback/%s-b" % destination
        else:
            self.channel_name = "loopback/%s-a" % destination
        self.state = "CS_INIT"
        self.state_number = 1
        self.call_state = "DOWN"
        self.answer_state = "ringing"
        self.media = not sip
        # public observation attributes
        self.vars = {}
        self.executed = []
        self.raw_executed = []
        # For set-up latency figures: when the socket application connected
        # to the call server, and when its first sendmsg for this call arrived.
        self.socket_connected_at = None
        self.first_sendmsg_at = None
        self.spoken = []
        self.played = []
        self.dtmf_sent = []
        self.answered = False
        self.pre_answered = False
        self.ringing_sent = False
        self.sip_response = None
        self.hangup_cause = None
        self.wire = []
        # internals
        self.down = False
        self.destroyed = False
        self.conn = None
        self.partner = None
        self.partner_role = None
        self._dtmf = []
        self._wake = GEvent()
        self._break = False
        self._broadcast = False  # CF_BROADCAST: a sendmsg execute runs
        self._stop_broadcast = False
        self._private = []
        self._event_lock = 0
        self._running = []
        self._on_execute = {}
        self._disco_point = None
        self._released = False
        self._transfer = None  # applications that replace the rest of the dialplan (uuid_bridge)
        self._closed = GEvent()
        self._records = []
        # What the caller "says" (8 kHz 16-bit mono PCM), streamed into what record writes.
        self.caller_audio = None
        self.session_events = []
        self._kicked = False
        self._greenlet = None
        self.hangup_evt = GEvent()

        v = self.vars
        v["direction"] = direction
        if direction == "outbound":
            v["is_outbound"] = "true"
        v["uuid"] = self.uuid
        v["session_id"] = str(switch._next_session_id())
        if sip:
            self._sip_vars()
        v["channel_name"] = self.channel_name
        if self.media:
            v.update(read_codec="L16", read_rate="8000", write_codec="L16", write_rate="8000")
        for k, val in (channel_vars or {}).items():
            self.set_var(k, val)
        v["call_uuid"] = self.uuid

    # ------------------------------------------------------------------ public helpers
    def press(self, digits):
        """The caller presses keys now (like uuid_recv_dtmf): queued on the channel."""
        for d in str(digits):
            if d in "0123456789*#ABCDabcd":
                self._dtmf.append(d.upper())
        self._wake.set()

    def on_execute(self, app_name, fn):
        """Call fn(call, arg) in a new greenlet whenever application app_name starts."""
        self._on_execute.setdefault(app_name.lower(), []).append(fn)

    def hangup(self, cause="NORMAL_CLEARING"):
        """The far end hangs up."""
        self._hangup(str2cause(cause), from_app=False)

    def wait_closed(self, timeout=5):
        """Until the outbound socket of this call is closed (or never came up)."""
        return self._closed.wait(timeout)

    def __repr__(self):
        return "<FakeCall %s %s %s>" % (self.uuid, self.channel_name, "down" if self.down else self.call_state)

    # ------------------------------------------------------------------ variables
    def set_var(self, name, value):
        """switch_channel_set_variable: None/'' deletes, re-setting moves it to the end."""
        self.vars.pop(name, None)
        if value is not None and value != "":
            self.vars[name] = str(value)

    def get_var(self, name):
        if name in self.vars:
            return self.vars[name]
        low = {
            "caller_id_number": self.caller,
            "caller_id_name": self.caller_name or None,
            "destination_number": self.destination,
            "ani": self.caller,
            "context": "default",
            "dialplan": "XML" if self.sip else "xml",
            "chan_name": self.channel_name,
            "channel_name": self.channel_name,
            "uuid": self.uuid,
            "unique_id": self.uuid,
            "network_addr": "127.0.0.1" if self.sip else None,
            "state": self.state,
        }
        if name in low:
            return low[name]
        return self.switch.global_vars.get(name)

    def expand(self, text):
        return expand_variables(text, self.get_var, lambda c, a: self.switch.api(c, a, session=self))

    # ------------------------------------------------------------------ events
    def fire(self, name, pre=(), post=(), calling=None):
        if not self.switch.anyone_subscribed(name):
            return None
        ev = wire.Event(name, calling=calling)
        for k, v in pre:
            ev.add(k, v)
        self._channel_data(ev)
        for k, v in post:
            ev.add(k, v)
        self.switch.fire(ev)
        return ev

    def _set_state(self, state):
        self.state = state
        self.state_number = STATE_NUMBERS[state]
        self.fire("CHANNEL_STATE")

    def _set_callstate(self, cs):
        old = self.call_state
        self.call_state = cs
        self.fire("CHANNEL_CALLSTATE", pre=[("Original-Channel-Call-State", old)])

    # ------------------------------------------------------------------ call control
    def _mark_answered(self):
        if self.answered or self.down:
            return
        if self.sip and not self.media:
            self._mark_pre_answered(event=True)
        self.answered = True
        self.media = True
        self.times["answered"] = wire.now_us()
        self.answer_state = "answered"
        self.set_var("endpoint_disposition", "ANSWER")
        self.fire("CHANNEL_ANSWER")
        self._set_callstate("ACTIVE")

    def _mark_pre_answered(self, event=True):
        if self.pre_answered or self.answered or self.down:
            return
        self.pre_answered = True
        self.media = True
        self.times["progress_media"] = wire.now_us()
        self.answer_state = "early"
        self.set_var("endpoint_disposition", "EARLY MEDIA")
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self._set_callstate("EARLY")

    def _mark_ring_ready(self):
        if self.ringing_sent or self.answered or self.down:
            return
        self.ringing_sent = True
        self.times["progress"] = wire.now_us()
        self.fire("CHANNEL_PROGRESS")
        self._set_callstate("RING_WAIT")

    def _hangup(self, cause, from_app=False):
        """switch_channel_perform_hangup."""
        if self.down:
            return
        self.down = True
        self.hangup_cause = cause
        self.state_number = 10
        self.answer_state = "hangup"
        self._disco_point = "complete" if from_app else "hangup"
        self.fire("CHANNEL_HANGUP")
        self.hangup_evt.set()
        if self.conn is not None and not from_app:
            self.conn.channel_down()
        self._wake.set()
        if self.partner is not None:
            self.partner._wake.set()

    def _teardown(self):
        """CS_HANGUP -> CS_REPORTING (CHANNEL_HANGUP_COMPLETE) -> CS_DESTROY."""
        for path in list(self._records):
            self._stop_record(path)
        self.state = "CS_HANGUP"
        self.fire("CHANNEL_STATE")
        self.times["hangup"] = wire.now_us()
        self._set_callstate("HANGUP")
        self.state, self.state_number = "CS_REPORTING", 11
        self.fire("CHANNEL_STATE")
        self._cdr_vars()
        self.fire("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", self.hangup_cause)])
        if self.conn is not None and self._disco_point == "complete":
            self.conn.channel_down()
        if self.conn is not None:
            # the listener holds the session until its socket is gone
            self.conn.closed_evt.wait()
        self._closed.set()
        self.state_number = 12
        self.fire("CHANNEL_DESTROY")
        self.state = "CS_DESTROY"
        self.fire("CHANNEL_STATE")
        self.destroyed = True

    # ------------------------------------------------------------------ application execution
    def execute_application(self, app, arg):
        """switch_core_session_execute_application + switch_core_session_exec."""
        if self.down:
            return False  # hung up: applications without zombie_exec are skipped silently
        name = app.strip()
        handler = APPS.get(name.lower())
        if handler is None:
            self._hangup("DESTINATION_OUT_OF_ORDER", from_app=True)
            return False
        name = name.lower()
        if name in MEDIA_APPS and self.direction == "inbound" and not (self.answered or self.pre_answered):
            self._mark_pre_answered()
        app_uuid = self.vars.pop("app_uuid", None) or str(_uuid.uuid4())
        app_uuid_name = self.vars.pop("app_uuid_name", None)
        expanded = arg
        if arg is not None and not switch_true(self.get_var("app_disable_expand_variables")):
            expanded = self.expand(arg)
        self.raw_executed.append((name, arg))
        self.executed.append((name, expanded))
        self.set_var("current_application", name)
        self.set_var("current_application_data", expanded)
        self.set_var("current_application_response", None)
        self.fire(
            "CHANNEL_EXECUTE",
            post=[
                ("Application", name),
                ("Application-Data", expanded),
                ("Application-UUID", app_uuid),
                ("Application-UUID-Name", app_uuid_name),
            ],
        )
        self._break = False
        self.set_var("current_application", name)
        for fn in self._on_execute.get(name, ()):
            gevent.spawn(fn, self, expanded)
        self._running.append(name)
        try:
            handler(self, expanded if expanded is not None else "")
        finally:
            self._running.pop()
        resp = self.vars.get("current_application_response")
        self.fire(
            "CHANNEL_EXECUTE_COMPLETE",
            post=[
                ("Application", name),
                ("Application-Data", expanded),
                ("Application-Response", resp or "_none_"),
                ("Application-UUID", app_uuid),
                ("Application-UUID-Name", app_uuid_name),
            ],
        )
        return True

    # ------------------------------------------------------------------ session program
    def start(self, program):
        """Run the dialplan applications [(app, arg), ...] in the channel's own greenlet."""
        self._greenlet = gevent.spawn(self._run, program)
        return self

    def _run(self, program):
        try:
            steps = list(program)
            while steps:
                app, arg = steps.pop(0)
                if self.down:
                    break
                if app is None:  # no application: the channel waits until it is hung up
                    self._wait(None, breakable=False)
                    continue
                self.execute_application(app, arg)
                if self._transfer is not None:
                    steps, self._transfer = self._transfer, None
                    continue
                if self._released:
                    self.hangup_evt.wait()
            if not self.down:
                # no more dialplan applications: FreeSWITCH hangs up
                self._hangup("NORMAL_CLEARING", from_app=True)
            self._teardown()
        except gevent.GreenletExit:
            pass
        finally:
            self._closed.set()

    def _scaled(self, ms):
        return max(0.0, float(ms)) * self.switch.time_scale / 1000.0

    def _stop_record(self, path):
        if path in self._records:
            self._records.remove(path)
            self.fire(
                "RECORD_STOP",
                post=[("Record-File-Path", path)],
                calling=("switch_ivr_async.c", "send_record_stop_event", 1241),
            )
