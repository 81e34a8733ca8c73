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
