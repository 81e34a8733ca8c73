"""SMS over SIP MESSAGE on a real FreeSWITCH: a text sent by REST reaches a
sipp gateway on the trunk; a MESSAGE from sipp reaches the number's
callback exactly once with two processes watching, and its reply is sent."""

import pytest

from tests.integration.test_callflows import dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.integration.test_make_call import configure, wait_until
from tests.support.provision import DID, INVENTORY, provision, tenant
from tests.support.rest import Client
from voxology_fs import models, operator
from voxology_fs.api import create_app
from voxology_fs.settings import Switch
from voxology_fs.switches import Switches

OURS = "+17145551212"
THEIRS = "+13125550100"


@pytest.fixture
def sms_platform(db, settings, freeswitch):
    """Two switch links (two REST workers' watchers) and the REST app of one account."""
    operator.import_numbers(INVENTORY)
    settings = settings.replace(
        api_rate_limit=0,
        switches=(
            Switch(
                name="fs1",
                host="127.0.0.1",
                port=freeswitch.esl_port,
                password=freeswitch.password,
                sms_uri=f"sip:{{number}}@127.0.0.1:{freeswitch.trunk_port}",
            ),
        ),
    )
    links = [Switches(settings, sweep_interval=0).start() for _ in range(2)]
    assert all(link.wait_connected(10) for link in links)
    _, _, key = tenant()
    try:
        yield Client(create_app(settings, switches=links[0]).test_client(), key)
    finally:
        for link in links:
            link.stop()


def test_a_text_sent_by_rest_reaches_the_gateway_as_written(sms_platform, callback_server, sipp):
    configure(sms_platform, OURS, callback_server.static("/in", {}))
    gateway = sipp.start("uas_message.xml", uas=True, timeout="20s")
    text = "Your code is 1234 | ${system echo hi}"
    r = sms_platform.post("/Dials/SMS", {"call": {"no": THEIRS, "caller_id_no": OURS}, "message": text})
    assert r.status_code == 201, r.get_json()
    message_id = r.get_json()["id"]
    assert gateway.wait(timeout=20).returncode == 0
    assert wait_until(lambda: sms_platform.get(f"/Messages/{message_id}").get_json()["status"] == "sent", 10)
    doc = sms_platform.get(f"/Messages/{message_id}").get_json()
    assert doc["sip_code"] == 202
    got = (sipp.workdir / next(p.name for p in sipp.workdir.iterdir() if "uas_message.messages" in p.name)).read_text()
    assert f"MESSAGE sip:{THEIRS}@127.0.0.1:" in got and text in got  # untouched: no ${...} expanded


def test_a_message_from_the_trunk_reaches_the_callback_once_and_the_reply_goes_out(
    sms_platform, callback_server, sipp, freeswitch
):
    reply = {"actions": [{"type": "SMS", "params": {"text": "Got: ${callerNo}"}}]}
    configure(sms_platform, OURS, callback_server.static("/in", reply))
    gateway = sipp.start("uas_message.xml", uas=True, timeout="20s")
    sender = sipp.run("uac_message.xml", service=OURS, caller=THEIRS, wait_timeout=20)
    assert sender.returncode == 0, sender
    kind = lambda: [x["json"] for x in callback_server.requests if (x["json"] or {}).get("type") == "sms"]  # noqa: E731
    assert wait_until(kind, 10)
    assert gateway.wait(timeout=20).returncode == 0
    [got] = kind()
    assert got["caller_no"] == THEIRS and got["api_no"] == OURS
    assert (
        got["text_message"].rstrip("\r\n") == "Hello from sipp, with ${system echo no} in it."
    )  # sipp ends it with CRLF
    with models.database.connection_context():
        directions = sorted(m.direction for m in models.Message.select())
    assert directions == ["inbound", "outbound"]
    assert wait_until(
        lambda: sms_platform.get("/Messages?direction=outbound").get_json()["messages"][0]["status"] == "sent", 10
    )
    assert len(kind()) == 1  # two watchers, one callback


def test_the_sms_action_of_a_call_reaches_the_gateway(voxology, callback_server, dial, sipp, freeswitch):  # noqa: F811
    # The call server sends the caller's text through the trunk sipp answers on.
    voxology.settings = voxology.settings.replace(
        switches=(Switch(sms_uri=f"sip:{{number}}@127.0.0.1:{freeswitch.trunk_port}"),)
    )
    flow = {
        "actions": [
            {"type": "SMS", "params": {"text": "Thanks for calling ${apiNo}.", "to": THEIRS}},
            {"type": "SAY", "params": {"text": "Sent."}},
            {"type": "HANGUP"},
        ]
    }
    provision(callback_server.static("/s", flow))
    models.PhoneNumber.update(capabilities="voice,sms").where(models.PhoneNumber.number == DID).execute()
    gateway = sipp.start("uas_message.xml", uas=True, timeout="20s")
    call = dial()
    finished(call, callback_server)
    assert gateway.wait(timeout=20).returncode == 0
    got = (sipp.workdir / next(p.name for p in sipp.workdir.iterdir() if "uas_message.messages" in p.name)).read_text()
    assert f"Thanks for calling {DID}." in got
    with models.database.connection_context():
        [message] = list(models.Message.select())
    assert message.call_id == callback_server.of_type("call_ended")[0]["call_id"] and message.from_no == DID
