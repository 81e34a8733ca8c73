"""The ESL framer against recorded FreeSWITCH traffic, whole and split at any byte."""

import glob
import os
import random
from urllib.parse import unquote

import pytest

from tests.support.transcripts import TRANSCRIPTS, split_transcript
from voxology_fs.esl.protocol import Parser, encode_execute, message_to_event, parse_event


def received_streams():
    """(name, bytes FreeSWITCH sent, number of messages) for each recorded file."""
    streams = []
    for path in sorted(glob.glob(os.path.join(TRANSCRIPTS, "*.log"))):
        received = [raw for direction, raw in split_transcript(open(path, "rb").read()) if direction == "<"]
        streams.append((os.path.basename(path), b"".join(received), len(received)))
    return streams


STREAMS = received_streams()


def test_transcripts_are_there():
    assert len(STREAMS) >= 29, TRANSCRIPTS


@pytest.mark.parametrize("name,stream,count", STREAMS, ids=[s[0] for s in STREAMS])
def test_whole_stream_parses_into_every_message(name, stream, count):
    messages = Parser().feed(stream)
    assert len(messages) == count
    for message in messages:
        if message.content_type == "text/event-plain":
            event = message_to_event(message)
            assert event.name, "every event has a name"


@pytest.mark.parametrize("name,stream,count", STREAMS, ids=[s[0] for s in STREAMS])
def test_stream_split_at_random_points_gives_the_same_messages(name, stream, count):
    whole = [(m.headers, m.body) for m in Parser().feed(stream)]
    rng = random.Random(name)
    parser, got, pos = Parser(), [], 0
    while pos < len(stream):
        step = rng.choice([1, 2, 3, 7, 64, 1000, 4096])
        got.extend((m.headers, m.body) for m in parser.feed(stream[pos : pos + step]))
        pos += step
    assert got == whole


def test_every_split_point_of_a_short_stream():
    _name, stream, _ = next(s for s in STREAMS if s[0] == "live_control_narrow.outbound.log")
    stream = stream[:6000]
    whole = [(m.headers, m.body) for m in Parser().feed(stream)]
    for cut in range(1, len(stream)):
        parser = Parser()
        got = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert [(m.headers, m.body) for m in got] == whole


def test_connect_reply_values_are_url_decoded():
    _name, stream, _ = next(s for s in STREAMS if s[0] == "live_control_narrow.outbound.log")
    reply = Parser().feed(stream)[0]
    assert reply.content_type == "command/reply"
    assert reply.headers["Channel-Caller-ID-Number"] == "+19495551212"
    assert reply.headers["variable_current_application_data"] == "127.0.0.1:8084 async full"


def test_event_with_its_own_body():
    body = b"Event-Name: BACKGROUND_JOB\nJob-UUID: 1\nContent-Length: 4\n\n+OK\n"
    event = parse_event(body)
    assert event.name == "BACKGROUND_JOB" and event.body == "+OK\n"


def test_encoded_newlines_survive_in_event_headers():
    event = parse_event(b"Event-Name: CUSTOM\nX-Text: a%0Ab\n\n")
    assert event.get("X-Text") == "a\nb"


def test_execute_argument_with_newline_goes_in_the_body():
    raw = encode_execute("speak", "flite|kal|one\ntwo", "u1")
    head, body = raw.split(b"\n\n", 1)
    assert b"execute-app-arg" not in head and b"content-length: 17" in head and body == b"flite|kal|one\ntwo"
    plain = encode_execute("playback", "tone_stream://%(20000,0,350)", "u2")
    assert b"execute-app-arg: tone_stream://%(20000,0,350)\n\n" in plain


def test_call_info_keeps_only_the_variables_the_call_server_reads():
    """A SIP call's connect reply carries some fifty variables; the call keeps a few."""
    from voxology_fs.esl.call_info import CALL_VARIABLES, call_info_from

    data = open(os.path.join(TRANSCRIPTS, "sip_inbound.outbound.log"), "rb").read()
    connect_reply = next(raw for direction, raw in split_transcript(data) if direction == "<")
    [message] = Parser().feed(connect_reply)
    assert sum(name.startswith("variable_") for name in message.headers) > 50
    info = call_info_from(message.headers)
    assert set(info.variables) <= CALL_VARIABLES and info.variables["sip_network_ip"] == "127.0.0.1"
    assert (info.destination, info.sip_domain, info.switch_name) == ("1000", "127.0.0.1", "vm")
    assert info.uuid == message.headers["Unique-ID"]


def whole_parse(block: bytes, decode: bool) -> dict:
    """Every header of a block, the plain way (the last of a repeated name wins)."""
    headers = {}
    for line in block.decode().strip("\n").split("\n"):
        name, _, value = line.partition(": ")
        headers[name] = unquote(value) if decode else value
    return headers


@pytest.mark.parametrize("name,stream,count", STREAMS, ids=[s[0] for s in STREAMS])
def test_a_header_read_by_name_is_the_one_a_whole_parse_gives(name, stream, count):
    """Headers are found by name in the block, never split whole: each lookup
    agrees with parsing the whole block (outer headers and event headers)."""
    messages = Parser().feed(stream)
    raw = _received(name)
    assert len(raw) == len(messages)
    for message, data in zip(messages, raw, strict=True):
        outer = whole_parse(data.split(b"\n\n", 1)[0], decode=message.content_type == "command/reply")
        assert all(message.headers.get(header) == value for header, value in outer.items())
        assert message.headers.get("No-Such-Header") is None and "No-Such-Header" not in message.headers
        if message.content_type == "text/event-plain":
            event = message_to_event(message)
            inner = whole_parse(message.body.split(b"\n\n", 1)[0], decode=True)
            assert all(event.get(header) == value for header, value in inner.items())


def _received(name):
    data = open(os.path.join(TRANSCRIPTS, name), "rb").read()
    return [raw for direction, raw in split_transcript(data) if direction == "<"]


def test_connect_reply_is_not_parsed_whole_to_read_a_few_values():
    _, stream, _ = next(s for s in STREAMS if s[0] == "sip_inbound.outbound.log")
    reply = Parser().feed(stream)[0]
    assert reply.headers.get("Caller-Destination-Number") == "1000"
    assert reply.headers._all is None  # nothing split or decoded beyond what was read
    assert len(reply.headers) > 100 and reply.headers["Channel-Caller-ID-Number"]
