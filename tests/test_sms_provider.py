"""Texts through an HTTP SMS provider: its requests, its failures, and its delivery receipts."""

import base64
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.support.provision import DID, setup_number
from tests.support.rig import Rig
from tests.support.waiting import wait_until
from voxology_fs import models, operator
from voxology_fs.sms_provider import ProviderSettingError, SmsProvider
from voxology_fs.timeutil import utcnow

CALLER = "+19495551212"
INVENTORY = "number,capabilities,country\n+17145551212,voice;sms,US\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def provider(callback_server):
    """The provider: answers 200 unless a test says otherwise."""
    answers = {"status": 200}
    url = callback_server.route("/provider/send", lambda request: (answers["status"], {"sid": "SM1"}))
    return url, answers


@pytest.fixture
def prig(db, settings, provider):
    operator.import_numbers(INVENTORY)
    url, _ = provider
    rig = Rig(settings.replace(sms_provider_url=url, sms_provider_user="ops", sms_provider_password="s3cret"))
    yield rig
    rig.close()


def provider_requests(callback_server):
    return [r for r in callback_server.requests if r["path"] == "/provider/send"]


def status_reports(callback_server):
    return [r["json"] for r in callback_server.requests if (r["json"] or {}).get("type") == "sms_status"]


def receipt_path(request) -> str:
    parts = urlsplit(request["json"]["status_callback"])
    return f"{parts.path}?{parts.query}"


def test_the_provider_gets_the_fields_untouched_and_a_receipt_marks_the_text_delivered(prig, callback_server):
    acme = prig.client()
    setup_number(acme, callback_server.static("/s", {}))
    status_url = callback_server.static("/status", {})
    text = 'Code 12 | ${system reboot} "}'
    r = acme.post(
        "/Dials/SMS", {"call": {"no": CALLER, "caller_id_no": DID}, "message": text, "status_url": status_url}
    )
    assert r.status_code == 201, r.get_json()
    sent = r.get_json()
    # The provider's answer is in the response: no switch was involved.
    assert sent["status"] == "sent" and prig.fake.sent_messages == []
    [request] = provider_requests(callback_server)
    assert request["json"]["to"] == CALLER and request["json"]["from"] == DID and request["json"]["text"] == text
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(b"ops:s3cret").decode()
    # The receipt needs no key: the URL we gave the provider is signed for this message.
    web = prig.app.test_client()
    answer = web.post(receipt_path(request), json={"status": "delivered"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"id": sent["id"], "status": "delivered"}
    assert acme.get(f"/Messages/{sent['id']}").get_json()["status"] == "delivered"
    assert wait_until(lambda: [s["status"] for s in status_reports(callback_server)] == ["sent", "delivered"], 5)


def test_a_failing_provider_fails_the_text_with_its_answer(prig, provider, callback_server):
    _, answers = provider
    answers["status"] = 503
    acme = prig.client()
    setup_number(acme, callback_server.static("/s", {}))
    r = acme.post("/Dials/SMS", {"call": {"no": CALLER, "caller_id_no": DID}, "message": "hello"})
    assert r.status_code == 201
    doc = r.get_json()
    assert doc["status"] == "failed" and "HTTP 503" in doc["error"]
    # A receipt cannot bring a failed text back.
    late = prig.app.test_client().post(
        receipt_path(provider_requests(callback_server)[0]), json={"status": "delivered"}
    )
    assert late.status_code == 200 and late.get_json()["status"] == "failed"
    assert acme.get(f"/Messages/{doc['id']}").get_json()["status"] == "failed"


def test_an_unreachable_provider_fails_the_text(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    rig = Rig(settings.replace(sms_provider_url=f"http://127.0.0.1:{free_port()}/send", sms_provider_timeout=2.0))
    try:
        acme = rig.client()
        setup_number(acme, callback_server.static("/s", {}))
        doc = acme.post("/Dials/SMS", {"call": {"no": CALLER, "caller_id_no": DID}, "message": "hello"}).get_json()
        assert doc["status"] == "failed" and "could not be reached" in doc["error"]
    finally:
        rig.close()


def test_a_receipt_needs_its_own_unexpired_signature_and_a_status(prig, callback_server):
    acme = prig.client()
    setup_number(acme, callback_server.static("/s", {}))
    first = acme.post("/Dials/SMS", {"call": {"no": CALLER, "caller_id_no": DID}, "message": "one"}).get_json()
    second = acme.post("/Dials/SMS", {"call": {"no": CALLER, "caller_id_no": DID}, "message": "two"}).get_json()
    path = receipt_path(provider_requests(callback_server)[0])
    web = prig.app.test_client()
    # The first message's signature does not open the second's receipt.
    assert web.post(path.replace(first["id"], second["id"]), json={"status": "delivered"}).status_code == 403
    assert web.post(path[: -len("0")] + "x", json={"status": "delivered"}).status_code == 403
    book = prig.server.services.messages
    expired = book.signer.signed(
        f"/v1/Messages/{first['id']}/Receipt", f"sms-receipt:{first['id']}", now=time.time() - 10, ttl=1
    )
    parts = urlsplit(expired)
    assert web.post(f"{parts.path}?{parts.query}", json={"status": "delivered"}).status_code == 403
    # A recording's signature is not a receipt's either.
    recording_style = book.signer.signed(f"/v1/Messages/{first['id']}/Receipt", first["id"])
    parts = urlsplit(recording_style)
    assert web.post(f"{parts.path}?{parts.query}", json={"status": "delivered"}).status_code == 403
    missing = web.post(path, json={"state": "delivered"})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "status"
    # A form body (how many providers post receipts) and a status that changes nothing.
    assert web.post(path, data={"status": "sending"}).get_json()["status"] == "sent"
    assert web.post(path, data={"status": "undelivered"}).get_json()["status"] == "failed"
    assert acme.get(f"/Messages/{second['id']}").get_json()["status"] == "sent"
    assert "undelivered" in acme.get(f"/Messages/{first['id']}").get_json()["error"]


def test_the_sms_action_goes_through_the_provider_and_the_flow_goes_on(prig, callback_server):
    acme = prig.client()
    flow = {
        "actions": [
            {"type": "SMS", "params": {"text": "Thanks, ${callerNo}"}},
            {"type": "SAY", "params": {"text": "after"}},
            {"type": "HANGUP"},
        ]
    }
    setup_number(acme, callback_server.static("/s", flow))
    call = prig.fake.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(5)
    assert call.spoken == ["after"] and prig.fake.sent_messages == []
    assert wait_until(lambda: provider_requests(callback_server), 5)
    assert provider_requests(callback_server)[0]["json"]["text"] == f"Thanks, {CALLER}"
    with models.database.connection_context():
        assert wait_until(lambda: models.Message.get(models.Message.call == call.uuid).status == "sent", 5)


def test_a_receipt_that_overtakes_the_provider_s_answer_is_kept(db):
    operator.import_numbers(INVENTORY)
    account = operator.create_account("acme")
    from voxology_fs.messages import MessageBook

    book = MessageBook()
    with models.database.connection_context():
        models.PhoneNumber.update(account=account.id).execute()
    message_id = book.queue(account_id=account.id, from_no=DID, to_no=CALLER, text="hi")
    assert book.receipt(message_id, "Delivered") == "delivered"
    book._set(message_id, "sent")
    with models.database.connection_context():
        message = models.Message.get_by_id(message_id)
    assert message.status == "delivered" and message.updated_at <= utcnow()


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"url": "ftp://x"}, "sms_provider_url"),
        ({"url": "http://127.0.0.1/{number}"}, "sms_provider_url"),
        ({"fields": ("to",)}, "sms_provider_fields"),
        ({"fields": ("to={recipient}",)}, "sms_provider_fields"),
        ({"fmt": "xml"}, "sms_provider_format"),
    ],
)
def test_provider_settings_that_cannot_make_a_request_name_the_setting(changes, setting):
    args = {"url": "http://127.0.0.1/send", "fields": ("to={to}",), **changes}
    with pytest.raises(ProviderSettingError, match=setting):
        SmsProvider(args.pop("url"), args.pop("fields"), **args)


def test_url_values_are_percent_encoded_and_form_fields_are_sent_as_a_form(callback_server):
    url = callback_server.route("/p/" + "x", lambda request: (202, {}))
    provider = SmsProvider(
        url + "?to={to}&t={text}", ("body={text}", "from={from}"), fmt="form", token="tok", timeout=2
    )
    answer = provider.send(message_id="m1", from_no=DID, to_no=CALLER, text="a&b=c", receipt_url="http://x")
    assert answer.ok and answer.status == 202
    [request] = [r for r in callback_server.requests if r["path"] == "/p/x"]
    assert dict(request["query"]) == {"to": CALLER, "t": "a&b=c"}
    assert request["content_type"].startswith("application/x-www-form-urlencoded")
    assert request["headers"]["authorization"] == "Bearer tok"
    assert b"body=a%26b%3Dc" in request["raw"]
