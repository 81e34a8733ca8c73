"""Sweeps: finishing the calls whose end no watcher saw.

Events are lost while a link is down, or when the watcher that claimed one
died before it acted.  Every ``sweep_interval`` seconds each REST worker's
:class:`Sweeper` looks for calls on its switches that are not final long
after they should be, and asks the switch whether their channel still
exists.  One worker sweeps each switch per interval (a claim of the round);
finishing is the conditional update of :func:`voxology_fs.store.finish_call`
as ever, so a sweep and a late watcher never both end a call.
"""

from __future__ import annotations

import datetime as dt
import logging

import gevent

from . import claims, db
from .models import Call
from .switch_errors import SwitchUnavailable
from .timeutil import utcnow

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, switches, interval: float = 30.0):
        self.switches = switches
        self.settings = switches.settings
        self.interval = interval
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self.interval and self._greenlet is None:
            self._greenlet = gevent.spawn(self._sweep_forever)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _sweep_forever(self) -> None:
        while True:
            gevent.sleep(self.interval)
            round_no = int(utcnow().timestamp() // self.interval)
            for link in self.switches.connected():
                try:
                    if claims.claim(f"sweep:{link.name}:{round_no}"):
                        self.sweep_link(link)
                except Exception:
                    log.exception("sweep of stale calls on %s failed", link.name)
            try:
                if claims.claim(f"prune:{round_no}"):
                    claims.prune()
            except Exception:
                log.exception("pruning old claims failed")

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Sweep every connected switch now; how many calls it finished."""
        return sum(self.sweep_link(link, now) for link in self.switches.connected())

    def sweep_link(self, link, now: dt.datetime | None = None) -> int:
        """Finish the calls of one switch whose channel is gone but whose record is not final.

        Queued calls past their ring timeout (no watcher saw the originate
        end), and live calls whose call server died while no watcher ran.
        """
        watcher = self.switches.watcher
        now = now or utcnow()
        grace = dt.timedelta(seconds=self.settings.stale_call_grace)
        orphan_grace = dt.timedelta(seconds=self.settings.orphaned_call_grace)
        with db.database.connection_context():
            calls = list(
                Call.select(Call.id, Call.status, Call.channel_uuid, Call.start_time, Call.timeout_s)
                .where(
                    Call.switch == link.name,
                    Call.status.in_(["queued", "live-in-progress"]),
                    Call.transfer_leg == False,  # noqa: E712 (its parent's call server finishes it)
                    Call.end_time.is_null(),
                    Call.start_time < now - min(grace, orphan_grace),
                )
                .limit(500)
            )
        finished = 0
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
                watcher.finish(call.id, "SWITCH_CONNECTION_LOST", False)
            else:
                watcher.finish_orphan(call.id, "NORMAL_CLEARING")
            finished += 1
        return finished
