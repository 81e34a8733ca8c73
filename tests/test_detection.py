"""The answering-machine detector: its parts, its modes, and its accuracy on the labelled set."""

from __future__ import annotations

import array
import math
import random

import pytest

from tests.support.amd_set import greetings, read_wav_pcm16
from voxology_fs.detection import (
    FRAME_BYTES,
    AnsweringMachineDetector,
    DetectionParams,
    DetectorSettings,
    detect,
    signal,
)

RATE = 8000


def pcm(samples) -> bytes:
    return array.array("h", (max(-32767, min(32767, round(v))) for v in samples)).tobytes()


def silence(ms: int) -> list[float]:
    return [0.0] * (RATE * ms // 1000)


def sine(ms: int, hz: float, amplitude: float = 8000.0) -> list[float]:
    return [amplitude * math.sin(2 * math.pi * hz * i / RATE) for i in range(RATE * ms // 1000)]


def noise(ms: int, amplitude: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, amplitude) for _ in range(RATE * ms // 1000)]


def babble(ms: int, seed: int = 2) -> list[float]:
    """Speech-like sound: noise in syllables of changing loudness with short gaps."""
    rng = random.Random(seed)
    out: list[float] = []
    while len(out) < RATE * ms // 1000:
        syllable = rng.randrange(120, 260)
        level = rng.uniform(1500.0, 9000.0)
        n = RATE * syllable // 1000
        out += [level * math.sin(math.pi * i / n) * rng.gauss(0.0, 1.0) for i in range(n)]
        out += [rng.gauss(0.0, 20.0) for _ in range(RATE * rng.randrange(30, 90) // 1000)]
    return out[: RATE * ms // 1000]


def hiss(ms: int) -> list[float]:
    return noise(ms, 20.0, seed=9)


def line_noise(ms: int) -> list[float]:
    """A noisy line: above the level a signal needs (about -44 dBFS)."""
    return noise(ms, 200.0, seed=11)


# -- the parts ---------------------------------------------------------------------------------


def test_level_of_full_scale_sine_and_of_silence():
    assert signal.level_dbfs(array.array("h", [0] * 160)) == signal.SILENT_DBFS
    level = signal.level_dbfs(array.array("h", (round(v) for v in sine(20, 1000, 32767))))
    assert -3.2 < level < -2.8  # a sine's power is half its peak's


def test_noise_floor_falls_fast_and_rises_slowly():
    floor = signal.NoiseFloor(rise_db_per_frame=0.03, fall=0.3)
    floor.update(-60.0)
    for _ in range(50):  # a second of much louder sound
        floor.update(-20.0)
    assert floor.level == pytest.approx(-58.5)
    for _ in range(20):
        floor.update(-70.0)
    assert floor.level < -69.0


@pytest.mark.parametrize("hz", [400, 697, 1000, 1400, 2000])
def test_tone_purity_and_frequency_of_a_sine(hz):
    purity, found = signal.tone(array.array("h", (round(v) for v in sine(20, hz))), 150, 3400)
    assert purity > 0.9
    assert found == pytest.approx(hz, rel=0.02)


def test_noise_and_speech_like_sound_are_not_tones():
    for sound in (noise(20, 3000.0), babble(200)[800:960]):
        purity, _ = signal.tone(array.array("h", (round(v) for v in sound)), 150, 3400)
        assert purity < 0.5


# -- deciding ----------------------------------------------------------------------------------


def test_short_answer_then_silence_is_a_person_at_the_speech_end_threshold():
    # two words: "Hello?" ... "Hello?" closer together than the speech end threshold
    result = detect(pcm(hiss(400) + babble(400) + hiss(300) + babble(400, seed=3) + hiss(3000)))
    assert (result.detection, result.reason) == ("live_person", "speech_end")
    cues = result.cues
    assert 380 <= cues.initial_silence_ms <= 460
    assert 1040 <= cues.first_utterance_ms <= 1120
    assert cues.words == 2
    assert cues.silence_after_ms == 1200
    assert result.decided_ms == cues.initial_silence_ms + cues.first_utterance_ms + 1200


def test_long_first_utterance_is_a_machine_as_soon_as_it_passes_the_threshold():
    result = detect(pcm(hiss(300) + babble(6000) + hiss(2000)))
    assert (result.detection, result.detail, result.reason) == ("machine", "machine_start", "speech_threshold")
    assert result.cues.first_utterance_ms == pytest.approx(2400, abs=20)
    assert result.decided_ms < 300 + 2400 + 100


def test_params_move_the_thresholds():
    audio = pcm(hiss(300) + babble(1500) + hiss(3000))
    assert detect(audio).detection == "live_person"
    assert detect(audio, DetectionParams(speech_threshold=1000)).detection == "machine"
    late = detect(audio, DetectionParams(speech_end_threshold=2000))
    assert late.detection == "live_person" and late.decided_ms > 300 + 1400 + 2000


def test_silence_and_steady_sound_are_unknown_at_the_silence_timeout():
    for sound in (silence(6000), hiss(6000), sine(6000, 440), hiss(1000) + noise(5000, 4000.0)):
        result = detect(pcm(sound))
        assert (result.detection, result.reason, result.decided_ms) == ("unknown", "silence_timeout", 5000)


def test_a_steady_noise_burst_is_not_a_greeting():
    # much louder than the floor, longer than speech_threshold, but the same level throughout
    for line in (hiss, line_noise):
        result = detect(pcm(line(500) + noise(3500, 5000.0) + line(2000)))
        assert result.detection == "unknown"
    # Level change is what tells it from speech: without it, the burst over a noisy line is a greeting.
    sound = pcm(line_noise(500) + noise(3500, 5000.0) + line_noise(2000))
    assert detect(sound, settings=DetectorSettings(speech_flux_db=0.0)).detection == "machine"


def test_the_floor_starts_at_the_first_signal_not_at_digital_silence():
    # PCMU's idle code decodes to 0: a second of it, then a short answer over a noisy line.
    voice = silence(300) + babble(800) + silence(2500)
    answer = [v + n for v, n in zip(voice, line_noise(len(voice) * 1000 // RATE), strict=True)]
    assert detect(pcm(answer)).detection == "live_person"
    assert detect(pcm(silence(1000) + answer)).detection == "live_person"


def test_a_beep_after_speech_is_a_machine_and_a_tone_alone_is_not():
    result = detect(pcm(hiss(300) + babble(1200) + hiss(300) + sine(500, 1000) + hiss(2000)))
    assert (result.detection, result.reason) == ("machine", "beep")
    assert result.cues.beep_hz == pytest.approx(1000, rel=0.02)
    assert result.decided_ms == pytest.approx(300 + 1200 + 300 + 160, abs=40)
    assert detect(pcm(hiss(300) + sine(500, 1000) + hiss(5000))).detection == "unknown"


def test_a_tone_too_short_or_out_of_range_is_no_beep():
    for tone in (sine(100, 1000), sine(500, 3000)):
        result = detect(pcm(hiss(300) + babble(1200) + hiss(300) + tone + hiss(2000)))
        assert result.detection == "live_person"


def test_timeout_gives_unknown():
    result = detect(pcm(hiss(3000)), DetectionParams(timeout=2000))
    assert (result.detection, result.reason, result.decided_ms) == ("unknown", "timeout", 2000)


def test_end_of_audio_before_a_verdict_is_unknown():
    result = detect(pcm(hiss(1000)))
    assert (result.detection, result.reason, result.decided_ms) == ("unknown", "audio_ended", 1000)


def test_bad_params_name_the_field():
    with pytest.raises(ValueError, match=r"^mode:"):
        DetectionParams(mode="guess")
    with pytest.raises(ValueError, match=r"^speech_threshold:"):
        DetectionParams(speech_threshold=0)
    with pytest.raises(ValueError, match=r"^timeout:"):
        DetectionParams(timeout=True)


# -- detect_message_end ------------------------------------------------------------------------

END = DetectionParams(mode="detect_message_end")


def test_message_end_waits_for_the_end_of_the_beep():
    result = detect(pcm(hiss(300) + babble(4000) + hiss(500) + sine(600, 850) + hiss(2000)), END)
    assert (result.detection, result.detail, result.reason) == ("machine", "machine_end_beep", "speech_threshold")
    assert result.decided_ms == pytest.approx(300 + 4000 + 500 + 600 + 20, abs=40)
    assert result.cues.beep_ms == pytest.approx(600, abs=40)
    assert result.cues.greeting_ms == pytest.approx(4000, abs=100)


def test_message_end_after_the_greeting_s_silence():
    result = detect(pcm(hiss(300) + babble(4000) + hiss(3000)), END)
    assert (result.detection, result.detail) == ("machine", "machine_end_silence")
    assert result.decided_ms == pytest.approx(300 + 4000 + 1200, abs=100)


def test_message_end_of_a_greeting_that_never_ends():
    result = detect(pcm(babble(5000)), DetectionParams(mode="detect_message_end", timeout=4000))
    assert (result.detection, result.detail, result.reason) == ("machine", "machine_end_other", "timeout")
    assert detect(pcm(babble(3500)), END).detail == "machine_end_other"


def test_message_end_of_a_short_greeting_with_a_beep():
    result = detect(pcm(hiss(300) + babble(1200) + hiss(300) + sine(400, 1000) + hiss(2000)), END)
    assert (result.detection, result.detail, result.reason) == ("machine", "machine_end_beep", "beep")


def test_message_end_leaves_people_and_silence_alone():
    assert detect(pcm(hiss(300) + babble(700) + hiss(3000)), END).detection == "live_person"
    assert detect(pcm(silence(6000)), END).detection == "unknown"


# -- streaming ---------------------------------------------------------------------------------


def _fed(audio: bytes, chunk: int, params=None):
    detector = AnsweringMachineDetector(params)
    for offset in range(0, len(audio), chunk):
        if detector.feed(audio[offset : offset + chunk]) is not None:
            break
    return detector.finish()


@pytest.mark.parametrize("name", ["human-01.wav", "human-03.wav", "machine-01.wav", "machine-02.wav", "unknown-05.wav"])
@pytest.mark.parametrize("mode", ["detect", "detect_message_end"])
def test_frame_by_frame_or_in_odd_pieces_gives_the_same_verdict(name, mode):
    audio = next(g for g in greetings() if g.file == name).pcm()
    params = DetectionParams(mode=mode)
    whole = detect(audio, params)
    for chunk in (FRAME_BYTES, 7, 1234):
        assert _fed(audio, chunk, params) == whole


def test_the_verdict_stays_once_given():
    detector = AnsweringMachineDetector()
    first = detector.feed(pcm(hiss(300) + babble(700) + hiss(1500)))
    assert first is not None and first.detection == "live_person"
    assert detector.feed(pcm(babble(5000))) is first
    assert detector.finish() is first


def test_wav_reader_refuses_what_it_cannot_read(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(ValueError, match="not a WAV"):
        read_wav_pcm16(str(bad))


# -- accuracy on the labelled set ---------------------------------------------------------------


def _recalls(split: str, mode: str) -> dict[str, float]:
    hits: dict[str, list[bool]] = {}
    for greeting in greetings(split):
        result = detect(greeting.pcm(), DetectionParams(mode=mode))
        hits.setdefault(greeting.cls, []).append(result.detection == greeting.expected)
    return {cls: sum(ok) / len(ok) for cls, ok in hits.items()}


def test_the_set_is_big_enough_and_split_in_halves():
    rows = greetings()
    for cls in ("human", "machine", "unknown"):
        of_class = [g for g in rows if g.cls == cls]
        assert len(of_class) >= 30
        assert abs(sum(g.split == "test" for g in of_class) * 2 - len(of_class)) <= 1


@pytest.mark.parametrize("mode", ["detect", "detect_message_end"])
def test_recall_on_the_test_half(mode):
    recall = _recalls("test", mode)
    assert recall["human"] >= 0.9, recall
    assert recall["machine"] >= 0.85, recall
    assert recall["unknown"] >= 0.85, recall


def test_message_end_detail_on_the_test_half():
    right = total = 0
    for greeting in greetings("test"):
        if greeting.cls != "machine":
            continue
        result = detect(greeting.pcm(), END)
        beep = " beep " in f" {greeting.notes} " and "no beep" not in greeting.notes
        total += 1
        right += result.detail == ("machine_end_beep" if beep else "machine_end_silence")
    assert right / total >= 0.85
