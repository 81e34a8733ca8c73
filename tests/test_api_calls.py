"""REST API against a fake FreeSWITCH and the real call server: Make Call,
call records and traces, live control, the switch watcher."""

import gevent
import pytest

from tests.support.provision import DID, FAR, HELLO, INVENTORY, call_record, setup_number, tenant
from tests.support.rest import Client, enc
from tests.support.rig import Rig, of_type
from tests.support.waiting import wait_until
from voxology_fs import models, operator
from voxology_fs.api import create_app
from voxology_fs.settings import Switch
from voxology_fs.switches import Switches


def test_seed_tutorials_end_to_end(rig, callback_server):
    """Search, provision, configure, make a call with session data: hello world, completed."""
    acme = rig.client()
    headers = {"cache-control": "no-cache", "content-type": "application/json"}
    found = acme.get(
        "/PhoneNumbers/Available?capabilities=voice,sms&search_by=prefixes&search_on=714", headers=headers
    ).get_json()["phone_numbers"]
    number = found[0]["no"]
    assert number == DID
    r = acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": number}]}, headers=headers)
    assert r.status_code == 201
    url = callback_server.static("/hello-world.json", HELLO)
    r = acme.put(
        "/CallFlows/Configurations/PhoneNumbers/" + enc(number),
        {"callback": {"method": "GET", "url": url, "content_type": "application/json"}},
        headers=headers,
    )
    assert r.status_code == 200
    r = acme.post(
        "/Dials/Connect",
        {
            "call": {"no": "+17145559876", "caller_id_no": number},
            "session_data": {"name": "Bob", "age": 21},
            "timeout": 60,
            "max_call_time": 60000,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.get_json()
    call_id = r.get_json()["call_id"]
    assert r.get_json()["status"] == "queued"
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)

    init = of_type(callback_server, "init_call")[0]
    assert init["call_id"] == call_id and init["direction"] == "outbound" and init["api_no"] == number
    assert init["session_data[name]"] == "Bob" and init["session_data[age]"] == "21"
    call = rig.fake.calls[call_id]
    assert call.spoken == ["Hello, world."]
    assert ("hangup", "NORMAL_CLEARING") in call.executed
    assert call.vars.get("vox_call_id") == call_id
    originate = next(c for c in rig.fake.api_log if c.startswith("originate"))
    assert f"origination_uuid={call_id}" in originate and "app_disable_expand_variables=true" in originate
    assert "originate_timeout=60" in originate and "loopback/+17145559876" in originate
    ended = of_type(callback_server, "call_ended")
    assert len(ended) == 1 and ended[0]["status"] == "completed"
    assert wait_until(lambda: call_record(call_id).status == "completed")
    doc = acme.get("/Calls/" + call_id).get_json()
    assert doc["status"] == "completed" and doc["session_data"] == {"name": "Bob", "age": 21}
    assert (
        doc["direction"] == "outbound" and doc["to_no"] == "+17145559876" and doc["switch"] if "switch" in doc else True
    )
    assert doc["answer_time"] and doc["end_time"] and doc["duration"] >= 0 and doc["max_call_time"] == 60000


def test_max_call_time_hangs_up_with_allotted_timeout(rig, callback_server):
    acme = rig.client()
    setup_number(acme, callback_server.static("/p", {"actions": [{"type": "PAUSE", "params": {"length": 600000}}]}))
    r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}, "max_call_time": 2000})
    call_id = r.get_json()["call_id"]
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    assert f"sched_hangup +2 {call_id} ALLOTTED_TIMEOUT" in rig.fake.api_log
    assert of_type(callback_server, "call_ended")[0]["hangup_cause"] == "ALLOTTED_TIMEOUT"


@pytest.mark.parametrize(
    "policy,status,cause",
    [
        (("busy",), "busy", "USER_BUSY"),
        (("noanswer",), "no-answer", "NO_ANSWER"),
        (("fail", "NO_ROUTE_DESTINATION"), "failed", "NO_ROUTE_DESTINATION"),
    ],
)
def test_unanswered_calls_end_with_their_status_and_one_call_ended(rig, callback_server, policy, status, cause):
    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    rig.fake.originate_policy = lambda dialstring, variables: policy
    r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}, "timeout": 5, "session_data": {"k": 1}})
    call_id = r.get_json()["call_id"]
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    gevent.sleep(0.1)
    ended = of_type(callback_server, "call_ended")
    assert len(ended) == 1 and not of_type(callback_server, "init_call")
    assert ended[0]["status"] == status and ended[0]["hangup_cause"] == cause and ended[0]["call_id"] == call_id
    assert ended[0]["session_data"] == {"k": 1} and ended[0]["direction"] == "outbound"
    doc = acme.get("/Calls/" + call_id).get_json()
    assert doc["status"] == status and doc["hangup_cause"] == cause and doc["end_time"]
    kinds = [e["kind"] for e in acme.get(f"/Calls/{call_id}/Events").get_json()["events"]]
    assert kinds[0] == "originate" and "ended" in kinds


def test_make_call_validation(rig, callback_server):
    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    cases = [
        ({}, "call"),
        ({"call": {"caller_id_no": DID}}, "call.no"),
        ({"call": {"no": "12", "caller_id_no": DID}}, "call.no"),
        ({"call": {"no": "+1949555012${system}", "caller_id_no": DID}}, "call.no"),
        ({"call": {"no": FAR}}, "call.caller_id_no"),
        ({"call": {"no": FAR, "caller_id_no": "+12125550199"}}, "call.caller_id_no"),
        ({"call": {"no": FAR, "caller_id_no": DID}, "timeout": "60"}, "timeout"),
        ({"call": {"no": FAR, "caller_id_no": DID}, "timeout": 0}, "timeout"),
        ({"call": {"no": FAR, "caller_id_no": DID}, "max_call_time": 1.5}, "max_call_time"),
        ({"call": {"no": FAR, "caller_id_no": DID}, "session_data": [1]}, "session_data"),
    ]
    for body, field in cases:
        r = acme.post("/Dials/Connect", body)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field, (body, r.get_json())
    # a number of the account without a configuration
    acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": "+17145550100"}]})
    r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": "+17145550100"}})
    assert r.status_code == 400 and "configuration" in r.get_json()["error"]["message"]
    assert not [c for c in rig.fake.api_log if c.startswith("originate")]


def test_make_call_503_while_no_switch_is_connected(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    cfg = settings.replace(
        switches=(Switch(name="down", host="127.0.0.1", port=9, dial_string="loopback/{number}"),),
        api_rate_limit=0,
        esl_reconnect_min=0.05,
    )
    switches = Switches(cfg, sweep_interval=0).start()
    try:
        app = create_app(cfg, switches=switches)
        _, _, key = tenant()
        acme = Client(app.test_client(), key)
        setup_number(acme, callback_server.static("/hello", HELLO))
        r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}})
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "switch_unavailable"
        assert "no FreeSWITCH server is connected" in r.get_json()["error"]["message"]
        assert models.Call.select().count() == 0
    finally:
        switches.stop()


def test_link_reconnects_after_the_switch_drops_it(rig):
    link = rig.switches.link("fs1")
    first = link.conn
    first.sock.close()  # the connection breaks
    assert wait_until(lambda: link.conn is not None and link.conn is not first and link.connected, 5)
    assert link.connects == 2
    assert link.api("status").startswith("UP")


def test_pick_the_switch_with_fewest_unfinished_calls(db, settings):
    rig = Rig(settings, n_switches=2)
    try:
        account = models.Account.create(name="a")
        for _ in range(3):
            models.Call.create(account=account, switch="fs1", direction="outbound", status="live-in-progress")
        models.Call.create(account=account, switch="fs2", direction="outbound", status="live-in-progress")
        models.Call.create(account=account, switch="fs2", direction="outbound", status="completed")
        assert rig.switches.pick().name == "fs2"
        for _ in range(3):
            models.Call.create(account=account, switch="fs2", direction="outbound", status="queued")
        assert rig.switches.pick().name == "fs1"
    finally:
        rig.close()


# -- records -------------------------------------------------------------------------------
def test_calls_list_filters_and_isolation(rig, callback_server):
    acme, other = rig.client("acme"), rig.client("other")
    setup_number(acme, callback_server.static("/hello", HELLO))
    ids = [
        acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"] for _ in range(2)
    ]
    rig.fake.originate_policy = lambda d, v: ("busy",)
    busy = acme.post("/Dials/Connect", {"call": {"no": "+12125550100", "caller_id_no": DID}}).get_json()["call_id"]
    assert wait_until(lambda: len(of_type(callback_server, "call_ended")) == 3, 10)
    assert wait_until(
        lambda: call_record(busy).status == "busy" and all(call_record(i).status == "completed" for i in ids)
    )
    page = acme.get("/Calls").get_json()
    assert page["total"] == 3 and {c["call_id"] for c in page["calls"]} == {*ids, busy}
    assert [c["call_id"] for c in acme.get("/Calls?status=busy").get_json()["calls"]] == [busy]
    assert acme.get("/Calls?status=completed,busy&direction=outbound").get_json()["total"] == 3
    assert acme.get("/Calls?direction=inbound").get_json()["total"] == 0
    assert [c["call_id"] for c in acme.get("/Calls?number=" + enc("+12125550100")).get_json()["calls"]] == [busy]
    assert (
        acme.get("/Calls?start_time_from=2000-01-01T00:00:00Z&start_time_to=2999-01-01T00:00:00Z").get_json()["total"]
        == 3
    )
    assert acme.get("/Calls?start_time_from=2999-01-01T00:00:00Z").get_json()["total"] == 0
    assert acme.get("/Calls?page_size=2&page=2").get_json()["calls"].__len__() == 1
    for query, field in [
        ("status=nope", "status"),
        ("direction=up", "direction"),
        ("number=x", "number"),
        ("start_time_from=yesterday", "start_time_from"),
        ("page=-1", "page"),
    ]:
        r = acme.get("/Calls?" + query)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field
    rig.server.trace_writer.flush()
    events = acme.get(f"/Calls/{ids[0]}/Events").get_json()
    assert events["call_id"] == ids[0] and events["total"] >= 3
    assert acme.get(f"/History/Logs/Calls/{ids[0]}").get_json()["events"] == events["events"]
    # another account sees none of it
    assert other.get("/Calls").get_json()["total"] == 0
    for path in (f"/Calls/{ids[0]}", f"/Calls/{ids[0]}/Events", f"/History/Logs/Calls/{ids[0]}"):
        assert other.get(path).status_code == 404
    for path, body in (
        (f"/Calls/{ids[0]}/Hangup", {}),
        (f"/Calls/{ids[0]}/Redirect", {"url": "http://x/"}),
        (f"/Calls/{ids[0]}/Actions", {"actions": [{"type": "HANGUP"}]}),
        (f"/Calls/{ids[0]}/SessionData", {"session_data": {"a": 1}}),
    ):
        assert other.post(path, body).status_code == 404
    # the other account cannot call from acme's number either
    r = other.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "call.caller_id_no"
    assert acme.get("/Calls/nope").status_code == 404


# -- live control ------------------------------------------------------------------------------
def live_call(rig, acme, callback_server, flow):
    setup_number(acme, callback_server.route("/flow", flow))
    call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"]
    assert wait_until(
        lambda: call_id in rig.fake.calls and any(a == "sleep" for a, _ in rig.fake.calls[call_id].executed)
    )
    assert call_record(call_id).status == "live-in-progress"
    return call_id, rig.fake.calls[call_id]


def first_then(first, then):
    """A callback: ``first`` actions for init_call, ``then`` for any later request."""

    def handler(request):
        kind = request["json"]["type"] if request["json"] else dict(request["query"]).get("type")
        if kind == "init_call":
            return first
        if kind == "call_ended":
            return {}
        return then

    return handler


LONG_PAUSE = {"actions": [{"type": "PAUSE", "params": {"length": 600000}}]}


def test_session_data_injection_reaches_later_actions_and_callbacks(rig, callback_server):
    acme = rig.client()
    flow = first_then(LONG_PAUSE, {"actions": [{"type": "HANGUP"}]})
    call_id, call = live_call(rig, acme, callback_server, flow)
    r = acme.post(f"/Calls/{call_id}/SessionData", {"session_data": {"name": "Alice"}})
    assert r.status_code == 202 and r.get_json()["status"] == "sent"
    gevent.sleep(0.1)
    r = acme.post(
        f"/Calls/{call_id}/Actions",
        {"actions": [{"type": "SAY", "params": {"text": "Hi ${sessionData.name}"}}, {"type": "HANGUP"}]},
    )
    assert r.status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    assert call.spoken == ["Hi Alice"]
    assert of_type(callback_server, "call_ended")[0]["session_data"] == {"name": "Alice"}
    assert call_record(call_id).session_data == {"name": "Alice"}


def test_session_data_injection_does_not_cut_the_running_actions(rig, callback_server):
    acme = rig.client()
    flow = first_then(
        {
            "actions": [
                {"type": "PAUSE", "params": {"length": 20000}},
                {"type": "SAY", "params": {"text": "Hi ${sessionData.name}"}},
                {"type": "HANGUP"},
            ]
        },
        {"actions": [{"type": "HANGUP"}]},
    )
    call_id, call = live_call(rig, acme, callback_server, flow)
    assert acme.post(f"/Calls/{call_id}/SessionData", {"session_data": {"name": "Alice"}}).status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    assert call.spoken == ["Hi Alice"]


def test_actions_interrupt_a_long_pause(rig, callback_server):
    acme = rig.client()
    call_id, call = live_call(rig, acme, callback_server, first_then(LONG_PAUSE, {"actions": [{"type": "HANGUP"}]}))
    r = acme.post(
        f"/Calls/{call_id}/Actions", {"actions": [{"type": "SAY", "params": {"text": "Now."}}, {"type": "HANGUP"}]}
    )
    assert r.status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 5)
    assert call.spoken == ["Now."]
    assert any(c.startswith("uuid_break " + call_id) for c in rig.fake.api_log)


def test_actions_are_validated_before_they_are_sent(rig, callback_server):
    acme = rig.client()
    call_id, call = live_call(rig, acme, callback_server, first_then(LONG_PAUSE, {"actions": [{"type": "HANGUP"}]}))
    r = acme.post(
        f"/Calls/{call_id}/Actions",
        {"actions": [{"type": "SAY", "params": {"text": "x"}}, {"type": "COLLECT", "params": {"num_digits": "x"}}]},
    )
    assert r.status_code == 400 and r.get_json()["error"]["field"].startswith("actions.1")
    assert acme.post(f"/Calls/{call_id}/Actions", {"actions": []}).status_code == 400
    assert acme.post(f"/Calls/{call_id}/Actions", {"actions": [{"type": "EXPLODE"}]}).status_code == 400
    assert acme.post(f"/Calls/{call_id}/Hangup").status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 5)
    assert call.spoken == []


def test_redirect_a_live_call(rig, callback_server):
    acme = rig.client()
    other_flow = callback_server.static(
        "/other", {"actions": [{"type": "SAY", "params": {"text": "Redirected."}}, {"type": "HANGUP"}]}
    )
    call_id, call = live_call(rig, acme, callback_server, first_then(LONG_PAUSE, {"actions": [{"type": "HANGUP"}]}))
    r = acme.post(f"/Calls/{call_id}/Redirect", {"url": other_flow, "method": "POST"})
    assert r.status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 5)
    assert call.spoken == ["Redirected."]
    assert [r["path"] for r in callback_server.requests if r["json"] and r["json"]["type"] == "continue_call"] == [
        "/other"
    ]
    for body, field in (({}, "url"), ({"url": "ftp://x"}, "url"), ({"url": "http://x/", "method": "DELETE"}, "method")):
        r = acme.post(f"/Calls/{call_id}/Redirect", body)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field


def test_hangup_a_live_call_then_409(rig, callback_server):
    acme = rig.client()
    call_id, _call = live_call(rig, acme, callback_server, first_then(LONG_PAUSE, {"actions": [{"type": "HANGUP"}]}))
    assert acme.post(f"/Calls/{call_id}/Hangup").status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 5)
    assert wait_until(lambda: call_record(call_id).end_time is not None)
    ended = of_type(callback_server, "call_ended")
    assert len(ended) == 1 and ended[0]["status"] == "completed"
    for path, body in (
        ("Hangup", {}),
        ("Redirect", {"url": "http://x/"}),
        ("SessionData", {"session_data": {}}),
        ("Actions", {"actions": [{"type": "HANGUP"}]}),
    ):
        r = acme.post(f"/Calls/{call_id}/{path}", body)
        assert r.status_code == 409, (path, r.get_json())


def test_control_of_a_queued_call(rig, callback_server):
    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    rig.fake.originate_policy = lambda d, v: ("answer", 100000)  # rings for a while (1 s scaled)
    call_id = acme.post(
        "/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}, "session_data": {"a": 1}}
    ).get_json()["call_id"]
    assert wait_until(lambda: call_id in rig.fake.calls)
    r = acme.post(f"/Calls/{call_id}/SessionData", {"session_data": {"b": 2}})
    assert r.status_code == 202 and r.get_json()["status"] == "stored"
    assert call_record(call_id).session_data == {"a": 1, "b": 2}
    assert acme.post(f"/Calls/{call_id}/Redirect", {"url": "http://x/"}).status_code == 409
    assert wait_until(lambda: of_type(callback_server, "init_call"), 5)
    assert of_type(callback_server, "init_call")[0]["session_data"] == {"a": 1, "b": 2}


def test_hangup_of_a_ringing_call_cancels_it(rig, callback_server):
    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    rig.fake.originate_policy = lambda d, v: ("noanswer",)
    call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}, "timeout": 100}).get_json()[
        "call_id"
    ]
    assert wait_until(lambda: call_id in rig.fake.calls)
    assert acme.post(f"/Calls/{call_id}/Hangup").status_code == 202
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 5)
    assert len(of_type(callback_server, "call_ended")) == 1


# -- the watcher -------------------------------------------------------------------------------
def test_answered_call_that_no_call_server_takes_is_finished_by_the_watcher(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    rig = Rig(settings)
    try:
        rig.switches.watcher.hangup_grace = 0.2
        # this switch hands answered calls to a port where nothing listens
        link = rig.switches.link("fs1")
        link.switch = Switch(**{**link.switch.__dict__, "socket_address": "127.0.0.1:9"})
        acme = rig.client()
        setup_number(acme, callback_server.static("/hello", HELLO))
        call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"]
        assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
        gevent.sleep(0.3)
        ended = of_type(callback_server, "call_ended")
        assert len(ended) == 1 and ended[0]["status"] == "failed" and ended[0]["call_id"] == call_id
        assert call_record(call_id).status == "failed" and call_record(call_id).end_time
    finally:
        rig.close()


def test_sweep_finishes_queued_calls_whose_channel_is_gone(rig, callback_server):
    import datetime as dt

    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    account_id = models.PhoneNumber.get_by_id(DID).account_id
    old = models.Call.create(
        account=account_id,
        switch="fs1",
        direction="outbound",
        status="queued",
        api_no=DID,
        to_no=FAR,
        caller_no=FAR,
        timeout_s=30,
        start_time=dt.datetime.utcnow() - dt.timedelta(hours=1),
    )
    fresh = models.Call.create(
        account=account_id,
        switch="fs1",
        direction="outbound",
        status="queued",
        api_no=DID,
        to_no=FAR,
        caller_no=FAR,
        timeout_s=30,
    )
    assert rig.switches.sweeper.sweep() == 1
    assert call_record(old.id).status == "failed" and call_record(old.id).hangup_cause == "SWITCH_CONNECTION_LOST"
    assert call_record(fresh.id).status == "queued"
    assert [e["call_id"] for e in of_type(callback_server, "call_ended")] == [old.id]
    assert rig.switches.sweeper.sweep() == 0
