"""What the ESL capabilities share: events, the command sender, waiting.

A capability runs its applications on its own call through the
:class:`~voxology_fs.esl.channel.EslChannel` (completions matched by
``Application-UUID``), and acts on other channels or rooms through a
:class:`~voxology_fs.capabilities.CommandSender`.
"""

from __future__ import annotations

import logging
import time
from typing import Generic, TypeVar

import gevent
import gevent.event

from ..capabilities import CommandSender
from ..channel import ControlInterrupt
from .connection import CommandError, CommandTimeout, NotConnectedError, OutboundSession
from .protocol import Event

log = logging.getLogger(__name__)

Outcome = TypeVar("Outcome")

# How long stop() waits for the switch to confirm the end.
STOP_WAIT_S = 5.0


class SocketCommands:
    """A :class:`CommandSender` on a call's own outbound socket (``api`` there)."""

    def __init__(self, session: OutboundSession, timeout: float = 10.0):
        self.session = session
        self.timeout = timeout

    def api(self, command: str) -> str:
        if "\n" in command or "\r" in command:
            raise ValueError("an API command is one line")
        try:
            return self.session.send(f"api {command}", timeout=self.timeout).text()
        except (NotConnectedError, CommandTimeout) as exc:
            return f"-ERR {exc}"


class EslCapability(Generic[Outcome]):
    """One running capability of a call; subclasses declare ``EVENTS``."""

    # Event names (``CUSTOM sub::class`` for custom ones) this capability needs
    # on the call's socket; subscribed when it starts, not for every call.
    EVENTS: tuple[str, ...] = ()

    def __init__(self, channel, commands: CommandSender):
        self.channel = channel
        self.commands = commands
        self.uuid = channel.info.uuid
        self.finished = gevent.event.Event()
        self.stop_reason = ""
        self.started_at = 0.0
        self._execution: gevent.event.AsyncResult | None = None
        self._handlers: list[tuple[str, object]] = []
        self._filters: list[tuple[str, str]] = []
        self.outcome: Outcome | None = None  # set once, when it ends

    # -- set-up ------------------------------------------------------------------
    def _begin(self, filters: dict[str, str] | list[tuple[str, str]] | None = None) -> None:
        """Subscribe our events, and add ``filters`` (pairs: one header may be filtered on several values)."""
        pairs = list(filters.items()) if isinstance(filters, dict) else list(filters or [])
        self.channel.subscribe_more(self.EVENTS, pairs)
        self._filters = pairs
        self.started_at = time.monotonic()

    def _listen(self, key: str, handler, naming: tuple[str, ...] = ("Unique-ID",)) -> None:
        """Run ``handler(event)`` for this call's events of ``key`` (name or CUSTOM
        subclass): those whose ``naming`` headers (one of them) are our channel."""

        def ours(event: Event) -> None:
            # Custom events of a room reach every member's socket; the
            # handler sees them all, channel events only for our call.
            if event.name == "CUSTOM" or any(event.get(h) == self.uuid for h in naming):
                handler(event)

        self.channel.session.register_handle(key, ours)
        self._handlers.append((key, ours))

    def _run_app(self, app: str, arg: str | None) -> gevent.event.AsyncResult:
        self._execution = self.channel._fire(app, arg)
        # In a greenlet of its own, not the hub's callback: the handler may write to the socket.
        self._execution.rawlink(
            lambda result: gevent.spawn(self._on_completed, result.value if result.successful() else None)
        )
        return self._execution

    def _on_completed(self, event: Event | None) -> None:
        """The capability's application completed (override for more)."""
        self._finish()

    def _finish(self) -> None:
        if self.finished.is_set():
            return
        self.finished.set()
        for key, handler in self._handlers:
            try:
                self.channel.session.unregister_handle(key, handler)
            except (ValueError, KeyError):
                pass
        self._handlers = []
        if self._filters:
            # Spawned: _finish may run in the socket's reader, which must stay free to read replies.
            gevent.spawn(self.channel.drop_filters, self._filters)
            self._filters = []

    # -- the verbs ----------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Outcome:
        """Wait for the end and return the outcome (see :mod:`voxology_fs.capabilities`)."""
        how = self._await(timeout)
        if how == "timeout":
            self.stop("timeout")
        elif how == "hangup" and self.outcome is None:
            self._on_call_ended()
        return self.outcome or self._outcome_without_end()

    def stop(self, reason: str = "stopped") -> None:
        raise NotImplementedError

    def _on_call_ended(self) -> None:
        """The call hung up first; by default FreeSWITCH still completes our application."""
        self._await_stopped()

    def _outcome_without_end(self) -> Outcome:
        """The outcome when nothing concluded it (the call went away first)."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.started_at > 0 and not self.finished.is_set()

    def _await(self, timeout: float | None) -> str:
        """Wait for the end: "done", "hangup" or "timeout"; raises ControlInterrupt."""
        session = self.channel.session
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            gevent.wait([self.finished, session.hungup, self.channel._control_arrived], count=1, timeout=remaining)
            if self.finished.is_set():
                return "done"
            if session.hungup.is_set():
                return "hangup"
            if self.channel._control_arrived.is_set():
                request = self.channel._next_interrupt()
                if request is not None:
                    raise ControlInterrupt(request)
                continue
            if deadline is not None and time.monotonic() >= deadline:
                return "timeout"

    def _await_stopped(self) -> None:
        gevent.wait([self.finished, self.channel.session.hungup], count=1, timeout=STOP_WAIT_S)

    def _api(self, command: str) -> str:
        try:
            reply = self.commands.api(command)
        except (CommandError, ValueError) as exc:
            reply = f"-ERR {exc}"
        if reply.startswith("-ERR"):
            log.info("call %s: %s: %s", self.uuid, command, reply.strip())
        return reply

    def seconds(self) -> float:
        return round(time.monotonic() - self.started_at, 3) if self.started_at else 0.0
