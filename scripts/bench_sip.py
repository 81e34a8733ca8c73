#!/usr/bin/env python3
"""Benchmark hello world on a real FreeSWITCH: our call server vs a native dialplan.

sipp places SIP calls at a rising rate (10, 20, 40, 60, 80, 100... calls/s,
each step --step-seconds long) into one FreeSWITCH started with the
project's configuration (scripts/run-freeswitch), in two ways, step by step
in the same run:

* ours: the shipped ``voxology`` context hands the call to ``voxology-fs
  callserver`` (its own process), which fetches the hello-world flow from a
  local callback server (in this process) and runs ring_ready, answer,
  ``speak flite|kal|Hello, world.``, hangup;
* native: the same call as an XML dialplan extension (answer, speak,
  hangup), no call server.

The native extension lives in an extra dialplan file, context
``bench_native``, added to a copy of freeswitch/ for this run only (the
shipped files are copied unchanged). FreeSWITCH searches only the first
``<context name="voxology">`` it finds, so an extension in another file
cannot join the shipped context; instead an extra gateway file declares a
gateway whose inbound context is ``bench_native``, and native calls carry
``;gw=bench_native`` in their Request-URI. Within that context the call is
routed by the dialled number.

For each step and mode it prints:

* whether every call succeeded (200 acknowledged by sipp, speech heard, BYE
  from FreeSWITCH, sipp counted no failure) and its length was not
  stretched (p95 INVITE-to-BYE at most --max-stretch above the unloaded
  median);
* INVITE sent -> first non-silent audio the caller receives, median and
  p95: tshark captures SIP and the RTP sent to sipp's media port on the
  loopback interface; the first RTP packet of the call whose PCMU payload
  has an RMS of at least --silence-rms (16-bit linear) counts. flite's
  waveform opens with about 260 ms of near-silence (RMS under 40), the
  same in both modes, so the time to the call's first RTP packet is
  printed too: it shows the set-up alone;
* FreeSWITCH's CPU per call (/proc/PID/stat over the step) and, for ours,
  the call server's CPU per call and RSS per concurrent call: its RSS
  growth above the idle RSS (taken after the warm-up) when the most calls
  were up, over that number of calls. RSS is a high-water mark (Python
  keeps freed memory), so this is an upper bound;
* where the cores went: FreeSWITCH, the call server, the callback server
  (this process), sipp, tshark and everything else on the machine.

Each mode stops at its first failing step (or --max-rate, or when the time
budget --max-minutes runs out); a table and the ratios ours/native end the
run. sipp answers the audio with -rtp_echo, so FreeSWITCH also receives RTP.
The callback server sets TCP_NODELAY: gevent's pywsgi writes headers and
body separately, and Nagle plus the client's delayed ACK would otherwise
add 40 ms to callbacks.
All traffic stays on 127.0.0.1; every process started here is stopped at
the end. The machine's other load competes for the same cores: the script
prints the load average and each step's CPU use.

    FREESWITCH_BIN=/path/to/bin/freeswitch python scripts/bench_sip.py --quick
    FREESWITCH_BIN=/path/to/bin/freeswitch python scripts/bench_sip.py --max-rate 200 --step-seconds 10
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import bisect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import ClassVar  # noqa: E402

import gevent  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from voxology_fs import db  # noqa: E402

SCENARIO = REPO / "tests" / "integration" / "sipp" / "bench_uac_hello.xml"
LOOPBACK = "127.0.0.1"
OURS_DIALLED = "17145551212"  # normalises to DID
NATIVE_DIALLED = "19995550100"
NATIVE_GATEWAY = "bench_native"
CALLER = "19495550100"
DEFAULT_RATES = (10, 20, 40, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500)
QUICK_RATES = (5, 10)

NATIVE_DIALPLAN = f"""<!-- bench_sip.py: hello world as a native extension (this run only) -->
<include>
  <context name="bench_native">
    <extension name="bench_hello_world">
      <condition field="destination_number" expression="^{NATIVE_DIALLED}$">
        <action application="answer"/>
        <action application="speak" data="flite|kal|Hello, world."/>
        <action application="hangup"/>
      </condition>
    </extension>
  </context>
</include>
"""
# Inbound calls whose Request-URI has ;gw=bench_native go to its context.
# Nothing is ever sent to its proxy (no registration, no ping, no calls).
NATIVE_GATEWAY_XML = f"""<!-- bench_sip.py: inbound route to the bench_native context (this run only) -->
<include>
  <gateway name="{NATIVE_GATEWAY}">
    <param name="proxy" value="127.0.0.1"/>
    <param name="register" value="false"/>
    <param name="context" value="bench_native"/>
  </gateway>
</include>
"""

MODES = {
    "ours": {"dialled": OURS_DIALLED, "uri_params": "", "label": "ours (call server)"},
    "native": {"dialled": NATIVE_DIALLED, "uri_params": ";gw=" + NATIVE_GATEWAY, "label": "native (XML dialplan)"},
}


from tests.support.audio import pcmu_rms  # noqa: E402
from tests.support.callbacks import NoDelayWSGIServer  # noqa: E402
from tests.support.procstat import CLK_TCK, cpu_seconds, rss_kb, tree_cpu_seconds  # noqa: E402
from tests.support.provision import DID, provision  # noqa: E402
from tests.support.provision import HELLO as HELLO_FLOW  # noqa: E402
from tests.support.run_freeswitch import runfs  # noqa: E402

HELLO = json.dumps(HELLO_FLOW).encode()


# ----------------------------------------------------------------- /proc


def self_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_jiffies():
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


# ----------------------------------------------------------------- pcap


def read_udp_pcap(path):
    """Yield (time, src_port, dst_port, payload) for each IPv4 UDP packet of
    a classic pcap file (tshark -F pcap)."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    header = struct.Struct(endian + "IIII")
    offset, size = 24, len(data)
    while offset + 16 <= size:
        sec, frac, incl, _ = header.unpack_from(data, offset)
        offset += 16
        pkt = data[offset : offset + incl]
        offset += incl
        if linktype == 1:  # Ethernet (Linux loopback)
            if pkt[12:14] != b"\x08\x00":
                continue
            ip = 14
        elif linktype == 113:  # Linux cooked
            if pkt[14:16] != b"\x08\x00":
                continue
            ip = 16
        elif linktype == 276:  # Linux cooked v2
            if pkt[0:2] != b"\x08\x00":
                continue
            ip = 20
        elif linktype == 0:  # BSD loopback
            ip = 4
        elif linktype in (12, 101):  # raw IP
            ip = 0
        else:
            raise ValueError(f"{path}: unsupported link type {linktype}")
        if len(pkt) < ip + 28 or pkt[ip] >> 4 != 4 or pkt[ip + 9] != 17:
            continue
        udp = ip + (pkt[ip] & 0x0F) * 4
        sport, dport, length = struct.unpack_from("!HHH", pkt, udp)
        yield sec + frac * scale, sport, dport, pkt[udp + 8 : udp + length]


@dataclass
class CallRecord:
    call_id: str
    invite: float
    final: int = 0
    ok: float = None
    fs_rtp_port: int = None
    acked: bool = False  # sipp acknowledged the 200
    bye: float = None
    media: float = None  # first RTP packet of the call
    audio: float = None  # first non-silent RTP packet

    @property
    def length(self):
        return self.bye - self.invite if self.bye is not None else None

    @property
    def first_audio(self):
        return self.audio - self.invite if self.audio is not None else None

    @property
    def first_media(self):
        return self.media - self.invite if self.media is not None else None

    @property
    def good(self):
        return self.final == 200 and self.acked and self.bye is not None and self.audio is not None


_HEADER = re.compile(rb"^(call-id|i|cseq)\s*:\s*(.*?)\s*$", re.I | re.M)
_MEDIA = re.compile(rb"^m=audio (\d+) ", re.M)


def analyse_capture(path, fs_sip_port, media_port, silence_rms):
    """Per Call-ID records from a capture of one step."""
    calls = {}
    streams = {}  # ssrc -> [first time, source port, first loud time]
    for t, sport, dport, payload in read_udp_pcap(path):
        if dport == media_port and sport != fs_sip_port:
            if len(payload) < 12 or payload[0] >> 6 != 2:
                continue
            ssrc = payload[8:12]
            stream = streams.get(ssrc)
            if stream is None:
                stream = streams[ssrc] = [t, sport, None]
            if stream[2] is None and payload[1] & 0x7F == 0:
                start = 12 + 4 * (payload[0] & 0x0F)
                if payload[0] & 0x10 and len(payload) >= start + 4:
                    start += 4 + 4 * struct.unpack_from("!H", payload, start + 2)[0]
                if pcmu_rms(payload[start:]) >= silence_rms:
                    stream[2] = t
            continue
        if fs_sip_port not in (sport, dport):
            continue
        head, _, body = payload.partition(b"\r\n\r\n")
        first = head.split(b"\r\n", 1)[0]
        headers = {m.group(1).lower(): m.group(2) for m in _HEADER.finditer(head)}
        call_id = headers.get(b"call-id") or headers.get(b"i")
        cseq = headers.get(b"cseq", b"")
        if not call_id:
            continue
        call_id = call_id.decode("latin-1")
        to_fs = dport == fs_sip_port
        if first.startswith(b"INVITE ") and to_fs:
            if call_id not in calls:
                calls[call_id] = CallRecord(call_id, t)
        elif first.startswith(b"SIP/2.0 ") and not to_fs and cseq.endswith(b"INVITE"):
            call = calls.get(call_id)
            code = int(first.split()[1])
            if call and code >= 200 and not call.final:
                call.final = code
                if code == 200:
                    call.ok = t
                    media = _MEDIA.search(body)
                    if media:
                        call.fs_rtp_port = int(media.group(1))
        elif first.startswith(b"ACK ") and to_fs:
            call = calls.get(call_id)
            if call:
                call.acked = True
        elif first.startswith(b"BYE ") and not to_fs:
            call = calls.get(call_id)
            if call and call.bye is None:
                call.bye = t
    # Each call's stream: from FreeSWITCH's port in its 200 OK, the stream
    # that started closest to that 200 OK within the call.
    by_port = {}
    for began, port, loud in streams.values():
        by_port.setdefault(port, []).append((began, loud))
    for call in calls.values():
        if call.ok is None or call.fs_rtp_port is None:
            continue
        end = call.bye if call.bye is not None else float("inf")
        candidates = [
            (abs(began - call.ok), began, loud)
            for began, loud in by_port.get(call.fs_rtp_port, ())
            if call.invite <= began <= end
        ]
        if candidates:
            _, call.media, call.audio = min(candidates, key=lambda c: c[0])
    return sorted(calls.values(), key=lambda c: c.invite)


def percentile(values, pct):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * pct / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# ----------------------------------------------------------------- helpers


def free_media_port(avoid):
    """An even UDP port p with p..p+3 free (sipp's -rtp_echo binds p and p+2)."""
    for _ in range(200):
        port = runfs.free_port(udp=True) & ~1
        if avoid[0] - 4 <= port <= avoid[1] + 4 or port > 65530:
            continue
        if all(runfs._port_free(p, (socket.SOCK_DGRAM,)) for p in range(port, port + 4)):
            return port
    raise RuntimeError("no free media port")


def callback_app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def print_log_problems(bench) -> None:
    """How many warnings and errors the call server logged in the run."""
    if bench.callserver_log:
        problems = [
            line for line in bench.callserver_log.read_text().splitlines() if " WARNING " in line or " ERROR " in line
        ]
        print(f"call-server log: {len(problems)} warnings/errors ({bench.callserver_log})")


def fmt(value, spec=".0f", none="-"):
    return none if value is None else format(value, spec)


@dataclass
class StepResult:
    mode: str
    rate: float
    planned: int
    calls: list = field(default_factory=list)
    sipp_ok: int = None
    sipp_failed: int = None
    sipp_rc: int = None
    capture_dropped: int = 0
    fs_cpu: float = 0.0
    cs_cpu: float = None
    cs_rss_per_call_kb: float = None
    cs_rss_peak_kb: int = None
    max_concurrent: int = 0
    machine_busy: float = 0.0
    cpu: dict = field(default_factory=dict)  # who used the CPU during the step, seconds
    wall: float = 0.0
    passed: bool = False
    reasons: list = field(default_factory=list)

    @property
    def good(self):
        return [c for c in self.calls if c.good]

    def latency(self, pct, media=False):
        values = [c.first_media if media else c.first_audio for c in self.good]
        return percentile(values, pct) * 1000 if values else None

    def length(self, pct):
        values = [c.length for c in self.good]
        return percentile(values, pct) if values else None

    @property
    def placed_rate(self):
        if len(self.calls) < 2:
            return None
        span = self.calls[-1].invite - self.calls[0].invite
        return (len(self.calls) - 1) / span if span > 0 else None

    def per_call_ms(self, cpu):
        return cpu / len(self.calls) * 1000 if cpu is not None and self.calls else None


# ----------------------------------------------------------------- the bench


class Bench:
    # What a run serves; scripts/bench_held.py runs other flows on the same harness.
    native_dialplan = NATIVE_DIALPLAN
    callback_app = staticmethod(callback_app)
    numbers: ClassVar[dict[str, str]] = {DID: "/hello"}  # number -> its callback path
    with_trunk = False  # a trunk gateway to a free port (a subclass's far-end answerers)

    def __init__(self, args):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="voxology-bench-sip-"))
        self.fs_state = None
        self.callserver = None
        self.callserver_log = None
        self.web = None
        self.children = []  # sipp / tshark currently running
        self.cs_idle_rss = None

    # -- set-up ---------------------------------------------------------------
    def start(self):
        args = self.args
        config = self.workdir / "config"
        shutil.copytree(REPO / "freeswitch", config, ignore=shutil.ignore_patterns("*.md", "*~", ".*"))
        (config / "dialplan" / "bench_native.xml").write_text(self.native_dialplan)
        (config / "gateways" / "bench_native.xml").write_text(NATIVE_GATEWAY_XML)

        database_url = f"sqlite:///{self.workdir}/bench.sqlite3"
        db.connect(database_url)
        db.migrate()
        self.web = NoDelayWSGIServer((LOOPBACK, 0), self.callback_app, log=None)
        self.web.start()
        with db.database.connection_context():
            for number, path in self.numbers.items():
                provision(
                    f"http://{LOOPBACK}:{self.web.server_port}{path}", number, account="bench", application="bench"
                )

        cs_port = runfs.free_port()
        rtp_start, rtp_end = runfs.free_rtp_range(size=4000)
        self.trunk_port = runfs.free_port(udp=True) if self.with_trunk else None
        self.fs_state = runfs.start(
            self.workdir / "fs",
            sip_port=runfs.free_port(udp=True),
            esl_port=runfs.free_port(),
            socket_addr=f"{LOOPBACK}:{cs_port}",
            rtp_start=rtp_start,
            rtp_end=rtp_end,
            config_dir=config,
            timeout=45,
            loglevel=args.fs_loglevel,
            trunk_proxy=f"{LOOPBACK}:{self.trunk_port}" if self.trunk_port else None,
        )
        self.media_port = free_media_port((rtp_start, rtp_end))
        gw = self.esl(f"sofia status gateway {NATIVE_GATEWAY}")
        if "Invalid Gateway" in gw:
            raise RuntimeError("the bench_native gateway did not load:\n" + gw)

        self.database_url = database_url
        self.cs_port = cs_port
        self.start_callserver()

    def start_callserver(self):
        """The product as shipped: ``voxology-fs serve`` (call server and REST API,
        whose workers keep their own switch links) or, with --server callserver,
        the call server alone."""
        args, s = self.args, self.fs_state
        env = dict(
            os.environ,
            VOXOLOGY_DATABASE_URL=self.database_url,
            VOXOLOGY_OUTBOUND_PORT=str(self.cs_port),
            VOXOLOGY_AUDIO_CACHE_DIR=str(self.workdir / "audio"),
            VOXOLOGY_MAX_CALLS="5000",
            VOXOLOGY_API_HOST=LOOPBACK,
            VOXOLOGY_API_PORT=str(runfs.free_port()),
            VOXOLOGY_ESL_HOST=s["esl_host"],
            VOXOLOGY_ESL_PORT=str(s["esl_port"]),
            VOXOLOGY_ESL_PASSWORD=s["esl_password"],
        )
        self.callserver_log = self.workdir / "callserver.log"
        with open(self.callserver_log, "a") as out:
            self.callserver = subprocess.Popen(
                [sys.executable, "-m", "voxology_fs.cli", "--log-level", args.cs_loglevel, args.server],
                env=env,
                cwd=str(REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while "call server on" not in self.callserver_log.read_text():
            if self.callserver.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the call server did not start:\n" + self.callserver_log.read_text())
            gevent.sleep(0.05)
        gevent.sleep(1 if args.server == "serve" else 0)  # the REST workers' switch links

    def stop_callserver(self):
        stop_process(self.callserver, signal.SIGINT, 15)

    def esl(self, cmd):
        s = self.fs_state
        return runfs.esl_api(s["esl_host"], s["esl_port"], s["esl_password"], cmd, timeout=15)

    def wait_fs_idle(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        hung_up = False
        while True:
            out = self.esl("show channels count").strip()
            m = re.search(r"(\d+) total", out)
            if m and int(m.group(1)) == 0:
                return
            if time.monotonic() > deadline:
                if hung_up:
                    raise RuntimeError(f"FreeSWITCH still has channels: {out}")
                self.esl("hupall NORMAL_CLEARING")
                hung_up = True
                deadline = time.monotonic() + 10
            gevent.sleep(0.25)

    def stop(self):
        for proc in self.children:
            stop_process(proc, signal.SIGKILL, 5)
        if self.callserver is not None:
            self.stop_callserver()
        if self.fs_state:
            try:
                runfs.stop(self.fs_state["run_dir"], timeout=15)
            except Exception as exc:  # best effort, report it
                print(f"stopping FreeSWITCH: {exc}", file=sys.stderr)
        if self.web is not None:
            self.web.stop()

    # -- one step ----------------------------------------------------------------
    def run_step(self, mode, rate, seconds, calls=None, label=None):
        args = self.args
        planned = calls or max(1, round(rate * seconds))
        step = StepResult(mode, rate, planned)
        tag = f"{mode}-{label or format(rate, 'g')}"
        files = {k: self.workdir / f"{tag}.{k}" for k in ("pcap", "stat", "err", "out", "screen", "tshark")}
        self.wait_fs_idle()

        fs_sip = self.fs_state["sip_port"]
        with open(files["tshark"], "w") as tshark_log:  # the child keeps its own copy
            tshark = subprocess.Popen(
                [
                    "tshark",
                    "-i",
                    "lo",
                    "-B",
                    "64",
                    "-s",
                    "2048",
                    "-F",
                    "pcap",
                    "-w",
                    str(files["pcap"]),
                    "-f",
                    f"udp and (port {fs_sip} or dst port {self.media_port})",
                ],
                stdout=subprocess.DEVNULL,
                stderr=tshark_log,
                stdin=subprocess.DEVNULL,
            )
        self.children.append(tshark)
        deadline = time.monotonic() + 15
        while "Capturing on" not in files["tshark"].read_text():
            if tshark.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tshark did not start: " + files["tshark"].read_text())
            gevent.sleep(0.05)
        gevent.sleep(0.3)

        fs_pid = self.fs_state["pid"]
        cs_pid = self.callserver.pid if mode == "ours" else None
        samples = []  # (time, call-server RSS KB)
        running = [True]
        tools = {"sipp": 0.0, "tshark": 0.0}
        tool_procs = {"tshark": tshark}
        tools0 = {"tshark": tree_cpu_seconds(tshark.pid)}

        def sample():
            while running[0]:
                if cs_pid:
                    samples.append((time.time(), rss_kb(cs_pid)))
                for name, proc in tool_procs.items():
                    if proc.poll() is None:
                        used = tree_cpu_seconds(proc.pid) - tools0.get(name, 0.0)
                        tools[name] = max(tools[name], used)
                gevent.sleep(0.2)

        sampler = gevent.spawn(sample)
        fs_cpu0 = cpu_seconds(fs_pid)
        cs_cpu0 = cpu_seconds(cs_pid) if cs_pid else None
        self_cpu0 = self_cpu_seconds()
        busy0, total0 = machine_jiffies()
        began = time.monotonic()
        cmd = [
            "sipp",
            "-sf",
            str(SCENARIO),
            "-s",
            MODES[mode]["dialled"],
            "-key",
            "caller",
            CALLER,
            "-key",
            "uri_params",
            MODES[mode]["uri_params"],
            "-i",
            LOOPBACK,
            "-p",
            str(runfs.free_port(udp=True)),
            "-mi",
            LOOPBACK,
            "-mp",
            str(self.media_port),
            "-rtp_echo",
            "-r",
            format(rate, "g"),
            "-rp",
            "1000",
            "-m",
            str(planned),
            "-l",
            str(planned),
            "-recv_timeout",
            str(int(args.call_timeout * 1000)),
            "-timeout",
            f"{int(seconds + args.call_timeout + 30)}s",
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
            "-trace_screen",
            "-screen_file",
            str(files["screen"]),
            f"{LOOPBACK}:{fs_sip}",
        ]
        with open(files["out"], "w") as sipp_out:  # the child keeps its own copy
            sipp = subprocess.Popen(cmd, stdout=sipp_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.children.append(sipp)
        tool_procs["sipp"] = sipp
        try:
            step.sipp_rc = sipp.wait(timeout=seconds + args.call_timeout + 60)
        except subprocess.TimeoutExpired:
            stop_process(sipp, signal.SIGKILL)
            step.sipp_rc = -9
            step.reasons.append("sipp did not finish in time")
        step.wall = time.monotonic() - began
        step.fs_cpu = cpu_seconds(fs_pid) - fs_cpu0
        if cs_pid:
            step.cs_cpu = cpu_seconds(cs_pid) - cs_cpu0
        busy1, total1 = machine_jiffies()
        step.machine_busy = (busy1 - busy0) / max(1, total1 - total0)
        tools["tshark"] = tree_cpu_seconds(tshark.pid) - tools0["tshark"]
        running[0] = False
        sampler.join(timeout=2)
        step.cpu = {
            "FreeSWITCH": step.fs_cpu,
            "call server": step.cs_cpu or 0.0,
            "callback server": self_cpu_seconds() - self_cpu0,
            "sipp": tools["sipp"],
            "tshark": tools["tshark"],
        }
        step.cpu["everything else"] = max(0.0, (busy1 - busy0) / CLK_TCK - sum(step.cpu.values()))
        self.children.remove(sipp)
        gevent.sleep(0.3)  # the last packets into the capture
        stop_process(tshark, signal.SIGINT, 15)
        self.children.remove(tshark)
        m = re.search(r"(\d+) packets? dropped", files["tshark"].read_text())
        step.capture_dropped = int(m.group(1)) if m else 0

        step.sipp_ok, step.sipp_failed = self.sipp_counts(files["stat"])
        step.calls = analyse_capture(files["pcap"], fs_sip, self.media_port, args.silence_rms)
        if not args.keep:
            files["pcap"].unlink(missing_ok=True)

        # Call-server memory per concurrent call.
        if cs_pid and samples and step.calls:
            invites = sorted(c.invite for c in step.calls)
            ends = sorted(c.bye if c.bye is not None else c.invite + args.call_timeout for c in step.calls)
            best = None
            for at, rss in samples:
                up = bisect.bisect_right(invites, at) - bisect.bisect_right(ends, at)
                if up > 0 and (best is None or up > best[0]):
                    best = (up, rss)
            step.cs_rss_peak_kb = max(rss for _, rss in samples)
            if best and self.cs_idle_rss is not None:
                step.cs_rss_per_call_kb = (best[1] - self.cs_idle_rss) / best[0]
        if step.calls:
            points = sorted(
                [(c.invite, 1) for c in step.calls]
                + [(c.bye if c.bye is not None else c.invite + args.call_timeout, -1) for c in step.calls]
            )
            up = 0
            for _, delta in points:
                up += delta
                step.max_concurrent = max(step.max_concurrent, up)
        return step

    @staticmethod
    def sipp_counts(stat_path):
        try:
            lines = [line for line in stat_path.read_text(errors="replace").splitlines() if line.strip()]
        except FileNotFoundError:
            return None, None
        if len(lines) < 2:
            return None, None
        head = lines[0].split(";")
        last = lines[-1].split(";")
        try:
            return int(last[head.index("SuccessfulCall(C)")]), int(last[head.index("FailedCall(C)")])
        except (ValueError, IndexError):
            return None, None

    def judge(self, step, baseline_length):
        """Mark the step passed or give the reasons it failed."""
        args = self.args
        good = len(step.good)
        if len(step.calls) != step.planned:
            step.reasons.append(f"{len(step.calls)} INVITEs captured of {step.planned}")
        if good != step.planned:
            no_audio = sum(1 for c in step.calls if c.final == 200 and c.audio is None)
            no_ack = sum(1 for c in step.calls if c.final == 200 and not c.acked)
            codes = sorted({c.final for c in step.calls if c.final != 200})
            step.reasons.append(
                f"{step.planned - good} failed calls"
                + (f" ({no_audio} without speech)" if no_audio else "")
                + (f" ({no_ack} 200 OK never acknowledged by sipp)" if no_ack else "")
                + (f" (final codes {codes})" if codes else "")
            )
        if step.sipp_failed:
            step.reasons.append(f"sipp counted {step.sipp_failed} failed")
        if step.sipp_rc not in (0, None):
            step.reasons.append(f"sipp exit code {step.sipp_rc}")
        if step.capture_dropped:
            step.reasons.append(f"capture dropped {step.capture_dropped} packets")
        p95 = step.length(95)
        if baseline_length and p95 is not None and p95 > baseline_length * (1 + args.max_stretch):
            step.reasons.append(
                f"calls stretched: p95 length {p95:.2f} s > {baseline_length:.2f} s x {1 + args.max_stretch:.2f}"
            )
        placed = step.placed_rate
        if placed is not None and len(step.calls) >= 10 and placed < 0.9 * step.rate:
            step.reasons.append(
                f"sipp placed only {placed:.1f} calls/s (the load generator fell behind: "
                f"sipp or the shared CPU may be the limit here)"
            )
        step.passed = not step.reasons

    def print_step(self, step, title=None):
        cs = ""
        if step.mode == "ours":
            cs = (
                f"; call server CPU {fmt(step.per_call_ms(step.cs_cpu), '.2f')} ms/call, "
                f"RSS {fmt(step.cs_rss_per_call_kb, '.1f')} KB/concurrent call "
                f"(peak {fmt(step.cs_rss_peak_kb and step.cs_rss_peak_kb / 1024, '.1f')} MB)"
            )
        print(
            f"  {title or f'{step.rate:g} calls/s'} {step.mode:6s}: {len(step.good)}/{step.planned} ok, "
            f"placed {fmt(step.placed_rate, '.1f')}/s, up to {step.max_concurrent} at once, "
            f"length p50 {fmt(step.length(50), '.2f')} s p95 {fmt(step.length(95), '.2f')} s; "
            f"first audio p50 {fmt(step.latency(50))} ms p95 {fmt(step.latency(95))} ms "
            f"(first RTP p50 {fmt(step.latency(50, True))} ms p95 {fmt(step.latency(95, True))} ms); "
            f"FreeSWITCH CPU {fmt(step.per_call_ms(step.fs_cpu), '.2f')} ms/call{cs}; "
            f"machine CPU {step.machine_busy * 100:.0f}%"
            + ("" if step.passed or title else " -> FAILED: " + "; ".join(step.reasons)),
            flush=True,
        )
        if step.wall > 0 and step.cpu:
            print(
                "      cores busy: "
                + ", ".join(
                    f"{name} {used / step.wall:.2f}" for name, used in step.cpu.items() if used or name != "call server"
                )
                + f" (of {os.cpu_count()}, over {step.wall:.1f} s)",
                flush=True,
            )


# ----------------------------------------------------------------- report


def ratio(a, b):
    if a is None or b in (None, 0):
        return "-"
    return f"{a / b:.2f}"


def report(results, warm, sustained, modes, capped=()):
    """The final table."""
    both = [
        r
        for r in sorted({s.rate for s in results})
        if all(any(s.rate == r and s.mode == m and s.passed for s in results) for m in modes)
    ]
    common = both[-1] if both else None

    def at(mode, rate):
        for s in results:
            if s.mode == mode and s.rate == rate:
                return s
        return None

    rows = []

    def row(name, ours, native, spec=".0f"):
        rows.append((name, fmt(ours, spec), fmt(native, spec), ratio(ours, native)))

    row("sustained calls/s (no failure, no stretch)", sustained.get("ours"), sustained.get("native"), "g")
    if capped:  # never failed: the figure is a lower bound
        name, ours, native, r = rows[-1]
        rows[-1] = (name, ("≥" if "ours" in capped else "") + ours, ("≥" if "native" in capped else "") + native, r)
    if warm.get("ours") and warm.get("native"):
        row("unloaded: first audio p50 (ms)", warm["ours"].latency(50), warm["native"].latency(50))
        row("unloaded: first audio p95 (ms)", warm["ours"].latency(95), warm["native"].latency(95))
        row("unloaded: first RTP packet p50 (ms)", warm["ours"].latency(50, True), warm["native"].latency(50, True))
        row("unloaded: call length p50 (s)", warm["ours"].length(50), warm["native"].length(50), ".2f")
    for label, rate in (("at %g/s (top rate both sustained)", common),):
        if rate is None:
            continue
        o, n = at("ours", rate), at("native", rate)
        tag = label % rate
        row(f"{tag}: first audio p50 (ms)", o.latency(50), n.latency(50))
        row(f"{tag}: first audio p95 (ms)", o.latency(95), n.latency(95))
        row(f"{tag}: first RTP packet p50 (ms)", o.latency(50, True), n.latency(50, True))
        row(f"{tag}: first RTP packet p95 (ms)", o.latency(95, True), n.latency(95, True))
        row(f"{tag}: FreeSWITCH CPU/call (ms)", o.per_call_ms(o.fs_cpu), n.per_call_ms(n.fs_cpu), ".2f")
        row(f"{tag}: call-server CPU/call (ms)", o.per_call_ms(o.cs_cpu), None, ".2f")
        fs_cs = None if o.cs_cpu is None else o.per_call_ms(o.fs_cpu + o.cs_cpu)
        row(f"{tag}: FreeSWITCH + call server CPU/call (ms)", fs_cs, n.per_call_ms(n.fs_cpu), ".2f")
        row(f"{tag}: call-server RSS/concurrent call (KB)", o.cs_rss_per_call_kb, None, ".1f")
    widths = [
        max(len(r[i]) for r in [*rows, ("", MODES["ours"]["label"], MODES["native"]["label"], "ours/native")])
        for i in range(4)
    ]
    header = ("", MODES["ours"]["label"], MODES["native"]["label"], "ours/native")
    print()
    for r in [header, *rows]:
        print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}")


def add_server_argument(parser):
    parser.add_argument(
        "--server",
        choices=("serve", "callserver"),
        default="serve",
        help="the command run for ours: serve (as shipped: call server and REST API) or "
        "callserver (the call server alone); default %(default)s",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-rate", type=float, default=300, help="highest step, calls/s (default %(default)s)")
    parser.add_argument("--step-seconds", type=float, default=10, help="length of each step (default %(default)s)")
    parser.add_argument("--rates", help="comma-separated steps instead of 10,20,40,60,80,100,...")
    parser.add_argument("--quick", action="store_true", help="a 2-step smoke run (5 and 10 calls/s, 4 s each)")
    parser.add_argument("--modes", default="ours,native", help="which of ours,native to run (default both)")
    parser.add_argument(
        "--max-stretch",
        type=float,
        default=0.2,
        help="a step fails when its p95 call length exceeds the unloaded median by this fraction (default %(default)s)",
    )
    parser.add_argument(
        "--silence-rms",
        type=float,
        default=300,
        help="PCMU frames below this RMS (16-bit linear) count as silence (default %(default)s)",
    )
    parser.add_argument("--call-timeout", type=float, default=20, help="seconds sipp waits for each message")
    parser.add_argument("--max-minutes", type=float, default=10, help="time budget; no step starts past it")
    parser.add_argument("--fs-loglevel", help="FreeSWITCH log level (default: the configuration's, info)")
    parser.add_argument("--cs-loglevel", default="WARNING", help="call-server log level (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the captures and logs (the folder is printed)")
    parser.add_argument(
        "--native-past-steps",
        type=int,
        default=2,
        help="steps of 10 calls/s native runs past its first failing step (default %(default)s)",
    )
    add_server_argument(parser)
    args = parser.parse_args(argv)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        parser.error("--modes takes ours, native or both")
    if args.quick:
        rates = list(QUICK_RATES)
        args.step_seconds = min(args.step_seconds, 4)
        warm_calls = 4
    else:
        rates = [float(r) for r in args.rates.split(",")] if args.rates else list(DEFAULT_RATES)
        warm_calls = 6
    rates = [r for r in rates if 0 < r <= args.max_rate]
    if not rates:
        parser.error("no step at or under --max-rate")
    for tool in ("sipp", "tshark"):
        if not shutil.which(tool):
            sys.exit(f"bench_sip: {tool} is not installed")
    if not runfs.find_freeswitch():
        sys.exit("bench_sip: no FreeSWITCH (set FREESWITCH_BIN)")

    started = time.monotonic()
    budget = args.max_minutes * 60
    bench = Bench(args)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results, warm, sustained, capped = [], {}, {}, set()
    try:
        print(
            f"bench_sip: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
            f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; work folder {bench.workdir}",
            flush=True,
        )
        bench.start()
        print(
            f"FreeSWITCH pid {bench.fs_state['pid']} (SIP {LOOPBACK}:{bench.fs_state['sip_port']}), "
            f"call server pid {bench.callserver.pid}, sipp media port {bench.media_port}",
            flush=True,
        )
        baseline = {}
        print(f"unloaded ({warm_calls} calls at 2 calls/s, also the warm-up):", flush=True)
        for mode in modes:
            step = bench.run_step(mode, 2, warm_calls / 2, calls=warm_calls, label="warm")
            baseline[mode] = step.length(50)
            bench.judge(step, None)
            warm[mode] = step
            bench.print_step(step, title="unloaded")
            if not step.passed:
                print(f"  {mode}: warm-up failed: {'; '.join(step.reasons)}", flush=True)
        gevent.sleep(1)
        bench.cs_idle_rss = rss_kb(bench.callserver.pid)
        active = [m for m in modes if warm[m].passed]
        est_step = args.step_seconds + 8
        out_of_time = False
        for rate in rates:
            if not active or out_of_time:
                break
            for mode in list(active):
                if time.monotonic() - started + est_step > budget:
                    print(f"time budget ({args.max_minutes:g} min) reached before {rate:g} calls/s", flush=True)
                    out_of_time = True
                    break
                step = bench.run_step(mode, rate, args.step_seconds)
                bench.judge(step, baseline[mode])
                results.append(step)
                bench.print_step(step)
                if step.passed:
                    sustained[mode] = rate
                else:
                    active.remove(mode)
        # Native is the reference: measured past its first failing step, in
        # steps of 10 calls/s, so a noisy step cannot set the ratio alone.
        first_fail = next((s.rate for s in results if s.mode == "native" and not s.passed), None)
        for i in range(1, args.native_past_steps + 1 if first_fail is not None and "ours" in modes else 1):
            rate = first_fail + 10 * i
            if time.monotonic() - started + est_step > budget:
                print(f"time budget ({args.max_minutes:g} min) reached before native at {rate:g} calls/s")
                break
            step = bench.run_step("native", rate, args.step_seconds)
            bench.judge(step, baseline["native"])
            results.append(step)
            bench.print_step(step)
            if step.passed:
                print(
                    f"native passed again at {rate:g} calls/s, past its first failing step: its sustained "
                    f"figure is the highest step passed",
                    flush=True,
                )
                sustained["native"] = rate
        for mode in modes:
            if mode in active:
                why = "the time budget" if out_of_time else "--max-rate"
                print(
                    f"{mode}: no failure up to {fmt(sustained.get(mode), 'g')} calls/s (stopped by {why}): "
                    f"a lower bound",
                    flush=True,
                )
                capped.add(mode)
            else:
                failed = [s for s in results if s.mode == mode and not s.passed]
                if failed:
                    s = failed[0]
                    print(
                        f"{mode}: first failing step {s.rate:g} calls/s (machine CPU {s.machine_busy * 100:.0f}%): "
                        + "; ".join(s.reasons),
                        flush=True,
                    )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        bench.stop()
    summary = (
        [
            line.strip()
            for line in bench.callserver_log.read_text().splitlines()
            if line.startswith(("call server stopped", "stopped:"))
        ]
        if bench.callserver_log
        else []
    )
    if summary:
        print(summary[0])
    print_log_problems(bench)
    if len(modes) == 2 and results:
        report(results, warm, sustained, modes, capped)
    print(
        f"\n{time.monotonic() - started:.0f} s in all; {os.cpu_count()} cores shared by FreeSWITCH, the call "
        f"server, sipp, tshark and the callback server (this process): figures are a guide."
    )
    if not args.keep:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
