"""Inbound ESL links to the FreeSWITCH servers, and the watcher of each.

Every REST worker process opens one inbound connection per switch of the
settings (after gunicorn forks it, never before), and keeps it open: a
:class:`SwitchLink` reconnects by itself with exponential backoff.  Its
reader is a greenlet of its own, so events are read as they come whether or
not a request is being served (FreeSWITCH drops a connection that leaves
hundreds of events unread).

Each link also watches the calls that Make Call places on its switch, and
finishes those that never reach the call server's socket:

* ``BACKGROUND_JOB`` of an ``originate`` answered ``-ERR <cause>`` (busy, no
  answer, failure): the call ends with that status at once;
* ``CHANNEL_HANGUP_COMPLETE`` of one of our channels whose record is still
  ``queued`` a moment later (answered, but no call server took it);
* a periodic sweep of calls still ``queued`` long after their ring timeout
  whose channel the switch no longer has (events lost while disconnected).

Finishing is the conditional update of :func:`voxology_fs.store.finish_call`,
so whichever process gets there first finishes the call and sends its one
``call_ended``; the others do nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import random

import gevent
import gevent.event
import peewee

from .esl.connection import CommandError, CommandTimeout, InboundConnection, NotConnectedError
from .esl.protocol import Event
from .call_status import LIVE_STATUSES
from .settings import Settings, Switch

log = logging.getLogger(__name__)

# The events a link subscribes to, and the filters that keep it to our calls
# (every channel of ours carries ``vox_call_id``) and background jobs.
WATCH_EVENTS = ["BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE"]
WATCH_FILTERS = [("variable_vox_call_id", "/./"), ("Event-Name", "BACKGROUND_JOB")]


class SwitchUnavailable(Exception):
    """No connection to that switch (or to any switch) right now."""


class SwitchLink:
    """One switch's inbound ESL connection, kept open."""

    def __init__(self, switch: Switch, settings: Settings, on_event=None):
        self.switch = switch
        self.settings = settings
        self.on_event = on_event
        self.conn: InboundConnection | None = None
        self.up = gevent.event.Event()
        self.connects = 0
        self._runner: gevent.Greenlet | None = None
        self._stopping = False

    @property
    def name(self) -> str:
        return self.switch.name

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.connected

    def start(self) -> "SwitchLink":
        if self._runner is None:
            self._runner = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._runner is not None:
            self._runner.kill(block=False)
        if self.conn is not None:
            self.conn.close()
        self.up.clear()

    def _open(self) -> InboundConnection:
        sw = self.switch
        conn = InboundConnection.open(sw.host, sw.port, sw.password, timeout=5.0,
                                      command_timeout=self.settings.esl_command_timeout)
        try:
            for header, value in WATCH_FILTERS:
                conn.send(f"filter {header} {value}")
            reply = conn.send("event plain " + " ".join(WATCH_EVENTS))
            if not reply.reply_text.startswith("+OK"):
                raise CommandError(reply.reply_text)
        except Exception:
            conn.close()
            raise
        if self.on_event is not None:
            conn.register_handle("*", lambda event: self.on_event(self, event))
        return conn

    def _run(self) -> None:
        delay = self.settings.esl_reconnect_min
        while not self._stopping:
            try:
                conn = self._open()
            except (OSError, NotConnectedError, CommandTimeout, CommandError) as exc:
                log.warning("switch %s (%s:%d): cannot connect: %s; retrying in %.1f s",
                            self.name, self.switch.host, self.switch.port, exc, delay)
                gevent.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, self.settings.esl_reconnect_max)
                continue
            self.conn = conn
            self.connects += 1
            delay = self.settings.esl_reconnect_min
            log.info("switch %s connected", self.name)
            self.up.set()
            conn.closed.wait()
            self.up.clear()
            self.conn = None
            if not self._stopping:
                log.warning("switch %s: connection lost; reconnecting", self.name)
                gevent.sleep(self.settings.esl_reconnect_min)

    # -- commands ----------------------------------------------------------------
    def _connection(self) -> InboundConnection:
        conn = self.conn
        if conn is None or not conn.connected:
            raise SwitchUnavailable(f"switch {self.name} is not connected")
        return conn

    def api(self, command: str, timeout: float | None = None) -> str:
        try:
            return self._connection().api(command, timeout=timeout)
        except (NotConnectedError, CommandTimeout) as exc:
            raise SwitchUnavailable(f"switch {self.name}: {exc}") from None

    def bgapi(self, command: str, job_uuid: str | None = None) -> str:
        try:
            return self._connection().bgapi(command, job_uuid)
        except (NotConnectedError, CommandTimeout) as exc:
            raise SwitchUnavailable(f"switch {self.name}: {exc}") from None

    def sendevent(self, name: str, headers: dict[str, str], body: str | None = None) -> None:
        try:
            self._connection().sendevent(name, headers, body)
        except (NotConnectedError, CommandTimeout) as exc:
            raise SwitchUnavailable(f"switch {self.name}: {exc}") from None


class Switches:
    """The links of one process, their watcher, and the choice of a switch for a call."""

    # Seconds between a channel's hangup and the check that a call server took it.
    hangup_grace = 2.0

    def __init__(self, settings: Settings, callbacks=None, sweep_interval: float = 30.0):
        from .callbacks import CallbackClient
        self.settings = settings
        self.callbacks = callbacks or CallbackClient.from_settings(settings)
        self.links = {s.name: SwitchLink(s, settings, self._on_event) for s in settings.switches}
        self.sweep_interval = sweep_interval
        self._sweeper: gevent.Greenlet | None = None
        self._started = False

    def start(self) -> "Switches":
        if not self._started:
            self._started = True
            for link in self.links.values():
                link.start()
            if self.sweep_interval:
                self._sweeper = gevent.spawn(self._sweep_forever)
        return self

    def stop(self) -> None:
        for link in self.links.values():
            link.stop()
        if self._sweeper is not None:
            self._sweeper.kill(block=False)

    def wait_connected(self, timeout: float = 5.0) -> bool:
        """True once every link is up (tests, start-up)."""
        with gevent.Timeout(timeout, False):
            for link in self.links.values():
                link.up.wait()
            return True
        return False

    def link(self, name: str) -> SwitchLink:
        link = self.links.get(name)
        if link is None:
            raise SwitchUnavailable(f"switch {name!r} is not in the settings")
        return link

    def connected(self) -> list[SwitchLink]:
        return [link for link in self.links.values() if link.connected]

    def pick(self) -> SwitchLink:
        """The connected switch with the fewest unfinished calls in the database."""
        from . import db
        from .models import Call
        candidates = self.connected()
        if not candidates:
            raise SwitchUnavailable("no FreeSWITCH server is connected; calls cannot be placed right now")
        if len(candidates) == 1:
            return candidates[0]
        names = [link.name for link in candidates]
        with db.database.connection_context():
            rows = (Call.select(Call.switch, peewee.fn.COUNT(Call.id).alias("n"))
                    .where(Call.switch.in_(names), Call.status.in_(LIVE_STATUSES))
                    .group_by(Call.switch).tuples())
            counts = dict(rows)
        return min(candidates, key=lambda link: (counts.get(link.name, 0), random.random()))

    # -- the watcher ---------------------------------------------------------------
    def _on_event(self, link: SwitchLink, event: Event) -> None:
        # Runs in the link's reader greenlet: hand anything slow to another.
        name = event.name
        if name == "BACKGROUND_JOB":
            if (event.get("Job-Command") or "").strip() != "originate":
                return
            call_id = event.get("Job-UUID", "")
            body = (event.body or "").strip()
            if not body.startswith("+OK"):
                cause = body[4:].strip() if body.startswith("-ERR") else "NORMAL_TEMPORARY_FAILURE"
                gevent.spawn(self._finish, call_id, cause or "NORMAL_TEMPORARY_FAILURE", False)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            call_id = event.variable("vox_call_id") or ""
            if call_id:
                answered = event.get("Answer-State") == "answered" or bool(event.variable("answer_epoch", "0") != "0")
                cause = event.get("Hangup-Cause") or event.variable("hangup_cause") or "NORMAL_CLEARING"
                # The call server finishes the calls it took; a moment's grace
                # lets it mark a freshly answered one live first.
                gevent.spawn_later(self.hangup_grace, self._finish, call_id, cause, answered)
                # And if the call server that took it died, nobody will.
                gevent.spawn_later(self.settings.orphaned_call_grace, self._finish_orphan, call_id, cause)

    def _finish(self, call_id: str, cause: str, answered: bool) -> None:
        from .originate import finish_unconnected
        try:
            finish_unconnected(call_id, cause, answered, self.callbacks)
        except Exception:
            log.exception("call %s: could not finish it", call_id)

    def _finish_orphan(self, call_id: str, cause: str) -> None:
        from .originate import finish_orphaned
        try:
            finish_orphaned(call_id, cause, self.callbacks)
        except Exception:
            log.exception("call %s: could not finish it", call_id)

    def _sweep_forever(self) -> None:
        while True:
            gevent.sleep(self.sweep_interval)
            try:
                self.sweep()
            except Exception:
                log.exception("sweep of stale calls failed")

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Finish calls whose channel is gone but whose record is not final.

        Queued calls past their ring timeout (no watcher saw the originate
        end), and live calls whose call server died while no watcher ran.
        Returns how many it finished.
        """
        from . import db
        from .models import Call
        from .timeutil import utcnow
        now = now or utcnow()
        grace = dt.timedelta(seconds=self.settings.stale_call_grace)
        orphan_grace = dt.timedelta(seconds=self.settings.orphaned_call_grace)
        finished = 0
        for link in self.connected():
            with db.database.connection_context():
                calls = list(Call.select(Call.id, Call.status, Call.channel_uuid, Call.start_time, Call.timeout_s)
                             .where(Call.switch == link.name, Call.status.in_(["queued", "live-in-progress"]),
                                    Call.end_time.is_null(), Call.start_time < now - min(grace, orphan_grace))
                             .limit(500))
            for call in calls:
                queued = call.status == "queued"
                if queued and call.start_time + dt.timedelta(seconds=call.timeout_s or 60) + grace > now:
                    continue
                try:
                    exists = link.api(f"uuid_exists {call.channel_uuid or call.id}").strip()
                except SwitchUnavailable:
                    break
                if exists != "false":
                    continue
                if queued:
                    self._finish(call.id, "SWITCH_CONNECTION_LOST", False)
                else:
                    self._finish_orphan(call.id, "NORMAL_CLEARING")
                finished += 1
        return finished
