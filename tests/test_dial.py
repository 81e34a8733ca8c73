"""DIAL on the fake switch: a new call with its own flow, waited for or not, joined to the caller or not."""

import gevent
import pytest

from tests.support.provision import CALLER, DID, FAR, INVENTORY, call_record, provision, setup_number
from tests.support.rig import Rig, of_type
from tests.support.waiting import wait_until
from voxology_fs import child_calls, models, operator
from voxology_fs.flow.errors import CallRefused, FlowValidationError
from voxology_fs.flow.parser import parse_response
from voxology_fs.flow.state import CallState

CHILD_FLOW = {"actions": [{"type": "SAY", "params": {"text": "Hello ${sessionData.lead}"}}, {"type": "HANGUP"}]}


def parent_flow(**params):
    params.setdefault("to", FAR)
    return {
        "actions": [
            {"type": "DIAL", "params": params},
            {"type": "SAY", "params": {"text": "${dial.status} ${dial.sip_code} ${dial.connected}"}},
            {"type": "HANGUP"},
        ]
    }


def flows(callback_server, parent, child=CHILD_FLOW):
    """The number's flow answers the caller with ``parent`` and the calls it places with ``child``."""

    def answer(request):
        body = request["json"] or {}
        if body.get("direction") != "outbound":
            return parent
        # The placed call's actions, then none: its flow has run out.
        return child if body.get("type") == "init_call" else {"actions": []}

    return callback_server.route("/flow", answer)


@pytest.fixture
def acme(rig):
    """The account whose number the calls come in on."""
    rig.acme = rig.client()
    return rig.acme


def call_in(rig, callback_server, parent, child=CHILD_FLOW, ended=2, client=None):
    setup_number(client or rig.acme, flows(callback_server, parent, child))
    call = rig.fake.incoming_call(destination=DID, caller=CALLER)
    assert call.wait_closed(timeout=10), "the call server never released the call"
    assert wait_until(lambda: len(of_type(callback_server, "call_ended")) >= ended, 10)
    gevent.sleep(0.2)  # room for a second call_ended of one call, were there one
    return call


def value_of(get, timeout=10.0):
    """What ``get()`` returns once it returns something."""
    found = []
    assert wait_until(lambda: found.append(get()) or found[-1], timeout)
    return found[-1]


def ended_of(callback_server, call_id):
    return [e for e in of_type(callback_server, "call_ended") if e["call_id"] == call_id]


def children(parent_id):
    with models.database.connection_context():
        return list(models.Call.select().where(models.Call.parent_call == parent_id))


def test_dial_goes_on_at_once_while_the_new_call_runs_its_own_flow(rig, acme, callback_server):
    call = call_in(
        rig,
        callback_server,
        {
            "actions": [
                {"type": "DIAL", "params": {"to": FAR, "session_data": {"lead": 7}}},
                {"type": "SAY", "params": {"text": "placed ${dialCallId} ${dial.status}"}},
                {"type": "PAUSE", "params": {"length": 500}},
                {"type": "HANGUP"},
            ]
        },
    )
    [child] = children(call.uuid)
    assert call.spoken == [f"placed {child.id} queued"]
    placed = rig.fake.calls[child.id]
    assert placed.spoken == ["Hello 7"]
    init = next(r for r in of_type(callback_server, "init_call") if r["call_id"] == child.id)
    assert init["direction"] == "outbound" and init["parent_call_id"] == call.uuid and init["api_no"] == DID
    assert init["session_data"] == {"lead": 7} and init["caller_no"] == FAR
    [parent_end] = ended_of(callback_server, call.uuid)
    [child_end] = ended_of(callback_server, child.id)
    assert parent_end["dial_call_id"] == child.id and parent_end["dial_status"] == "queued"
    assert child_end["status"] == "completed" and child_end["parent_call_id"] == call.uuid
    record = call_record(child.id)
    assert record.account_id == call_record(call.uuid).account_id and record.direction == "outbound"
    # Placed like Make Call: our variables only, its id as the channel's uuid, back to our socket.
    originate = next(c for c in rig.fake.api_log if c.startswith("originate"))
    assert f"origination_uuid={child.id}" in originate and "app_disable_expand_variables=true" in originate
    assert f"socket('127.0.0.1:{rig.server.port} async full')" in originate
    assert acme.get("/Calls/" + call.uuid).get_json()["child_calls"] == [child.id]
    assert acme.get("/Calls/" + child.id).get_json()["parent_call_id"] == call.uuid


def test_a_dial_url_runs_that_flow(rig, acme, callback_server):
    other = callback_server.static(
        "/other", {"actions": [{"type": "SAY", "params": {"text": "from elsewhere"}}, {"type": "HANGUP"}]}
    )
    call = call_in(rig, callback_server, parent_flow(url=other, method="GET", wait_for="ended"))
    [child] = children(call.uuid)
    assert rig.fake.calls[child.id].spoken == ["from elsewhere"]
    assert call.spoken == ["completed 200 false"]
    requested = [r for r in callback_server.requests if r["path"] == "/other"]
    assert requested and all(r["method"] == "GET" for r in requested)
    # Its call_ended goes to the flow it ran.
    assert any(dict(r["query"]).get("type") == "call_ended" for r in requested)


def test_wait_for_answered_goes_on_once_it_answered(rig, acme, callback_server):
    child = {"actions": [{"type": "PAUSE", "params": {"length": 1000}}, {"type": "HANGUP"}]}
    call = call_in(rig, callback_server, parent_flow(wait_for="answered"), child)
    [placed] = children(call.uuid)
    assert call.spoken == ["answered 200 false"]
    # The caller's flow went on while the new call still ran.
    parent_end, child_end = ended_of(callback_server, call.uuid)[0], ended_of(callback_server, placed.id)[0]
    assert parent_end["end_time"] < child_end["end_time"]


@pytest.mark.parametrize(
    "verdict,status,sip,cause",
    [
        (("busy",), "busy", 486, "USER_BUSY"),
        (("noanswer",), "no-answer", 480, "NO_ANSWER"),
        (("fail", "NO_ROUTE_DESTINATION"), "failed", None, "NO_ROUTE_DESTINATION"),
    ],
)
def test_a_dial_that_is_not_answered_says_how_and_its_call_ends_once(
    rig, acme, callback_server, verdict, status, sip, cause
):
    rig.fake.originate_policy = lambda dialstring, variables: verdict
    call = call_in(rig, callback_server, parent_flow(wait_for="answered", timeout=1))
    [placed] = children(call.uuid)
    assert call.spoken == [f"{status} {sip if sip else ''} false".replace("  ", " ")]
    [child_end] = ended_of(callback_server, placed.id)
    assert child_end["status"] == status and child_end["hangup_cause"] == cause
    assert not [r for r in of_type(callback_server, "init_call") if r["call_id"] == placed.id]
    assert call_record(placed.id).status == status


def test_wait_for_ended_waits_for_its_flow(rig, acme, callback_server):
    child = {"actions": [{"type": "PAUSE", "params": {"length": 1200}}, {"type": "HANGUP"}]}
    call = call_in(rig, callback_server, parent_flow(wait_for="ended"), child)
    [placed] = children(call.uuid)
    assert call.spoken == ["completed 200 false"]
    parent_end, child_end = ended_of(callback_server, call.uuid)[0], ended_of(callback_server, placed.id)[0]
    assert parent_end["end_time"] >= child_end["end_time"] and parent_end["dial_status"] == "completed"


def test_connect_joins_the_caller_when_the_new_calls_actions_run_out(rig, acme, callback_server):
    child = {"actions": [{"type": "SAY", "params": {"text": "Connecting you to a customer"}}]}

    def hang_up_the_dialled_party_once_joined():
        placed = value_of(lambda: next((c for c in rig.fake.calls.values() if c.partner is not None), None))
        gevent.sleep(0.3)
        placed.hangup() if placed.direction == "outbound" else placed.partner.hangup()

    talker = gevent.spawn(hang_up_the_dialled_party_once_joined)
    call = call_in(rig, callback_server, parent_flow(connect=True), child)
    talker.join(timeout=5)
    [placed] = children(call.uuid)
    assert rig.fake.calls[placed.id].spoken == ["Connecting you to a customer"]
    # The caller rang (our tone, no caller's text) until the new call joined it, then talked, then went on.
    assert any(app == "playback" and arg.startswith("tone_stream://%(2000,4000,440,480)") for app, arg in call.executed)
    assert f"uuid_bridge {call.uuid} {placed.id}" in rig.fake.api_log
    assert call.spoken == ["completed 200 true"]
    [parent_end] = ended_of(callback_server, call.uuid)
    assert parent_end["dial_status"] == "completed" and parent_end["dial_duration"] >= 0
    [child_end] = ended_of(callback_server, placed.id)
    assert child_end["status"] == "completed"
    kinds = [e["kind"] for e in acme.get(f"/Calls/{placed.id}/Events").get_json()["events"]]
    assert "connect" in kinds and "connect_ended" in kinds


def test_connect_to_a_call_that_hangs_up_first_goes_on_without_joining(rig, acme, callback_server):
    child = {"actions": [{"type": "SAY", "params": {"text": "Sorry, bye"}}, {"type": "HANGUP"}]}
    call = call_in(rig, callback_server, parent_flow(connect=True), child)
    assert len(children(call.uuid)) == 1
    assert call.spoken == ["completed 200 false"]
    assert not any(c.startswith("uuid_bridge") for c in rig.fake.api_log)


def test_the_caller_hanging_up_ends_a_call_placed_to_join_it(rig, acme, callback_server):
    child = {"actions": [{"type": "PAUSE", "params": {"length": 60000}}]}
    setup_number(acme, flows(callback_server, parent_flow(connect=True), child))
    call = rig.fake.incoming_call(destination=DID, caller=CALLER)
    placed_id = value_of(lambda: next((c.id for c in children(call.uuid)), None))
    assert wait_until(lambda: call_record(placed_id).status == "live-in-progress", 5)
    call.hangup()
    assert wait_until(lambda: len(of_type(callback_server, "call_ended")) == 2, 10)
    assert ended_of(callback_server, placed_id)[0]["hangup_cause"] == "ORIGINATOR_CANCEL"


def test_a_call_not_waited_for_outlives_its_caller(rig, acme, callback_server):
    child = {
        "actions": [{"type": "PAUSE", "params": {"length": 800}}, {"type": "SAY", "params": {"text": "still here"}}]
    }
    call = call_in(rig, callback_server, parent_flow(wait_for="answered"), child)
    [placed] = children(call.uuid)
    assert rig.fake.calls[placed.id].spoken == ["still here"]


def test_a_caller_id_of_another_account_is_refused_and_the_flow_goes_on(rig, acme, callback_server):
    rig.client("other")  # an account of its own, with no numbers of ours
    call = call_in(rig, callback_server, parent_flow(caller_id_no="+12125550199"), ended=1)
    assert children(call.uuid) == []
    assert call.spoken == []  # no dial happened: $dial is empty, and so is the SAY
    [error] = call_record(call.uuid).errors
    assert error["path"] == "/actions/0/params/caller_id_no"
    assert "+12125550199 is not a number of this account" in error["message"]


def test_over_the_accounts_limit_the_dial_fails_clearly(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    rig = Rig(settings.replace(max_outbound_calls_per_account=0))
    rig.acme = rig.client()
    try:
        call = call_in(rig, callback_server, parent_flow(), ended=1)
    finally:
        rig.close()
    assert children(call.uuid) == []
    [error] = call_record(call.uuid).errors
    assert error["path"] == "/actions/0" and "its limit is 0" in error["message"]


def _call(call_id, account, parent=None):
    return models.Call.create(
        id=call_id,
        account=account,
        direction="outbound" if parent else "inbound",
        status="live-in-progress",
        api_no=DID,
        parent_call=parent,
    )


def test_a_chain_of_dials_stops_at_its_depth(db, callback_server):
    account, _app = provision(callback_server.static("/f", CHILD_FLOW))
    with models.database.connection_context():
        _call("a", account)
        _call("b", account, "a")
        _call("c", account, "b")
    assert child_calls.dial_depth("c", 3) == 3 and child_calls.dial_depth("a", 3) == 1

    def dial_from(call_id):
        state = CallState(call_id=call_id, direction="outbound", caller_no=FAR, api_no=DID, account_id=account.id)
        return child_calls.prepare_dial(
            state,
            to_no=FAR,
            caller_id_no=DID,
            url=None,
            method="POST",
            session_data=None,
            timeout_s=5,
            max_call_time_ms=None,
            connect=False,
            max_outbound=100,
            max_depth=3,
        )

    assert call_record(dial_from("b")).parent_call_id == "b"
    with pytest.raises(CallRefused, match="at most 3 calls deep"):
        dial_from("c")


def test_dial_params_are_checked_before_anything_runs():
    bad = [
        ({"to": "12345"}, "/actions/0/params/to"),
        ({"to": "+13125550100,+13125550111"}, "/actions/0/params/to"),
        ({"to": FAR, "url": "ftp://example.com/x"}, "/actions/0/params/url"),
        ({"to": FAR, "connect": True, "wait_for": "answered"}, "/actions/0/params/wait_for"),
        ({"to": FAR, "wait_for": "later"}, "/actions/0/params/wait_for"),
        ({"to": FAR, "session_data": "x"}, "/actions/0/params/session_data"),
        ({"to": FAR, "timeout": 0}, "/actions/0/params/timeout"),
    ]
    for params, path in bad:
        with pytest.raises(FlowValidationError) as info:
            parse_response({"actions": [{"type": "DIAL", "params": params}]})
        assert path in [p for p, _ in info.value.errors], (params, info.value.errors)


def test_make_call_over_the_accounts_limit_is_429_naming_it(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    rig = Rig(settings.replace(max_outbound_calls_per_account=0))
    try:
        acme = rig.client()
        setup_number(acme, callback_server.static("/f", CHILD_FLOW))
        r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}})
    finally:
        rig.close()
    assert r.status_code == 429
    assert r.get_json()["error"]["code"] == "too_many_calls" and "its limit is 0" in r.get_json()["error"]["message"]
    assert not any(c.startswith("originate") for c in rig.fake.api_log)


@pytest.mark.parametrize("connect", [False, True], ids=["waiting-for-its-end", "connect"])
def test_a_redirect_of_the_caller_stops_the_wait(rig, acme, callback_server, connect):
    """Live control reaches a caller waiting on its DIAL: the wait stops and the
    flow goes where it was sent. A call placed to join the caller ends with
    the wait; one placed on its own goes on."""
    child = {"actions": [{"type": "PAUSE", "params": {"length": 2000}}, {"type": "SAY", "params": {"text": "late"}}]}
    params = {"connect": True} if connect else {"wait_for": "ended"}
    setup_number(acme, flows(callback_server, parent_flow(**params), child))
    elsewhere = callback_server.static(
        "/elsewhere", {"actions": [{"type": "SAY", "params": {"text": "Redirected."}}, {"type": "HANGUP"}]}
    )
    call = rig.fake.incoming_call(destination=DID, caller=CALLER)
    placed_id = value_of(lambda: next((c.id for c in children(call.uuid)), None))
    assert wait_until(lambda: call_record(placed_id).status == "live-in-progress", 5)
    assert acme.post(f"/Calls/{call.uuid}/Redirect", {"url": elsewhere}).status_code == 202
    assert call.wait_closed(timeout=10)
    assert wait_until(lambda: len(of_type(callback_server, "call_ended")) == 2, 10)
    assert call.spoken == ["Redirected."]
    placed = rig.fake.calls[placed_id]
    if connect:
        assert placed.spoken == [] and ended_of(callback_server, placed_id)[0]["status"] == "completed"
    else:
        assert placed.spoken == ["late"]
