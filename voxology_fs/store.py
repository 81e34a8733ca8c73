"""Reading and writing calls for the call server, in short units of work.

A connection is held only inside each function here, never while a call
waits on media.  Trace events are written in batches by :class:`TraceWriter`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import gevent
from gevent.queue import Empty, Queue

from . import db
from .callbacks import CallbackTarget
from .flow.state import CallState
from .models import Account, Call, CallEvent, CallFlowConfig, Leg, PhoneNumber, new_id
from .timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NumberRoute:
    """Where a provisioned number's calls go: its owner and its callback targets."""

    number: str
    account_id: str | None
    application_id: str | None
    subaccount_id: str  # "0" for a top-level account, as callbacks report it
    target: CallbackTarget
    fallback: CallbackTarget | None


# Every call runs the statements below (a route lookup, the inserts of the call
# and its caller leg, an update or two of both, its trace events).  They are written out here, once per parameter style, because
# building them through peewee's query builder cost more CPU than running them.


def _columns(*fields) -> str:
    return ", ".join(f'"{f.column_name}"' for f in fields)


_CALL_INSERT_FIELDS = (
    Call.id,
    Call.account,
    Call.application,
    Call.switch,
    Call.channel_uuid,
    Call.direction,
    Call.status,
    Call.caller_no,
    Call.api_no,
    Call.to_no,
    Call.start_time,
    Call.session_data,
    Call.custom_data,
    Call.key_presses,
    Call.recordings,
    Call.errors,
    Call.sip_domain,
    Call.sip_forwarded_for,
    Call.call_server,
    Call.transfer_leg,
)

_CALL_FINISH_FIELDS = (
    Call.status,
    Call.end_time,
    Call.hangup_cause,
    Call.duration_ms,
    Call.session_data,
    Call.key_presses,
    Call.recordings,
    Call.errors,
    Call.detection,
    Call.answer_time,
)

_CALL_PROGRESS_FIELDS = (
    Call.session_data,
    Call.key_presses,
    Call.recordings,
    Call.errors,
    Call.detection,
    Call.answer_time,
)

_CALL_LIVE_FIELDS = (Call.status, Call.channel_uuid, Call.answer_time, Call.call_server)

_EVENT_FIELDS = (CallEvent.call, CallEvent.at, CallEvent.kind, CallEvent.data)

_LEG_INSERT_FIELDS = (
    Leg.id,
    Leg.call,
    Leg.role,
    Leg.direction,
    Leg.from_no,
    Leg.to_no,
    Leg.switch,
    Leg.channel_uuid,
    Leg.created_at,
)
_LEG_LIVE_FIELDS = (Leg.channel_uuid, Leg.answered_at, Leg.call)
# What the call server knows of its leg's end; a switch watcher may have
# written the switch's own figures first, and those stay.
_LEG_FINISH_FIELDS = (Leg.ended_at, Leg.hangup_cause, Leg.answered_at, Leg.call)


@functools.cache
def _sql(param: str) -> dict[str, str]:
    number, config, account, call, event, leg = (
        f'"{m._meta.table_name}"' for m in (PhoneNumber, CallFlowConfig, Account, Call, CallEvent, Leg)
    )

    def values(fields) -> str:
        return ", ".join([param] * len(fields))

    def assignments(fields) -> str:
        return ", ".join(f'"{f.column_name}" = {param}' for f in fields)

    return {
        "route": (
            f'SELECT {number}."account_id", {number}."application_id", {config}."url", {config}."method", '
            f'{config}."content_type", {config}."fallback_url", {config}."fallback_method", '
            f'{account}."parent_id" FROM {config} '
            f'JOIN {number} ON {number}."number" = {config}."phone_number_id" '
            f'JOIN {account} ON {account}."id" = {number}."account_id" '
            f'WHERE {number}."number" = {param}'
        ),
        "insert_call": f"INSERT INTO {call} ({_columns(*_CALL_INSERT_FIELDS)}) VALUES ({values(_CALL_INSERT_FIELDS)})",
        "mark_live": f'UPDATE {call} SET {assignments(_CALL_LIVE_FIELDS)} WHERE "id" = {param} AND "end_time" IS NULL',
        "save_progress": f'UPDATE {call} SET {assignments(_CALL_PROGRESS_FIELDS)} WHERE "id" = {param}',
        "finish_call": (
            f'UPDATE {call} SET {assignments(_CALL_FINISH_FIELDS)} WHERE "id" = {param} AND "end_time" IS NULL'
        ),
        "insert_leg": f"INSERT INTO {leg} ({_columns(*_LEG_INSERT_FIELDS)}) VALUES ({values(_LEG_INSERT_FIELDS)})",
        "mark_leg_live": (
            f'UPDATE {leg} SET "channel_uuid" = {param}, "answered_at" = COALESCE("answered_at", {param}) '
            f'WHERE "call_id" = {param} AND "role" = \'caller\''
        ),
        "finish_leg": (
            f'UPDATE {leg} SET "ended_at" = COALESCE("ended_at", {param}), '
            f'"hangup_cause" = COALESCE("hangup_cause", {param}), '
            f'"answered_at" = COALESCE("answered_at", {param}) '
            f'WHERE "call_id" = {param} AND "role" = \'caller\''
        ),
        # Trace events, many rows at a time (TraceWriter).
        "insert_events": f"INSERT INTO {event} ({_columns(*_EVENT_FIELDS)}) VALUES ({values(_EVENT_FIELDS)})",
    }


def _execute(statement: str, fields, values, *key) -> int:
    """Run one of the statements above with ``values`` converted as peewee
    would; one statement is its own transaction.  Returns the rows changed."""
    database = db.database.obj
    params = [field.db_value(value) for field, value in zip(fields, values, strict=True)]
    params.extend(key)
    with database.connection_context():
        return database.execute_sql(_sql(database.param)[statement], params).rowcount


def _execute_together(*statements) -> list[int]:
    """Several ``(statement, fields, values)`` in one transaction; the rows each changed."""
    database = db.database.obj
    sql = _sql(database.param)
    with database.connection_context(), database.atomic():
        return [
            database.execute_sql(sql[statement], [f.db_value(v) for f, v in zip(fields, values, strict=True)]).rowcount
            for statement, fields, values in statements
        ]


def route_for(number: str) -> NumberRoute | None:
    """The provisioned number's route (its owner and its call flow
    configuration, in one query); None unless all exist."""
    database = db.database.obj
    with database.connection_context():
        row = database.execute_sql(_sql(database.param)["route"], [number]).fetchone()
    if row is None:
        return None
    account_id, application_id, url, method, content_type, fallback_url, fallback_method, parent_id = row
    return NumberRoute(
        number=number,
        account_id=account_id,
        application_id=application_id,
        subaccount_id=account_id if parent_id else "0",
        target=CallbackTarget(url, method, content_type),
        fallback=CallbackTarget(fallback_url, fallback_method or method, content_type) if fallback_url else None,
    )


def route_for_placed(call: Call) -> NumberRoute | None:
    """A call we placed: a DIAL's own flow when it named one, else its caller
    ID's configuration (Make Call's rule)."""
    if not call.flow_url:
        return route_for(call.api_no)
    with db.database.connection_context():
        parent = Account.select(Account.parent).where(Account.id == call.account_id).scalar()
    return NumberRoute(
        number=call.api_no,
        account_id=call.account_id,
        application_id=call.application_id,
        subaccount_id=(call.account_id or "0") if parent else "0",
        target=CallbackTarget(call.flow_url, call.flow_method or "POST", "application/json"),
        fallback=None,
    )


def create_call(
    state: CallState, switch: str, channel_uuid: str, application_id: str | None, call_server: str | None = None
) -> None:
    """An inbound call's record and its caller leg (the channel it came in on)."""
    _execute_together(
        (
            "insert_call",
            _CALL_INSERT_FIELDS,
            (
                state.call_id,
                state.account_id or None,
                application_id,
                switch,
                channel_uuid,
                state.direction,
                state.status,
                state.caller_no,
                state.api_no,
                "",
                state.start_time,
                state.session_data,
                state.custom_data,
                [],
                [],
                [],
                state.sip_domain,
                state.sip_forwarded_for,
                call_server,
                False,
            ),
        ),
        (
            "insert_leg",
            _LEG_INSERT_FIELDS,
            (
                new_id(),
                state.call_id,
                "caller",
                state.direction,
                state.caller_no,
                state.api_no,
                switch,
                channel_uuid,
                state.start_time,
            ),
        ),
    )


def load_call(call_id: str) -> Call | None:
    with db.database.connection_context():
        return Call.get_or_none(Call.id == call_id)


def mark_live(call_id: str, channel_uuid: str, answer_time, call_server: str | None = None) -> None:
    """A Make Call call reached the call server, answered: the call and its caller leg."""
    _execute_together(
        (
            "mark_live",
            (*_CALL_LIVE_FIELDS, Call.id),
            ("live-in-progress", channel_uuid, answer_time, call_server, call_id),
        ),
        ("mark_leg_live", _LEG_LIVE_FIELDS, (channel_uuid, answer_time, call_id)),
    )


def save_progress(state: CallState) -> None:
    _execute(
        "save_progress",
        _CALL_PROGRESS_FIELDS,
        (state.session_data, state.key_presses, state.recordings, state.errors, state.detection, state.answer_time),
        state.call_id,
    )


def finish_call(state: CallState) -> bool:
    """Write the call's final state; True only for the one writer that did.

    The update is conditional on the call not being finished yet, so across
    any number of processes exactly one finishes it (and sends call_ended).
    """
    changed, _ = _execute_together(
        (
            "finish_call",
            (*_CALL_FINISH_FIELDS, Call.id),
            (
                state.status,
                state.end_time,
                state.hangup_cause,
                state.duration_ms(),
                state.session_data,
                state.key_presses,
                state.recordings,
                state.errors,
                state.detection,
                state.answer_time,
                state.call_id,
            ),
        ),
        ("finish_leg", _LEG_FINISH_FIELDS, (state.end_time, state.hangup_cause, state.answer_time, state.call_id)),
    )
    return changed == 1


class TraceWriter:
    """Buffers trace events and writes them in batches, off the call's path.

    A write blocks the whole process (SQLite is synchronous), so a batch is
    a few dozen rows and the writer yields between batches: a call being set
    up waits for one short transaction at most, not for all that is queued.
    """

    def __init__(self, interval: float = 0.2, batch: int = 20):
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
        data = CallEvent.data
        values = [(r["call"], r["at"], r["kind"], data.db_value(r["data"])) for r in rows]
        try:
            with db.unit_of_work():
                database.cursor().executemany(_sql(database.param)["insert_events"], values)
        except Exception:  # the raw cursor raises the driver's own errors; a trace must never end a call
            log.exception("could not write %d trace events", len(rows))

    def _run(self) -> None:
        while True:
            rows = self._take(wait=5.0)
            if not rows:
                return  # idle: the next add() starts a new worker
            while rows:
                self._write(rows)
                gevent.sleep(0)  # the calls waiting on the hub go first
                rows = self._take(wait=None)
            gevent.sleep(self.interval)

    def flush(self) -> None:
        """Write everything queued now (tests, shutdown)."""
        while True:
            rows = self._take(wait=None)
            if not rows:
                return
            self._write(rows)
