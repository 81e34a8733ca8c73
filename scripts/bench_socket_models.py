#!/usr/bin/env python3
"""The call's socket model at the ESL level: what each costs FreeSWITCH.

Hello world (answer, ``speak``, hangup) through a minimal outbound-socket
app in this process, no database and no callback, in three ways, against
the same flow as a native dialplan, on scripts/bench_sip.py's harness:

* async_narrow: ``socket ... async full``; ``filter Unique-ID``,
  CHANNEL_EXECUTE_COMPLETE and CHANNEL_HANGUP subscribed (close to the
  product); each application waits for its completion event;
* async_silent: ``async full``, nothing subscribed; the three applications
  sent back to back with ``event-lock``; the socket's close ends the call;
* sync: ``socket ... full``, nothing subscribed; each ``sendmsg`` is
  answered when its application ends.

For each rate it prints FreeSWITCH's CPU per call and that of this process
(the apps and the callback server, idle here), and the ratio to native.

    FREESWITCH_BIN=/path/to/bin/freeswitch python scripts/bench_socket_models.py --rates 40,80
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from gevent.server import StreamServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sip as base  # noqa: E402

from voxology_fs.esl.connection import OutboundSession  # noqa: E402
from voxology_fs.esl.protocol import encode_execute  # noqa: E402

HELLO = ("speak", "flite|kal|Hello, world.")
PATTERNS = {
    "async_narrow": ("19995550401", "async full"),
    "async_silent": ("19995550402", "async full"),
    "sync": ("19995550403", "full"),
}


def dialplan(port):
    extensions = "".join(
        f"""
    <extension name="bench_{name}">
      <condition field="destination_number" expression="^{number}$">
        <action application="set" data="bench_pattern={name}"/>
        <action application="socket" data="127.0.0.1:{port} {mode}"/>
      </condition>
    </extension>"""
        for name, (number, mode) in PATTERNS.items()
    )
    return base.NATIVE_DIALPLAN.replace("  </context>", extensions + "\n  </context>")


def run_app(sock, address):
    session = OutboundSession(sock, command_timeout=30)
    try:
        pattern = session.connect().get("variable_bench_pattern")
        if pattern == "async_narrow":
            session.subscribe(["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"], {"Unique-ID": session.uuid}, linger=False)
            for app, arg in (("answer", None), HELLO):
                session.execute_async(app, arg).wait(30)
            session.execute_async("hangup", None)
        elif pattern == "async_silent":
            session.send_pipelined(
                [
                    encode_execute(app, arg, str(i), event_lock=True)
                    for i, (app, arg) in enumerate((("answer", None), HELLO, ("hangup", None)))
                ]
            )
        elif pattern == "sync":
            for app, arg in (("answer", None), HELLO, ("hangup", None)):
                session.send_raw(encode_execute(app, arg, "0"), timeout=30)
        session.closed.wait(30)
    except Exception:  # the call fails; sipp counts it
        pass
    finally:
        session.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="40,80", help="calls/s (default %(default)s)")
    parser.add_argument("--step-seconds", type=float, default=8)
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    args = parser.parse_args(argv)
    args.fs_loglevel, args.cs_loglevel, args.server, args.keep = None, "WARNING", "callserver", False
    args.call_timeout, args.silence_rms, args.max_stretch = 20, 300, 0.2
    patterns = [p for p in args.patterns.split(",") if p in PATTERNS]
    app_port = base.runfs.free_port()
    for name, (number, _) in PATTERNS.items():
        base.MODES[name] = {"dialled": number, "uri_params": ";gw=" + base.NATIVE_GATEWAY, "label": name}
    base.Bench.native_dialplan = dialplan(app_port)
    server = StreamServer(("127.0.0.1", app_port), run_app)
    server.start()
    bench = base.Bench(args)
    rows = []
    try:
        load = os.getloadavg()
        print(
            f"bench_socket_models: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
            flush=True,
        )
        bench.start()
        for rate in [float(r) for r in args.rates.split(",")]:
            native = None
            for mode in ["native", *patterns]:
                step = bench.run_step(mode, rate, args.step_seconds)
                bench.judge(step, None)
                bench.print_step(step)
                fs = step.per_call_ms(step.fs_cpu)
                native = fs if mode == "native" else native
                rows.append(
                    (
                        rate,
                        mode,
                        len(step.good),
                        step.planned,
                        fs,
                        step.per_call_ms(step.cpu["callback server"]),
                        step.wall,
                    )
                )
    finally:
        bench.stop()
        server.stop()
        shutil.rmtree(bench.workdir, ignore_errors=True)
    print(
        f"\n{'calls/s':>7s}  {'pattern':13s}  {'ok':>9s}  {'FS ms/call':>10s}  {'x native':>8s}  "
        f"{'app ms/call':>11s}  {'wall s':>6s}"
    )
    for rate, mode, good, planned, fs, app, wall in rows:
        ref = next(r[4] for r in rows if r[0] == rate and r[1] == "native")
        print(
            f"{rate:7g}  {mode:13s}  {f'{good}/{planned}':>9s}  {base.fmt(fs, '.2f'):>10s}  "
            f"{base.ratio(fs, ref):>8s}  {base.fmt(app, '.2f'):>11s}  {wall:6.1f}"
        )
    return 0


if __name__ == "__main__":
    start = time.monotonic()
    code = main()
    print(f"{time.monotonic() - start:.0f} s in all")
    sys.exit(code)
