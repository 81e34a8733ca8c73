"""Answering-machine detection for DETECT: see ``detector`` for how it decides."""

from .detector import (
    LIVE_PERSON,
    MACHINE,
    UNKNOWN,
    AnsweringMachineDetector,
    Cues,
    DetectionResult,
)
from .settings import MODES, DetectionParams, DetectorSettings
from .signal import FRAME_BYTES, FRAME_MS, RATE


def detect(
    pcm: bytes, params: DetectionParams | None = None, settings: DetectorSettings | None = None
) -> DetectionResult:
    """The verdict on a whole recording of 8 kHz signed 16-bit mono PCM."""
    detector = AnsweringMachineDetector(params, settings)
    return detector.feed(pcm) or detector.finish()


__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "LIVE_PERSON",
    "MACHINE",
    "MODES",
    "RATE",
    "UNKNOWN",
    "AnsweringMachineDetector",
    "Cues",
    "DetectionParams",
    "DetectionResult",
    "DetectorSettings",
    "detect",
]
