"""The switch watcher: what one switch's events make us do.

Every REST worker watches every switch (see :mod:`voxology_fs.switches`),
so each event reaches several watchers.  Each handler below claims the
event (its ``Core-UUID:Event-Sequence``, :func:`voxology_fs.claims.claim`)
before anything that writes a final state or sends a callback, and only the
claimer goes on.  Should the claimer die before it acts, the sweeps
(:mod:`voxology_fs.sweeps`) finish the call later.

What it watches, for the calls that carry our ``vox_call_id``:

* ``BACKGROUND_JOB`` of an ``originate`` answered ``-ERR <cause>`` (busy, no
  answer, failure): the call ends with that status at once;
* ``CHANNEL_HANGUP_COMPLETE``: the switch's own figures for the leg (ringing,
  answer, bridge and hangup times, cause, SIP code) go on the leg, and then onto the
  call's answer and end times and duration, once the call is final;
  a call still ``queued`` a moment later was answered but no call server
  took it, and ends; a call still live long after (its call server died)
  ends too.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

import gevent

from . import child_calls, claims, db
from .esl.protocol import Event
from .esl.sms import REPORT_SUBCLASS, send_text_on_link
from .esl.times import switch_time
from .messages import MessageBook
from .models import Call, Leg
from .originate import finish_orphaned, finish_unconnected
from .recordings import RecordingBook
from .settings import Settings
from .timeutil import utcnow

log = logging.getLogger(__name__)

# The events a link subscribes to, and the filters that keep it to our calls
# (every channel of ours carries ``vox_call_id``) and background jobs.
# Text messages too: those that arrive, and the outcome of those we send.
WATCH_EVENTS = ["BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE", "RECV_MESSAGE", "CUSTOM", REPORT_SUBCLASS]
WATCH_FILTERS = [
    ("variable_vox_call_id", "/./"),
    ("Event-Name", "BACKGROUND_JOB"),
    ("Event-Name", "RECV_MESSAGE"),
    ("Event-Subclass", REPORT_SUBCLASS),
]


@dataclass(frozen=True)
class LegEnd:
    """A leg's end as ``CHANNEL_HANGUP_COMPLETE`` tells it, in the switch's clock."""

    channel_uuid: str
    ringing_at: dt.datetime | None
    answered_at: dt.datetime | None
    bridged_at: dt.datetime | None
    ended_at: dt.datetime | None
    cause: str
    sip_code: int | None

    @classmethod
    def from_event(cls, event: Event) -> LegEnd:
        def moment(header: str, variable: str) -> dt.datetime | None:
            return switch_time(event.get(header)) or switch_time(event.variable(variable))

        return cls(
            channel_uuid=event.get("Unique-ID", ""),
            ringing_at=moment("Caller-Channel-Progress-Time", "progress_uepoch"),
            answered_at=moment("Caller-Channel-Answered-Time", "answer_uepoch"),
            bridged_at=moment("Caller-Channel-Bridged-Time", "bridge_uepoch"),
            ended_at=moment("Caller-Channel-Hangup-Time", "end_uepoch"),
            cause=event.get("Hangup-Cause") or event.variable("hangup_cause") or "NORMAL_CLEARING",
            sip_code=_sip_code(event),
        )


def _sip_code(event: Event) -> int | None:
    """The SIP status that ended the leg: the far end's final response
    (``sip_term_status``), or the refusal we sent with ``respond``."""
    status = event.variable("sip_term_status") or ""
    if event.variable("last_app") == "respond" and not status:
        status = event.variable("last_arg") or ""
    status = status.strip()[:3]
    return int(status) if status.isdigit() and len(status) == 3 else None


def record_leg_end(end: LegEnd) -> int:
    """Put the switch's figures on the leg of that channel; the legs changed."""
    if not end.channel_uuid:
        return 0
    changes: dict = {Leg.hangup_cause: end.cause, Leg.sip_code: end.sip_code}
    for field, value in (
        (Leg.ended_at, end.ended_at),
        (Leg.answered_at, end.answered_at),
        (Leg.bridged_at, end.bridged_at),
        (Leg.ringing_at, end.ringing_at),
    ):
        if value is not None:  # a time the switch does not give leaves ours
            changes[field] = value
    with db.unit_of_work():
        return Leg.update(changes).where(Leg.channel_uuid == end.channel_uuid).execute()


def settle_call_times(call_id: str) -> bool:
    """Once a call is final, its answer and end times (and so its duration)
    become its caller leg's, as the switch measured them."""
    with db.unit_of_work():
        leg = Leg.select().where(Leg.call == call_id, Leg.role == "caller", Leg.ended_at.is_null(False)).first()
        call = Call.get_or_none(Call.id == call_id)
        if leg is None or call is None or call.end_time is None:
            return False
        duration = max(0, int((leg.ended_at - call.start_time).total_seconds() * 1000))
        return (
            Call.update(
                answer_time=leg.answered_at or call.answer_time,
                end_time=leg.ended_at,
                duration_ms=duration,
                hangup_cause=call.hangup_cause or leg.hangup_cause,
            )
            .where(Call.id == call_id, Call.end_time.is_null(False))
            .execute()
            == 1
        )


class SwitchWatcher:
    """The watcher of one process's links (one per switch, all alike)."""

    # Seconds between a channel's hangup and the check that a call server took it.
    hangup_grace = 2.0

    def __init__(self, settings: Settings, callbacks):
        self.settings = settings
        self.callbacks = callbacks
        # Events of interest this watcher saw, and those it claimed and acted
        # on (tests, an operator's view).
        self.seen = 0
        self.claimed = 0
        self.recordings = RecordingBook.from_settings(settings, callbacks)
        self.messages = MessageBook.from_settings(settings, callbacks)

    def on_event(self, link, event: Event) -> None:
        # Runs in the link's reader greenlet: anything that touches the
        # database runs in a greenlet of its own.
        name = event.name
        if name == "BACKGROUND_JOB":
            if (event.get("Job-Command") or "").strip() != "originate":
                return
            body = (event.body or "").strip()
            if not body.startswith("+OK"):
                cause = (body[4:].strip() if body.startswith("-ERR") else "") or "NORMAL_TEMPORARY_FAILURE"
                self.seen += 1
                gevent.spawn(self._originate_failed, event, event.get("Job-UUID", ""), cause)
        elif name == "RECV_MESSAGE":
            self.seen += 1
            gevent.spawn(self._message_received, link, event)
        elif name == "CUSTOM" and event.get("Event-Subclass") == REPORT_SUBCLASS and event.get("vox_message_id"):
            self.seen += 1
            gevent.spawn(self._delivery_report, event)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            call_id = event.variable("vox_call_id") or ""
            if call_id:
                self.seen += 1
                gevent.spawn(self._hangup_complete, event, call_id)

    def _claim(self, event: Event) -> bool:
        key = claims.event_key(event)
        if key is None:
            log.warning("%s event without Core-UUID/Event-Sequence ignored", event.name)
            return False
        if not claims.claim(key):
            return False
        self.claimed += 1
        return True

    def _message_received(self, link, event: Event) -> None:
        # Replies go out on the link the message came in on.
        send_reply = functools.partial(send_text_on_link, link)
        try:
            if self._claim(event):
                self.messages.received(event, event.body or "", send_reply)
        except Exception:
            log.exception("a text message was not taken in")

    def _delivery_report(self, event: Event) -> None:
        try:
            if self._claim(event):
                self.messages.delivery_report(event)
        except Exception:
            log.exception("message %s: its delivery report was not recorded", event.get("vox_message_id"))

    def _originate_failed(self, event: Event, call_id: str, cause: str) -> None:
        try:
            if self._claim(event):
                finish_unconnected(call_id, cause, False, self.callbacks)
        except Exception:
            log.exception("call %s: could not finish it", call_id)

    def _hangup_complete(self, event: Event, call_id: str) -> None:
        try:
            if not self._claim(event):
                return
            end = LegEnd.from_event(event)
            record_leg_end(end)
        except Exception:
            log.exception("call %s: hangup not recorded", call_id)
            return
        # Whole-call recordings end with the call, and no call server ends them.
        gevent.spawn(self.close_recordings, call_id, ("call",))
        answered = end.answered_at is not None or event.get("Answer-State") == "answered"
        # The call server finishes the calls it took; a moment's grace lets
        # it mark a freshly answered one live first.
        gevent.spawn_later(self.hangup_grace, self.finish, call_id, end.cause, answered)
        # And if the call server that took it died, nobody will.
        gevent.spawn_later(self.settings.orphaned_call_grace, self.finish_orphan, call_id, end.cause)

    def finish(self, call_id: str, cause: str, answered: bool) -> None:
        """End the call if no call server took it; then its times are the switch's."""
        try:
            finish_unconnected(call_id, cause, answered, self.callbacks)
            settle_call_times(call_id)
        except Exception:
            log.exception("call %s: could not finish it", call_id)

    def finish_orphan(self, call_id: str, cause: str) -> None:
        """End the call if its call server died while it was live."""
        try:
            if finish_orphaned(call_id, cause, self.callbacks):
                # Its call server would have written its TRANSFER's legs' ends.
                child_calls.close_transfer_legs(call_id, utcnow())
            settle_call_times(call_id)
        except Exception:
            log.exception("call %s: could not finish it", call_id)
        # A RECORD its dead call server left open: the file is the caller's message.
        self.close_recordings(call_id, ("record", "call"))

    def close_recordings(self, call_id: str, sources) -> None:
        try:
            self.recordings.close_left_open(call_id, sources)
        except Exception:
            log.exception("call %s: its recordings were not closed", call_id)
