"""The detect hold of scripts/bench_held.py: DETECT on many calls at once.

Each caller speaks a machine greeting of the labelled set (tests/data/amd),
after a second of silence, as the person who picks up draws breath.

* ours runs DETECT (mode detect), then a PAUSE longer than the hold: the
  switch ``record``s the caller into a spool file that the call server
  reads as it grows and feeds to the detector, and the recording is broken
  off at the verdict;
* native does what the switch does for DETECT without us: ``record`` into a
  spool file, with the same channel variables, for as long as our detector
  needs (DECIDE_S), then ``sleep``.

sipp streams the greeting without -rtp_echo (with both, the switch heard it
garbled). For ours the call records give each call's verdict and the time
from its answer to the verdict (the trace event ``detect``). A call's
detection is over some 4 s after its answer, most of them before all N are
up, so the plateau's figures hold few: the row adds the CPU per call from
the first INVITE to the plateau's end, which holds every one.
"""

import subprocess
from collections import Counter
from dataclasses import dataclass, field

import bench_sip as base

from tests.support.amd_set import AMD_DIR, greetings
from voxology_fs import db
from voxology_fs.esl.detect import LISTENING
from voxology_fs.models import Call, CallEvent
from voxology_fs.timeutil import utcnow  # noqa: F401  (the call records' clock, for bench_held)

SCENARIO = base.REPO / "tests" / "integration" / "sipp" / "bench_uac_hold_speak.xml"
CALLER_VOICE = "caller_voice.wav"  # where the scenario streams it from: sipp's working folder
DECIDE_S = 4  # what our detector needs for the greeting: the native recording's length
LEAD_IN = "1"  # seconds of silence before the greeting (sipp starts at its ACK, before our socket has the call)


def flow_actions(longest_hold_ms):
    return [
        {"type": "DETECT", "params": {"mode": "detect"}},
        {"type": "PAUSE", "params": {"length": longest_hold_ms}},
    ]


def native_extension(name, dialled, longest_hold_ms):
    """The switch's part of DETECT as an XML extension. Its spool files go to
    the switch's temp folder (the run's: scripts/run-freeswitch), one per call."""
    variables = " ".join(f"{k}={v}" for k, v in LISTENING.items())
    return f"""    <extension name="{name}">
      <condition field="destination_number" expression="^{dialled}$">
        <action application="answer"/>
        <action application="multiset" data="{variables}"/>
        <action application="record" data="$${{temp_dir}}/detect-${{uuid}}.wav {DECIDE_S}"/>
        <action application="sleep" data="{longest_hold_ms}"/>
        <action application="hangup"/>
      </condition>
    </extension>
"""


def write_caller_voice(folder):
    """The first plain machine greeting of the test half, with its lead-in, as
    the scenario's caller_voice.wav; returns the greeting's file name."""
    greeting = next(g for g in greetings("test") if g.cls == "machine" and not g.hard)
    subprocess.run(
        ["sox", f"{AMD_DIR}/{greeting.file}", str(folder / CALLER_VOICE), "pad", LEAD_IN, "0"],
        check=True,
        capture_output=True,
    )
    return greeting.file


@dataclass
class Verdicts:
    counts: Counter = field(default_factory=Counter)  # verdict (or "none") -> calls
    decide_s: list = field(default_factory=list)  # each verdict, seconds after its call's answer

    def decide(self, pct):
        return base.percentile(self.decide_s, pct)


def verdicts(number, since):
    """Ours: the verdicts of the calls to ``number`` that started after ``since``."""
    found = Verdicts()
    with db.database.connection_context():
        calls = list(
            Call.select(Call.id, Call.detection, Call.answer_time).where(
                Call.api_no == number, Call.start_time >= since
            )
        )
        decided = dict(
            CallEvent.select(CallEvent.call, CallEvent.at)
            .join(Call)
            .where(Call.api_no == number, Call.start_time >= since, CallEvent.kind == "detect")
            .tuples()
        )
    for call in calls:
        found.counts[call.detection or "none"] += 1
        if call.answer_time is not None and call.id in decided:
            found.decide_s.append((decided[call.id] - call.answer_time).total_seconds())
    return found


def describe(result):
    """The detect hold's extra figures, for its row."""
    run_ms = None
    if result.run_fs_cpu is not None and result.count:
        run_ms = result.run_fs_cpu / result.count * 1000
    whole = f"from the first INVITE to the plateau's end FreeSWITCH {base.fmt(run_ms, '.1f')} ms CPU per call"
    if result.run_cs_cpu is not None:
        whole += f", call server {base.fmt(result.run_cs_cpu / result.count * 1000, '.1f')} ms"
    found = result.verdicts
    if found is None:
        return f"      verdicts -; answer to verdict -; {whole}"
    counts = ", ".join(f"{verdict} {n}" for verdict, n in sorted(found.counts.items())) or "none"
    return (
        f"      verdicts {counts}; answer to verdict p50 {base.fmt(found.decide(50), '.2f')} s "
        f"p95 {base.fmt(found.decide(95), '.2f')} s ({len(found.decide_s)} timed); {whole}"
    )
