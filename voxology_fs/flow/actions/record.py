"""RECORD: the caller's voice into a file of the account's recordings.

The recording ends on a finish key, ``timeout`` ms of silence,
``max_length`` or the hangup; it is kept in every case (a caller who hangs
up after a message has left one).  The next callback request carries it
first in ``recordings`` (``$recordings``), with ``ended_by`` and the key.
"""

from __future__ import annotations

import math

from ...channel import ControlInterrupt
from ..errors import ActionFailed
from .base import Action, Param, check_url_param, http_url_problem, register
from .media import finish_keys

FORMATS = ("wav", "mp3")


@register
class Record(Action):
    """Record the caller (after a beep) until a key, silence, the limit or the hangup."""

    type = "RECORD"
    needs_media = True
    params_spec = (
        Param("name", default="", doc="the recording's label in recordings and the REST API"),
        Param(
            "max_length",
            "integer",
            default=3600 * 1000,
            minimum=1000,
            maximum=4 * 3600 * 1000,
            unit="ms",
            doc="the longest recording (counted in whole seconds)",
        ),
        Param(
            "timeout",
            "integer",
            default=5000,
            minimum=0,
            maximum=600000,
            unit="ms",
            doc="silence that ends it (whole seconds, at least 1; 0: silence never ends it)",
        ),
        Param("finish_on_key", default="any", template=False, doc="any, none, pound, star, or the keys themselves"),
        Param("play_beep", "boolean", default=True, doc="a beep before recording"),
        Param("trim", "boolean", default=True, doc="cut leading and trailing silence (wav)"),
        Param("format", default="wav", choices=FORMATS, template=False, doc="wav, or mp3"),
        Param("recording_status_url", doc="requested once the recording is ready (or failed)"),
        Param(
            "recording_status_method",
            default="POST",
            choices=("GET", "POST"),
            template=False,
            doc="HTTP method of recording_status_url",
        ),
    )

    def check(self, problems, parser):
        value = self.params["finish_on_key"]
        keys = "any" if value.strip().lower() == "any" else finish_keys(value)
        if keys is None:
            problems.add(
                f"{self.path}/params/finish_on_key",
                f'finish_on_key must be "any", "none", "pound", "star" or keys, got {value!r}',
            )
        self.finish = keys or ""
        check_url_param(self, problems, "recording_status_url")

    def run(self, ctx):
        state, book = ctx.state, ctx.services.recordings
        name = self.render(ctx, "name") or ""
        if len(name) > 200:
            raise ActionFailed("name is longer than 200 characters", f"{self.path}/params/name")
        status_url = self.render(ctx, "recording_status_url")
        if status_url and (error := http_url_problem(status_url)):
            ctx.record_error(ActionFailed(f"{error}, got {status_url!r}", f"{self.path}/params/recording_status_url"))
            status_url = None
        started = book.begin(
            account_id=state.account_id,
            call_id=state.call_id,
            name=name,
            fmt=self.params["format"],
            status_url=status_url,
            status_method=self.params["recording_status_method"],
        )
        ctx.trace("record", {"name": name, "id": started.id})
        timeout = self.params["timeout"]
        try:
            result = ctx.channel.record(
                started.path,
                max_seconds=math.ceil(self.params["max_length"] / 1000),
                silence_seconds=max(1, round(timeout / 1000)) if timeout else 0,
                silence_threshold=book.silence_threshold,
                finish_keys=self.finish,
                beep=self.params["play_beep"],
            )
        except ControlInterrupt:
            self._keep(ctx, book.finish(started.id, ended_by="stopped", trim=self.params["trim"]))
            raise
        except Exception as exc:
            self._keep(ctx, book.fail(started.id, f"{type(exc).__name__}: {exc}"))
            raise
        entry = book.finish(
            started.id,
            ended_by=result.ended_by,
            finish_key=result.finish_key,
            duration_ms=result.duration_ms,
            trim=self.params["trim"],
        )
        self._keep(ctx, entry)

    @staticmethod
    def _keep(ctx, entry: dict) -> None:
        ctx.state.recordings.insert(0, entry)
        ctx.trace("recorded", {k: entry[k] for k in ("id", "status", "duration", "ended_by", "finish_key")})
        ctx.save_progress()
