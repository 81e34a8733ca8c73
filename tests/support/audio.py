"""G.711 u-law decoding and loudness, for the tests' RTP receiver and the SIP benchmark."""

from __future__ import annotations

import math


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
