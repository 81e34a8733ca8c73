"""Building FreeSWITCH application arguments that arrive exactly as meant.

Our channels run with ``app_disable_expand_variables=true``, so FreeSWITCH
does not expand ``${...}`` in what we send.  What remains is each
application's own splitting: ``switch_separate_string`` splits on a
delimiter, groups ``'quoted text'``, and turns ``\\x`` into ``x``.  These
functions escape text for exactly those rules, so a customer's text is one
argument, spoken or played as written.
"""

from __future__ import annotations

from ..channel import AudioFile, Prompt, Silence, Speech, Tone, is_plain_name

# The delimiter we set as ``playback_delimiter``: several prompts in one
# ``playback`` or ``play_and_get_digits`` argument.
PROMPT_DELIMITER = "!"

DTMF_KEYS = frozenset("0123456789*#ABCDabcd")


def escape_for_split(text: str, delimiter: str) -> str:
    """Escape text so ``switch_separate_string(.., delimiter, ..)`` keeps it whole."""
    out = []
    for ch in text:
        if ch in ("\\", "'", '"') or ch == delimiter:
            out.append("\\")
        out.append(ch)
    return "".join(out)


def quote_word(text: str) -> str:
    """One argument of a space-separated list (``play_and_get_digits``)."""
    # Inside quotes spaces need no escape (and an escaped space would keep its backslash).
    return "'" + escape_for_split(text, "") + "'"


def plain_text(text: str) -> str:
    """Text for TTS on one command line (see :func:`_plain_text`)."""
    return _plain_text(text)


def tts_prefix(engine: str, voice: str) -> str:
    """mod_conference's ``say``: the engine and voice as the text's leading channel variables."""
    for name, value in (("engine", engine), ("voice", voice)):
        if not safe_token(value):
            raise ValueError(f"unsafe TTS {name} {value!r}")
    return f"{{tts_engine={engine},tts_voice={voice}}}"


def checked_path(path: str) -> str:
    """A file path of ours as one word of an API command: absolute, plain characters."""
    if not path.startswith("/") or not all(c.isascii() and (c.isalnum() or c in "_-./") for c in path) or ".." in path:
        raise ValueError(f"not a file path of ours: {path!r}")
    return path


def _plain_text(text: str) -> str:
    # Line breaks would split our command; ``@@`` is playback's offset marker.
    text = " ".join(text.split())
    while "@@" in text:
        text = text.replace("@@", "@ @")
    return text


def prompt_source(prompt: Prompt) -> str:
    """One element of a ``playback_delimiter`` list (not yet escaped)."""
    if isinstance(prompt, Speech):
        return "say:" + _plain_text(prompt.text)
    if isinstance(prompt, AudioFile):
        return prompt.path
    if isinstance(prompt, Silence):
        return f"silence_stream://{max(0, int(prompt.ms))}"
    if isinstance(prompt, Tone):
        return f"tone_stream://{prompt.spec}"
    raise TypeError(f"not a prompt: {prompt!r}")


def prompt_list(prompts: list[Prompt]) -> str:
    """Prompts as one ``playback``/``play_and_get_digits`` file argument."""
    return PROMPT_DELIMITER.join(escape_for_split(prompt_source(p), PROMPT_DELIMITER) for p in prompts)


def speak_arg(engine: str, voice: str, text: str) -> str:
    """``speak engine|voice|text``: FreeSWITCH passes the text after the second ``|`` verbatim."""
    for name, value in (("engine", engine), ("voice", voice)):
        if not safe_token(value):
            raise ValueError(f"unsafe TTS {name} {value!r}")
    return f"{engine}|{voice}|{_plain_text(text)}"


def play_and_get_digits_arg(
    prompts: list[Prompt], *, max_digits: int, finish_keys: str, timeout_ms: int, digit_timeout_ms: int, variable: str
) -> str:
    """The eleven positional arguments of ``play_and_get_digits``."""
    terminators = "".join(k for k in finish_keys if k in DTMF_KEYS) or "none"
    files = prompt_list(prompts) or "silence_stream://1"
    return " ".join(
        [
            "1",
            str(max_digits),
            "1",
            str(timeout_ms),
            terminators,
            quote_word(files),
            "silence_stream://1",
            variable,
            "^[0-9*#A-Da-d]+$",
            str(digit_timeout_ms),
            "",
        ]
    ).rstrip()


# ``set`` and ``multiset`` expand ``${...}`` in their value even on channels
# with ``app_disable_expand_variables=true``, so values set from a flow (a TTS
# voice, say) must be plain names like these, never free text.
safe_token = is_plain_name


def set_arg(name: str, value: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad channel variable name {name!r}")
    value = str(value)
    if not safe_token(value):
        raise ValueError(f"unsafe value for {name}: {value!r}")
    return f"{name}={value}"


def multiset_arg(settings: dict[str, str]) -> str:
    """``multiset`` of values of ours: ``name=value`` words (an empty value unsets the variable)."""
    for name, value in settings.items():
        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad channel variable name {name!r}")
        if any(c.isspace() for c in value):
            raise ValueError(f"{name}: {value!r} is not one word")
    return " ".join(f"{name}={value}" for name, value in settings.items())


def dtmf_arg(digits: str) -> str:
    """``send_dtmf`` digits, with ``w``/``W`` pauses (0.5 s / 1 s) allowed."""
    bad = [c for c in digits if c not in DTMF_KEYS and c not in "wW"]
    if bad:
        raise ValueError(f"not DTMF: {''.join(bad)!r}")
    return digits
