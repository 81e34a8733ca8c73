"""Callback requests: every method and content type, retries, limits."""

import json
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest

from voxology_fs.callbacks import CallbackClient, CallbackError, CallbackTarget, flatten_form, to_xml
from voxology_fs.flow.state import CallState

FIELDS = CallState(
    call_id="c1",
    direction="inbound",
    caller_no="+12125550100",
    api_no="+17145551212",
    session_data={"name": "Bob", "age": 21, "tags": ["a", "b"]},
    key_presses=[{"name": "rating", "digits": "1"}],
).callback_fields("init_call")


def client():
    return CallbackClient(connect_timeout=1, read_timeout=2, retries=1, backoff=0.01)


def test_init_call_has_every_field_of_the_product_example():
    expected = {
        "type",
        "app_id",
        "subaccount_id",
        "call_id",
        "start_time",
        "direction",
        "duration",
        "status",
        "detection",
        "caller_no",
        "caller_no_city",
        "caller_no_region",
        "caller_no_country",
        "caller_no_timezone",
        "api_no",
        "api_no_city",
        "api_no_region",
        "api_no_country",
        "api_no_timezone",
        "key_presses",
        "recordings",
        "custom_data",
        "session_data",
        "end_time",
        "sip_domain",
        "sip_forwarded_for",
    }
    assert set(FIELDS) == expected
    assert FIELDS["caller_no_city"] == "New York" and FIELDS["caller_no_region"] == "NY"
    assert FIELDS["api_no_region"] == "CA" and FIELDS["api_no_timezone"] == "America/Los_Angeles"
    assert FIELDS["start_time"].endswith("Z") and FIELDS["status"] == "live-in-progress"


def test_json_post(callback_server):
    url = callback_server.static("/cb", {"actions": []})
    client().send(CallbackTarget(url, "POST", "application/json"), FIELDS)
    request = callback_server.requests[0]
    assert request["method"] == "POST" and request["json"] == json.loads(json.dumps(FIELDS))


def test_get_sends_a_query_string_in_bracket_notation(callback_server):
    url = callback_server.static("/cb", {"actions": []})
    client().send(CallbackTarget(url, "GET", "application/json"), FIELDS)
    query = dict(callback_server.requests[0]["query"])
    assert query["type"] == "init_call" and query["key_presses[0][digits]"] == "1"
    assert query["session_data[name]"] == "Bob" and query["session_data[tags][1]"] == "b"
    assert query["detection"] == ""


def test_form_post(callback_server):
    url = callback_server.static("/cb", {"actions": []})
    client().send(CallbackTarget(url, "POST", "application/x-www-form-urlencoded"), FIELDS)
    request = callback_server.requests[0]
    form = dict(parse_qsl(request["raw"].decode(), keep_blank_values=True))
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert form["key_presses[0][name]"] == "rating" and form["session_data[age]"] == "21"


def test_xml_post(callback_server):
    url = callback_server.static("/cb", {"actions": []})
    client().send(CallbackTarget(url, "POST", "application/xml"), FIELDS)
    root = ElementTree.fromstring(callback_server.requests[0]["raw"])
    assert root.tag == "callback" and root.findtext("type") == "init_call"
    assert root.find("key_presses/item/digits").text == "1"
    assert [e.text for e in root.findall("session_data/tags/item")] == ["a", "b"]
    assert root.find("detection").get("null") == "true"


def test_flatten_and_xml_edge_cases():
    assert flatten_form({"a": [], "b": {}, "c": None, "d": True}) == [("a", ""), ("b", ""), ("c", ""), ("d", "true")]
    assert b"<_1x>" in to_xml({"1x": 1})


def test_retry_on_503_then_success(callback_server):
    answers = iter([(503, "busy"), {"actions": []}])
    url = callback_server.route("/cb", lambda r: next(answers))
    body, _ = client().send(CallbackTarget(url), FIELDS)
    assert json.loads(body) == {"actions": []} and len(callback_server.requests) == 2


def test_no_retry_on_404(callback_server):
    with pytest.raises(CallbackError) as info:
        client().send(CallbackTarget(callback_server.url("/missing")), FIELDS)
    assert info.value.code == "http_error" and info.value.status == 404
    assert len(callback_server.requests) == 1


def test_connection_refused_is_retried_and_reported():
    with pytest.raises(CallbackError) as info:
        client().send(CallbackTarget("http://127.0.0.1:9/"), FIELDS)
    assert info.value.code == "connection_failed"


def test_slow_callback_times_out(callback_server):
    import gevent

    url = callback_server.route("/slow", lambda r: gevent.sleep(3) or {"actions": []})
    with pytest.raises(CallbackError) as info:
        CallbackClient(connect_timeout=1, read_timeout=0.3, retries=0).send(CallbackTarget(url), FIELDS)
    assert info.value.code == "timeout"


def test_a_redirect_is_followed(callback_server):
    """A 307 keeps the method and body; the flow comes from where it points."""
    final = callback_server.static("/moved", {"actions": [{"type": "HANGUP"}]})
    url = callback_server.route("/cb", lambda r: (307, b"", {"Location": final}))
    body, _ = client().send(CallbackTarget(url), FIELDS)
    assert json.loads(body) == {"actions": [{"type": "HANGUP"}]}
    assert [r["path"] for r in callback_server.requests] == ["/cb", "/moved"]
    assert callback_server.requests[1]["json"]["call_id"] == "c1"


def test_a_redirect_loop_is_an_error_not_a_hang(callback_server):
    url = callback_server.route("/loop", lambda r: (302, b"", {"Location": "/loop"}))
    with pytest.raises(CallbackError) as info:
        client().send(CallbackTarget(url, "GET"), FIELDS)
    assert info.value.code == "request_failed" and "redirect" in info.value.detail
    assert len(callback_server.requests) <= 6


def test_an_answer_over_the_size_limit_is_refused(callback_server):
    from voxology_fs.callbacks import MAX_RESPONSE_BYTES

    url = callback_server.route("/big", lambda r: b" " * (MAX_RESPONSE_BYTES + 1))
    with pytest.raises(CallbackError) as info:
        client().send(CallbackTarget(url), FIELDS)
    assert info.value.code == "response_too_large"
    # The connection with unread data was dropped, not reused: the next callback works.
    ok = callback_server.static("/ok", {"actions": []})
    assert json.loads(client().send(CallbackTarget(ok), FIELDS)[0]) == {"actions": []}


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/flow.json", "http://", "not a url"])
def test_a_url_that_cannot_be_requested_is_a_typed_error(url):
    with pytest.raises(CallbackError) as info:
        client().send(CallbackTarget(url), FIELDS)
    assert info.value.code in ("request_failed", "connection_failed") and info.value.url == url


def test_a_get_keeps_the_query_string_already_in_the_url(callback_server):
    url = callback_server.static("/cb", {"actions": []})
    client().send(CallbackTarget(url + "?tenant=7", "GET"), FIELDS)
    query = dict(callback_server.requests[0]["query"])
    assert query["tenant"] == "7" and query["type"] == "init_call"


def test_callbacks_reuse_their_connection(callback_server):
    """Keep-alive: many callbacks to one host do not open a connection each."""
    url = callback_server.route("/cb", lambda r: {"actions": []})
    http = client()
    for _ in range(5):
        http.send(CallbackTarget(url), FIELDS)
    assert len(callback_server.requests) == 5
    assert len({r["peer"] for r in callback_server.requests}) == 1
