"""Connecting the caller to another party: TRANSFER.

The dialled legs are child calls of this one (``parent_call_id``), with no
callbacks of their own.  A failed dial never hangs the caller up: the flow
goes on, with the outcome in ``$transfer`` and in the next callback.
"""

from __future__ import annotations

import re
import uuid

from ...channel import RINGING, AudioFile
from ...timeutil import utcnow
from .. import templates, whole_call
from ..errors import ActionFailed
from ..expressions import ExpressionError
from ..state import CallState
from ..whisper import WHISPER_SECONDS, WhisperJob
from .base import Action, Param, check_url_param, http_url_problem, register
from .queue import take_from_queue

MAX_TARGETS = 10
# E.164: nothing else can reach a dial string (no ``,|{}[]^$``, no spaces).
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# A sip: URI with a plain user part and host (and port): no dial-string syntax either.
SIP_URI = re.compile(r"^sip:[A-Za-z0-9_.+\-]{1,64}@[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$")
DTMF = re.compile(r"^[0-9*#A-Da-dwW]{1,32}$")
RINGBACKS = ("ring", "early_media")
QUEUE_PREFIX = "queue:"
# The capability's statuses as the callbacks write them.
TRANSFER_STATUS = {"no_answer": "no-answer"}


def shown_caller_id(action: Action, ctx) -> str:
    """The ``caller_id_no`` a call placed for the caller shows (default: its api_no):
    one of the account's numbers or a caller ID it verified, never the other party's own."""
    caller_id = action.render(ctx, "caller_id_no") or ctx.state.api_no
    where = f"{action.path}/params/caller_id_no"
    if not E164.match(caller_id or ""):
        raise ActionFailed(f"caller_id_no must be an E.164 number, got {caller_id!r}", where)
    if not ctx.services.caller_id_allowed(ctx.state.account_id, caller_id):
        raise ActionFailed(f"{caller_id} is not a number of this account nor a verified caller ID", where)
    return caller_id


@register
class Transfer(Action):
    """Connect the caller to another number and wait while they talk; the flow
    goes on when the other party hangs up, or at once when no one answers.
    Before the call is answered the caller hears the ringing."""

    type = "TRANSFER"
    params_spec = (
        Param(
            "to",
            kind="strings",
            required=True,
            template=False,
            doc=f"an E.164 number or a sip: URI (to a host the operator allows), or a list of up to "
            f"{MAX_TARGETS} rung at once (the first to answer wins); or queue:NAME, the first caller "
            "waiting in that queue of the account (an agent's TRANSFER)",
        ),
        Param(
            "caller_id_no",
            doc="the number the called party sees: one of the account's numbers or a verified caller ID "
            "(default: the call's api_no)",
        ),
        Param("timeout", kind="integer", default=30, minimum=1, maximum=600, unit="s", doc="how long they ring"),
        Param(
            "time_limit",
            kind="integer",
            minimum=1000,
            maximum=4 * 3600 * 1000,
            unit="ms",
            doc="the longest they may talk",
        ),
        Param(
            "ringback",
            default="ring",
            doc="what the caller hears while they ring: ring (a ring tone), early_media (the called "
            "party's own), or an http(s) audio URL",
        ),
        Param(
            "send_digits",
            template=False,
            doc="DTMF keys sent to the party that answers (0-9, *, #, A-D; w and W pause 0.5 s and 1 s)",
        ),
        Param(
            "hangup_on_star",
            kind="boolean",
            default=False,
            doc="the caller pressing * ends the talk, and the flow goes on",
        ),
        Param(
            "record",
            kind="choice",
            default="false",
            choices=("true", "false", "dual"),
            doc="record the conversation from the answer (one file, both parties; dual: one per channel); "
            "it comes first in recordings",
        ),
        Param(
            "whisper",
            doc="an http(s) URL of a flow run on the called party once it answers, before the bridge "
            f"(requested with type whisper; it has {WHISPER_SECONDS} s): running out of actions accepts, "
            "its HANGUP or REJECT refuses (transfer_status rejected); with several numbers, the first "
            "to accept wins",
        ),
        Param(
            "detection",
            choices=("detect", "detect_message_end"),
            template=False,
            doc="run DETECT on the party that answers, before the bridge (and before its whisper, "
            "which sees $detection): the verdict is $transfer.detection and transfer_detection",
        ),
        Param(
            "on_machine",
            default="connect",
            choices=("connect", "hangup"),
            template=False,
            doc="with detection: connect a machine all the same, or hang it up (transfer_status rejected)",
        ),
    )

    def check(self, problems, parser):
        raw = self.params["to"]
        items = raw if isinstance(raw, list) else [raw]
        where = f"{self.path}/params/to"
        if isinstance(raw, list) and not 1 <= len(raw) <= MAX_TARGETS:
            problems.add(where, f"to must list 1 to {MAX_TARGETS} numbers, got {len(raw)}")
        self.targets = []
        self.queue_name = None
        if isinstance(raw, str) and raw.startswith(QUEUE_PREFIX):
            # An agent takes the first caller of one of the account's queues.
            self.queue_name = raw[len(QUEUE_PREFIX) :]
            if not 1 <= len(self.queue_name) <= 200:
                problems.add(where, "queue: needs the name of a queue (at most 200 characters)")
            items = []
        for i, item in enumerate(items):
            path = f"{where}/{i}" if isinstance(raw, list) else where
            if not isinstance(item, str):
                problems.add(path, f"to must hold E.164 numbers, got {type(item).__name__}")
                continue
            try:
                template = templates.compile_template(item, lenient=True)
            except ExpressionError as exc:  # only limits (length) fail a lenient template
                problems.add(path, str(exc))
                continue
            if item.startswith(QUEUE_PREFIX):
                problems.add(path, "a queue: target is the only one")
            elif "${" not in item and not (E164.match(item) or SIP_URI.match(item)):
                problems.add(path, f"to must be an E.164 number such as +13125550100 or a sip: URI, got {item!r}")
            self.targets.append((path, template))
        check_url_param(self, problems, "whisper")
        digits = self.params["send_digits"]
        if digits is not None and not DTMF.match(digits):
            problems.add(f"{self.path}/params/send_digits", "send_digits may hold only 0-9, *, #, A-D and w/W pauses")
        ringback = self.params["ringback"]  # the default is a plain string, a given value a template
        if isinstance(ringback, str) or not ringback.variables:
            text = ringback if isinstance(ringback, str) else ringback.render(lambda name: None)
            if text not in RINGBACKS and http_url_problem(text):
                problems.add(
                    f"{self.path}/params/ringback",
                    f"ringback must be ring, early_media or an http(s) URL, got {text!r}",
                )

    def run(self, ctx):
        if self.queue_name is not None:
            return take_from_queue(ctx, self.queue_name)
        numbers = [self._number(ctx, path, template) for path, template in self.targets]
        caller_id = shown_caller_id(self, ctx)
        ringback = self._ringback(ctx)
        problem = ctx.services.outbound_limit(ctx.state.account_id, len(numbers))
        if problem:
            raise ActionFailed(problem, self.path)
        # The dialled channels' uuids are the child calls' ids.
        child_ids = [str(uuid.uuid4()) for _ in numbers]
        whisper = self._whisper_url(ctx)
        started = utcnow()
        ctx.trace("transfer", {"to": numbers, "caller_id_no": caller_id, "call_ids": child_ids})
        jobs = {
            leg_id: self._whisper_job(ctx, whisper, leg_id, number, caller_id)
            for leg_id, number in zip(child_ids, numbers, strict=True)
            if whisper or self.params["detection"]
        }
        for job in jobs.values():
            job.detect_mode, job.on_machine = self.params["detection"], self.params["on_machine"]
        ctx.services.whispers.update(jobs)
        ctx.services.open_child_calls(
            ctx.state,
            [
                {"id": child_id, "to_no": number, "from_no": caller_id, "start_time": started}
                for child_id, number in zip(child_ids, numbers, strict=True)
            ],
        )
        recording = self._start_recording(ctx)
        try:
            outcome = self._bridge(ctx, numbers, child_ids, caller_id, ringback, screened=bool(jobs))
        finally:
            for child_id in jobs:
                ctx.services.whispers.pop(child_id, None)
        ended = utcnow()
        if recording is not None:
            self._end_recording(ctx, recording, talked=outcome.other_uuid in child_ids)
        status = TRANSFER_STATUS.get(outcome.status, outcome.status)
        winner = outcome.other_uuid if outcome.other_uuid in child_ids else ""
        refused = not winner and not outcome.stopped and any(job.answered for job in jobs.values())
        if refused:
            status = "rejected"  # answered, and the whisper refused
        talk_s = int(outcome.talk_seconds)
        result = {
            "status": status,
            "duration": talk_s,
            "call_id": winner,
            "sip_code": None if refused else outcome.sip_code,
            "to": numbers[child_ids.index(winner)] if winner else "",
        }
        if self.params["detection"]:
            # The verdict on the leg that won, or else on the last one heard.
            heard = [job for job in jobs.values() if job.detection]
            judged = jobs.get(winner) if winner in jobs else (heard[-1] if heard else None)
            result["detection"] = judged.detection if judged else None
            result["detection_detail"] = judged.detection_detail if judged else None
        ctx.state.transfer = result
        children = [
            self._child(child_id, number, caller_id, started, ended, outcome, result, jobs.get(child_id))
            for child_id, number in zip(child_ids, numbers, strict=True)
        ]
        ctx.services.record_child_calls(ctx.state, children)
        ctx.trace("transfer_ended", {**result, "cause": outcome.cause})

    def _bridge(self, ctx, numbers, child_ids, caller_id, ringback, screened: bool):
        bridge = ctx.channel.bridging()
        bridge.on_bridged = lambda leg: ctx.services.child_answered(leg, utcnow()) if leg in child_ids else None
        ctx.start(
            bridge,
            [bridge.target_for(number) for number in numbers],
            ring_timeout_s=self.params["timeout"],
            caller_id=caller_id,
            simultaneous=len(numbers) > 1,
            time_limit_ms=self.params["time_limit"],
            leg_ids=child_ids,
            ringback=ringback,
            send_digits=self.params["send_digits"] or "",
            hangup_on_star=self.params["hangup_on_star"],
            screen_s=WHISPER_SECONDS if screened else 0,
        )
        return bridge.wait()

    def _start_recording(self, ctx):
        """The conversation's recording (while bridged only), or None."""
        choice = self.params["record"]
        if choice == "false":
            return None
        return whole_call.begin(ctx, "transfer", "dual" if choice == "dual" else "mono", bridged_only=True)

    @staticmethod
    def _end_recording(ctx, recording, talked: bool) -> None:
        started, capability = recording
        capability.stop()
        book = ctx.services.recordings
        if not talked:
            book.fail(started.id, "no one answered: nothing was recorded")
            return
        ctx.state.recordings.insert(0, book.finish(started.id, ended_by="hangup"))
        ctx.save_progress()

    def _whisper_url(self, ctx) -> str:
        url = self.render(ctx, "whisper") or ""
        if url and (problem := http_url_problem(url)):
            raise ActionFailed(problem, self._at("whisper"))
        return url

    @staticmethod
    def _whisper_job(ctx, url: str, leg_id: str, number: str, caller_id: str) -> WhisperJob:
        """The fields the whisper's callbacks carry: the dialled leg's, as a call of the caller's account."""
        parent = ctx.state
        state = CallState(
            call_id=leg_id,
            direction="outbound",
            caller_no=number,
            api_no=caller_id,
            app_id=parent.app_id,
            subaccount_id=parent.subaccount_id,
            account_id=parent.account_id,
            session_data=dict(parent.session_data or {}),
            custom_data=parent.custom_data,
            parent_call_id=parent.call_id,
            errors=parent.errors,  # the whisper's errors are the caller's call's, on its record
        )
        return WhisperJob(url=url, state=state, caller_call_id=parent.call_id)

    def _number(self, ctx, path: str, template) -> str:
        try:
            number = template.render(ctx.lookup)
        except templates.TemplateError as exc:
            raise ActionFailed(exc.message, path) from None
        if SIP_URI.match(number):
            host = number.split("@", 1)[1].split(":", 1)[0].lower()
            if host not in ctx.services.sip_transfer_domains:
                raise ActionFailed(f"{host} is not a SIP host this platform may transfer to", path)
            return number
        if not E164.match(number):
            raise ActionFailed(f"to must be an E.164 number such as +13125550100 or a sip: URI, got {number!r}", path)
        return number

    def _ringback(self, ctx):
        """The ringback as a prompt (None: the far end's early media)."""
        choice = self.render(ctx, "ringback")
        if choice == "ring":
            return RINGING
        if choice == "early_media":
            return None
        if error := http_url_problem(choice or ""):
            raise ActionFailed(f"ringback must be ring, early_media or an http(s) URL: {error}", self._at("ringback"))
        return AudioFile(ctx.audio.fetch(choice), source=choice)

    def _at(self, name: str) -> str:
        return f"{self.path}/params/{name}"

    @staticmethod
    def _child(child_id, number, caller_id, started, ended, outcome, result, job) -> dict:
        """One dialled leg's record: its own end where the switch told it (cause, SIP code, times)."""
        leg = outcome.legs.get(child_id)
        won = child_id == result["call_id"]
        if won:
            status, cause, sip_code = "completed", (leg.cause if leg else outcome.cause), 200
        elif job is not None and job.answered and not job.accepted:
            status, cause, sip_code = "rejected", "CALL_REJECTED", None  # its whisper refused
        elif leg is not None:
            # Answered but not bridged: another leg won the race first.
            status = "canceled" if leg.status == "completed" else TRANSFER_STATUS.get(leg.status, leg.status)
            cause, sip_code = leg.cause, leg.sip_code
        elif result["call_id"]:
            status, cause, sip_code = "canceled", "LOSE_RACE", None  # another leg answered first
        else:
            status, cause, sip_code = result["status"], outcome.cause, result["sip_code"]
        return {
            "id": child_id,
            "to_no": number,
            "from_no": caller_id,
            "status": status,
            "hangup_cause": cause or None,
            "sip_code": sip_code,
            "start_time": started,
            "answer_time": leg.answered_at if leg else None,
            "end_time": (leg.ended_at if leg else None) or ended,
            "talk_seconds": outcome.talk_seconds if won else 0.0,
        }
