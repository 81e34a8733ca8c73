"""Make Call on a real FreeSWITCH: the REST API originates, the call server runs the flow.

The dial string is ``loopback/{number}/voxology``: the far end is another
of our own numbers, answered by our call server (it answers just before its
first media action), so the whole path is real without a SIP trunk.
"""

import gevent
import pytest

from tests.support.audio import wav_tones
from tests.support.provision import FAR, INVENTORY, tenant  # FAR: also ours, so the switch routes it back to us
from tests.support.rest import Client, enc
from voxology_fs import operator, store
from voxology_fs.api import create_app
from voxology_fs.callserver import CallServer
from voxology_fs.models import Leg
from voxology_fs.settings import Switch
from voxology_fs.switches import Switches

CALLER_ID = "+17145551212"  # our number whose flow the placed call runs


def make_platform(settings, freeswitch, call_server_port, dial_string):
    """Call server, switch links and REST app for one account; yields its API client."""
    operator.import_numbers(INVENTORY)
    settings = settings.replace(
        outbound_port=call_server_port,
        api_rate_limit=0,
        switches=(
            Switch(
                name="fs1",
                host="127.0.0.1",
                port=freeswitch.esl_port,
                password=freeswitch.password,
                dial_string=dial_string,
                socket_address=f"127.0.0.1:{call_server_port}",
            ),
        ),
    )
    server = CallServer(settings)
    server.start()
    switches = Switches(settings, sweep_interval=0).start()
    assert switches.wait_connected(10)
    _, _, key = tenant()
    try:
        yield Client(create_app(settings, switches=switches).test_client(), key)
    finally:
        switches.stop()
        server.stop()


@pytest.fixture
def platform(db, settings, freeswitch, call_server_port):
    yield from make_platform(settings, freeswitch, call_server_port, "loopback/{number}/voxology")


@pytest.fixture
def trunk_platform(db, settings, freeswitch, call_server_port):
    """Make Call out through the SIP trunk gateway, to a sipp answerer on the trunk port."""
    yield from make_platform(settings, freeswitch, call_server_port, "sofia/gateway/trunk/{number}")


def configure(client, number, url):
    assert client.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": number}]}).status_code == 201
    r = client.put(
        "/CallFlows/Configurations/PhoneNumbers/" + enc(number),
        {"callback": {"method": "POST", "url": url, "content_type": "application/json"}},
    )
    assert r.status_code == 200, r.get_json()


def wait_until(predicate, timeout):
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.05)
        return True
    return False


def test_make_call_runs_the_caller_ids_flow_with_session_data(platform, callback_server):
    hello = callback_server.static(
        "/hello", {"actions": [{"type": "SAY", "params": {"text": "Hello ${sessionData.name}."}}, {"type": "HANGUP"}]}
    )
    # The far end (our other number) answers with a PAUSE and waits for the hangup.
    far = callback_server.static("/far", {"actions": [{"type": "PAUSE", "params": {"length": 10000}}]})
    configure(platform, CALLER_ID, hello)
    configure(platform, FAR, far)
    r = platform.post(
        "/Dials/Connect",
        {"call": {"no": FAR, "caller_id_no": CALLER_ID}, "session_data": {"name": "Bob", "age": 21}, "timeout": 20},
    )
    assert r.status_code in (200, 201), r.get_json()
    call_id = r.get_json()["call_id"] if "call_id" in r.get_json() else r.get_json()["id"]

    def ended(url):
        return [
            r["json"]
            for r in callback_server.requests
            if r["path"] == url and r["json"] and r["json"]["type"] == "call_ended"
        ]

    assert wait_until(lambda: any(e["call_id"] == call_id for e in ended("/hello")), 30), callback_server.requests
    init = [r["json"] for r in callback_server.requests if r["path"] == "/hello" and r["json"]["type"] == "init_call"]
    record = store.load_call(call_id)
    assert init, (record.status, record.hangup_cause, record.errors, [r["json"] for r in callback_server.requests])
    assert len(init) == 1 and init[0]["call_id"] == call_id
    assert init[0]["direction"] == "outbound" and init[0]["session_data"] == {"name": "Bob", "age": 21}
    assert init[0]["api_no"] == CALLER_ID
    mine = [e for e in ended("/hello") if e["call_id"] == call_id]
    assert len(mine) == 1 and mine[0]["status"] == "completed"
    record = store.load_call(call_id)
    assert record.status == "completed" and record.answer_time and record.end_time
    # The far end was a real inbound call into our other number.
    assert wait_until(lambda: ended("/far"), 15)


def test_make_call_to_a_number_that_refuses_ends_busy(platform, callback_server):
    hello = callback_server.static("/hello", {"actions": [{"type": "SAY", "params": {"text": "never"}}]})
    busy = callback_server.static("/busy", {"actions": [{"type": "REJECT", "params": {"reason": "busy"}}]})
    configure(platform, CALLER_ID, hello)
    configure(platform, FAR, busy)
    r = platform.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": CALLER_ID}, "timeout": 20})
    assert r.status_code in (200, 201), r.get_json()
    call_id = r.get_json()["call_id"] if "call_id" in r.get_json() else r.get_json()["id"]

    def done():
        return [
            r["json"]
            for r in callback_server.requests
            if r["path"] == "/hello" and r["json"]["type"] == "call_ended" and r["json"]["call_id"] == call_id
        ]

    assert wait_until(done, 30), callback_server.requests
    assert [r["json"]["type"] for r in callback_server.requests if r["path"] == "/hello"] == ["call_ended"]
    assert done()[0]["status"] in ("busy", "failed") and store.load_call(call_id).end_time


@pytest.mark.parametrize(
    "scenario,timeout,status",
    [("uas_busy.xml", 20, "busy"), ("uas_noanswer.xml", 3, "no-answer"), ("uas_answer.xml", 20, "completed")],
)
def test_make_call_through_the_trunk(trunk_platform, callback_server, sipp, scenario, timeout, status):
    hello = callback_server.static(
        "/hello", {"actions": [{"type": "SAY", "params": {"text": "Hello from the trunk."}}, {"type": "HANGUP"}]}
    )
    configure(trunk_platform, CALLER_ID, hello)
    answerer = sipp.start(scenario, uas=True, timeout="30s")
    r = trunk_platform.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": CALLER_ID}, "timeout": timeout})
    assert r.status_code == 201, r.get_json()
    call_id = r.get_json()["call_id"]

    def done():
        return [
            q["json"]
            for q in callback_server.requests
            if q["json"] and q["json"]["type"] == "call_ended" and q["json"]["call_id"] == call_id
        ]

    assert wait_until(done, timeout + 20), callback_server.requests
    gevent.sleep(0.5)
    assert len(done()) == 1 and done()[0]["status"] == status, done()
    types = [q["json"]["type"] for q in callback_server.requests if q["json"]]
    assert types == (["init_call", "call_ended"] if status == "completed" else ["call_ended"])
    assert store.load_call(call_id).status == status
    # The watcher put the switch's own figures on the caller leg, and on the call once final.
    leg = lambda: Leg.get(Leg.call == call_id)  # noqa: E731
    assert wait_until(lambda: leg().ended_at is not None, 10)
    # The far end's final SIP response (sip_term_status): only a refusal has one here.
    assert leg().sip_code == {"busy": 486, "no-answer": None, "completed": None}[status]
    if status == "completed":
        assert wait_until(lambda: store.load_call(call_id).end_time == leg().ended_at, 10)
        assert leg().answered_at is not None and store.load_call(call_id).answer_time == leg().answered_at
    answerer.wait(timeout=40)


def test_make_call_with_record_keeps_the_whole_call(platform, callback_server):
    hello = callback_server.static(
        "/hello",
        {
            "actions": [
                {"type": "SAY", "params": {"text": "Hello, this call is recorded from the start. Goodbye."}},
                {"type": "HANGUP"},
            ]
        },
    )
    far = callback_server.static("/far", {"actions": [{"type": "PAUSE", "params": {"length": 10000}}]})
    configure(platform, CALLER_ID, hello)
    configure(platform, FAR, far)
    r = platform.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": CALLER_ID}, "record": "dual"})
    assert r.status_code == 201, r.get_json()
    call_id = r.get_json()["call_id"]

    def ended():
        return [
            r["json"]
            for r in callback_server.requests
            if r["path"] == "/hello" and r["json"] and r["json"]["type"] == "call_ended"
        ]

    assert wait_until(ended, 30), callback_server.requests
    [entry] = ended()[0]["recordings"]
    assert entry["status"] == "completed" and entry["name"] == "call" and entry["ended_by"] == "hangup"
    audio = platform.get(f"/Recordings/{entry['id']}/Audio")
    assert audio.status_code == 200
    (heard, said), _ = wav_tones(audio.data)
    # What the far end heard (the flow's speech) on one channel; the far end,
    # silent in its PAUSE, on the other.
    assert said[0] > 1.0 and heard[0] < 0.2, (heard, said)
    assert platform.get(f"/Calls/{call_id}/Recordings").get_json()["recordings"][0]["id"] == entry["id"]
