"""SMS on the fake switch: the action, the REST send, delivery reports, and messages that arrive."""

import pytest

from tests.support.provision import DID, setup_number
from tests.support.waiting import wait_until
from voxology_fs import models
from voxology_fs.switches import Switches

CALLER = "+19495551212"
OTHER = "+17145550100"  # acme's too, but voice only


@pytest.fixture
def acme(rig):
    return rig.client()


def messages(**where):
    with models.database.connection_context():
        query = models.Message.select().order_by(models.Message.created_at)
        for name, value in where.items():
            query = query.where(getattr(models.Message, name) == value)
        return list(query)


def test_the_sms_action_sends_from_the_number_to_the_caller(rig, acme, callback_server):
    flow = {
        "actions": [
            {"type": "SMS", "params": {"text": "Thanks for calling ${apiNo} | ${system rm}"}},
            {"type": "HANGUP"},
        ]
    }
    setup_number(acme, callback_server.static("/s", flow))
    call = rig.fake.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(5)
    assert wait_until(lambda: rig.fake.sent_messages, 5)
    [(headers, body)] = rig.fake.sent_messages
    # The text is the event's body, as written: ${...} was ours to render, never the switch's.
    assert body == f"Thanks for calling {DID} | ${{system rm}}"
    assert headers["to"] == f"sip:{CALLER}@127.0.0.1:5080" and headers["from"] == f"{DID}@127.0.0.1"
    assert headers["sip_profile"] == "voxology" and headers["blocking"] == "true"
    assert wait_until(lambda: messages()[0].status == "sent", 5)
    [message] = messages()
    assert message.id == headers["vox_message_id"] and message.call_id == call.uuid
    assert message.sip_code == 202 and message.direction == "outbound"


def test_an_sms_from_a_number_that_cannot_text_is_an_error_and_the_flow_goes_on(rig, acme, callback_server):
    flow = {
        "actions": [
            {"type": "SMS", "params": {"text": "hi", "from": OTHER}},
            {"type": "SAY", "params": {"text": "after"}},
            {"type": "HANGUP"},
        ]
    }
    setup_number(acme, callback_server.static("/s", flow))
    setup_number(acme, callback_server.static("/s", flow), number=OTHER)
    call = rig.fake.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(5)
    assert call.spoken == ["after"] and rig.fake.sent_messages == [] and messages() == []
    with models.database.connection_context():
        [error] = models.Call.get_by_id(call.uuid).errors
    assert error["path"] == "/actions/0/params/from" and "no sms capability" in error["message"]


def test_rest_sends_a_text_and_lists_it(rig, acme, callback_server):
    setup_number(acme, callback_server.static("/s", {}))
    status = callback_server.static("/status", {})
    r = acme.post(
        "/Dials/SMS",
        {"call": {"no": CALLER, "caller_id_no": DID}, "message": "Your code is 1234", "status_url": status},
    )
    assert r.status_code == 201, r.get_json()
    sent = r.get_json()
    assert sent["status"] == "queued" and sent["message_id"] == sent["id"]
    assert wait_until(lambda: acme.get(f"/Messages/{sent['id']}").get_json()["status"] == "sent", 5)
    assert rig.fake.sent_messages[0][1] == "Your code is 1234"
    told = lambda: [x["json"] for x in callback_server.requests if (x["json"] or {}).get("type") == "sms_status"]  # noqa: E731
    assert wait_until(told, 5) and told()[0]["status"] == "sent"
    listed = acme.get("/Messages?direction=outbound").get_json()
    assert [m["id"] for m in listed["messages"]] == [sent["id"]]
    assert rig.client("globex").get(f"/Messages/{sent['id']}").status_code == 404
    assert rig.client("globex").get("/Messages").get_json()["total"] == 0


def test_a_refusing_next_hop_fails_the_message(rig, acme, callback_server):
    setup_number(acme, callback_server.static("/s", {}))
    rig.fake.sms_policy = lambda headers: 503
    sent = acme.post("/Dials/SMS", {"call": {"no": CALLER, "caller_id_no": DID}, "message": "hello"}).get_json()
    assert wait_until(lambda: acme.get(f"/Messages/{sent['id']}").get_json()["status"] == "failed", 5)
    doc = acme.get(f"/Messages/{sent['id']}").get_json()
    assert doc["sip_code"] == 503 and "503" in doc["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"call": {"no": CALLER, "caller_id_no": DID}, "message": "x" * 1601}, "message"),
        ({"call": {"no": CALLER, "caller_id_no": DID}}, "message"),
        ({"call": {"no": CALLER, "caller_id_no": OTHER}, "message": "hi"}, "call.caller_id_no"),
        ({"call": {"no": CALLER, "caller_id_no": "+13125550177"}, "message": "hi"}, "call.caller_id_no"),
        ({"call": {"caller_id_no": DID}, "message": "hi"}, "call.no"),
    ],
)
def test_a_bad_send_names_its_field(rig, acme, callback_server, body, field):
    setup_number(acme, callback_server.static("/s", {}))
    setup_number(acme, callback_server.static("/s", {}), number=OTHER)
    r = acme.post("/Dials/SMS", body)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field, r.get_json()
    assert rig.fake.sent_messages == []


def test_a_message_that_arrives_reaches_the_callback_once_and_its_reply_is_sent(rig, acme, callback_server):
    reply = {"actions": [{"type": "SMS", "params": {"text": "Got it, ${callerNo}"}}]}
    setup_number(acme, callback_server.static("/in", reply))
    # A second process watching the same switch: the message is still taken once.
    other = Switches(rig.settings, sweep_interval=0).start()
    try:
        assert other.wait_connected(5)
        rig.fake.receive_message(CALLER, DID, "STOP ${system reboot}")
        kind = lambda: [x["json"] for x in callback_server.requests if (x["json"] or {}).get("type") == "sms"]  # noqa: E731
        assert wait_until(kind, 5)
        assert wait_until(lambda: len(rig.fake.sent_messages) == 1, 5)
        [got] = kind()
        assert got["text_message"] == "STOP ${system reboot}" and got["caller_no"] == CALLER and got["api_no"] == DID
        assert got["caller_no_country"] == "US" and got["message_id"]
        assert rig.fake.sent_messages[0][1] == f"Got it, {CALLER}"
        assert rig.fake.sent_messages[0][0]["to"] == f"sip:{CALLER}@127.0.0.1:5080"
        [received] = messages(direction="inbound")
        assert received.status == "received" and received.id == got["message_id"]
        assert wait_until(lambda: messages(direction="outbound")[0].status == "sent", 5)
    finally:
        other.stop()
    assert len(kind()) == 1


def test_a_message_from_an_address_not_the_trunk_s_is_dropped(rig, acme, callback_server):
    setup_number(acme, callback_server.static("/in", {}))
    rig.fake.receive_message(CALLER, DID, "hi", from_ip="203.0.113.9")
    rig.fake.receive_message(CALLER, "+17145559999", "to nobody")
    assert not wait_until(lambda: messages(), 0.5)
    assert not [x for x in callback_server.requests if (x["json"] or {}).get("type") == "sms"]
