"""A whole-call recording that a call asked for from its start (Make Call's ``record``).

It runs from the answer until the hangup; the call's end completes it, and
``call_ended`` carries it first in ``recordings``.  If this process dies
first, the switch watcher completes it from the file.
"""

from __future__ import annotations

import logging

from ..channel import CallEnded

log = logging.getLogger(__name__)

CHOICES = ("mono", "dual")


def start(ctx, channels: str | None):
    """Start recording the call (``mono`` or ``dual``); returns what :func:`finish` needs, or None."""
    if channels not in CHOICES:
        return None
    state = ctx.state
    started = ctx.services.recordings.begin(
        account_id=state.account_id,
        call_id=state.call_id,
        name="call",
        source="call",
        channels=2 if channels == "dual" else 1,
    )
    try:
        ctx.channel.recording().start(started.path, stereo=channels == "dual")
    except CallEnded:
        ctx.services.recordings.fail(started.id, "the call ended before it was recorded")
        return None
    ctx.trace("record_call", {"id": started.id, "channels": channels})
    return started


def finish(ctx, started) -> None:
    """At the call's end: complete the recording and show it to call_ended."""
    if started is None:
        return
    try:
        entry = ctx.services.recordings.finish(started.id, ended_by="hangup")
    except Exception:
        log.exception("call %s: its recording %s was not completed", ctx.state.call_id, started.id)
        return
    ctx.state.recordings.insert(0, entry)
