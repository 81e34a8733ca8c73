"""The labelled answering-machine set in tests/data/amd/, for the tests and the benchmark."""

from __future__ import annotations

import csv
import os
import struct
from dataclasses import dataclass

from .audio import ULAW_TABLE

AMD_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "amd")
EXPECTED = {"human": "live_person", "machine": "machine", "unknown": "unknown"}
_PCM16 = [struct.pack("<h", v) for v in ULAW_TABLE]


@dataclass(frozen=True)
class Greeting:
    file: str
    cls: str
    split: str
    notes: str

    @property
    def expected(self) -> str:
        return EXPECTED[self.cls]

    @property
    def hard(self) -> str | None:
        for note in self.notes.split("; "):
            if note.startswith("hard:"):
                return note[5:]
        return None

    def pcm(self) -> bytes:
        return read_wav_pcm16(os.path.join(AMD_DIR, self.file))


def greetings(split: str | None = None) -> list[Greeting]:
    with open(os.path.join(AMD_DIR, "labels.csv"), newline="") as f:
        rows = [Greeting(r["file"], r["class"], r["split"], r["notes"]) for r in csv.DictReader(f)]
    return [g for g in rows if split is None or g.split == split]


def read_wav_pcm16(path: str) -> bytes:
    """8 kHz mono WAV, G.711 u-law (format 7) or 16-bit PCM (format 1), as 16-bit PCM."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    fmt, body, pos = None, None, 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            fmt = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
        elif chunk == b"data":
            body = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    if fmt is None or body is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate, _, _, bits = fmt
    if channels != 1 or rate != 8000:
        raise ValueError(f"{path}: want 8 kHz mono, got {rate} Hz x{channels}")
    if tag == 7 and bits == 8:
        return b"".join(_PCM16[b] for b in body)
    if tag == 1 and bits == 16:
        return body
    raise ValueError(f"{path}: format {tag}/{bits} bits is neither u-law nor 16-bit PCM")
