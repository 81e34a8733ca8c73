"""ESL wire format of the fake FreeSWITCH: encoding, events, framing, parsing.

Everything here mirrors what FreeSWITCH 1.11.1 puts on the wire (see
tests/data/esl-transcripts and mod_event_socket.c / switch_event.c):

* event header values are URL-encoded the way ``switch_url_encode`` does it
  (only control/non-ASCII bytes and ``\\r\\n #%&+:;<=>?@[\\]^`{|}"`` are escaped,
  an existing ``%XX`` escape is kept), an empty value is written ``_undef_``;
* a ``text/event-plain`` frame is ``Content-Length: N`` / ``Content-Type``,
  a blank line, then the serialized event whose own body (if any) is
  introduced by ``Content-Length: n`` and a blank line;
* command replies are ``Content-Type: command/reply`` + ``Reply-Text``;
* ``api/response`` and the two ``text/disconnect-notice`` flavours.

``Event`` keeps its headers in insertion order (FreeSWITCH's order matters for
byte comparisons) and ``read_message`` parses what a client sends.
"""

import itertools
import re
import time
import uuid as _uuid

URL_UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"'
_HEX = "0123456789ABCDEF"

CORE_UUID = str(_uuid.uuid4())
HOSTNAME = "vm"
IPV4 = "127.0.0.1"
IPV6 = "::1"
_sequence = itertools.count(316400)

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

# Event-Calling-File / Function / Line-Number as recorded in the transcripts.
CALLING = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2018),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3507),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3562),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 302),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_UUID": ("switch_core_session.c", "switch_core_session_set_uuid", 2056),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 678),
    "API": ("switch_loadable_module.c", "switch_api_execute", 2954),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1569),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1649),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2023),
    "RECORD_START": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", 770),
    "RECORD_STOP": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", 1033),
    "PRIVATE_COMMAND": ("switch_ivr.c", "switch_ivr_parse_next_event", 804),
    "CUSTOM": ("mod_event_socket.c", "parse_command", 2272),
    "conference::maintenance": ("conference_member.c", "conference_member_add", 962),
    "fifo::info": ("mod_fifo.c", "fifo_function", 2743),
}

# All event names FreeSWITCH knows (switch_event.c EVENT_NAMES), for `event`.
EVENT_NAMES = set(
    """CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE
CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE
CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA
CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API
LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH
MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE
MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE
PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY
PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL
COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO
RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START
PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY
CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED
CERT_RELOAD ALL""".split()
)

# What `myevents` subscribes to (mod_event_socket.c parse_command).
MYEVENTS = {
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DATA",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "NOTALK",
    "TALK",
}


# A value without any byte url_encode would change is written as it is.
_NEEDS_ENCODING = re.compile("[^\x20-\x7e]|[%s]|%%(?![0-9A-F]{2})" % re.escape(URL_UNSAFE.replace("%", "")))


def url_encode(value):
    """FreeSWITCH's switch_url_encode (no double encoding of %XX)."""
    text = str(value)
    if _NEEDS_ENCODING.search(text) is None:
        return text
    data = text.encode("utf-8")
    out = []
    n = len(data)
    for i, c in enumerate(data):
        ok = False
        if c == 0x25 and n - i > 2 and chr(data[i + 1]) in _HEX and chr(data[i + 2]) in _HEX:
            ok = True
        if not ok and (c < 0x20 or c > 0x7E or chr(c) in URL_UNSAFE):
            out.append("%%%02X" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def now_us():
    return int(time.time() * 1000000)


class Event:
    """An ordered FreeSWITCH event. ``add`` skips None values like FreeSWITCH."""

    def __init__(self, name, subclass=None, calling=None, standard=True):
        self.name = name
        self.subclass = subclass
        self.headers = []
        self._index = None  # (header count, lower-cased name -> first value), built on demand
        self.body = None
        if subclass:
            self.headers.append(("Event-Subclass", subclass))
        if standard:
            self.add_standard(calling)

    def add_standard(self, calling=None):
        key = self.subclass if self.name == "CUSTOM" and self.subclass in CALLING else self.name
        cfile, cfunc, cline = calling or CALLING.get(key, ("switch_event.c", "switch_event_fire_detailed", 2000))
        ts = now_us()
        t = time.localtime(ts / 1e6)
        self.add("Event-Name", self.name)
        self.add("Core-UUID", CORE_UUID)
        self.add("FreeSWITCH-Hostname", HOSTNAME)
        self.add("FreeSWITCH-Switchname", HOSTNAME)
        self.add("FreeSWITCH-IPv4", IPV4)
        self.add("FreeSWITCH-IPv6", IPV6)
        self.add("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", t))
        self.add("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts / 1e6)))
        self.add("Event-Date-Timestamp", ts)
        self.add("Event-Calling-File", cfile)
        self.add("Event-Calling-Function", cfunc)
        self.add("Event-Calling-Line-Number", cline)
        self.add("Event-Sequence", next(_sequence))

    def add(self, name, value):
        if value is not None:
            self.headers.append((name, str(value)))
        return self

    def get(self, name, default=None):
        """The first header of that name, case-insensitively."""
        if self._index is None or self._index[0] != len(self.headers):
            index = {}
            for k, v in self.headers:
                index.setdefault(k.lower(), v)
            self._index = (len(self.headers), index)
        return self._index[1].get(name.lower(), default)

    def serialize(self):
        """switch_event_serialize(encode=TRUE)."""
        lines = []
        for k, v in self.headers:
            enc = url_encode(v)
            lines.append("%s: %s\n" % (k, enc if enc else "_undef_"))
        text = "".join(lines)
        if self.body:
            body = self.body
            text += "Content-Length: %d\n\n" % len(body.encode("utf-8")) + body
        else:
            text += "\n"
        return text.encode("utf-8")

    def frame(self):
        """The text/event-plain frame a listener writes for this event."""
        data = self.serialize()
        return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(data) + data


def command_reply(text):
    return ("Content-Type: command/reply\nReply-Text: %s\n\n" % text).encode("utf-8")


def api_response(text):
    if not text:
        text = "-ERR no reply\n"
    data = text.encode("utf-8")
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def disconnect_notice(session_uuid=None, message=GOODBYE):
    data = message.encode("utf-8")
    if session_uuid:
        head = (
            "Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\n"
            "Content-Disposition: disconnect\nContent-Length: %d\n\n" % (session_uuid, len(data))
        )
    else:
        head = "Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(data)
    return head.encode("utf-8") + data


def linger_notice(session_uuid, channel_name, linger_time):
    return (
        "Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\n"
        "Content-Disposition: linger\nChannel-Name: %s\nLinger-Time: %d\n"
        "Content-Length: 0\n\n" % (session_uuid, channel_name, linger_time)
    ).encode("utf-8")


def header_value(headers, name, default=None):
    """The value of the first header called name (any case) in [(name, value)]."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return default


class Message:
    """A command as read by mod_event_socket's read_packet."""

    def __init__(self, command, headers, body, raw):
        self.command = command  # first line
        self.headers = headers  # list of (name, value) after the first line
        self.body = body  # str or None
        self.raw = raw  # bytes exactly as received
        self.head_text = (
            raw[: len(raw) - len(body.encode("utf-8"))].decode("utf-8", "replace")
            if body
            else raw.decode("utf-8", "replace")
        )

    def get(self, name, default=None):
        return header_value(self.headers, name, default)


class SocketReader:
    """Buffered reader of ESL commands from a gevent socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError()
        self.buf += data

    def read_message(self):
        # read_packet skips leading blank lines
        while True:
            while self.buf[:1] in (b"\r", b"\n"):
                self.buf = self.buf[1:]
            idx = self.buf.find(b"\n\n")
            idx2 = self.buf.find(b"\r\n\r\n")
            if idx >= 0 and (idx2 < 0 or idx <= idx2):
                end, sep = idx, 2
                break
            if idx2 >= 0:
                end, sep = idx2, 4
                break
            self._fill()
        head = self.buf[:end].decode("utf-8", "replace")
        self.buf = self.buf[end + sep :]
        raw = head.encode("utf-8") + (b"\n\n" if sep == 2 else b"\r\n\r\n")
        lines = [line.rstrip("\r") for line in head.split("\n")]
        command = lines[0].strip()
        headers = []
        body = None
        for line in lines[1:]:
            if not line:
                continue
            name, sepc, value = line.partition(":")
            if not sepc:
                continue
            headers.append((name, value.lstrip(" ")))
            if name.lower() == "content-length":
                n = int(value.strip() or 0)
                if n > 0:
                    while len(self.buf) < n:
                        self._fill()
                    body_b, self.buf = self.buf[:n], self.buf[n:]
                    raw += body_b
                    body = body_b.decode("utf-8", "replace")
        return Message(command, headers, body, raw)
