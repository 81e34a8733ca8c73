"""Per-frame measures of 8 kHz 16-bit audio: level, noise floor, and tone purity.

Pure Python on purpose: a 20 ms frame costs a sum of squares, a count of
zero crossings and, only for frames above the noise floor, seven Goertzel
filters (12.5 Hz apart) around the frequency that the zero crossings suggest (see
``scripts/bench_detection.py`` for the CPU per second of audio).
"""

from __future__ import annotations

import array
import itertools
import math
import sys
from operator import mul

RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
SILENT_DBFS = -100.0
_FULL_SCALE = 32768.0 * 32768.0


def samples_of(frame: bytes) -> array.array:
    """Signed 16-bit little-endian PCM as an array of ints."""
    samples = array.array("h")
    samples.frombytes(frame[: len(frame) - len(frame) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def level_dbfs(samples) -> float:
    """Mean power of the frame in dB below full scale."""
    if not samples:
        return SILENT_DBFS
    power = sum(map(mul, samples, samples)) / len(samples)
    if power <= 0:
        return SILENT_DBFS
    return max(SILENT_DBFS, 10.0 * math.log10(power / _FULL_SCALE))


class NoiseFloor:
    """The line's background level: falls quickly to quieter frames, rises slowly."""

    def __init__(self, rise_db_per_frame: float, fall: float) -> None:
        self.rise = rise_db_per_frame
        self.fall = fall
        self.level: float | None = None

    def update(self, level: float) -> float:
        if self.level is None:
            self.level = level
        elif level < self.level:
            self.level += (level - self.level) * self.fall
        else:
            self.level += min(level - self.level, self.rise)
        return self.level


def _zero_crossings(samples) -> int:
    # A two-sample average removes the top of the band, where line noise adds crossings.
    smooth = list(map(int.__add__, samples[1:], samples[:-1]))
    return sum(1 for a, b in itertools.pairwise(smooth) if (a < 0) != (b < 0))


def _goertzel_power(samples, freq: float) -> float:
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def tone(samples, min_hz: float, max_hz: float) -> tuple[float, float]:
    """(purity, frequency): the share of the frame's energy in its strongest single
    frequency between min_hz and max_hz, near 1.0 for a steady sine; (0.0, 0.0) if none."""
    n = len(samples)
    energy = sum(map(mul, samples, samples))
    if n < 2 or energy <= 0:
        return 0.0, 0.0
    estimate = _zero_crossings(samples) * RATE / (2.0 * (n - 2))
    if not min_hz * 0.85 <= estimate <= max_hz * 1.15:
        return 0.0, 0.0
    best, best_freq = 0.0, 0.0
    # Zero crossings miss by up to about 40 Hz; 12.5 Hz steps keep a probe within a
    # quarter of the frame's 50 Hz resolution of a true tone (>= 0.9 of its power).
    for step in (-3, -2, -1, 0, 1, 2, 3):
        freq = estimate + 12.5 * step
        power = _goertzel_power(samples, freq)
        if power > best:
            best, best_freq = power, freq
    # A full-scale sine at the probed frequency gives power (A*n/2)^2 and energy A^2*n/2.
    return min(1.0, 2.0 * best / (n * energy)), best_freq
