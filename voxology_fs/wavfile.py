"""What we read and change in the WAV files the switch records: length, and silence trimmed.

16-bit PCM only (what FreeSWITCH's sndfile writes for ``.wav``); other
files are left as they are.
"""

from __future__ import annotations

import array
import os
import sys
import wave

FRAME_MS = 20
# Speech kept on either side of what is trimmed, so words are not clipped.
PAD_MS = 100


def is_finished(path: str) -> bool:
    """Whether the writer has closed the file: its RIFF header counts every byte.

    The switch writes the header's sizes when it closes a WAV file, which
    may be a moment after the call's hangup is announced.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return False
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return True  # not a WAV: nothing to wait for
    return int.from_bytes(head[4:8], "little") + 8 == size


def duration_ms(path: str) -> int | None:
    """The file's length in ms, or None when it is not a WAV we can read."""
    try:
        with wave.open(path, "rb") as w:
            rate = w.getframerate()
            return int(w.getnframes() * 1000 / rate) if rate else None
    except (OSError, EOFError, wave.Error):
        return None


def trim_silence(path: str, threshold: int) -> int | None:
    """Cut leading and trailing silence (20 ms frames whose mean level is below
    ``threshold``, FreeSWITCH's energy scale) in place; returns the new length in ms.

    None, and the file untouched, when it is not 16-bit PCM.  All silence
    leaves an empty recording.
    """
    try:
        with wave.open(path, "rb") as w:
            params = w.getparams()
            if params.sampwidth != 2 or not params.framerate:
                return None
            raw = w.readframes(params.nframes)
    except (OSError, EOFError, wave.Error):
        return None
    samples = array.array("h")
    samples.frombytes(raw[: len(raw) - len(raw) % 2])
    if sys.byteorder != "little":
        samples.byteswap()
    step = max(1, params.framerate * FRAME_MS // 1000) * params.nchannels
    frames = range(0, len(samples), step)

    def is_loud(i: int) -> bool:
        frame = samples[i : i + step]
        return sum(abs(s) for s in frame) >= threshold * len(frame)

    # Scanned from both ends only: an hour of speech costs two frames.
    first = next((i for i in frames if is_loud(i)), None)
    pad = params.framerate * PAD_MS // 1000 * params.nchannels
    if first is None:
        start = end = 0
    else:
        last = next(i for i in reversed(frames) if is_loud(i))
        start = max(0, first - pad)
        end = min(len(samples), last + step + pad)
    if start == 0 and end == len(samples):
        return int(params.nframes * 1000 / params.framerate)
    kept = samples[start:end]
    if sys.byteorder != "little":
        kept.byteswap()
    temporary = f"{path}.trim"
    with wave.open(temporary, "wb") as out:
        out.setnchannels(params.nchannels)
        out.setsampwidth(2)
        out.setframerate(params.framerate)
        out.writeframes(kept.tobytes())
    os.replace(temporary, path)
    return int(len(kept) / params.nchannels * 1000 / params.framerate)
