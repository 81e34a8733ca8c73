"""FreeSWITCH event socket wire format: framing, parsing and encoding.

No sockets here: :class:`Parser` is fed bytes as they arrive, in pieces of
any size, and yields whole :class:`Message` objects.  It is tested on
recorded FreeSWITCH traffic, split at every possible byte.

A message is a header block (``Name: value`` lines), a blank line, then
exactly ``Content-Length`` bytes of body.  ``text/event-plain`` bodies hold
the event's own headers, URL-encoded, and possibly a body of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

_HEADER_END = b"\n\n"


class ProtocolError(Exception):
    """The peer sent something that is not the event socket protocol."""


class HeaderBlock(Mapping[str, str]):
    """A header block, read by name when asked, never split whole.

    A SIP call's connect reply and each of its events carry some 150
    headers, and the call server reads a handful: a lookup is one search of
    the block's text, and only the value found is URL-decoded (when
    ``decode``).  Iterating parses the whole block, once.
    """

    __slots__ = ("_all", "_decode", "_extra", "_text")

    def __init__(self, block: bytes | str, decode: bool = False, extra: dict[str, str] | None = None):
        text = block.decode("utf-8", "replace") if isinstance(block, (bytes, bytearray)) else block
        self._text = "\n" + text.strip("\n") + "\n"
        self._decode = decode
        self._extra = extra  # defaults for names the block lacks
        self._all: dict[str, str] | None = None

    def get(self, name: str, default=None):
        if self._all is not None:
            return self._all.get(name, default)
        text = self._text
        # The last of repeated names wins, as in a dict of the whole block.
        start = text.rfind("\n" + name + ":")
        if start < 0:
            if self._extra is not None:
                return self._extra.get(name, default)
            return default
        start += len(name) + 2
        end = text.index("\n", start)
        value = text[start + 1 : end] if text.startswith(" ", start) else text[start:end]
        if self._decode and "%" in value:
            value = unquote(value)
        return value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name) -> bool:
        return self.get(name) is not None

    def _parsed(self) -> dict[str, str]:
        if self._all is None:
            parsed = dict(self._extra or {})
            parsed.update(_parse_header_block(self._text, self._decode))
            self._all = parsed
            self._text = ""  # the dict now holds it all
        return self._all

    def __iter__(self):
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())

    def __repr__(self) -> str:
        return f"<HeaderBlock {len(self._text)} chars>"


class Message:
    """One framed message: its outer headers and raw body."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Mapping[str, str], body: bytes = b""):
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<Message {self.content_type} {len(self.body)}B>"


class Event:
    """A FreeSWITCH event: its headers (URL-decoded on access) and a body.

    An event carries a hundred-odd headers and a handler reads a few, so
    values are found and decoded when read, not when parsed.  ``headers``
    gives them all decoded, with the outer ``Content-Type`` too (as
    greenswitch's event objects have it).
    """

    __slots__ = ("_decoded", "_raw", "body")

    def __init__(self, raw_headers: Mapping[str, str], body: str = ""):
        self._raw = raw_headers
        self._decoded: dict[str, str] = {}
        self.body = body

    @property
    def name(self) -> str:
        return self.get("Event-Name", "")

    @property
    def subclass(self) -> str:
        return self.get("Event-Subclass", "")

    def get(self, name: str, default=None):
        value = self._decoded.get(name)
        if value is None:
            value = self._raw.get(name)
            if value is None:
                return default
            if "%" in value:
                value = unquote(value)
            self._decoded[name] = value
        return value

    def variable(self, name: str, default=None):
        return self.get("variable_" + name, default)

    @property
    def headers(self) -> dict[str, str]:
        return {name: self.get(name) for name in self._raw}

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.subclass}>".replace(" >", ">")


def _parse_header_block(text: str, decode_values: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed header line {line[:80]!r}")
        if decode_values and "%" in value:
            value = unquote(value)
        headers[name.strip()] = value
    return headers


_EVENT_DEFAULTS = {"Content-Type": "text/event-plain"}


def parse_event(body: bytes, content_type: str = "text/event-plain") -> Event:
    """The event a ``text/event-plain`` message's body holds (headers read lazily)."""
    head, sep, rest = body.partition(_HEADER_END)
    extra = _EVENT_DEFAULTS if content_type == "text/event-plain" else {"Content-Type": content_type}
    headers = HeaderBlock(head, extra=extra)
    event_body = ""
    if sep:
        length = headers.get("Content-Length")
        if length is not None:
            event_body = rest[: int(length)].decode("utf-8", "replace")
    return Event(headers, event_body)


class Parser:
    """Incremental framer: ``feed(bytes)`` returns the messages completed."""

    def __init__(self, max_body: int = 16 * 1024 * 1024):
        self._buffer = bytearray()
        self._pending_headers: HeaderBlock | None = None
        self._pending_length = 0
        self._max_body = max_body

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while True:
            pending = self._pending_headers
            if pending is None:
                end = self._buffer.find(_HEADER_END)
                if end < 0:
                    # Tolerate stray newlines between messages.
                    if self._buffer.strip(b"\n") == b"":
                        self._buffer.clear()
                    return messages
                block = bytes(self._buffer[:end]).lstrip(b"\n")
                del self._buffer[: end + 2]
                if not block:
                    continue
                headers = HeaderBlock(block)
                if headers.get("Content-Type") == "command/reply":
                    # The reply to ``connect`` carries URL-encoded channel data.
                    headers._decode = True
                length = headers.get("Content-Length")
                if length is None:
                    messages.append(Message(headers))
                    continue
                try:
                    self._pending_length = int(length)
                except ValueError:
                    raise ProtocolError(f"bad Content-Length {length!r}") from None
                if not 0 <= self._pending_length <= self._max_body:
                    raise ProtocolError(f"Content-Length {length} out of range")
                self._pending_headers = pending = headers
            if len(self._buffer) < self._pending_length:
                return messages
            body = bytes(self._buffer[: self._pending_length])
            del self._buffer[: self._pending_length]
            messages.append(Message(pending, body))
            self._pending_headers = None


def message_to_event(message: Message) -> Event | None:
    """The event a message carries, or None for replies and notices."""
    if message.content_type == "text/event-plain":
        return parse_event(message.body)
    return None


def encode_command(command: str, headers: dict[str, str] | None = None, body: str | None = None) -> bytes:
    """Encode a command line, optional headers and an optional body.

    Header values must not contain a newline (they would end the header
    block); send such text as the body instead.
    """
    if "\n" in command:
        raise ValueError("a command line cannot contain a newline")
    lines = [command]
    for name, value in (headers or {}).items():
        value = str(value)
        if "\n" in value or "\r" in value:
            raise ValueError(f"header {name} cannot contain a newline")
        lines.append(f"{name}: {value}")
    payload = b""
    if body is not None:
        payload = body.encode("utf-8")
        lines.append(f"content-length: {len(payload)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + payload


def encode_execute(app: str, arg: str | None, event_uuid: str, event_lock: bool = False, loops: int = 1) -> bytes:
    """A ``sendmsg`` that runs one dialplan application on the channel.

    The argument travels as a header when it is a plain one-line string and
    as a ``text/plain`` body otherwise, which FreeSWITCH reads verbatim.
    ``loops`` (-1: until broken) repeats it; each round completes with the
    same ``Application-UUID``.
    """
    headers = {"call-command": "execute", "execute-app-name": app, "Event-UUID": event_uuid}
    if event_lock:
        headers["event-lock"] = "true"
    if loops != 1:
        headers["loops"] = str(loops)
    if arg is None or arg == "":
        return encode_command("sendmsg", headers)
    if "\n" in arg or "\r" in arg or arg != arg.strip():
        headers["content-type"] = "text/plain"
        return encode_command("sendmsg", headers, body=arg)
    headers["execute-app-arg"] = arg
    return encode_command("sendmsg", headers)
