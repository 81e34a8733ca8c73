"""QUEUE on a real FreeSWITCH: a SIP caller waits in a queue until an agent's
call takes it; when the agent hangs up, the caller's flow goes on."""

from tests.integration.test_callflows import dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.support.provision import provision
from tests.support.waiting import wait_until

CALLER = {
    "actions": [
        {"type": "QUEUE", "params": {"name": "support", "timeout": 30000}},
        {"type": "SAY", "params": {"text": "Queue ${queue.result}."}},
        {"type": "HANGUP"},
    ]
}
AGENT = {"actions": [{"type": "TRANSFER", "params": {"to": "queue:support"}}]}


def test_an_agent_call_takes_the_waiting_caller(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
):
    first = []

    def answer(request):
        body = request["json"] or {}
        if not first:
            first.append(body.get("caller_no"))
        return CALLER if body.get("caller_no") == first[0] else AGENT

    provision(callback_server.route("/q", answer))
    caller = dial()
    held = caller.wait_execute("playback", timeout=20)
    assert held.get("Application-Data").startswith("tone_stream://%(400,0,440)")
    agent = dial("uac_media_hangup.xml", duration_ms=3000)  # talks 3 s, then hangs up
    caller.wait_execute("speak", data_contains="Queue bridged.", timeout=30)
    assert agent.result(timeout=30).returncode == 0
    finished(caller, callback_server, timeout=30)
    # Both calls' call_ended (the agent's may come first).
    assert wait_until(lambda: len(callback_server.of_type("call_ended")) == 2, 10)
    results = [e.get("queue_result") for e in callback_server.of_type("call_ended")]
    assert "bridged" in results, results
    # The agent's side: its TRANSFER to queue: talked with the caller it took.
    [agent_ended] = [e for e in callback_server.of_type("call_ended") if e.get("transfer_status")]
    assert agent_ended["transfer_status"] == "completed", agent_ended
    assert agent_ended["transfer_call_id"] == caller.uuid and agent_ended["transfer_duration"] >= 2


def test_a_wait_flow_tells_the_caller_its_place_and_an_agent_takes_it_mid_round(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
):
    wait = callback_server.static(
        "/wait",
        {
            "actions": [
                {"type": "SAY", "params": {"text": "You are number ${queuePosition} of ${queueSize}."}},
                {"type": "PAUSE", "params": {"length": 20000}},
            ]
        },
    )
    waiting = {
        "actions": [{**CALLER["actions"][0], "params": {"name": "support", "wait_url": wait}}, *CALLER["actions"][1:]]
    }
    first = []

    def answer(request):
        body = request["json"] or {}
        if not first:
            first.append(body.get("caller_no"))
        return waiting if body.get("caller_no") == first[0] else AGENT

    provision(callback_server.route("/q", answer))
    caller = dial()
    caller.wait_execute("speak", data_contains="You are number 1 of 1.", timeout=20)
    caller.wait_execute("sleep", timeout=10)  # the round's PAUSE: the agent breaks it off
    agent = dial("uac_media_hangup.xml", duration_ms=3000)
    caller.wait_execute("speak", data_contains="Queue bridged.", timeout=30)
    assert agent.result(timeout=30).returncode == 0
    finished(caller, callback_server, timeout=30)
    [request] = [r["json"] for r in callback_server.requests if r["path"] == "/wait"]
    assert request["type"] == "queue_wait" and request["queue_position"] == 1 and request["queue_size"] == 1


def test_a_key_pressed_in_the_wait_flow_makes_the_next_round_leave(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
):
    def wait_flow(request):
        if any(k["digits"] == "1" for k in request["json"]["key_presses"]):
            return {"actions": [{"type": "LEAVE"}]}
        prompt = {"type": "SAY", "params": {"text": "Press 1 to leave a message."}}
        return {"actions": [{"type": "COLLECT", "params": {"num_digits": 1, "timeout": 20000}, "actions": [prompt]}]}

    callback_server.route("/wait", wait_flow)
    flow = {
        "actions": [
            {**CALLER["actions"][0], "params": {"name": "support", "wait_url": callback_server.url("/wait")}},
            *CALLER["actions"][1:],
        ]
    }
    provision(callback_server.static("/q", flow))
    caller = dial()
    caller.wait_execute("play_and_get_digits", timeout=20)
    caller.press("1")
    caller.wait_execute("speak", data_contains="Queue leave.", timeout=20)
    finished(caller, callback_server, timeout=30)
    [ended] = callback_server.of_type("call_ended")
    assert ended["queue_result"] == "leave"
