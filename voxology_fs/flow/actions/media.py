"""What the caller hears and presses: SAY, PLAY, COLLECT, PAUSE."""

from __future__ import annotations

from ...channel import AudioFile, Speech, is_plain_name
from ..errors import ActionFailed
from .base import Action, Param, check_url_param, http_url_problem, register

MAX_LOOP = 100
DTMF_CHARS = frozenset("0123456789*#ABCDabcdwW")


@register
class Say(Action):
    """Read text to the caller with TTS."""

    type = "SAY"
    needs_media = True
    params_spec = (
        Param("text", required=True, doc="what to say"),
        Param("loop", "integer", default=1, minimum=1, maximum=MAX_LOOP, doc="times to say it"),
        Param("voice", doc="TTS voice (flite: kal, slt, rms, awb); the configured default when absent"),
        Param("language", doc="passed to the TTS engine (flite speaks English only)"),
        Param("engine", template=False, doc="TTS engine; the configured default when absent"),
    )

    def check(self, problems, parser):
        voice, engine = self.params["voice"], self.params["engine"]
        if voice is not None and not voice.variables and not is_plain_name(voice.source):
            problems.add(f"{self.path}/params/voice", "voice must be a voice name (letters, digits, _ - .)")
        if engine is not None and not is_plain_name(engine):
            problems.add(f"{self.path}/params/engine", "engine must be a TTS engine name (letters, digits, _ - .)")

    def prompts(self, ctx) -> list:
        text = self.render(ctx, "text")
        voice = self.render(ctx, "voice") or None
        if voice is not None and not is_plain_name(voice):
            ctx.record_error(
                ActionFailed(
                    f"voice {voice!r} is not a voice name; the default voice is used", f"{self.path}/params/voice"
                )
            )
            voice = None
        return [
            Speech(text, voice=voice, engine=self.params["engine"], language=self.render(ctx, "language") or None)
        ] * self.params["loop"]

    def run(self, ctx):
        prompts = self.prompts(ctx)
        ctx.trace("say", {"text": prompts[0].text, "loop": len(prompts)})
        ctx.channel.play(prompts[:1], loops=len(prompts))


@register
class Play(Action):
    """Play an audio file (mp3 or wav, fetched over http/https), or DTMF tones."""

    type = "PLAY"
    needs_media = True
    params_spec = (
        Param("url", doc="http or https URL of an mp3 or wav file"),
        Param("digits", template=False, doc="DTMF to play to the caller; w = 0.5 s pause"),
        Param("loop", "integer", default=1, minimum=1, maximum=MAX_LOOP, doc="times to play it"),
    )

    def check(self, problems, parser):
        url, digits = self.params["url"], self.params["digits"]
        if (url is None) == (digits is None):
            problems.add(f"{self.path}/params", "PLAY needs exactly one of url or digits")
        check_url_param(self, problems)
        if digits is not None and (not digits or set(digits) - DTMF_CHARS):
            problems.add(f"{self.path}/params/digits", "digits may hold only 0-9, *, #, A-D and w/W pauses")

    def prompts(self, ctx) -> list:
        url = self.render(ctx, "url")
        if url is None:
            raise ActionFailed("digits cannot be a COLLECT prompt", self.path)
        if error := http_url_problem(url):
            raise ActionFailed(f"{error}: {url!r}", f"{self.path}/params/url")
        path = ctx.audio.fetch(url)
        return [AudioFile(path, source=url)] * self.params["loop"]

    def run(self, ctx):
        if self.params["digits"] is not None:
            ctx.trace("play_digits", {"digits": self.params["digits"]})
            for _ in range(self.params["loop"]):
                ctx.channel.send_dtmf(self.params["digits"])
            return
        prompts = self.prompts(ctx)
        ctx.trace("play", {"url": prompts[0].source, "loop": len(prompts)})
        ctx.channel.play(prompts[:1], loops=len(prompts))


FINISH_KEY_NAMES = {"pound": "#", "hash": "#", "star": "*", "none": ""}


def finish_keys(value: str) -> str | None:
    """``"pound"`` -> ``#``; ``"star"`` -> ``*``; a key itself; ``""``/``"none"`` for none."""
    lowered = value.strip().lower()
    if lowered in FINISH_KEY_NAMES:
        return FINISH_KEY_NAMES[lowered]
    if value and all(c in "0123456789*#" for c in value):
        return value
    return None


@register
class Collect(Action):
    """Collect keys; the nested SAY/PLAY actions are the prompt (barge-in)."""

    type = "COLLECT"
    needs_media = True
    top_level_keys = frozenset({"name", "actions"})
    params_spec = (
        Param("num_digits", "integer", default=20, minimum=1, maximum=128, doc="keys to collect at most"),
        Param("finish_on_key", default="#", template=False, doc="pound, star, none, or the keys themselves"),
        # FreeSWITCH waits at least one second; shorter values are raised to it.
        Param(
            "timeout",
            "integer",
            default=5000,
            minimum=0,
            maximum=600000,
            unit="ms",
            doc="wait for the first key (at least 1000)",
        ),
        Param(
            "digit_timeout",
            "integer",
            minimum=0,
            maximum=600000,
            unit="ms",
            doc="wait between keys; the timeout when absent",
        ),
    )

    def check(self, problems, parser):
        keys = finish_keys(self.params["finish_on_key"])
        if keys is None:
            problems.add(
                f"{self.path}/params/finish_on_key",
                f'finish_on_key must be "pound", "star", "none" or keys, got {self.params["finish_on_key"]!r}',
            )
        self.finish = keys or ""
        self.prompt_actions = parser.parse_list(
            self.raw.get("actions", []), f"{self.path}/actions", allowed=frozenset({"SAY", "PLAY"})
        )
        for action in self.prompt_actions:
            if action.type == "PLAY" and action.params.get("digits") is not None:
                problems.add(f"{action.path}/params/digits", "a COLLECT prompt cannot play digits")

    def run(self, ctx):
        prompts = []
        for action in self.prompt_actions:
            try:
                prompts.extend(action.prompts(ctx))
            except ActionFailed as exc:
                ctx.record_error(exc)
        timeout = max(1000, self.params["timeout"])
        digit_timeout = max(1000, self.params["digit_timeout"] or timeout)
        result = ctx.channel.collect(
            prompts,
            max_digits=self.params["num_digits"],
            finish_keys=self.finish,
            timeout_ms=timeout,
            digit_timeout_ms=digit_timeout,
        )
        ctx.state.add_key_press(self.name, result.digits)
        ctx.trace(
            "collect",
            {
                "name": self.name,
                "digits": result.digits,
                "terminator": result.terminator,
                "timed_out": result.timed_out,
            },
        )
        ctx.save_progress()


@register
class Pause(Action):
    """Silence on the answered call."""

    type = "PAUSE"
    needs_media = True
    params_spec = (Param("length", "integer", default=1000, minimum=0, maximum=3600 * 1000, unit="ms", doc="how long"),)

    def run(self, ctx):
        ctx.channel.pause(self.params["length"])
