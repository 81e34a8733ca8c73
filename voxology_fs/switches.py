"""Inbound ESL links to the FreeSWITCH servers.

Which process watches each switch: every REST worker process (``voxology-fs
api``; gunicorn's workers, after the fork) opens one inbound connection per
switch of the settings and keeps it open, and each of those links feeds a
:class:`~voxology_fs.watcher.SwitchWatcher` and the periodic
:class:`~voxology_fs.sweeps.Sweeper` of that process.  The call servers open
no inbound links.  So with N workers each switch event is seen N times; the
watchers claim it (:mod:`voxology_fs.claims`) and one acts on it.

A :class:`SwitchLink` reconnects by itself with exponential backoff.  Its
reader is a greenlet of its own, so events are read as they come whether or
not a request is being served (FreeSWITCH drops a connection that leaves
hundreds of events unread).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from typing import cast

import gevent
import gevent.event
import peewee

from .call_status import LIVE_STATUSES
from .esl.connection import CommandError, CommandTimeout, InboundConnection, NotConnectedError
from .settings import Settings, Switch
from .switch_errors import SwitchUnavailable
from .watcher import WATCH_EVENTS, WATCH_FILTERS, SwitchWatcher

__all__ = ["SwitchLink", "SwitchUnavailable", "Switches"]

log = logging.getLogger(__name__)


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

    def start(self) -> SwitchLink:
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
        conn = InboundConnection.open(
            sw.host, sw.port, sw.password, timeout=5.0, command_timeout=self.settings.esl_command_timeout
        )
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
                log.warning(
                    "switch %s (%s:%d): cannot connect: %s; retrying in %.1f s",
                    self.name,
                    self.switch.host,
                    self.switch.port,
                    exc,
                    delay,
                )
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
    """The links of one process, their watcher and sweeper, and the choice of a switch for a call."""

    def __init__(self, settings: Settings, callbacks=None, sweep_interval: float = 30.0):
        from .callbacks import CallbackClient
        from .sweeps import Sweeper

        self.settings = settings
        self.callbacks = callbacks or CallbackClient.from_settings(settings)
        self.watcher = SwitchWatcher(settings, self.callbacks)
        self.links = {s.name: SwitchLink(s, settings, self.watcher.on_event) for s in settings.switches}
        self.sweeper = Sweeper(self, sweep_interval)
        self._started = False

    def start(self) -> Switches:
        if not self._started:
            self._started = True
            for link in self.links.values():
                link.start()
            self.sweeper.start()
        return self

    def stop(self) -> None:
        for link in self.links.values():
            link.stop()
        self.sweeper.stop()

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
            rows = (
                Call.select(Call.switch, peewee.fn.COUNT(Call.id).alias("n"))
                .where(Call.switch.in_(names), Call.status.in_(LIVE_STATUSES))
                .group_by(Call.switch)
                .tuples()
            )
            # peewee's stubs type .tuples() rows as models.
            counts: dict[str, int] = dict(cast("Iterable[tuple[str, int]]", rows))
        return min(candidates, key=lambda link: (counts.get(link.name, 0), random.random()))
