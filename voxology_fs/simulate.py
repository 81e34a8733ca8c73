"""Run a call flow against a simulated call, in a terminal, without FreeSWITCH.

The same interpreter runs as on a real call; only the :class:`Channel` is
simulated.  Key presses given with ``--press`` answer the COLLECTs in order.
A flow file acts like a static JSON file on a web server: every callback
request gets the file.  A URL gets real callback requests.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from .callbacks import CallbackClient, CallbackTarget
from .channel import AudioFile, CallEnded, CallInfo, Channel, CollectResult, RecordResult, Silence, Speech, Tone
from .flow.runner import CallFlowRunner, Services
from .flow.state import CallState
from .simulated_capabilities import (
    SimulatedBridging,
    SimulatedConferencing,
    SimulatedDetecting,
    SimulatedDialing,
    SimulatedHolding,
    SimulatedRecording,
)


class Transcript:
    """Collects what happened, and prints it as it happens."""

    def __init__(self, out=None):
        self.out = out
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.virtual_ms = 0

    def say(self, text: str) -> None:
        line = f"[{self.virtual_ms:>7} ms] {text}"
        self.lines.append(line)
        if self.out is not None:
            print(line, file=self.out, flush=True)


def _describe(prompt) -> str:
    if isinstance(prompt, Speech):
        voice = f" ({prompt.voice})" if prompt.voice else ""
        return f'says{voice}: "{prompt.text}"'
    if isinstance(prompt, AudioFile):
        return f"plays {prompt.source or prompt.path}"
    if isinstance(prompt, Silence):
        return f"silence {prompt.ms} ms"
    if isinstance(prompt, Tone):
        return "rings"
    return repr(prompt)


class SimulatedChannel(Channel):
    media_takes_time = False

    def __init__(
        self,
        transcript: Transcript,
        presses: list[str],
        caller: str,
        called: str,
        hang_up_after_collects: int | None = None,
    ):
        self.t = transcript
        self.presses = list(presses)
        self.info = CallInfo(uuid=str(uuid.uuid4()), direction="inbound", caller=caller, destination=called)
        self.answered = False
        self.up = True
        self.hangup_cause = "NORMAL_CLEARING"
        self.collects = 0
        self.hang_up_after_collects = hang_up_after_collects

    def _check(self):
        if not self.up:
            raise CallEnded(self.hangup_cause)

    @property
    def is_up(self) -> bool:
        return self.up

    def ring(self):
        self._check()
        if not self.answered:
            self.t.say("caller hears ringing")

    def answer(self):
        self._check()
        self.answered = True
        self.t.say("call answered")

    def reject(self, sip_code: int):
        self._check()
        self.t.say(f"call rejected with SIP {sip_code}" if not self.answered else "call hung up (reject)")
        self.up = False
        self.hangup_cause = {486: "USER_BUSY"}.get(sip_code, "CALL_REJECTED")

    def hangup(self, cause: str = "NORMAL_CLEARING"):
        if self.up:
            self.t.say(f"call hung up ({cause})")
            self.up = False
            self.hangup_cause = cause

    def play(self, prompts, loops: int = 1):
        self._check()
        for _ in range(max(1, loops)):
            for prompt in prompts:
                self.t.say("caller hears: " + _describe(prompt))

    def collect(self, prompts, *, max_digits, finish_keys, timeout_ms, digit_timeout_ms=None):
        self._check()
        for prompt in prompts:
            self.t.say("caller hears: " + _describe(prompt))
        self.collects += 1
        if not self.presses:
            self.t.virtual_ms += timeout_ms
            self.t.say(f"no key pressed (timeout {timeout_ms} ms)")
            result = CollectResult(timed_out=True)
        else:
            keys = self.presses.pop(0)
            digits, terminator = "", ""
            for key in keys:
                if finish_keys and key in finish_keys:
                    terminator = key
                    break
                digits += key
                if len(digits) >= max_digits:
                    break
            shown = f" then {terminator}" if terminator else ""
            self.t.say(f"caller presses {digits or '(nothing)'}{shown}")
            result = CollectResult(digits=digits, terminator=terminator)
        if self.hang_up_after_collects is not None and self.collects >= self.hang_up_after_collects:
            self.t.say("caller hangs up")
            self.up = False
            self.hangup_cause = "NORMAL_CLEARING"
        return result

    def pause(self, ms: int):
        self._check()
        self.t.virtual_ms += ms
        self.t.say(f"pause {ms} ms")

    # What the simulated world does with this call's capabilities
    # (see voxology_fs.simulated_capabilities).
    dial_policy = None
    hold_taker: str | None = None
    conference_exit = "left"
    beep_after_ms: int | None = None

    def record(self, path, *, max_seconds, silence_seconds, silence_threshold, finish_keys, beep):
        self._check()
        if beep:
            self.t.say("caller hears: a beep")
        self.t.say("recording the caller")
        press = self.presses[0] if self.presses else ""
        if press and (finish_keys == "any" or press[0] in finish_keys):
            self.presses.pop(0)
            self.t.say(f"caller presses {press[0]}: recording ends")
            return RecordResult("key", press[0])
        waited = silence_seconds or max_seconds
        self.t.virtual_ms += waited * 1000
        ending = "silence" if silence_seconds else "max_length"
        self.t.say(f"recording ends ({ending} after {waited} s)")
        return RecordResult(ending)

    def send_text(self, message_id, from_no, to_no, text):
        self.t.say(f"text to {to_no} from {from_no}: {text!r}")

    def listen(self, path, max_seconds, consumer):
        self._check()
        self.t.say("listening to who answered (the simulator hears silence)")
        frame = bytes(320)  # 20 ms of silence
        for _ in range(max_seconds * 50):
            self.t.virtual_ms += 20
            if consumer(frame):
                return

    def bridging(self):
        return SimulatedBridging(self)

    def dialing(self):
        return SimulatedDialing(self)

    def conferencing(self):
        return SimulatedConferencing(self)

    def holding(self):
        return SimulatedHolding(self)

    def recording(self):
        return SimulatedRecording(self)

    def detecting(self):
        return SimulatedDetecting(self)

    def send_dtmf(self, digits: str):
        self._check()
        self.t.say(f"caller hears DTMF {digits}")


class StaticFlowClient:
    """Serves one flow document for every request, like a static JSON file."""

    def __init__(self, document: bytes, transcript: Transcript):
        self.document = document
        self.t = transcript
        self.requests: list[dict] = []

    def send(self, target, fields, timeout=None):
        self.requests.append(fields)
        self.t.say(f"callback {fields['type']} -> {target.url}")
        return (self.document if fields["type"] != "call_ended" else b""), 0.0

    def request_json(self, target, fields, timeout=None):
        self.send(target, fields, timeout)
        return None

    def fire_and_forget(self, target, fields, timeout=None):
        self.send(target, fields, timeout)


class TracingClient(CallbackClient):
    def __init__(self, transcript: Transcript, **kwargs):
        super().__init__(**kwargs)
        self.t = transcript
        self.requests: list[dict] = []

    def send(self, target, fields, timeout=None):
        self.requests.append(fields)
        self.t.say(f"callback {fields['type']} -> {target.method} {target.url}")
        return super().send(target, fields, timeout)


class NoDownload:
    """PLAY in the simulator names the URL instead of fetching it."""

    def fetch(self, url: str) -> str:
        return url


def simulate(
    source: str,
    presses: list[str],
    *,
    caller: str = "+19495551212",
    called: str = "+17145551212",
    session_data: dict | None = None,
    method: str = "POST",
    content_type: str = "application/json",
    out=None,
    hang_up_after_collects: int | None = None,
):
    """Run the flow at ``source`` (a file or an http(s) URL); returns the transcript and requests.

    ``out`` is where the transcript is printed as it happens (None: nowhere).
    """
    transcript = Transcript(out)
    client: TracingClient | StaticFlowClient
    if source.startswith(("http://", "https://")):
        client = TracingClient(transcript)
        target = CallbackTarget(source, method, content_type)
    else:
        with open(source, "rb") as fh:
            client = StaticFlowClient(fh.read(), transcript)
        target = CallbackTarget("file://" + source, "GET", content_type)

    def trace(call_id, kind, data):
        if kind == "error":
            transcript.say(f"error: {data.get('message')} {data.get('path', '')}".rstrip())
        elif kind == "webhook":
            transcript.say(f"webhook -> {data.get('url')}")
        elif kind == "redirect":
            transcript.say(f"redirect -> {data.get('url')}")

    channel = SimulatedChannel(transcript, presses, caller, called, hang_up_after_collects)
    state = CallState(
        call_id=channel.info.uuid, direction="inbound", caller_no=caller, api_no=called, session_data=session_data
    )
    services = Services(
        callbacks=client,
        audio=NoDownload(),
        trace=trace,
        # A DIAL's new call gets an id; nothing is placed.
        prepare_dial=lambda parent, **call: str(uuid.uuid4()),
    )
    CallFlowRunner(channel, state, services, target).run()
    return transcript, client.requests, state


def main(args) -> int:
    session_data = json.loads(args.session_data) if args.session_data else None
    _, _, state = simulate(
        args.flow,
        args.press or [],
        caller=args.caller,
        called=args.called,
        session_data=session_data,
        method=args.method,
        content_type=args.content_type,
        out=sys.stdout,
    )
    print(
        f"call ended: status {state.status}, key presses {json.dumps(state.key_presses)}, {len(state.errors)} error(s)"
    )
    return 1 if state.errors else 0
