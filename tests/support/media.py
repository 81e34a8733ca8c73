"""What the caller hears, and what FreeSWITCH does, for the call-flow tests.

* :class:`RtpReceiver`: the caller's RTP port. The sipp scenarios
  ``uac_media_*.xml`` offer ``m=audio [rtp_port]``, so FreeSWITCH sends the
  call's audio here; the receiver keeps every packet and decodes PCMU
  (``audio``) to tell speech and tones from silence.
* :class:`EslWatcher`: an inbound ESL connection subscribed to
  CHANNEL_EXECUTE, CHANNEL_EXECUTE_COMPLETE, DTMF, CHANNEL_ANSWER and
  CHANNEL_HANGUP_COMPLETE of every channel: what FreeSWITCH really ran.
* :func:`tone_wav`, :func:`try_mp3`: audio files made with sox.

Everything is gevent-friendly: tests/conftest.py monkey-patches the process.
"""

from __future__ import annotations

import random
import shutil
import socket
import struct
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import gevent
import gevent.event

from voxology_fs.esl.connection import InboundConnection

from .audio import rms, ulaw_decode

LOOPBACK = "127.0.0.1"
PCMU = 0
FRAME_MS = 20


# ----------------------------------------------------------------- RTP


@dataclass
class RtpPacket:
    at: float  # time.monotonic() on arrival
    payload_type: int
    seq: int
    timestamp: int
    marker: bool
    payload: bytes
    source: tuple

    @property
    def rms(self) -> float:
        return rms(ulaw_decode(self.payload)) if self.payload_type == PCMU else 0.0


def _free_even_udp_port(avoid: tuple[int, int] | None, low=30000, high=60000) -> socket.socket:
    rnd = random.Random()
    for _ in range(500):
        port = rnd.randrange(low, high) & ~1
        if avoid and avoid[0] <= port <= avoid[1] + 1:
            continue
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError("no free even UDP port for RTP")


class RtpReceiver:
    """The caller's media port: keeps every RTP packet that arrives."""

    def __init__(self, avoid: tuple[int, int] | None = None):
        self.sock = _free_even_udp_port(avoid)
        self.port = self.sock.getsockname()[1]
        self.packets: list[RtpPacket] = []
        self._closed = False
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        while not self._closed:
            try:
                data, source = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            count = data[0] & 0x0F
            offset = 12 + 4 * count
            if data[0] & 0x10 and len(data) >= offset + 4:  # header extension
                offset += 4 + 4 * struct.unpack("!H", data[offset + 2 : offset + 4])[0]
            payload = data[offset:]
            if data[0] & 0x20 and payload:  # padding
                payload = payload[: -payload[-1]]
            seq, timestamp = struct.unpack("!HI", data[2:8])
            self.packets.append(
                RtpPacket(time.monotonic(), data[1] & 0x7F, seq, timestamp, bool(data[1] & 0x80), payload, source)
            )

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        self._reader.kill(block=False)

    # -- what was heard -------------------------------------------------------
    def audio(self, since: float | None = None, until: float | None = None) -> list[RtpPacket]:
        return [
            p
            for p in self.packets
            if p.payload_type == PCMU and (since is None or p.at >= since) and (until is None or p.at <= until)
        ]

    def loud_ms(self, threshold: float = 300.0, since: float | None = None, until: float | None = None) -> int:
        """Milliseconds of audio whose 20 ms frames have an RMS above ``threshold``
        (u-law silence decodes to 0; speech and tones are in the thousands)."""
        return sum(len(p.payload) // 8 for p in self.audio(since, until) if p.rms > threshold)

    def received_ms(self) -> int:
        return sum(len(p.payload) // 8 for p in self.audio())

    def peak_rms(self) -> float:
        return max((p.rms for p in self.audio()), default=0.0)

    def loud_spans(self, threshold: float = 300.0, gap_ms: int = 300) -> list[tuple[float, float]]:
        """(start, end) arrival times of stretches of sound, gaps under ``gap_ms`` bridged."""
        spans: list[list[float]] = []
        for packet in self.audio():
            if packet.rms <= threshold:
                continue
            if spans and packet.at - spans[-1][1] <= gap_ms / 1000:
                spans[-1][1] = packet.at
            else:
                spans.append([packet.at, packet.at])
        return [tuple(s) for s in spans]

    def summary(self) -> str:
        audio = self.audio()
        kinds = sorted({p.payload_type for p in self.packets})
        return (
            f"{len(self.packets)} RTP packets (payload types {kinds}), {self.received_ms()} ms of PCMU, "
            f"{self.loud_ms()} ms loud, peak RMS {self.peak_rms():.0f}, "
            f"sources {sorted({p.source for p in audio})}"
        )

    def write_wav(self, path) -> Path:
        """The PCMU audio as a 16-bit 8 kHz wav (to listen to when a test fails)."""
        samples = [s for p in self.audio() for s in ulaw_decode(p.payload)]
        path = Path(path)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
        return path


# ----------------------------------------------------------------- inbound ESL

WATCHED_EVENTS = (
    "CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE DTMF CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE PLAYBACK_START"
    " PLAYBACK_STOP"
)


class Seen:
    """An event and when it arrived (time.monotonic())."""

    __slots__ = ("at", "event")

    def __init__(self, event, at: float):
        self.event = event
        self.at = at

    @property
    def name(self) -> str:
        return self.event.name

    @property
    def headers(self) -> dict:
        return self.event.headers

    def get(self, name: str, default=None):
        return self.event.get(name, default)

    def variable(self, name: str, default=None):
        return self.event.variable(name, default)

    def __repr__(self) -> str:
        return f"<{self.name} {self.get('Application', '')} {self.get('Application-Data', '')[:60]!r}>"


class EslWatcher:
    """Every channel's executions, DTMF, answers and hangups, as FreeSWITCH reports them."""

    def __init__(self, host: str, port: int, password: str):
        self.conn = InboundConnection.open(host, port, password)
        self.events: list = []
        self._arrived = gevent.event.Event()
        self.conn.register_handle("*", self._on_event)
        reply = self.conn.send("event plain " + WATCHED_EVENTS)
        assert reply.reply_text.startswith("+OK"), reply.reply_text

    def _on_event(self, event) -> None:
        self.events.append(Seen(event, time.monotonic()))
        self._arrived.set()

    def api(self, command: str, timeout: float = 10.0) -> str:
        return self.conn.api(command, timeout=timeout)

    def close(self) -> None:
        self.conn.close()

    # -- queries -------------------------------------------------------------
    def of(self, uuid: str, name: str | None = None, app: str | None = None) -> list:
        return [
            e
            for e in self.events
            if e.get("Unique-ID") == uuid
            and (name is None or e.name == name)
            and (app is None or e.get("Application") == app)
        ]

    def executed(self, uuid: str, skip=("set", "multiset", "unset", "export", "socket")) -> list[tuple[str, str]]:
        """(application, data) of every CHANNEL_EXECUTE on the channel, in order."""
        return [
            (e.get("Application"), e.get("Application-Data", ""))
            for e in self.of(uuid, "CHANNEL_EXECUTE")
            if e.get("Application") not in skip
        ]

    def completed(self, uuid: str, app: str) -> list:
        return self.of(uuid, "CHANNEL_EXECUTE_COMPLETE", app)

    def describe(self, uuid: str) -> str:
        """The channel's events so far, one a line (for failure messages)."""
        if not self.events:
            return "(no events)"
        start = self.events[0].at
        return "\n".join(
            "{:7.2f} {} {} {}".format(
                e.at - start,
                e.name,
                e.get("Application", "") or e.get("DTMF-Digit", ""),
                (e.get("Application-Data", "") or e.get("Playback-File-Path", ""))[:80],
            )
            for e in self.of(uuid)
        )

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "event", uuid: str | None = None):
        """The first event (already received or to come) for which ``predicate`` is true."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                context = "\n" + self.describe(uuid) if uuid else ""
                raise AssertionError(f"no {what} within {timeout} s{context}")
            self._arrived.clear()
            if len(self.events) == seen:
                self._arrived.wait(min(left, 0.5))

    def wait_execute(
        self, uuid: str, app: str, timeout: float = 10.0, complete: bool = False, data_contains: str | None = None
    ):
        name = "CHANNEL_EXECUTE_COMPLETE" if complete else "CHANNEL_EXECUTE"
        return self.wait_for(
            lambda e: (
                e.name == name
                and e.get("Unique-ID") == uuid
                and e.get("Application") == app
                and (data_contains is None or data_contains in e.get("Application-Data", ""))
            ),
            timeout,
            f"{name} {app} on {uuid}",
            uuid,
        )

    def wait_channel(self, caller: str, timeout: float = 15.0) -> str:
        """The uuid of the first channel whose caller id number is ``caller``."""
        event = self.wait_for(lambda e: e.get("Caller-Caller-ID-Number") == caller, timeout, f"a channel from {caller}")
        return event.get("Unique-ID")

    def wait_hangup(self, uuid: str, timeout: float = 20.0):
        return self.wait_for(
            lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.get("Unique-ID") == uuid,
            timeout,
            f"CHANNEL_HANGUP_COMPLETE of {uuid}",
            uuid,
        )


# ----------------------------------------------------------------- audio files


def tone_wav(path, seconds: float = 1.0, frequency: int = 440) -> Path:
    """A sine tone, 8 kHz mono 16-bit wav, made with sox."""
    path = Path(path)
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(frequency),
            "vol",
            "0.5",
        ],
        check=True,
        capture_output=True,
    )
    return path


def try_mp3(path, seconds: float = 1.0, frequency: int = 440) -> tuple[Path | None, str]:
    """An mp3 tone made with sox, or (None, why not)."""
    if not shutil.which("sox"):
        return None, "sox is not installed"
    path = Path(path)
    done = subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", str(path), "synth", str(seconds), "sine", str(frequency), "vol", "0.5"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not path.exists() or path.stat().st_size == 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"this sox cannot write mp3 ({reason})"
    return path, ""
