"""Trimming the silence around a recording, and its length."""

import math
import struct
import wave

from voxology_fs import wavfile
from voxology_fs.recordings import UrlSigner


def write(path, pieces, rate=8000):
    """pieces: (ms, amplitude) of a 440 Hz tone (0: silence)."""
    frames = b""
    for ms, amplitude in pieces:
        n = rate * ms // 1000
        frames += b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_leading_and_trailing_silence_is_cut_with_a_little_margin(tmp_path):
    path = tmp_path / "a.wav"
    write(path, [(1000, 0), (500, 5000), (300, 20), (500, 5000), (2000, 30)])
    assert wavfile.duration_ms(str(path)) == 4300
    kept = wavfile.trim_silence(str(path), 200)
    # The speech and the pause inside it stay, with 100 ms either side.
    assert 1300 + 2 * wavfile.PAD_MS - 20 <= kept <= 1300 + 2 * wavfile.PAD_MS + 20
    assert wavfile.duration_ms(str(path)) == kept


def test_all_silence_leaves_an_empty_recording_and_speech_only_is_untouched(tmp_path):
    quiet, loud = tmp_path / "q.wav", tmp_path / "l.wav"
    write(quiet, [(800, 10)])
    write(loud, [(600, 4000)])
    before = loud.read_bytes()
    assert wavfile.trim_silence(str(quiet), 200) == 0
    assert wavfile.trim_silence(str(loud), 200) == 600 and loud.read_bytes() == before


def test_what_is_not_a_wav_is_left_alone(tmp_path):
    path = tmp_path / "x.mp3"
    path.write_bytes(b"ID3\x03junk")
    assert wavfile.trim_silence(str(path), 200) is None and wavfile.duration_ms(str(path)) is None
    assert path.read_bytes() == b"ID3\x03junk"


def test_a_signed_url_opens_its_recording_only_and_only_until_it_expires():
    signer = UrlSigner("https://api.example.test/", 60, secret="k")
    url = signer.url("rec-1", now=1000)
    assert url.startswith("https://api.example.test/v1/Recordings/rec-1/Audio?expires=1060&signature=")
    signature = url.rsplit("=", 1)[1]
    assert signer.valid("rec-1", "1060", signature, now=1059)
    assert not signer.valid("rec-1", "1060", signature, now=1061)
    assert not signer.valid("rec-2", "1060", signature, now=1000)
    assert not signer.valid("rec-1", "1061", signature, now=1000)
    assert not signer.valid("rec-1", "soon", signature, now=1000)
    assert not UrlSigner("https://api.example.test", 60, secret="other").valid("rec-1", "1060", signature, now=1000)
