"""G.711 u-law decoding and loudness, for the tests' RTP receiver and the SIP benchmark; tones in WAV files."""

from __future__ import annotations

import io
import itertools
import math
import wave


def _ulaw_sample(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -sample if sign else sample


ULAW_TABLE = [_ulaw_sample(b) for b in range(256)]


def ulaw_decode(data: bytes) -> list[int]:
    """16-bit linear samples of G.711 u-law bytes."""
    table = ULAW_TABLE
    return [table[b] for b in data]


def rms(samples: list[int]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


# Squares of the samples: loudness of a payload without decoding it first.
ULAW_SQUARES = [s * s for s in ULAW_TABLE]


def pcmu_rms(payload: bytes) -> float:
    """RMS of a PCMU payload, in 16-bit linear units."""
    if not payload:
        return 0.0
    squares = ULAW_SQUARES
    return math.sqrt(sum(squares[b] for b in payload) / len(payload))


def wav_tones(wav_bytes: bytes, loud: int = 1000) -> tuple[list[tuple[float, float]], float]:
    """Per channel of a 16-bit WAV: (seconds of loud 20 ms frames, their frequency
    by zero crossings); and the file's length in seconds."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        assert w.getsampwidth() == 2
        rate, channels = w.getframerate(), w.getnchannels()
        raw = w.readframes(w.getnframes())
        total = w.getnframes() / rate
    values = [int.from_bytes(raw[i : i + 2], "little", signed=True) for i in range(0, len(raw), 2)]
    found = []
    for channel in range(channels):
        samples = values[channel::channels]
        step = rate // 50
        kept: list[int] = []
        for i in range(0, len(samples), step):
            frame = samples[i : i + step]
            if frame and sum(abs(s) for s in frame) / len(frame) > loud:
                kept.extend(frame)
        crossings = sum(1 for a, b in itertools.pairwise(kept) if (a < 0) != (b < 0))
        found.append((len(kept) / rate, crossings / 2 / (len(kept) / rate) if kept else 0.0))
    return found, total
