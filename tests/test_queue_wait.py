"""QUEUE's wait flow on the fake switch: stepped rounds with the caller's standing, LEAVE, COLLECT, takes."""

import gevent

from tests.support.provision import DID, provision
from tests.support.waiting import wait_until
from tests.test_queue import AGENT, AGENT_FLOW, by_caller, caller_flow, waiting
from voxology_fs import models

FIRST, SECOND = "+19495550001", "+19495550002"
LONG_PAUSE = {"type": "PAUSE", "params": {"length": 60000}}  # 0.6 s of the fake's time


def wait_requests(callback_server, caller=None):
    return [
        r["json"]
        for r in callback_server.requests
        if r["path"] == "/wait" and (caller is None or r["json"]["caller_no"] == caller)
    ]


def errors_of(call_id):
    with models.database.connection_context():
        return models.Call.get_by_id(call_id).errors


def test_each_round_asks_again_with_the_caller_s_standing(switch, callback_server):
    wait = callback_server.static(
        "/wait",
        {
            "actions": [
                {"type": "SAY", "params": {"text": "You are number ${queuePosition} of ${queueSize}."}},
                LONG_PAUSE,
            ]
        },
    )
    provision(by_caller(callback_server, {SECOND: caller_flow(wait_url=wait, timeout=1500)}, caller_flow()))
    first = switch.incoming_call(destination=DID, caller=FIRST)  # waits with the soft tone
    assert wait_until(lambda: len(waiting()) == 1, 5)
    second = switch.incoming_call(destination=DID, caller=SECOND)
    # The timeout cuts the round that plays: the flow goes on at once.
    assert second.wait_closed(10) and second.spoken[-1] == "queue timeout"
    rounds = wait_requests(callback_server, SECOND)
    assert 2 <= len(rounds) <= 4, len(rounds)
    assert all(r["type"] == "queue_wait" for r in rounds)
    assert rounds[0]["queue_position"] == 2 and rounds[0]["queue_size"] == 2
    assert rounds[0]["queue_time"] == 0 and rounds[-1]["queue_time"] >= 1
    assert rounds[0]["queue_average_wait"] >= 0
    assert second.spoken[0] == "You are number 2 of 2."
    # Not in the callbacks after the wait.
    with models.database.connection_context():
        assert models.Call.get_by_id(second.uuid).status
    first.hangup()
    assert first.wait_closed(5)


def test_keys_pressed_in_the_wait_flow_reach_the_next_round_which_may_leave(switch, callback_server):
    def wait_flow(request):
        pressed = [k["digits"] for k in request["json"]["key_presses"]]
        if "1" in pressed:
            return {"actions": [{"type": "LEAVE"}, {"type": "SAY", "params": {"text": "never"}}]}
        return {
            "actions": [
                {"type": "COLLECT", "name": "choice", "params": {"num_digits": 1, "timeout": 500000}},
            ]
        }

    callback_server.route("/wait", wait_flow)
    provision(callback_server.static("/q", caller_flow(wait_url=callback_server.url("/wait"))))
    call = switch.incoming_call(destination=DID, caller=FIRST)
    assert wait_until(lambda: any(app == "play_and_get_digits" for app, _ in call.executed), 5)
    call.press("1")
    assert call.wait_closed(10) and call.spoken == ["queue leave"]
    assert len(wait_requests(callback_server)) == 2
    with models.database.connection_context():
        [member] = list(models.QueueMember.select())
    assert member.result == "leave"


def test_an_agent_takes_a_caller_whose_wait_flow_is_playing(switch, callback_server):
    wait = callback_server.static("/wait", {"actions": [LONG_PAUSE, LONG_PAUSE, LONG_PAUSE]})
    provision(by_caller(callback_server, {AGENT: AGENT_FLOW}, caller_flow(wait_url=wait)))
    caller = switch.incoming_call(destination=DID, caller=FIRST)
    assert wait_until(lambda: len(waiting()) == 1 and wait_requests(callback_server), 5)
    agent = switch.incoming_call(destination=DID, caller=AGENT)
    assert wait_until(lambda: caller.partner is not None, 5)
    assert f"uuid_bridge {caller.uuid} {agent.uuid}" in switch.api_log
    gevent.sleep(0.2)
    agent.hangup()
    assert caller.wait_closed(5) and caller.spoken == ["queue bridged"]
    assert agent.wait_closed(5)
    ended = lambda: {e["call_id"]: e for e in callback_server.of_type("call_ended")}  # noqa: E731
    assert wait_until(lambda: agent.uuid in ended(), 5)
    assert ended()[agent.uuid]["transfer_status"] == "completed"
    assert ended()[agent.uuid]["transfer_call_id"] == caller.uuid
    assert len(wait_requests(callback_server)) == 1  # the take broke off the first round


def test_a_broken_wait_flow_is_an_error_and_the_caller_waits_on_with_the_soft_tone(switch, callback_server):
    callback_server.route("/wait", lambda request: (500, {"error": "boom"}))
    provision(callback_server.static("/q", caller_flow(wait_url=callback_server.url("/wait"), timeout=1000)))
    call = switch.incoming_call(destination=DID, caller=FIRST)
    assert call.wait_closed(10) and call.spoken == ["queue timeout"]
    assert any(app == "playback" and arg.startswith("tone_stream://%(400,0,440)") for app, arg in call.executed)
    [error] = [e for e in errors_of(call.uuid) if e["path"] == "/actions/0/params/wait_url"]
    assert "could not be used" in error["message"]


def test_a_wait_flow_may_not_take_the_caller_elsewhere(switch, callback_server):
    wait = callback_server.static("/wait", {"actions": [{"type": "TRANSFER", "params": {"to": "+13125550100"}}]})
    provision(callback_server.static("/q", caller_flow(wait_url=wait, timeout=1000)))
    call = switch.incoming_call(destination=DID, caller=FIRST)
    assert call.wait_closed(10) and call.spoken == ["queue timeout"]
    assert not any(app == "bridge" for app, _ in call.executed)
    assert any("may not hold TRANSFER" in e["message"] for e in errors_of(call.uuid))


def test_leave_outside_a_wait_flow_is_an_error_and_the_flow_goes_on(switch, callback_server):
    flow = {"actions": [{"type": "LEAVE"}, {"type": "SAY", "params": {"text": "on"}}, {"type": "HANGUP"}]}
    provision(callback_server.static("/q", flow))
    call = switch.incoming_call(destination=DID, caller=FIRST)
    assert call.wait_closed(5) and call.spoken == ["on"]
    assert [e["path"] for e in errors_of(call.uuid)] == ["/actions/0"]


def test_the_timer_of_a_wait_that_ended_does_not_cut_what_plays_next(switch, callback_server):
    wait = callback_server.static("/wait", {"actions": [{"type": "LEAVE"}]})
    flow = caller_flow(wait_url=wait, timeout=1000)
    flow["actions"][1:1] = [{"type": "PAUSE", "params": {"length": 150000}}]  # 1.5 s, past the timeout
    provision(callback_server.static("/q", flow))
    call = switch.incoming_call(destination=DID, caller=FIRST)
    assert call.wait_closed(10) and call.spoken == ["queue leave"]
    [sleep] = [arg for app, arg in call.executed if app == "sleep"]
    assert sleep == "150000"
    assert not any("uuid_break" in c and call.uuid in c for c in switch.api_log)


def test_a_round_that_plays_nothing_is_followed_by_the_soft_tone(switch, callback_server):
    wait = callback_server.static("/wait", {"actions": [{"type": "LABEL", "params": {"name": "x"}}]})
    provision(callback_server.static("/q", caller_flow(wait_url=wait, timeout=1000)))
    call = switch.incoming_call(destination=DID, caller=FIRST)
    assert call.wait_closed(10) and call.spoken == ["queue timeout"]
    rounds = len(wait_requests(callback_server))
    tones = [a for app, a in call.executed if app == "playback" and a.startswith("tone_stream://%(400,0,440)")]
    # Each round asked, then the tone played before the next request.
    assert rounds >= 2 and len(tones) >= rounds - 1, (rounds, len(tones))


def test_the_simulator_runs_one_round_of_the_wait_flow(callback_server):
    from voxology_fs.simulate import simulate

    wait = callback_server.static("/wait", {"actions": [{"type": "SAY", "params": {"text": "Please hold."}}]})
    queue = {"type": "QUEUE", "params": {"name": "x", "wait_url": wait}}
    flow = callback_server.static("/q", {"actions": [queue, {"type": "HANGUP"}]})
    transcript, _, _ = simulate(flow, [])
    assert len(wait_requests(callback_server)) == 1
    assert any("Please hold." in line for line in transcript.lines)
