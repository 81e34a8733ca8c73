"""The detector's parameters (the DETECT action's) and its finer thresholds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MODES = ("detect", "detect_message_end")


@dataclass(frozen=True)
class DetectionParams:
    """What a call flow may set, in ms, with Twilio's defaults."""

    mode: str = "detect"
    timeout: int = 30000  # give up (unknown) after this much audio
    speech_threshold: int = 2400  # a first utterance longer than this is a machine
    speech_end_threshold: int = 1200  # silence that ends an utterance (and a greeting)
    silence_timeout: int = 5000  # no speech at all for this long: unknown

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}")
        for name in ("timeout", "speech_threshold", "speech_end_threshold", "silence_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}: must be a positive whole number of ms")


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds below the action's params; the defaults were tuned on the set's tune half."""

    # voice activity: a frame is active this many dB above the adaptive noise floor
    activity_db: float = 9.0
    min_level_dbfs: float = -55.0  # and never below this (line hiss, u-law idle codes)
    floor_rise_db_per_s: float = 1.5  # the floor follows louder noise slowly ...
    floor_fall: float = 0.3  # ... and quieter frames fast (share of the gap per frame)
    word_gap_ms: int = 100  # a shorter gap stays inside a word
    min_utterance_ms: int = 100  # shorter activity is a click, not speech
    # speech against steady sound: mean frame-to-frame change of level over an utterance
    speech_flux_db: float = 1.5
    max_tonal_share: float = 0.5  # an utterance mostly of tonal frames is a tone, not speech
    # more words than this in the first utterance means a machine (0: not used)
    max_words: int = 0
    # tones: the share of a frame's energy at one frequency that makes it tonal
    tone_purity: float = 0.7
    beep_min_ms: int = 160  # a 200 ms beep fills 9 whole 20 ms frames when not aligned
    beep_min_hz: float = 350.0
    beep_max_hz: float = 2100.0
    beep_freq_tolerance: float = 0.04  # the frequency of a beep stays within this share


def detector_settings_from(pairs: tuple[str, ...] | list[str]) -> DetectorSettings:
    """DetectorSettings with the operator's ``name=value`` overrides (the
    ``detector_thresholds`` setting); raises ValueError naming a bad one."""
    known = {f.name: f for f in dataclasses.fields(DetectorSettings)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ValueError(f"detector_thresholds: {pair!r} is not name=value with one of {', '.join(known)}")
        kind = int if known[name].type in (int, "int") else float
        try:
            changes[name] = kind(raw.strip())
        except ValueError:
            raise ValueError(f"detector_thresholds: {name} must be a number, got {raw.strip()!r}") from None
    return dataclasses.replace(DetectorSettings(), **changes)
