"""DETECT: did a person or a machine answer?

The call's audio goes to the answering-machine detector
(:mod:`voxology_fs.detection`) as it comes; the flow goes on once it has a
verdict, with ``$detection`` (live_person, machine, unknown) and, for
``detect_message_end``, ``$detectionDetail`` (machine_end_beep,
machine_end_silence, machine_end_other), in the next callback request and
the call's record too.
"""

from __future__ import annotations

import math

from ...detection import AnsweringMachineDetector, DetectionParams
from .base import Action, Param, register

# Audio past the timeout is not listened to; a margin lets the last frames in.
MARGIN_S = 2


@register
class Detect(Action):
    """Decide whether a person or a machine answered; the flow waits for the verdict."""

    type = "DETECT"
    needs_media = True
    params_spec = (
        Param(
            "mode",
            default="detect",
            choices=("detect", "detect_message_end"),
            template=False,
            doc="detect: decide as soon as possible; detect_message_end: for a machine, wait for its "
            "beep or the silence after its greeting",
        ),
        Param("timeout", "integer", default=30000, minimum=2000, maximum=120000, unit="ms", doc="the longest wait"),
        Param(
            "speech_threshold",
            "integer",
            default=2400,
            minimum=500,
            maximum=10000,
            unit="ms",
            doc="a first utterance longer than this is a machine",
        ),
        Param(
            "speech_end_threshold",
            "integer",
            default=1200,
            minimum=300,
            maximum=5000,
            unit="ms",
            doc="the silence that ends an utterance",
        ),
        Param(
            "silence_timeout",
            "integer",
            default=5000,
            minimum=1000,
            maximum=60000,
            unit="ms",
            doc="no speech for this long: unknown",
        ),
    )

    def run(self, ctx):
        detect_answer(
            ctx,
            DetectionParams(
                mode=self.params["mode"],
                timeout=self.params["timeout"],
                speech_threshold=self.params["speech_threshold"],
                speech_end_threshold=self.params["speech_end_threshold"],
                silence_timeout=self.params["silence_timeout"],
            ),
        )


def detect_answer(ctx, params: DetectionParams) -> None:
    """Listen to the answered call until the detector decides; the verdict goes on the call's state."""
    ctx.channel.ensure_answered()
    detector = AnsweringMachineDetector(params, ctx.services.detector_settings)
    path = ctx.services.recordings.listening_path(ctx.state.call_id)
    ctx.channel.listen(path, math.ceil(params.timeout / 1000) + MARGIN_S, lambda pcm: detector.feed(pcm) is not None)
    result = detector.result or detector.finish()
    ctx.state.detection = result.detection
    ctx.state.detection_detail = result.detail if params.mode == "detect_message_end" else None
    ctx.trace(
        "detect",
        {"detection": result.detection, "detail": result.detail, "reason": result.reason, "ms": result.decided_ms},
    )
    ctx.save_progress()
