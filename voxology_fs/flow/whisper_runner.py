"""The whisper flow on a TRANSFER's answered leg (see :mod:`.whisper`)."""

from __future__ import annotations

import logging

from ..callbacks import CallbackTarget
from ..channel import CallEnded, Channel
from ..detection import DetectionParams
from ..timeutil import utcnow
from .actions.detect import detect_answer
from .errors import FlowValidationError
from .parser import action_types
from .runner import DONE, CallFlowRunner, FlowContext
from .services import Services
from .whisper import WhisperJob

log = logging.getLogger(__name__)

# Actions that would take the leg elsewhere while its originate waits on it.
NOT_IN_A_WHISPER = frozenset({"TRANSFER", "DIAL", "CONFERENCE", "QUEUE"})


class WhisperContext(FlowContext):
    """The leg has no record yet (it is written when the TRANSFER ends): its trace goes on the caller's call."""

    def __init__(self, channel: Channel, job: WhisperJob, services: Services):
        super().__init__(channel, job.state, services)
        self.caller_call_id = job.caller_call_id

    def trace(self, kind: str, data: dict | None = None) -> None:
        self.services.trace(self.caller_call_id, f"whisper_{kind}"[:32], {**(data or {}), "leg": self.state.call_id})


class WhisperRunner(CallFlowRunner):
    """The whisper flow on an answered leg; accepting lets the socket go with the leg up."""

    def __init__(self, channel: Channel, job: WhisperJob, services: Services):
        super().__init__(channel, job.state, services, CallbackTarget(job.url, "POST", "application/json"))
        self.job = job
        self.ctx = WhisperContext(channel, job, services)

    def _request(self, kind, target):
        actions = super()._request(kind, target)
        refused = [
            (path, f"{kind_} cannot run in a whisper")
            for kind_, path in action_types(actions)
            if kind_ in NOT_IN_A_WHISPER
        ]
        if refused:
            raise FlowValidationError(refused)
        return actions

    def run(self) -> None:
        self.job.answered = True
        self.state.answer_time = utcnow()
        try:
            if self.job.detect_mode and not self._detected():
                return
            if not self.job.url:
                self._out_of_actions()
                return
            program = self.fetch("whisper")
            while program is not None and program is not DONE:
                if not len(program):
                    program = self._out_of_actions()
                    continue
                program = self._run_program(program)
        except CallEnded:
            self.ctx.stop_running("hangup")
        except Exception:  # a bug refuses this leg, never more
            log.exception("whisper on %s: unexpected error", self.state.call_id)
            self.ctx.stop_running("error")
        finally:
            self.finish()

    def _detected(self) -> bool:
        """Listen to the leg for the detector's verdict; False when it refuses the leg."""
        detect_answer(self.ctx, DetectionParams(mode=self.job.detect_mode or "detect"))
        self.job.detection, self.job.detection_detail = self.state.detection, self.state.detection_detail
        if self.state.detection == "machine" and self.job.on_machine == "hangup":
            self.ctx.trace("refused", {"detection": "machine"})
            return False
        return True

    def _ran_to_the_end(self):
        """No continue_call: a whisper flow that ran to its end accepts (a REDIRECT still goes on)."""
        return self._out_of_actions()

    def _out_of_actions(self):
        self.job.accepted = self.channel.is_up
        self.ctx.trace("accepted", {})
        return DONE

    def finish(self) -> None:
        """Accepted: let the socket go, the leg up, for the bridge; refused: hang it up."""
        try:
            if not self.job.accepted and self.channel.is_up:
                self.channel.hangup()
        except CallEnded:
            pass
        try:
            self.channel.close()
        except Exception:  # the socket may be gone already
            log.debug("close failed", exc_info=True)
