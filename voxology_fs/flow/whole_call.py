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


def begin(ctx, name: str, channels: str, bridged_only: bool = False):
    """Record the call (``mono`` or ``dual``) in the background: (the started
    recording, its capability), or None when the call ended first."""
    state = ctx.state
    started = ctx.services.recordings.begin(
        account_id=state.account_id,
        call_id=state.call_id,
        name=name,
        source="call",
        channels=2 if channels == "dual" else 1,
    )
    capability = ctx.channel.recording()
    try:
        capability.start(started.path, stereo=channels == "dual", bridged_only=bridged_only)
    except CallEnded:
        ctx.services.recordings.fail(started.id, "the call ended before it was recorded")
        return None
    return started, capability


def start(ctx, channels: str | None):
    """Start recording the call from its start; returns what :func:`finish` needs, or None."""
    if channels not in CHOICES:
        return None
    begun = begin(ctx, "call", channels)
    if begun is None:
        return None
    ctx.trace("record_call", {"id": begun[0].id, "channels": channels})
    return begun[0]


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
