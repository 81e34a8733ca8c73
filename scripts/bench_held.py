#!/usr/bin/env python3
"""Held calls on a real FreeSWITCH: N calls up at once, through us and natively.

For each N (100, 300, 1000 by default) and each way of holding a call, sipp
places N calls at --rate calls/s; each caller stays --plateau seconds past
the moment all N are up, then hangs up with a BYE. The calls are held:

* pause: ours runs a PAUSE longer than the hold (``sleep`` on the switch);
  native is an XML extension doing ``answer``, ``sleep``;
* conference: ours runs CONFERENCE (the account's room ``held``); native
  joins its own room in the same conference profile;
* queue: ours waits in a QUEUE nobody takes from (its soft hold tone, the
  member row in the database); native plays the same tone in a loop
  (``endless_playback``);
* bridge: ours TRANSFERs the caller through the trunk gateway to a sipp
  answerer; native ``bridge``s to the same gateway. Each held call is two
  channels here;
* detect: the caller speaks a machine greeting; ours runs DETECT, then a
  PAUSE; native ``record``s it as the switch does for DETECT, then
  ``sleep``s (more in scripts/bench_held_detect.py).

The harness is scripts/bench_sip.py's (the same FreeSWITCH configuration,
``voxology-fs serve`` as shipped, callbacks over HTTP on loopback, SQLite
and the trace); no capture tool is needed. The call server is restarted
before each way of holding, so its memory figure is not hidden by the
high-water mark an earlier run left.

For each N it prints failed calls (sipp's count, and any call not up at the
plateau), over the plateau: FreeSWITCH CPU per held call per second, the
call server's CPU per held call per second and its RSS growth per held
call, the machine's CPU use and load average; then the largest N each side
held with zero failures. A side stops at its first failing N.

    FREESWITCH_BIN=/path/to/bin/freeswitch python scripts/bench_held.py --counts 100,300
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import ClassVar  # noqa: E402

import gevent  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_held_detect as detect  # noqa: E402
import bench_sip as base  # noqa: E402

SCENARIO = base.REPO / "tests" / "integration" / "sipp" / "bench_uac_hold.xml"
HOLDS = {
    # hold: (our number, dialled for ours, dialled for native)
    "pause": ("+17145551301", "17145551301", "19995550301"),
    "conference": ("+17145551302", "17145551302", "19995550302"),
    "queue": ("+17145551303", "17145551303", "19995550303"),
    "bridge": ("+17145551304", "17145551304", "19995550304"),
    "detect": ("+17145551305", "17145551305", "19995550305"),
}
FAR_END = "+13125550100"  # where a bridged call goes: the trunk's sipp answerer
ANSWERER = base.REPO / "tests" / "integration" / "sipp" / "uas_answer.xml"
# Ours: the default wait of QUEUE (voxology_fs.channel.HOLD_TONE, then 2.6 s of silence).
QUEUE_TONE = "file_string://tone_stream://%(400,0,440)!silence_stream://2600"
LONGEST_HOLD_MS = 3600 * 1000  # longer than any run: the caller's BYE ends every call


def flow(hold):
    held = {
        "pause": [{"type": "PAUSE", "params": {"length": LONGEST_HOLD_MS}}],
        "conference": [{"type": "CONFERENCE", "params": {"name": "held"}}],
        "queue": [{"type": "QUEUE", "params": {"name": "held"}}],
        "bridge": [{"type": "TRANSFER", "params": {"to": FAR_END, "timeout": 60}}],
        "detect": detect.flow_actions(LONGEST_HOLD_MS),
    }[hold]
    return json.dumps({"actions": [*held, {"type": "HANGUP"}]}).encode()


FLOWS = {f"/{hold}": flow(hold) for hold in HOLDS}

NATIVE_DIALPLAN = f"""<!-- bench_held.py: held calls as native extensions (this run only) -->
<include>
  <context name="{base.NATIVE_GATEWAY}">
    <extension name="bench_held_pause">
      <condition field="destination_number" expression="^{HOLDS["pause"][2]}$">
        <action application="answer"/>
        <action application="sleep" data="{LONGEST_HOLD_MS}"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="bench_held_conference">
      <condition field="destination_number" expression="^{HOLDS["conference"][2]}$">
        <action application="answer"/>
        <action application="conference" data="bench-held@default"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="bench_held_queue">
      <condition field="destination_number" expression="^{HOLDS["queue"][2]}$">
        <action application="answer"/>
        <action application="endless_playback" data="{QUEUE_TONE}"/>
      </condition>
    </extension>
    <extension name="bench_held_bridge">
      <condition field="destination_number" expression="^{HOLDS["bridge"][2]}$">
        <action application="bridge" data="sofia/gateway/trunk/{FAR_END}"/>
      </condition>
    </extension>
{detect.native_extension("bench_held_detect", HOLDS["detect"][2], LONGEST_HOLD_MS)}  </context>
</include>
"""


def callback_app(environ, start_response):
    environ["wsgi.input"].read()
    body = FLOWS.get(environ.get("PATH_INFO", ""), b'{"actions": [{"type": "HANGUP"}]}')
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class HeldBench(base.Bench):
    native_dialplan = NATIVE_DIALPLAN
    with_trunk = True  # the bridge hold's far ends
    callback_app = staticmethod(callback_app)
    numbers: ClassVar[dict[str, str]] = {number: f"/{hold}" for hold, (number, _, _) in HOLDS.items()}

    def start_callserver(self):
        # DETECT's spool files in the run's folder, as native's are, not in the repository's var/.
        os.environ["VOXOLOGY_RECORDINGS_DIR"] = str(self.workdir / "recordings")
        super().start_callserver()

    def channels(self):
        m = re.search(r"(\d+) total", self.esl("show channels count"))
        return int(m.group(1)) if m else -1


@dataclass
class HeldResult:
    hold: str
    mode: str
    count: int
    up_at_plateau: int = 0
    sipp_ok: int = None
    sipp_failed: int = None
    sipp_rc: int = None
    plateau: float = 0.0
    fs_cpu: float = 0.0
    cs_cpu: float = None
    cs_rss_growth_kb: int = None
    machine_busy: float = 0.0
    load: tuple = ()
    run_fs_cpu: float = None  # from the first INVITE to the plateau's end
    run_cs_cpu: float = None
    verdicts: detect.Verdicts = None  # the detect hold, ours
    reasons: list = field(default_factory=list)

    @property
    def failed(self):
        sipp_missing = self.count - (self.sipp_ok or 0)
        return max(sipp_missing, self.count - self.up_at_plateau)

    @property
    def passed(self):
        return not self.reasons

    def per_call_second_ms(self, cpu):
        if cpu is None or not self.plateau or not self.up_at_plateau:
            return None
        return cpu / self.up_at_plateau / self.plateau * 1000


def run_held(bench, hold, mode, count, args):
    result = HeldResult(hold, mode, count)
    bench.wait_fs_idle(timeout=60)
    tag = f"held-{hold}-{mode}-{count}"
    files = {k: bench.workdir / f"{tag}.{k}" for k in ("stat", "err", "out")}
    ramp = count / args.rate
    hold_ms = int((ramp + args.settle + args.plateau + 2) * 1000)
    fs_pid, cs_pid = bench.fs_state["pid"], bench.callserver.pid
    dialled = HOLDS[hold][1] if mode == "ours" else HOLDS[hold][2]
    uri_params = "" if mode == "ours" else ";gw=" + base.NATIVE_GATEWAY
    rss_idle = base.rss_kb(cs_pid) if mode == "ours" else None
    cmd = [
        "sipp",
        "-sf",
        str(detect.SCENARIO if hold == "detect" else SCENARIO),
        "-s",
        dialled,
        "-key",
        "caller",
        base.CALLER,
        "-key",
        "uri_params",
        uri_params,
        "-i",
        base.LOOPBACK,
        "-p",
        str(base.runfs.free_port(udp=True)),
        "-mi",
        base.LOOPBACK,
        "-mp",
        str(bench.media_port),
        # The detect hold's callers stream a greeting instead: with the echo on too, the switch heard it garbled.
        *(() if hold == "detect" else ("-rtp_echo",)),
        "-r",
        format(args.rate, "g"),
        "-rp",
        "1000",
        "-m",
        str(count),
        "-l",
        str(count),
        "-d",
        str(hold_ms),
        "-recv_timeout",
        str(int(args.call_timeout * 1000)),
        "-timeout",
        f"{int(hold_ms / 1000 + args.call_timeout + 30)}s",
        "-timeout_error",
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(files["stat"]),
        "-fd",
        "1",
        "-trace_err",
        "-error_file",
        str(files["err"]),
        f"{base.LOOPBACK}:{bench.fs_state['sip_port']}",
    ]
    answerer = start_answerer(bench, count, hold_ms, args, tag) if hold == "bridge" else None
    channels_per_call = 2 if hold == "bridge" else 1
    since = detect.utcnow()
    run_fs0, run_cs0 = base.cpu_seconds(fs_pid), base.cpu_seconds(cs_pid) if mode == "ours" else None
    began = time.monotonic()
    with open(files["out"], "w") as out:  # the child keeps its own descriptor
        # In the run's folder: the detect hold's caller_voice.wav is there.
        sipp = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=bench.workdir)
    bench.children.append(sipp)
    try:
        # All N up (or the ramp plus the settling time gone), then the plateau.
        deadline = began + ramp + args.settle
        while time.monotonic() < deadline and bench.channels() < count * channels_per_call and sipp.poll() is None:
            gevent.sleep(0.25)
        result.up_at_plateau = bench.channels() // channels_per_call
        fs0, cs0 = base.cpu_seconds(fs_pid), base.cpu_seconds(cs_pid) if mode == "ours" else None
        busy0, total0 = base.machine_jiffies()
        t0 = time.monotonic()
        gevent.sleep(args.plateau)
        result.plateau = time.monotonic() - t0
        result.fs_cpu = base.cpu_seconds(fs_pid) - fs0
        result.run_fs_cpu = base.cpu_seconds(fs_pid) - run_fs0
        if mode == "ours":
            result.cs_cpu = base.cpu_seconds(cs_pid) - cs0
            result.run_cs_cpu = base.cpu_seconds(cs_pid) - run_cs0
            result.cs_rss_growth_kb = base.rss_kb(cs_pid) - rss_idle
        busy1, total1 = base.machine_jiffies()
        result.machine_busy = (busy1 - busy0) / max(1, total1 - total0)
        result.load = os.getloadavg()
        result.up_at_plateau = min(result.up_at_plateau, bench.channels() // channels_per_call)
        result.sipp_rc = sipp.wait(timeout=hold_ms / 1000 + args.call_timeout + 60)
    except subprocess.TimeoutExpired:
        base.stop_process(sipp, signal.SIGKILL)
        result.sipp_rc = -9
        result.reasons.append("sipp did not finish in time")
    finally:
        if answerer is not None and answerer.poll() is None:
            base.stop_process(answerer, signal.SIGTERM)  # its calls are over with the callers'
        for child in (sipp, answerer):
            if child in bench.children:
                bench.children.remove(child)
    result.sipp_ok, result.sipp_failed = bench.sipp_counts(files["stat"])
    if hold == "detect" and mode == "ours":
        result.verdicts = detect.verdicts(HOLDS[hold][0], since)
    if result.up_at_plateau < count:
        result.reasons.append(f"only {result.up_at_plateau} of {count} up at the plateau")
    if result.sipp_ok != count:
        result.reasons.append(f"sipp: {result.sipp_ok} ok, {result.sipp_failed} failed")
    if result.sipp_rc not in (0, None) and not result.reasons:
        result.reasons.append(f"sipp exit code {result.sipp_rc}")
    return result


def start_answerer(bench, count, hold_ms, args, tag):
    """A sipp answerer on the trunk's port: it answers every bridged call and
    waits for its BYE, until it is stopped after the callers' run."""
    cmd = [
        "sipp",
        "-sf",
        str(ANSWERER),
        "-i",
        base.LOOPBACK,
        "-p",
        str(bench.trunk_port),
        "-mp",
        str(base.runfs.free_port(udp=True)),
        "-timeout",
        f"{int(hold_ms / 1000 + args.call_timeout + 30)}s",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(bench.workdir / f"{tag}.answerer.err"),
    ]
    with open(bench.workdir / f"{tag}.answerer.out", "w") as out:
        answerer = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    bench.children.append(answerer)
    gevent.sleep(0.5)  # listening before the first INVITE
    return answerer


def print_result(r):
    fs = r.per_call_second_ms(r.fs_cpu)
    cs = ""
    if r.mode == "ours":
        rss = None if r.cs_rss_growth_kb is None or not r.up_at_plateau else r.cs_rss_growth_kb / r.up_at_plateau
        cs = (
            f", call server {base.fmt(r.per_call_second_ms(r.cs_cpu), '.3f')} ms and "
            f"{base.fmt(rss, '.1f')} KB RSS per held call"
        )
    print(
        f"  {r.hold:10s} {r.mode:6s} N={r.count:<5d}: {r.failed} failed, {r.up_at_plateau} up; per held call per "
        f"second: FreeSWITCH {base.fmt(fs, '.3f')} ms CPU{cs}; machine CPU {r.machine_busy * 100:.0f}%, "
        f"load {r.load[0]:.2f}" + ("" if r.passed else " -> FAILED: " + "; ".join(r.reasons)),
        flush=True,
    )
    if r.hold == "detect":
        print(detect.describe(r), flush=True)


def report(results, modes):
    print()
    print("largest N held with zero failures:")
    run = [hold for hold in HOLDS if any(r.hold == hold for r in results)]
    for hold in run:
        line = []
        for mode in modes:
            held = [r.count for r in results if r.hold == hold and r.mode == mode and r.passed]
            line.append(f"{mode} {max(held) if held else 0}")
        print(f"  {hold}: " + ", ".join(line))
    print()
    print(f"{'':34s}  {'ours':>10s}  {'native':>10s}  {'ours/native':>11s}")
    for hold in run:
        for count in sorted({r.count for r in results}):
            o = next((r for r in results if (r.hold, r.mode, r.count) == (hold, "ours", count)), None)
            n = next((r for r in results if (r.hold, r.mode, r.count) == (hold, "native", count)), None)
            of = o.per_call_second_ms(o.fs_cpu) if o and o.passed else None
            nf = n.per_call_second_ms(n.fs_cpu) if n and n.passed else None
            print(
                f"{f'{hold} N={count}: FS CPU ms/call/s':34s}  {base.fmt(of, '.3f'):>10s}  "
                f"{base.fmt(nf, '.3f'):>10s}  {base.ratio(of, nf):>11s}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="100,300,1000", help="calls held at once (default %(default)s)")
    parser.add_argument("--holds", default=",".join(HOLDS), help="any of %(default)s (default all)")
    parser.add_argument("--modes", default="ours,native", help="which of ours,native to run (default both)")
    parser.add_argument("--rate", type=float, default=40, help="calls/s while building up (default %(default)s)")
    parser.add_argument("--plateau", type=float, default=10, help="seconds measured with all N up")
    parser.add_argument("--settle", type=float, default=10, help="seconds allowed past the ramp for all N to be up")
    parser.add_argument("--call-timeout", type=float, default=30, help="seconds sipp waits for each message")
    parser.add_argument("--fs-loglevel", help="FreeSWITCH log level (default: the configuration's)")
    parser.add_argument("--cs-loglevel", default="WARNING", help="call-server log level (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the logs (the folder is printed)")
    base.add_server_argument(parser)
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    holds = [h.strip() for h in args.holds.split(",") if h.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(h not in HOLDS for h in holds) or any(m not in base.MODES for m in modes):
        parser.error(f"--holds takes {','.join(HOLDS)}; --modes takes ours,native")
    if not shutil.which("sipp"):
        sys.exit("bench_held: sipp is not installed")
    if not base.runfs.find_freeswitch():
        sys.exit("bench_held: no FreeSWITCH (set FREESWITCH_BIN)")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    bench = HeldBench(args)
    results = []
    try:
        load = os.getloadavg()
        print(
            f"bench_held: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"work folder {bench.workdir}",
            flush=True,
        )
        bench.start()
        if "detect" in holds:
            print(f"detect: the callers speak {detect.write_caller_voice(bench.workdir)}", flush=True)
        for i, hold in enumerate(holds):
            if i:
                bench.stop_callserver()
                bench.start_callserver()
            gevent.sleep(1)
            active = list(modes)
            for count in counts:
                for mode in list(active):
                    r = run_held(bench, hold, mode, count, args)
                    results.append(r)
                    print_result(r)
                    if not r.passed:
                        active.remove(mode)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        bench.stop()
    base.print_log_problems(bench)
    if results:
        report(results, modes)
    print(
        f"\n{time.monotonic() - started:.0f} s in all; {os.cpu_count()} cores shared by FreeSWITCH, the call "
        f"server, sipp and the callback server (this process): figures are a guide."
    )
    if not args.keep:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
