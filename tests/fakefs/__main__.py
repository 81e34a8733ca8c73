"""Run one FakeSwitch in a process of its own (multi-process tests).

    python -m tests.fakefs [--esl-port 0] [--outbound HOST:PORT] [--password ClueCon]
                           [--time-scale 1.0] [--media-ms 20] [--name fs]
                           [--policy '1=busy,2=noanswer,3=fail:NO_ROUTE_DESTINATION,*=answer:100']

Prints ``fake switch NAME: ESL on 127.0.0.1:PORT`` once it listens (the
port is the one asked for, or an ephemeral one for 0), then serves until
SIGTERM or SIGINT, stops the switch and exits 0.

``--policy`` decides an originate by the dialled number (the last part of
the dial string, ``loopback/+19495550121`` -> ``+19495550121``): rules
``SUFFIX=OUTCOME`` separated by commas, the longest matching suffix wins,
``*`` is the default (without one: answer at once).  OUTCOME is
``answer[:DELAY_MS]``, ``busy``, ``noanswer`` or ``fail[:CAUSE]``
(default cause ``NORMAL_TEMPORARY_FAILURE``); delays are scaled by
``--time-scale`` like everything else in the fake.

``--outbound`` is where ``incoming_call`` sends calls; originated calls go
wherever their ``&socket(...)`` says.  The process has no other control
channel than its ESL port: besides FreeSWITCH's commands, ``api
fake_status`` answers a JSON view of the switch (``watchers``: inbound
connections subscribed to ``BACKGROUND_JOB``; ``calls``: uuid -> ``down``,
``answered``, ``app`` (the last application started), ``hangup_cause``).
"""

import argparse
import json
import signal
import sys

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from .bridge import _parse_dialstring  # noqa: E402
from .registry import api_command  # noqa: E402
from .switch import FakeSwitch  # noqa: E402

OUTCOMES = ("answer", "busy", "noanswer", "fail")


def parse_policy(spec):
    """``'1=busy,*=answer:100'`` -> ``[(suffix, outcome tuple)]``, longest suffix first."""
    rules = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        suffix, sep, outcome = part.partition("=")
        kind, _, arg = outcome.strip().partition(":")
        if not sep or kind not in OUTCOMES:
            raise ValueError(f"policy rule {part!r}: expected SUFFIX=answer[:MS]|busy|noanswer|fail[:CAUSE]")
        if kind == "answer":
            result = ("answer", int(arg or 0))
        elif kind == "fail":
            result = ("fail", arg or "NORMAL_TEMPORARY_FAILURE")
        else:
            result = (kind,)
        rules.append(("" if suffix.strip() == "*" else suffix.strip(), result))
    rules.sort(key=lambda rule: -len(rule[0]))
    return rules


def dialled_number(dialstring):
    _, target = _parse_dialstring(dialstring)
    return target.split("/")[-1].split("@")[0]


def make_policy(rules):
    def policy(dialstring, variables):
        number = dialled_number(dialstring)
        for suffix, outcome in rules:
            if number.endswith(suffix):
                return outcome
        return ("answer", 0)

    return policy


@api_command("fake_status")
def api_fake_status(switch, arg, session):
    """The extra API command for tests that run the fake in another process."""
    watchers = [
        listener
        for listener in switch._listeners
        if not listener.outbound and listener.authed and "BACKGROUND_JOB" in listener.event_list
    ]
    calls = {}
    for uuid, call in switch.calls.items():
        calls[uuid] = {
            "down": bool(call.down),
            "answered": bool(call.answered),
            "app": call.executed[-1][0] if call.executed else "",
            "hangup_cause": call.hangup_cause,
        }
    return json.dumps({"listeners": len(switch._listeners), "watchers": len(watchers), "calls": calls}) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fakefs", description="A fake FreeSWITCH in its own process")
    parser.add_argument("--esl-port", type=int, default=0)
    parser.add_argument("--outbound", default="127.0.0.1:8084", help="HOST:PORT of the socket for incoming calls")
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--media-ms", type=int, default=20)
    parser.add_argument("--policy", default="", help="SUFFIX=OUTCOME rules, see the module's docstring")
    parser.add_argument("--name", default="fs")
    args = parser.parse_args(argv)
    try:
        policy = make_policy(parse_policy(args.policy))
    except ValueError as exc:
        parser.error(str(exc))
    host, _, port = args.outbound.rpartition(":")

    switch = FakeSwitch(
        outbound=(host or "127.0.0.1", int(port)),
        password=args.password,
        time_scale=args.time_scale,
        media_ms=args.media_ms,
    )
    switch.originate_policy = policy
    switch.start(args.esl_port)
    print(f"fake switch {args.name}: ESL on 127.0.0.1:{switch.esl_port}", flush=True)

    stopping = gevent.event.Event()
    handlers = [gevent.signal_handler(sig, stopping.set) for sig in (signal.SIGTERM, signal.SIGINT)]
    stopping.wait()
    for handler in handlers:
        handler.cancel()
    switch.stop()
    print(f"fake switch {args.name}: stopped after {len(switch.calls)} channels", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
