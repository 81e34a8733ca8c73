"""Integration tests against a real FreeSWITCH running our freeswitch/ config.

Everything in this folder is marked ``integration``. Without a FreeSWITCH
(``$FREESWITCH_BIN`` or ``freeswitch`` on PATH) the whole folder is skipped.

Fixtures:

* ``freeswitch`` (session): FreeSWITCH started by scripts/run-freeswitch on
  free loopback ports: ``.sip_port``, ``.esl_port``, ``.password``,
  ``.run_dir``, ``.trunk_port`` and ``.esl(cmd)`` (runs one API command over
  inbound ESL and returns its output). Calls to any number on the SIP port
  are handed to the outbound socket at 127.0.0.1:``call_server_port``.
* ``run_freeswitch`` (session): scripts/run-freeswitch as a module.
* ``call_server_port`` (session): that port; nothing listens unless a test
  uses ``call_server``.
* ``trunk_port`` (session): where the "trunk" gateway sends calls (a sipp UAS
  started with ``sipp.start(..., uas=True)`` listens there).
* ``call_server``: listens on call_server_port; ``.accept()`` gives an
  ``OutboundSession`` (``connect()``, ``sendmsg()``, ``wait_event()``...).
* ``sipp``: runs scenarios from tests/integration/sipp/ (``run`` waits,
  ``start`` returns a handle to ``wait()`` on later).
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.run_freeswitch import runfs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SIPP_DIR = HERE / "sipp"
SKIP_REASON = "no FreeSWITCH installed (set FREESWITCH_BIN)"
LOOPBACK = "127.0.0.1"
FREESWITCH_BIN = runfs.find_freeswitch()


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if HERE in path.parents:
            item.add_marker(pytest.mark.integration)
            if not FREESWITCH_BIN:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# ----------------------------------------------------------------- FreeSWITCH


class FreeSwitch:
    def __init__(self, state, trunk_port):
        self.state = state
        self.pid = state["pid"]
        self.run_dir = Path(state["run_dir"])
        self.sip_port = state["sip_port"]
        self.esl_port = state["esl_port"]
        self.password = state["esl_password"]
        self.socket = state["socket"]
        self.trunk_port = trunk_port
        self.log_path = Path(state["log"])

    def esl(self, cmd, timeout=15.0):
        """Run one API command over inbound ESL; return the output text."""
        return runfs.esl_api(LOOPBACK, self.esl_port, self.password, cmd, timeout)

    def log_tail(self, lines=60):
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def run_freeswitch():
    """scripts/run-freeswitch loaded as a module."""
    return runfs


@pytest.fixture(scope="session")
def call_server_port():
    return runfs.free_port()


@pytest.fixture(scope="session")
def trunk_port():
    return runfs.free_port(udp=True)


@pytest.fixture(scope="session")
def freeswitch(tmp_path_factory, call_server_port, trunk_port):
    if not FREESWITCH_BIN:
        pytest.skip(SKIP_REASON)
    run_dir = tmp_path_factory.mktemp("freeswitch")
    rtp_start, rtp_end = runfs.free_rtp_range()
    state = runfs.start(
        run_dir,
        sip_port=runfs.free_port(udp=True),
        esl_port=runfs.free_port(),
        esl_password="ClueCon",
        socket_addr=f"{LOOPBACK}:{call_server_port}",
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        trunk_proxy=f"{LOOPBACK}:{trunk_port}",
        binary=FREESWITCH_BIN,
        timeout=45,
    )
    fs = FreeSwitch(state, trunk_port)
    try:
        yield fs
    finally:
        runfs.stop(run_dir, timeout=10)


# ----------------------------------------------------------------- outbound socket


def parse_event(body):
    """Headers of a text/event-plain body (values URL-decoded)."""
    headers = {}
    head, _, _ = body.partition("\n\n")
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = urllib.parse.unquote(value.strip())
    return headers


class OutboundSession:
    """One connection FreeSWITCH made to the call server (socket app)."""

    def __init__(self, conn, timeout):
        self.conn = conn
        self.conn.settimeout(timeout)
        self.file = conn.makefile("rb")
        self.events = []
        self.disconnected = False
        # With linger, FreeSWITCH's disconnect notice can come before the
        # channel's last events (they travel through its event queue).
        self.lingering = False

    def _read(self):
        headers = {}
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("FreeSWITCH closed the socket")
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if headers:
                    break
                continue
            name, _, value = line.partition(":")
            headers[name.strip()] = urllib.parse.unquote(value.strip())
        body = ""
        length = int(headers.get("Content-Length", 0) or 0)
        if length:
            body = self.file.read(length).decode("utf-8", "replace")
        return headers, body

    def _next(self):
        """Next message; events are also kept in .events."""
        headers, body = self._read()
        ctype = headers.get("Content-Type")
        if ctype == "text/event-plain":
            self.events.append(parse_event(body))
        elif ctype == "text/disconnect-notice":
            self.disconnected = True
            self.lingering = headers.get("Content-Disposition") == "linger"
        return headers, body

    def command(self, text):
        """Send a command; return the headers of its command/reply."""
        self.conn.sendall(text.encode() + b"\n\n")
        while True:
            headers, _ = self._next()
            if headers.get("Content-Type") == "command/reply":
                return headers

    def connect(self):
        """``connect``: returns the channel data (headers of the reply)."""
        return self.command("connect")

    def myevents(self):
        return self.command("myevents")

    def sendmsg(self, app, arg="", event_uuid=None):
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
        if arg:
            lines.append(f"execute-app-arg: {arg}")
        if event_uuid:
            lines.append(f"Event-UUID: {event_uuid}")
        return self.command("\n".join(lines))

    def wait_event(self, name, timeout=10.0, **match):
        """First event called ``name`` whose headers equal ``match`` (also
        looking at events already received)."""

        def ok(ev):
            return ev.get("Event-Name") == name and all(ev.get(k) == v for k, v in match.items())

        for ev in self.events:
            if ok(ev):
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.disconnected and not self.lingering:
                break
            try:
                self._next()
            except (TimeoutError, EOFError, OSError):
                break
            if self.events and ok(self.events[-1]):
                return self.events[-1]
        raise AssertionError(
            "no {} event matching {!r}; got {!r}".format(name, match, [e.get("Event-Name") for e in self.events])
        )

    def close(self):
        for thing in (self.file, self.conn):
            try:
                thing.close()
            except OSError:
                pass


class CallServer:
    """A bare TCP listener on the outbound socket address."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, port))
        self.sock.listen(16)
        self.sessions = []

    def accept(self, timeout=15.0):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        session = OutboundSession(conn, timeout)
        self.sessions.append(session)
        return session

    def close(self):
        for s in self.sessions:
            s.close()
        self.sock.close()


@pytest.fixture
def call_server(freeswitch, call_server_port):
    server = CallServer(call_server_port)
    try:
        yield server
    finally:
        server.close()


# ----------------------------------------------------------------- sipp


class SippResult:
    def __init__(self, returncode, files):
        self.returncode = returncode
        self.files = files

    def _text(self, name):
        path = self.files[name]
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def stdout(self):
        return self._text("stdout")

    @property
    def errors(self):
        return self._text("errors")

    @property
    def messages(self):
        return self._text("messages")

    @property
    def logs(self):
        return self._text("logs")

    @property
    def final_code(self):
        """The code logged by uac_expect_reject.xml (final_code=NNN)."""
        for line in self.logs.splitlines():
            if line.startswith("final_code="):
                value = line.split("=", 1)[1].strip()
                return int(value) if value.isdigit() else None
        return None

    def __repr__(self):
        return f"SippResult(rc={self.returncode})\n--- errors\n{self.errors[-3000:]}\n--- messages\n{self.messages[-4000:]}"


class SippRun:
    def __init__(self, proc, files):
        self.proc = proc
        self.files = files

    def wait(self, timeout=45.0):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.files["_stdout_handle"].close()
        files = {k: v for k, v in self.files.items() if not k.startswith("_")}
        return SippResult(rc, files)


class Sipp:
    """Runs sipp scenarios against the FreeSWITCH under test."""

    def __init__(self, binary, workdir, freeswitch):
        self.binary = binary
        self.workdir = Path(workdir)
        self.fs = freeswitch
        self.runs = []
        self.count = 0

    def start(
        self,
        scenario,
        service="15551230000",
        caller="15557654321",
        duration_ms=1000,
        uas=False,
        port=None,
        timeout="30s",
        extra=(),
    ):
        """Start sipp in the background. UAC scenarios call
        127.0.0.1:sip_port; with ``uas=True`` sipp listens on ``port``
        (default: the trunk port)."""
        self.count += 1
        stem = f"{self.count:02d}-{Path(scenario).stem}"
        files = {
            name: self.workdir / f"{stem}.{name}.log" for name in ("stdout", "errors", "messages", "logs", "screen")
        }
        if uas and port is None:
            port = self.fs.trunk_port
        if port is None:
            port = runfs.free_port(udp=True)
        media_port = runfs.free_rtp_range(size=4, low=30000, high=60000)[0]
        cmd = [
            self.binary,
            "-sf",
            str(SIPP_DIR / scenario),
            "-m",
            "1",
            "-timeout",
            timeout,
            "-timeout_error",
            "-nostdin",
            "-i",
            LOOPBACK,
            "-p",
            str(port),
            "-mp",
            str(media_port),
            "-d",
            str(duration_ms),
            "-key",
            "caller",
            caller,
            "-trace_err",
            "-error_file",
            str(files["errors"]),
            "-trace_msg",
            "-message_file",
            str(files["messages"]),
            "-trace_logs",
            "-log_file",
            str(files["logs"]),
            "-trace_screen",
            "-screen_file",
            str(files["screen"]),
        ]
        cmd += list(extra)
        if not uas:
            cmd += ["-s", service, f"{LOOPBACK}:{self.fs.sip_port}"]
        out = open(files["stdout"], "wb")
        proc = subprocess.Popen(
            cmd, cwd=str(self.workdir), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        files["_stdout_handle"] = out
        run = SippRun(proc, files)
        self.runs.append(run)
        if uas:
            self._wait_listening(port, proc)
        return run

    @staticmethod
    def _wait_listening(port, proc, timeout=5.0):
        """Until sipp has bound its UDP port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                return
            finally:
                s.close()
            time.sleep(0.05)

    def run(self, scenario, wait_timeout=45.0, **kwargs):
        return self.start(scenario, **kwargs).wait(wait_timeout)

    def cleanup(self):
        for run in self.runs:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
            handle = run.files.get("_stdout_handle")
            if handle and not handle.closed:
                handle.close()


@pytest.fixture
def sipp(freeswitch, tmp_path):
    binary = shutil.which(os.environ.get("SIPP_BIN", "sipp"))
    if not binary:
        pytest.skip("sipp not installed")
    runner = Sipp(binary, tmp_path, freeswitch)
    try:
        yield runner
    finally:
        runner.cleanup()
