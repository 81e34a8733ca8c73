#!/usr/bin/env python3
"""Benchmark one call-server process against the fake FreeSWITCH (loopback only).

Prints:
  * hello-world calls per second through one call-server process;
  * time from the switch's connect to our first application (p50/p99),
    excluding the callback's own time (the first application is sent before
    the first callback);
  * memory per concurrent call, with N calls waiting in a PAUSE.

The call server runs in its own process (``voxology-fs callserver``), so its
CPU and memory are its own; the fake switch and the callback server run here.

    python scripts/bench_callserver.py --calls 2000 --concurrency 50 --idle-calls 1000
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.lock  # noqa: E402
from gevent.pool import Pool  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from tests.fakefs import FakeSwitch  # noqa: E402
from tests.support.callbacks import NoDelayWSGIServer  # noqa: E402
from tests.support.procstat import cpu_seconds, rss_kb  # noqa: E402
from tests.support.provision import DID, provision  # noqa: E402
from tests.support.provision import HELLO as HELLO_FLOW  # noqa: E402
from tests.support.run_freeswitch import runfs  # noqa: E402
from voxology_fs import db  # noqa: E402

HELLO = json.dumps(HELLO_FLOW).encode()
WAIT = json.dumps({"actions": [{"type": "PAUSE", "params": {"length": 600000}}]}).encode()


def callback_app(environ, start_response):
    environ["wsgi.input"].read()
    body = WAIT if environ["PATH_INFO"] == "/wait" else HELLO
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class CallServerProcess:
    """``voxology-fs callserver`` in its own process, so its CPU and memory are its own."""

    def __init__(self, workdir: str, database_url: str, name: str, profile: str | None = None):
        self.port = runfs.free_port()
        self.log_path = os.path.join(workdir, f"callserver-{name}.log")
        env = dict(
            os.environ,
            VOXOLOGY_DATABASE_URL=database_url,
            VOXOLOGY_OUTBOUND_PORT=str(self.port),
            VOXOLOGY_AUDIO_CACHE_DIR=f"{workdir}/audio",
            VOXOLOGY_MAX_CALLS="5000",
        )
        profiling = ["-m", "cProfile", "-o", profile] if profile else []
        with open(self.log_path, "w") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [sys.executable, *profiling, "-m", "voxology_fs.cli", "--log-level", "WARNING", "callserver"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while "call server on" not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError("the call server did not start: " + self.log())
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        with open(self.log_path) as fh:
            return fh.read()

    def stop(self) -> str:
        """Stop it cleanly (SIGINT: the profile gets written) and return its summary line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        lines = self.log().splitlines()
        problems = [line for line in lines if " WARNING " in line or " ERROR " in line]
        if problems:
            print(f"  ({len(problems)} warnings/errors in {self.log_path})")
        summary = [line for line in lines if line.startswith("call server stopped")]
        return summary[0] if summary else "call server printed no summary"


def percentiles(values) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"p50 {statistics.median(ms):.2f} ms, p99 {ms[max(0, int(len(ms) * 0.99) - 1)]:.2f} ms"


def run_calls(switch, count: int, concurrency: int, number: str = DID) -> list[float]:
    """Place ``count`` hello-world calls; returns the set-up times seen by the switch."""
    setup_times: list[float] = []

    def one_call():
        call = switch.incoming_call(destination=number, caller="+19495551212")
        if not call.wait_closed(timeout=30):
            raise RuntimeError("call did not finish")
        # From the socket application's connect to our first sendmsg, as the switch saw them.
        setup_times.append(call.first_sendmsg_at - call.socket_connected_at)

    pool = Pool(concurrency)
    for _ in range(count):
        pool.spawn(one_call)
    pool.join(raise_error=True)
    return setup_times


def serve_callbacks(port: int) -> int:
    """The customer's callback server, alone in this process (``--serve-callbacks``)."""
    server = NoDelayWSGIServer(("127.0.0.1", port), callback_app, log=None)
    server.start()
    print("callbacks on", server.server_port, flush=True)
    server.serve_forever()
    return 0


def run_calls_on_switch_processes(
    server_port: int, count: int, concurrency: int, processes: int, watched: dict[str, int]
) -> tuple[float, dict[str, float]]:
    """Hello-world calls placed by fake switches in processes of their own; returns calls/s.

    Returns calls/s and the CPU seconds each process used meanwhile: those
    of ``watched`` (name -> pid) and the switch processes, so the caller can
    say where the machine's CPU went.

    Each switch gets ``originate loopback/<DID> &socket(...)`` over ESL, as
    FreeSWITCH would hand a call to the socket; this process only counts
    hangups, so it is not the bottleneck.
    """
    from voxology_fs.esl.connection import InboundConnection

    switches = []
    pids = dict(watched)
    for i in range(processes):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakefs",
                "--esl-port",
                "0",
                "--name",
                f"fs{i}",
                "--time-scale",
                "1.0",
                "--media-ms",
                "0",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        switches.append((proc, InboundConnection.open("127.0.0.1", port, "ClueCon")))
        pids[f"fake switch {i + 1}"] = proc.pid
    try:
        done = gevent.event.Event()
        finished = [0]

        def per_switch(esl, share):
            slots = gevent.lock.Semaphore(max(1, concurrency // processes))
            ended = {}

            def on_hangup(event):
                waiter = ended.pop(event.get("Unique-ID", ""), None)
                if waiter is not None:
                    finished[0] += 1
                    waiter.release()
                    if finished[0] >= count:
                        done.set()

            esl.register_handle("CHANNEL_HANGUP_COMPLETE", on_hangup)
            esl.send("event plain CHANNEL_HANGUP_COMPLETE")
            for _ in range(share):
                slots.acquire()
                call_id = str(uuid.uuid4())
                ended[call_id] = slots
                esl.bgapi(
                    f"originate {{origination_uuid={call_id},origination_caller_id_number=+19495551212}}"
                    f"loopback/{DID} &socket('127.0.0.1:{server_port} async full')"
                )

        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        began = time.perf_counter()
        shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
        workers = [gevent.spawn(per_switch, esl, share) for (_, esl), share in zip(switches, shares, strict=True)]
        if not done.wait(timeout=300):
            raise RuntimeError(f"only {finished[0]} of {count} calls finished")
        elapsed = time.perf_counter() - began
        cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        gevent.killall(workers)
        return count / elapsed, cpu_used
    finally:
        for proc, esl in switches:
            esl.close()
            proc.terminate()
            proc.wait(timeout=10)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-callbacks":
        return serve_callbacks(int(sys.argv[2]))
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-calls", type=int, default=300)
    parser.add_argument("--idle-calls", type=int, default=1000)
    parser.add_argument("--profile", metavar="FILE", help="run the throughput call server under cProfile")
    parser.add_argument(
        "--switch-processes",
        type=int,
        default=2,
        help="fake switches in processes of their own for the throughput figure (0: skip)",
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="voxology-bench-")
    database_url = f"sqlite:///{workdir}/bench.sqlite3"
    db.connect(database_url)
    db.migrate()
    # The callback server runs in a process of its own.
    web = subprocess.Popen([sys.executable, __file__, "--serve-callbacks", "0"], stdout=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{int(web.stdout.readline().split()[-1])}"
    with db.database.connection_context():
        provision(base + "/hello", DID, account="bench", application="bench")
        provision(base + "/wait", "+17145550000", account="bench", application="bench")

    # 1. Latency: one call at a time, so neither side is queueing.
    server = CallServerProcess(workdir, database_url, "latency")
    switch = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=1.0, media_ms=0)
    switch.start()
    try:
        run_calls(switch, 20, 1)  # warm-up
        seen = run_calls(switch, args.latency_calls, 1)
    finally:
        switch.stop()
        summary = server.stop()
    print(f"connect to first application, one call at a time ({args.latency_calls} calls):")
    print(f"  at the fake switch (its connect to our first sendmsg received): {percentiles(seen)}")
    print(f"  in the call server (accept to first sendmsg written, warm-up included): {summary.split('; ', 1)[-1]}")

    # 2. Throughput and memory.
    server = CallServerProcess(workdir, database_url, "load", args.profile)
    switch = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=1.0, media_ms=0)
    switch.start()
    try:
        run_calls(switch, 20, 1)
        cpu_before = cpu_seconds(server.pid)
        began = time.perf_counter()
        seen = run_calls(switch, args.calls, args.concurrency)
        elapsed = time.perf_counter() - began
        cpu_per_call = (cpu_seconds(server.pid) - cpu_before) / args.calls
        print(
            f"hello world, concurrency {args.concurrency}: {args.calls / elapsed:.0f} calls/s "
            f"({args.calls} calls); call-server CPU {cpu_per_call * 1000:.2f} ms per call, "
            f"so one core serves about {1 / cpu_per_call:.0f} calls/s"
        )
        print(
            f"  connect to first application at the fake switch under that load: {percentiles(seen)} "
            f"(includes the fake switch's own queueing)"
        )

        gevent.sleep(1)
        before = rss_kb(server.pid)
        idle = [switch.incoming_call(destination="+17145550000", caller="+19495551212") for _ in range(args.idle_calls)]
        deadline = time.time() + 120
        while sum(1 for c in idle if any(a == "sleep" for a, _ in c.executed)) < args.idle_calls:
            if time.time() > deadline:
                raise RuntimeError("idle calls did not all reach their PAUSE")
            gevent.sleep(0.2)
        gevent.sleep(1)
        after = rss_kb(server.pid)
        print(
            f"{args.idle_calls} concurrent calls in PAUSE: call-server RSS {before / 1024:.1f} MB -> "
            f"{after / 1024:.1f} MB, {(after - before) / args.idle_calls:.1f} KB per call"
        )
        for call in idle:
            call.hangup()
    finally:
        switch.stop()
        print(server.stop())

    # 3. Throughput with nothing else in the call server's way: the fake
    # switches in processes of their own, the callback server in another.
    if args.switch_processes:
        server = CallServerProcess(workdir, database_url, "throughput")
        try:
            watched = {"call server": server.pid, "callback server": web.pid, "this process": os.getpid()}
            rate, cpu_used = run_calls_on_switch_processes(
                server.port, args.calls, args.concurrency, args.switch_processes, watched
            )
            print(
                f"hello world, {args.switch_processes} switch processes, concurrency {args.concurrency}: "
                f"{rate:.0f} calls/s ({args.calls} calls); CPU per call, by process:"
            )
            for name, seconds in cpu_used.items():
                print(f"  {name:<16} {seconds / args.calls * 1000:.2f} ms")
            print(
                f"  {'all':<16} {sum(cpu_used.values()) / args.calls * 1000:.2f} ms "
                f"({os.cpu_count()} cores give {os.cpu_count() * 1000} ms per second)"
            )
        finally:
            print(server.stop())
    web.terminate()
    web.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
