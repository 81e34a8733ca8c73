"""Private events (``sendmsg``) queued on a fake channel, and waiting inside an application.

``PrivateEventParsing`` is a part of ``FakeCall``: switch_ivr_parse_event for
``execute`` (``loops``, ``Event-UUID``, ``event-lock``) and ``hangup``, the
PRIVATE_COMMAND event fired for each parsed message, and the wait loop every
media application runs (keys, breaks, nested private events).
"""

import time

from . import wire
from .causes import str2cause
from .expand import switch_true

# switch_ivr_parse_event ends a loop whose round took under half a second.
SHORTEST_ROUND_S = 0.5


class PrivateEvent:
    """A queued sendmsg (private event) for the channel."""

    def __init__(self, msg_headers, body=None, raw=None):
        self.headers = list(msg_headers)
        self.body = body
        self.raw = raw

    def get(self, name, default=None):
        return wire.header_value(self.headers, name, default)


class PrivateEventParsing:
    def _park(self, parked=lambda: True):
        """Parse queued private events one by one while the channel is up and parked()."""
        while not self.down and parked():
            if self._private:
                self._parse_next_private()
                continue
            self._wake.clear()
            self._wake.wait()

    def _can_nest(self):
        return self._private and not self._event_lock and self.switch.strict_event_lock and not self._released

    def _queue_private(self, pev):
        self._private.append(pev)
        self._wake.set()

    def _parse_next_private(self):
        """switch_ivr_parse_next_event."""
        pev = self._private.pop(0)
        self._parse_event(pev)
        if not self.switch.anyone_subscribed("PRIVATE_COMMAND"):
            return
        ev = wire.Event("PRIVATE_COMMAND", standard=False)
        ev.add("Command", pev.raw if pev.raw is not None else "sendmsg")
        for k, v in pev.headers:
            ev.add(k, v)
        ev.add_standard()
        self._channel_data(ev, with_vars=False)
        self.switch.fire(ev)

    def _parse_event(self, pev):
        """switch_ivr_parse_event."""
        cmd = (pev.get("call-command") or "").lower()
        lock = switch_true(pev.get("event-lock"))
        if lock:
            self._event_lock += 1
        try:
            if cmd == "execute":
                app = pev.get("execute-app-name")
                arg = pev.get("execute-app-arg")
                if not arg and (pev.get("content-type") or "").lower() == "text/plain":
                    arg = pev.body
                loops = 1
                if pev.get("loops"):
                    try:
                        loops = int(pev.get("loops"))
                    except ValueError:
                        loops = 1
                if not app:
                    return
                # A sendmsg execute is a broadcast (CF_BROADCAST, unless one
                # already runs): uuid_break stops it, loops included.
                self._stop_broadcast = False
                outer = not self._broadcast
                self._broadcast = True
                shortest = SHORTEST_ROUND_S * self.switch.time_scale
                x = 0
                while x < loops or loops < 0:
                    if pev.get("event-uuid"):
                        self.set_var("app_uuid", pev.get("event-uuid"))
                    if pev.get("event-uuid-name"):
                        self.set_var("app_uuid_name", pev.get("event-uuid-name"))
                    self.set_var("current_loop", x + 1)
                    self.set_var("total_loops", loops)
                    began = time.monotonic()
                    ok = self.execute_application(app, arg)
                    x += 1
                    if not ok or self.down or self._kicked or self._transfer is not None:
                        break
                    if self._stop_broadcast or time.monotonic() - began < shortest:
                        break
                self.set_var("current_loop", None)
                self.set_var("total_loops", None)
                if outer or self._stop_broadcast:
                    self._broadcast = False
                self._stop_broadcast = False
            elif cmd == "hangup":
                self._hangup(str2cause(pev.get("hangup-cause")), from_app=True)
        finally:
            if lock:
                self._event_lock -= 1

    def _take_dtmf(self, want):
        """Dequeue the first queued key accepted by want (True = any key)."""
        for i, d in enumerate(self._dtmf):
            if want is True or d in want:
                del self._dtmf[i]
                self.fire(
                    "DTMF",
                    post=[("DTMF-Digit", d), ("DTMF-Duration", 2000), ("DTMF-Source", "RTP" if self.sip else "APP")],
                )
                return d
        return None

    def _wait(self, timeout, dtmf=None, media=False, breakable=True, stop_on_key=False):
        """Wait inside an application; parses queued private events (nested execution).

        timeout: seconds or None; dtmf: None, True (any key) or a string of keys;
        stop_on_key: end at the first queued key, leaving it queued.
        Returns (reason, key) with reason 'timeout', 'dtmf', 'break' or 'hangup'.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.down:
                return "hangup", None
            if breakable and self._break:
                self._break = False
                return "break", None
            if self._kicked:
                return "break", None
            if dtmf is not None:
                d = self._take_dtmf(dtmf)
                if d is not None:
                    return "dtmf", d
            if stop_on_key and self._dtmf:
                return "dtmf", None
            if self._can_nest():
                started = time.monotonic()
                self._parse_next_private()
                if media and deadline is not None:
                    deadline += time.monotonic() - started
                continue
            if deadline is None:
                remaining = None
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout", None
            self._wake.clear()
            self._wake.wait(remaining)

    def _wait_kicked(self):
        """Wait (parsing private events) until hung up or kicked out of a conference or queue."""
        self._kicked = False
        try:
            self._wait(None, breakable=False)
        finally:
            self._kicked = False
