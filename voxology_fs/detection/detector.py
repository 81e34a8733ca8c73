"""A streaming answering-machine detector: cadence cues plus the beep.

Fed the answered call's audio as 8 kHz signed 16-bit mono PCM, it decides:

- ``live_person``: a first utterance shorter than ``speech_threshold``
  followed by ``speech_end_threshold`` of silence ("Hello?" ... );
- ``machine``: a first utterance longer than ``speech_threshold`` (a greeting),
  more words in it than ``max_words`` when that is set, or a beep after speech;
- ``unknown``: no speech within ``silence_timeout`` (silence, noise, tones,
  music), or nothing decided within ``timeout``.

Speech is activity above an adaptive noise floor whose level keeps changing
from frame to frame; steady sound (a tone, a chord, hum, stationary noise)
and mostly tonal sound do not count.  In ``detect_message_end`` a machine's
verdict waits for the end of the greeting: a beep (``machine_end_beep``, at
the end of the tone), ``speech_end_threshold`` of silence
(``machine_end_silence``), or the timeout or end of audio
(``machine_end_other``).  It knows nothing of words: a person who answers
with a long sentence reads as a machine, a greeting as short as "Hello?"
without a beep as a person.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from . import signal
from .settings import DetectionParams, DetectorSettings

LIVE_PERSON = "live_person"
MACHINE = "machine"
UNKNOWN = "unknown"


@dataclass
class Cues:
    """What the detector measured, in ms of audio."""

    initial_silence_ms: int | None = None  # before the first speech
    first_utterance_ms: int | None = None
    words: int = 0  # bursts of speech in the first utterance
    silence_after_ms: int | None = None  # after the first utterance, when it ended
    speech_ms: int = 0  # all speech heard
    greeting_ms: int | None = None  # a machine's, first speech to last
    beep_ms: int | None = None
    beep_hz: float | None = None
    noise_floor_dbfs: float | None = None


@dataclass
class DetectionResult:
    detection: str  # live_person, machine or unknown
    detail: str | None  # machine_start, or machine_end_* in detect_message_end
    reason: str  # the cue that decided
    decided_ms: int  # audio consumed when it decided
    cues: Cues = field(default_factory=Cues)


@dataclass
class _Utterance:
    start: int
    end: int
    words: int = 1
    frames: int = 0  # speech frames in it
    tonal: int = 0  # tonal frames within its span
    levels: list[float] = field(default_factory=list)  # every frame from start, clipped

    def length(self) -> int:
        return self.end - self.start

    def flux(self) -> float:
        span = self.levels[: max(1, self.length() // signal.FRAME_MS)]
        if len(span) < 2:
            return 0.0
        return sum(abs(b - a) for a, b in itertools.pairwise(span)) / (len(span) - 1)


class AnsweringMachineDetector:
    """Feed it PCM (any length; it works in 20 ms frames); ``feed`` returns the
    result once decided, and ``finish`` when the audio ends."""

    def __init__(self, params: DetectionParams | None = None, settings: DetectorSettings | None = None) -> None:
        self.params = params or DetectionParams()
        self.settings = s = settings or DetectorSettings()
        self.floor = signal.NoiseFloor(s.floor_rise_db_per_s * signal.FRAME_MS / 1000, s.floor_fall)
        self.elapsed = 0
        self.result: DetectionResult | None = None
        self.cues = Cues()
        self._pending = b""
        self._utterance: _Utterance | None = None
        self._speech_heard = False
        self._machine_at: int | None = None  # when the machine verdict came (message-end mode)
        self._machine_reason = ""
        self._last_speech = 0
        self._tone_frames = 0
        self._tone_hz = 0.0
        self._tone_in_range = False

    # -- input ---------------------------------------------------------------------------

    def feed(self, pcm: bytes) -> DetectionResult | None:
        data = self._pending + pcm
        size = signal.FRAME_BYTES
        whole = len(data) - len(data) % size
        for offset in range(0, whole, size):
            if self.result is not None:
                break
            self._frame(data[offset : offset + size])
        self._pending = b"" if self.result is not None else data[whole:]
        return self.result

    def finish(self) -> DetectionResult:
        """The audio ended: the verdict so far."""
        if self.result is None:
            if self._machine_at is not None:
                self._machine_end("machine_end_other", "audio_ended")
            else:
                self._decide(UNKNOWN, None, "audio_ended")
        assert self.result is not None
        return self.result

    # -- one frame -----------------------------------------------------------------------

    def _frame(self, frame: bytes) -> None:
        s = self.settings
        t = self.elapsed
        self.elapsed += signal.FRAME_MS
        samples = signal.samples_of(frame)
        level = signal.level_dbfs(samples)
        floor = self.floor.level if self.floor.level is not None else level
        # The floor starts at the first frame with a signal: the digital silence
        # before an answer (PCMU's idle code, a switch's filler) is no line's
        # noise, and a floor that low would take a minute to rise to it.
        if self.floor.level is not None or level > s.min_level_dbfs:
            self.floor.update(level)
        active = level > floor + s.activity_db and level > s.min_level_dbfs
        tonal = False
        if active:
            purity, hz = signal.tone(samples, 150.0, 3400.0)
            tonal = purity >= s.tone_purity
            if tonal:
                self._track_tone(hz)
        beep_ended = False
        if not tonal:
            if self._beep_length() >= s.beep_min_ms:
                beep_ended = True
                self._note_beep()
            self._tone_frames = 0
        speech = active and not tonal
        utterance = self._utterance
        if speech:
            if utterance is None:
                utterance = self._utterance = _Utterance(start=t, end=t)
            elif t - utterance.end >= s.word_gap_ms:
                utterance.words += 1
            utterance.end = t + signal.FRAME_MS
            utterance.frames += 1
        if utterance is not None:
            utterance.levels.append(max(level, s.min_level_dbfs))
            utterance.tonal += tonal
        if self._machine_at is not None:
            self._after_machine(speech, tonal, beep_ended)
        else:
            self._before_verdict(tonal, beep_ended)
        if self.result is None and self.elapsed >= self.params.timeout:
            if self._machine_at is not None:
                self._machine_end("machine_end_other", "timeout")
            else:
                self._decide(UNKNOWN, None, "timeout")

    def _track_tone(self, hz: float) -> None:
        tolerance = self.settings.beep_freq_tolerance
        if self._tone_frames and abs(hz - self._tone_hz) <= tolerance * self._tone_hz:
            self._tone_frames += 1
            self._tone_hz += (hz - self._tone_hz) / self._tone_frames
        else:
            self._tone_frames, self._tone_hz = 1, hz

    def _note_beep(self) -> None:
        self.cues.beep_ms, self.cues.beep_hz = self._beep_length(), round(self._tone_hz, 1)

    def _beep_length(self) -> int:
        s = self.settings
        if not s.beep_min_hz <= self._tone_hz <= s.beep_max_hz:
            return 0
        return self._tone_frames * signal.FRAME_MS

    def _speech_like(self, utterance: _Utterance) -> bool:
        s = self.settings
        span = max(1, utterance.length() // signal.FRAME_MS)
        return (
            utterance.frames * signal.FRAME_MS >= s.min_utterance_ms
            and utterance.flux() >= s.speech_flux_db
            and utterance.tonal <= s.max_tonal_share * span
        )

    def _before_verdict(self, tonal: bool, beep_ended: bool) -> None:
        p, s = self.params, self.settings
        utterance = self._utterance
        now = self.elapsed
        heard = self._speech_heard or (utterance is not None and self._speech_like(utterance))
        if heard and p.mode == "detect" and self._beep_length() >= s.beep_min_ms:
            self._note_utterance()
            self._note_beep()
            self._decide(MACHINE, "machine_start", "beep")
            return
        if heard and beep_ended and p.mode == "detect_message_end":
            self._note_utterance()
            self._machine_at, self._machine_reason = now, "beep"
            self._machine_end("machine_end_beep", "beep")
            return
        if utterance is not None:
            like = self._speech_like(utterance)
            if like and utterance.length() >= p.speech_threshold:
                self._note_utterance()
                self._machine(now, "speech_threshold")
                return
            if like and s.max_words and utterance.words > s.max_words:
                self._note_utterance()
                self._machine(now, "max_words")
                return
            gap = now - utterance.end
            if gap >= p.speech_end_threshold and not tonal:
                if like:
                    self._note_utterance(gap)
                    self._decide(LIVE_PERSON, None, "speech_end")
                    return
                self._utterance = utterance = None  # steady sound: not speech
        # speech that began just before the silence timeout gets its chance to finish
        if (
            not self._speech_heard
            and now >= p.silence_timeout
            and (utterance is None or not self._speech_like(utterance))
        ):
            self._decide(UNKNOWN, None, "silence_timeout")

    def _note_utterance(self, gap: int | None = None) -> None:
        utterance = self._utterance
        if utterance is None or self.cues.first_utterance_ms is not None:
            return
        self._speech_heard = True
        self.cues.initial_silence_ms = utterance.start
        self.cues.first_utterance_ms = utterance.length()
        self.cues.words = utterance.words
        self.cues.silence_after_ms = gap
        self.cues.speech_ms = utterance.frames * signal.FRAME_MS
        self._last_speech = utterance.end

    def _machine(self, now: int, reason: str) -> None:
        if self.params.mode == "detect":
            self._decide(MACHINE, "machine_start", reason)
        else:
            self._machine_at, self._machine_reason = now, reason

    def _after_machine(self, speech: bool, tonal: bool, beep_ended: bool) -> None:
        if speech:
            self._last_speech = self.elapsed
            self.cues.speech_ms += signal.FRAME_MS
        if beep_ended:
            self._machine_end("machine_end_beep", self._machine_reason)
        elif not tonal and self.elapsed - self._last_speech >= self.params.speech_end_threshold:
            self._machine_end("machine_end_silence", self._machine_reason)

    def _machine_end(self, detail: str, reason: str) -> None:
        self._decide(MACHINE, detail, reason)

    def _decide(self, detection: str, detail: str | None, reason: str) -> None:
        cues = self.cues
        cues.noise_floor_dbfs = self.floor.level
        if cues.initial_silence_ms is not None and detection == MACHINE:
            cues.greeting_ms = self._last_speech - cues.initial_silence_ms
        self.result = DetectionResult(detection, detail, reason, self.elapsed, cues)
