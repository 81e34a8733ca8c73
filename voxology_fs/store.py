"""Reading and writing calls for the call server, in short units of work.

A connection is held only inside each function here, never while a call
waits on media.  Trace events are written in batches by :class:`TraceWriter`.
"""
from __future__ import annotations

import logging

import gevent
from gevent.queue import Queue, Empty

from . import db
from .flow.state import CallState, utcnow
from .models import Account, Call, CallEvent, CallFlowConfig, PhoneNumber

log = logging.getLogger(__name__)


def flow_config_for(number: str) -> tuple[PhoneNumber, CallFlowConfig, str] | None:
    """The provisioned number, its call flow configuration and its owner's
    ``subaccount_id``, in one query; None unless all exist."""
    with db.database.connection_context():
        config = (CallFlowConfig.select(CallFlowConfig, PhoneNumber, Account)
                  .join(PhoneNumber)
                  .join(Account)
                  .where(PhoneNumber.number == number)
                  .first())
    if config is None:
        return None
    number_row = config.phone_number
    return number_row, config, number_row.account.subaccount_id


def create_call(state: CallState, switch: str, channel_uuid: str, application_id: str | None) -> None:
    with db.unit_of_work():
        Call.insert(
            id=state.call_id, account=state.account_id or None, application=application_id, switch=switch,
            channel_uuid=channel_uuid, direction=state.direction, status=state.status,
            caller_no=state.caller_no, api_no=state.api_no, start_time=state.start_time,
            session_data=state.session_data, custom_data=state.custom_data, key_presses=[],
            recordings=[], errors=[], sip_domain=state.sip_domain, sip_forwarded_for=state.sip_forwarded_for,
        ).execute()


def load_call(call_id: str) -> Call | None:
    with db.database.connection_context():
        return Call.get_or_none(Call.id == call_id)


def mark_live(call_id: str, channel_uuid: str, answer_time) -> None:
    with db.unit_of_work():
        (Call.update(status="live-in-progress", channel_uuid=channel_uuid, answer_time=answer_time)
         .where(Call.id == call_id, Call.end_time.is_null()).execute())


def save_progress(state: CallState) -> None:
    with db.unit_of_work():
        (Call.update(session_data=state.session_data, key_presses=state.key_presses,
                     recordings=state.recordings, errors=state.errors, detection=state.detection,
                     answer_time=state.answer_time)
         .where(Call.id == state.call_id).execute())


def finish_call(state: CallState) -> bool:
    """Write the call's final state; True only for the one writer that did.

    The update is conditional on the call not being finished yet, so across
    any number of processes exactly one finishes it (and sends call_ended).
    """
    with db.unit_of_work():
        changed = (Call.update(status=state.status, end_time=state.end_time, hangup_cause=state.hangup_cause,
                               duration_ms=state.duration_ms(), session_data=state.session_data,
                               key_presses=state.key_presses, recordings=state.recordings,
                               errors=state.errors, detection=state.detection, answer_time=state.answer_time)
                   .where(Call.id == state.call_id, Call.end_time.is_null()).execute())
    return changed == 1


class TraceWriter:
    """Buffers trace events and writes them in batches, off the call's path."""

    def __init__(self, interval: float = 0.2, batch: int = 500):
        self.interval = interval
        self.batch = batch
        self._queue: Queue = Queue()
        self._worker = None

    def add(self, call_id: str, kind: str, data: dict | None = None) -> None:
        self._queue.put({"call": call_id, "at": utcnow(), "kind": kind, "data": data})
        if self._worker is None or self._worker.dead:
            self._worker = gevent.spawn(self._run)

    def _take(self, wait: float | None) -> list[dict]:
        rows = []
        try:
            rows.append(self._queue.get(timeout=wait) if wait else self._queue.get_nowait())
            while len(rows) < self.batch:
                rows.append(self._queue.get_nowait())
        except Empty:
            pass
        return rows

    def _write(self, rows: list[dict]) -> None:
        if not rows:
            return
        database = db.database.obj
        # One prepared statement for the whole batch: building a 500-row
        # INSERT through the query builder costs more than the write.
        param = database.param
        sql = (f'INSERT INTO "{CallEvent._meta.table_name}" ("call_id", "at", "kind", "data") '
               f"VALUES ({param}, {param}, {param}, {param})")
        data = CallEvent.data
        values = [(r["call"], r["at"], r["kind"], data.db_value(r["data"])) for r in rows]
        try:
            with db.unit_of_work():
                database.cursor().executemany(sql, values)
        except Exception:  # the raw cursor raises the driver's own errors; a trace must never end a call
            log.exception("could not write %d trace events", len(rows))

    def _run(self) -> None:
        while True:
            rows = self._take(wait=5.0)
            if not rows:
                return  # idle: the next add() starts a new worker
            self._write(rows)
            gevent.sleep(self.interval)

    def flush(self) -> None:
        """Write everything queued now (tests, shutdown)."""
        while True:
            rows = self._take(wait=None)
            if not rows:
                return
            self._write(rows)
