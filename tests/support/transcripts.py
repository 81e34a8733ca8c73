"""The recorded FreeSWITCH traffic in ``tests/data/esl-transcripts/``, read the way it was written."""

import os

# Recorded FreeSWITCH 1.11.1 traffic (see its README.md).
TRANSCRIPTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "esl-transcripts")


def split_transcript(data: bytes):
    """[(direction, raw message)] of a transcript file, framed by its own rule."""
    out, pos = [], 0
    markers = {b"<<< RECEIVED\n": "<", b">>> SENT\n": ">"}
    while pos < len(data):
        for marker, direction in markers.items():  # noqa: B007 - the marker found is used after the break
            if data.startswith(marker, pos):
                pos += len(marker)
                break
        else:
            pos += 1  # the newline between a message and the next marker
            continue
        end = data.index(b"\n\n", pos) + 2
        length = 0
        for line in data[pos:end].split(b"\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        out.append((direction, data[pos : end + length]))
        pos = end + length
    return out
