"""The live-control protocol: what the API builds, the event it sends, what the call reads back."""

import json

import pytest

from voxology_fs import control


def test_a_request_survives_the_wire():
    request = control.redirect("https://example.com/next", "GET", "application/xml")
    headers, body = control.encode("call-1", request)
    assert headers == {"Event-Subclass": "voxology::control", "Vox-Call-ID": "call-1", "Vox-Command": "redirect"}
    assert control.decode(body, headers["Vox-Command"]) == {
        "command": "redirect",
        "url": "https://example.com/next",
        "method": "GET",
        "content_type": "application/xml",
    }


def test_the_command_header_stands_in_for_a_body():
    assert control.decode("", "hangup") == {"command": "hangup"}
    assert control.decode(None, "hangup") == control.hangup()


def test_only_session_data_waits_for_the_next_action():
    assert not control.interrupts(control.session_data({"a": 1}))
    for request in (control.hangup(), control.redirect("http://h/x"), control.actions([{"type": "HANGUP"}])):
        assert control.interrupts(request)


@pytest.mark.parametrize(
    "body, field",
    [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        ('"hangup"', "body"),
        ('{"command": "dance"}', "command"),
        ("{}", "command"),
        ("[" * 100000 + "]" * 100000, "body"),  # too deep for the JSON decoder
    ],
)
def test_what_the_call_cannot_read_is_refused(body, field):
    with pytest.raises(control.ControlError) as caught:
        control.decode(body)
    assert caught.value.field == field


def test_an_unknown_command_is_never_sent():
    with pytest.raises(control.ControlError):
        control.encode("call-1", {"command": "dance"})


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: control.redirect("ftp://h/x"), "url"),
        (lambda: control.redirect("http://h/x", "PUT"), "method"),
        (lambda: control.redirect("http://h/x", "POST", "text/plain"), "content_type"),
        (lambda: control.actions([]), "actions"),
        (lambda: control.actions("HANGUP"), "actions"),
        (lambda: control.actions([{"type": "SAY", "params": {}}]), "actions.0.params.text"),
        (lambda: control.actions([{"type": "SAY", "params": {"text": "x" * 1000}}] * 300), "actions"),
        (lambda: control.session_data({"big": "x" * control.MAX_SESSION_DATA}), "session_data"),
    ],
)
def test_bad_requests_name_their_field(build, field):
    with pytest.raises(control.ControlError) as caught:
        build()
    assert caught.value.field == field


def test_actions_and_session_data_travel_as_given():
    flow = [{"type": "SAY", "params": {"text": "now ${x}"}}, {"type": "HANGUP"}]
    _, body = control.encode("c", control.actions(flow))
    assert json.loads(body) == {"command": "actions", "actions": flow}
    _, body = control.encode("c", control.session_data({"name": "Ann"}))
    assert control.decode(body) == {"command": "session_data", "session_data": {"name": "Ann"}}
