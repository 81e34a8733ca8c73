"""Start, watch and stop the processes of a multi-process test.

Each process runs in a session of its own (``start_new_session``), so
stopping it stops what it started too (``voxology-fs api`` starts gunicorn,
which forks its workers): signals go to that process group, found by the
pid we started, and to nothing else.  Output goes to files in ``log_dir``
so that a chatty process never blocks on a full pipe, and a failing test
can show the tail of every log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import gevent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def python_env(**extra) -> dict:
    """The environment for a child Python: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Process:
    """One child process, its log files and its process group."""

    def __init__(self, name: str, argv: list[str], log_dir, env: dict | None = None, cwd=None):
        self.name = name
        self.argv = argv
        self.env = env if env is not None else python_env()
        self.cwd = str(cwd) if cwd is not None else None
        self.out_path = os.path.join(str(log_dir), f"{name}.out")
        self.err_path = os.path.join(str(log_dir), f"{name}.err")
        self.popen: subprocess.Popen | None = None

    @classmethod
    def python(cls, name: str, args: list[str], log_dir, env: dict | None = None, cwd=None) -> Process:
        return cls(name, [sys.executable, *args], log_dir, env, cwd)

    def start(self) -> Process:
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self, stream: str = "out") -> str:
        """What the process wrote so far to stdout (``"out"``) or stderr (``"err"``)."""
        try:
            with open(self.out_path if stream == "out" else self.err_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.out_path, self.err_path):
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read().splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {os.path.basename(path)}\n" + "\n".join(text))
        return "\n".join(parts)

    def wait_for_output(self, pattern: str, timeout: float = 20.0, stream: str = "out") -> re.Match:
        """Wait until stdout (or stderr) matches ``pattern``; fails if the process exits first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output(stream))
            if match:
                return match
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before printing {pattern!r}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not print {pattern!r} in {timeout} s\n{self.tail()}")
            gevent.sleep(0.05)

    def _signal_group(self, sig) -> None:
        try:
            os.killpg(self.popen.pid, sig)  # the group we created: its leader's pid
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """SIGKILL, as a crash would: the process and anything it started."""
        if self.popen is not None:
            self._signal_group(signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM to the group, then SIGKILL what is still there after ``timeout``."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # the leader is gone; its children (gunicorn's) may not be
        self._signal_group(signal.SIGKILL)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return self.popen.returncode


class Processes:
    """The processes of one test, stopped together (last started first)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.all: list[Process] = []

    def python(self, name: str, args: list[str], env: dict | None = None, cwd=None) -> Process:
        process = Process.python(name, args, self.log_dir, env, cwd).start()
        self.all.append(process)
        return process

    def tails(self, lines: int = 20) -> str:
        return "\n".join(f"=== {p.name} (pid {p.pid})\n{p.tail(lines)}" for p in self.all)

    def stop_all(self) -> None:
        for process in reversed(self.all):
            process.stop()
