"""ESL connections of the fake FreeSWITCH (mod_event_socket's listener).

One ``EslConnection`` class serves both directions:

* inbound (a client connected to ``sw.esl_port``): ``auth/request``,
  ``auth``, ``event``, ``filter``, ``api``, ``bgapi``, ``sendevent``,
  ``sendmsg <uuid>``, ``exit``...;
* outbound (the ``socket`` application connected to our server for one
  call, ``session`` is that call): ``connect`` answered with CHANNEL_DATA,
  ``myevents``, ``linger``, ``sendmsg``... plus everything above.

Commands are handled like parse_command() in mod_event_socket.c (same reply
texts).  Events reach a connection through ``offer()`` with FreeSWITCH's
event_handler() rules (subscription, then filters, then ``myevents``).  As in
FreeSWITCH, events fired while a command is being processed are written after
that command's reply.
"""

import time
import uuid as _uuid

import gevent
from gevent.event import Event as GEvent
from gevent.queue import Queue

from . import wire
from .private import PrivateEvent
from .subscriptions import Subscriptions


class EslConnection(Subscriptions):
    def __init__(self, switch, sock, session=None, async_mode=True, full=True):
        self.switch = switch
        self.sock = sock
        self.session = session  # the controlled FakeCall (outbound socket)
        self.outbound = session is not None
        self.async_mode = async_mode
        self.full = full
        self.authed = self.outbound
        self.outbox = Queue()
        self._held = None
        self.events_on = False
        self.event_list = set()
        self.custom = set()
        self.all_custom = False
        self.filters = []
        self.myevents = False
        self.linger = False
        self.linger_time = -1
        self.format = "plain"
        self.running = True
        self.controlling = True  # the socket app still controls the session
        self.connected_evt = GEvent()
        self.closed_evt = GEvent()
        self._disco_handled = False
        self._reader = None
        self._writer = None
        self.wire = session.wire if session is not None else []

    # ------------------------------------------------------------------ plumbing
    def start(self):
        self.switch._add_listener(self)
        self._writer = gevent.spawn(self._write_loop)
        self._reader = gevent.spawn(self._read_loop)
        if not self.outbound:
            self.outbox.put(b"Content-Type: auth/request\n\n")

    def _write_loop(self):
        try:
            while True:
                data = self.outbox.get()
                if data is None:
                    break
                self.wire.append(("<", data))
                self.sock.sendall(data)
        except (OSError, gevent.GreenletExit):
            pass
        finally:
            self._finish()

    def _finish(self):
        if self.closed_evt.is_set():
            return
        self.running = False
        self.switch._remove_listener(self)
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed_evt.set()
        self.connected_evt.set()
        self._stop_controlling()
        if self._reader is not None and self._reader is not gevent.getcurrent():
            self._reader.kill(block=False)

    def _stop_controlling(self):
        if self.controlling:
            self.controlling = False
            if self.session is not None:
                self.session._wake.set()

    def _emit(self, data):
        if not self.running:
            return
        if self._held is not None:
            self._held.append(data)
        else:
            self.outbox.put(data)

    def _reply(self, data):
        self.outbox.put(data)

    def close(self, notice=True):
        """Send the final disconnect notice (if asked) and close."""
        if not self.running:
            return
        self.running = False
        self._stop_controlling()
        if notice:
            self.outbox.put(wire.disconnect_notice(self.session.uuid if self.session else None))
        self.outbox.put(None)

    def kill(self):
        self.running = False
        self.outbox.put(None)

    # ------------------------------------------------------------------ events
    def offer(self, ev):
        if self.wants(ev):
            self._emit(ev.frame())

    def channel_down(self):
        """The controlled channel is down: linger notice, or disconnect now."""
        if self._disco_handled or not self.running:
            return
        self._disco_handled = True
        call = self.session
        if self.linger:
            self._emit(wire.linger_notice(call.uuid, call.channel_name, self.linger_time))
            if self.linger_time != -1:
                gevent.spawn_later(max(self.linger_time, 0) * self.switch.time_scale, self.close)
        else:
            # FreeSWITCH drops what is still queued and disconnects
            if self._held is not None:
                self._held = []
            self.close()

    # ------------------------------------------------------------------ reading
    def _read_loop(self):
        reader = wire.SocketReader(self.sock)
        try:
            while self.running:
                msg = reader.read_message()
                self.wire.append((">", msg.raw))
                self._held = []
                try:
                    self.handle(msg)
                finally:
                    held, self._held = self._held, None
                    for data in held or ():
                        if self.running:
                            self.outbox.put(data)
        except (EOFError, OSError):
            pass
        except gevent.GreenletExit:
            return
        # peer closed (or we stopped): the socket is gone
        self.running = False
        self._stop_controlling()
        self.outbox.put(None)

    def handle(self, msg):
        cmd = msg.command
        low = cmd.lower()
        sw = self.switch
        if low.startswith("exit") or low.startswith("..."):
            self._reply(wire.command_reply("+OK bye"))
            self.close()
            return
        if not self.authed:
            if low.startswith("auth "):
                if cmd[5:].strip("\r") == sw.password:
                    self.authed = True
                    self._reply(wire.command_reply("+OK accepted"))
                else:
                    self._reply(wire.command_reply("-ERR invalid"))
                    self.close()
                return
            self._reply(wire.command_reply("-ERR command not found"))
            return
        if low.startswith("filter "):
            self._reply(wire.command_reply(self._filter(cmd[7:])))
            return
        if self.session is not None and low.startswith("resume"):
            self.session.set_var("socket_resume", "true")
            self._reply(wire.command_reply("+OK"))
            return
        if self.session is not None or low.startswith("myevents "):
            if self.session is not None and low.startswith("connect"):
                self._connect()
                return
            if self.session is not None and low.startswith("getvar"):
                name = cmd.split(" ", 1)[1] if " " in cmd else None
                val = (self.session.get_var(name) if name else None) or ""
                self._reply(wire.command_reply(val))
                return
            if low.startswith("myevents"):
                if self.myevents:
                    self._reply(wire.command_reply("-ERR aready enabled."))
                    return
                if self.session is None:
                    parts = cmd.split()
                    call = sw.calls.get(parts[1]) if len(parts) > 1 else None
                    if call is None and len(parts) > 2:
                        self._reply(wire.command_reply("-ERR invalid uuid"))
                        return
                    self.session = call
                self.event_list |= wire.MYEVENTS
                self.myevents = True
                self.events_on = True
                self._reply(wire.command_reply("+OK Events Enabled"))
                return
        if low.startswith("divert_events"):
            if self.session is None:
                self._reply(wire.command_reply("-ERR not controlling a session."))
            else:
                on = cmd[13:].strip().lower() == "on"
                self._reply(wire.command_reply("+OK events diverted" if on else "+OK events not diverted"))
            return
        if low.startswith("sendmsg"):
            self._sendmsg(msg)
            return
        if self.outbound and not self.full:
            self._reply(wire.command_reply("-ERR command not found"))
            return
        if low.startswith("sendevent"):
            self._reply(wire.command_reply(sw.sendevent(msg)))
            return
        if low.startswith("api "):
            api_cmd, _, arg = cmd[4:].strip("\r").partition(" ")
            out = sw.api(api_cmd, arg if _ else None, listener=self)
            self._reply(wire.api_response(out))
            return
        if low.startswith("bgapi "):
            api_cmd, _, arg = cmd[6:].strip("\r").partition(" ")
            job = msg.get("job-uuid") or str(_uuid.uuid4())
            self._reply(
                ("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n" % (job, job)).encode(
                    "utf-8"
                )
            )
            owner = self.session.uuid if self.session is not None else None
            gevent.spawn(sw.bgapi, api_cmd, arg if _ else None, job, owner)
            return
        if low.startswith("log"):
            level = cmd[3:].strip().split(" ")[0] or "debug"
            self._reply(wire.command_reply("+OK log level %s [%d]" % (level, 7)))
            return
        if low.startswith("linger"):
            if self.session is None:
                self._reply(wire.command_reply("-ERR not controlling a session"))
                return
            rest = cmd[6:]
            if rest.startswith(" ") and rest[1:].strip():
                try:
                    self.linger_time = int(rest.strip())
                except ValueError:
                    self.linger_time = 0
            else:
                self.linger_time = -1
            self.linger = True
            if self.linger_time != -1:
                self._reply(wire.command_reply("+OK will linger %d seconds" % self.linger_time))
            else:
                self._reply(wire.command_reply("+OK will linger"))
            return
        if low.startswith("nolinger"):
            if self.session is None:
                self._reply(wire.command_reply("-ERR not controlling a session"))
            else:
                self.linger = False
                self._reply(wire.command_reply("+OK will not linger"))
            return
        if low.startswith("nolog"):
            self._reply(wire.command_reply("-ERR not loging"))
            return
        if low.startswith("event"):
            self._reply(wire.command_reply(self._event(cmd)))
            return
        if low.startswith("nixevent"):
            self._reply(wire.command_reply(self._nixevent(cmd)))
            return
        if low.startswith("noevents"):
            if self.events_on:
                self.events_on = False
                self.event_list = set()
                self.custom = set()
                self.all_custom = False
                self._reply(wire.command_reply("+OK no longer listening for events"))
            else:
                self._reply(wire.command_reply("-ERR not listening for events"))
            return
        self._reply(wire.command_reply("-ERR command not found"))

    # ------------------------------------------------------------------ commands
    def _connect(self):
        call = self.session
        ev = wire.Event("CHANNEL_DATA")
        call._profile(ev, "Channel-")  # the caller profile as "Channel-*" ...
        call._channel_data(ev)  # ... then the regular channel data
        ev.add("Content-Type", "command/reply")
        ev.add("Reply-Text", "+OK\n")
        ev.add("Socket-Mode", "async" if self.async_mode else "static")
        ev.add("Control", "full" if self.full else "single-channel")
        self._reply(ev.serialize())
        self.connected_evt.set()

    def _sendmsg(self, msg):
        sw = self.switch
        uuid = msg.command[7:].strip() or msg.get("session-id")
        if uuid and self.session is not None and uuid == self.session.uuid:
            uuid = None
        if not uuid and self.session is not None:
            target = self.session
        else:
            target = sw.calls.get(uuid) if uuid else None
            if target is None or target.destroyed:
                self._reply(wire.command_reply("-ERR invalid session id [%s]" % (uuid or "(null)")))
                return
        if target.first_sendmsg_at is None:
            target.first_sendmsg_at = time.perf_counter()
        pev = PrivateEvent(msg.headers, msg.body, msg.head_text)
        if target is self.session and not self.async_mode and not sw._truthy(msg.get("async")):
            # static (sync) mode: executed before the reply
            target._parse_event(pev)
            self._reply(wire.command_reply("+OK"))
            return
        if target._released and target is self.session:
            self._reply(wire.command_reply("+OK"))
            return
        target._queue_private(pev)
        self._reply(wire.command_reply("+OK"))
