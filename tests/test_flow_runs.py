"""The interpreter and the callback loop, on a simulated channel (no sockets to a switch)."""

import json
import os

import pytest

from voxology_fs.simulate import simulate

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "voxology_fs", "examples")


def example(name):
    return os.path.join(EXAMPLES, name + ".json")


def heard(transcript):
    return [
        line.split("caller hears: says: ", 1)[1].strip('"')
        for line in transcript.lines
        if "caller hears: says: " in line
    ]


def run(source, presses=(), **kwargs):
    return simulate(source, list(presses), out=None, **kwargs)


def test_hello_world():
    transcript, requests, state = run(example("hello-world"))
    assert heard(transcript) == ["Hello, world."]
    assert [r["type"] for r in requests] == ["init_call", "call_ended"]
    assert state.status == "completed"


def test_multi_action_goto_skips_the_middle():
    transcript, _, _ = run(example("Example-MultiActionProcessing"))
    said = heard(transcript)
    assert len(said) == 2 and said[1] == "You successfully navigated to a labeled action."
    assert not any("You will not reach" in s for s in said)


def test_conditional_press_1_press_2_and_no_press():
    assert heard(run(example("Example-ConditionalProcessing"), ["1"])[0])[-1].startswith("You pressed 1.")
    assert heard(run(example("Example-ConditionalProcessing"), ["2"])[0])[-1].startswith("You did not press 1")
    transcript, _, state = run(example("Example-ConditionalProcessing"))
    assert heard(transcript)[-1].startswith("You did not press 1")
    assert state.key_presses == [{"name": "rating", "digits": ""}]


def test_variable_processing_branches():
    # The script merges gender=male, age=19 first.
    assert heard(run(example("Example-VariableProcessing"), ["1#"])[0])[1] == "You pressed 1, or you are over 21."
    assert heard(run(example("Example-VariableProcessing"), ["2#"])[0])[1].startswith("You did not press 1")
    # age > 21 wins on its own (|| binds looser than &&).
    _transcript, _requests, state = run(example("Example-VariableProcessing"), ["2#"])
    assert state.session_data == {"gender": "male", "age": 19, "isNice": True}


def test_variable_processing_age_branch(tmp_path):
    doc = json.load(open(example("Example-VariableProcessing")))
    doc["actions"][0]["session_data"]["age"] = 30
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(doc))
    assert heard(run(str(path), ["2"])[0])[1] == "You pressed 1, or you are over 21."


def test_conference_greeting_interpolation():
    transcript, _, _ = run(example("conference-greeting"), session_data={"firstName": "Ann"})
    said = heard(transcript)
    assert said[0] == "Hello, Ann. Welcome to our conference."
    assert said[1].startswith("You have left the conference. This call lasted ") and said[1].endswith(" milliseconds.")


def write(tmp_path, actions):
    path = tmp_path / "flow.json"
    path.write_text(json.dumps({"actions": actions}))
    return str(path)


def test_foreach_nested_in_if_with_collect(tmp_path):
    flow = write(
        tmp_path,
        [
            {"type": "SESSIONDATA", "session_data": {"people": ["Ann", "Bo"], "menu": {"a": 1, "b": 2}}},
            {
                "type": "IF",
                "condition": "$sessionData.people.length > 1",
                "then": [
                    {
                        "type": "FOREACH",
                        "params": {"items": "$sessionData.people", "as": "who", "index": "i"},
                        "actions": [
                            {
                                "type": "COLLECT",
                                "name": "choice",
                                "params": {"num_digits": 1},
                                "actions": [{"type": "SAY", "params": {"text": "${i}: ${who}, press a key"}}],
                            },
                            {
                                "type": "IF",
                                "condition": "$choice == '9'",
                                "then": [{"type": "GOTO", "params": {"label": "OUT"}}],
                            },
                        ],
                    },
                ],
            },
            {
                "type": "FOREACH",
                "params": {"items": "$sessionData.menu"},
                "actions": [{"type": "SAY", "params": {"text": "${index}=${item}"}}],
            },
            {"type": "LABEL", "name": "OUT"},
            {"type": "SAY", "params": {"text": "last was ${keyPresses}"}},
            {"type": "HANGUP"},
        ],
    )
    said = heard(run(flow, ["1", "2"])[0])
    assert said == ["0: Ann, press a key", "1: Bo, press a key", "a=1", "b=2", "last was 2"]
    said = heard(run(flow, ["9"])[0])
    assert said == ["0: Ann, press a key", "last was 9"]


def test_goto_loop_without_media_is_stopped(tmp_path):
    flow = write(tmp_path, [{"type": "LABEL", "name": "A"}, {"type": "GOTO", "params": {"label": "A"}}])
    transcript, _, state = run(flow)
    assert state.errors and state.errors[0]["code"] == "runaway_flow"
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]


def test_static_script_without_hangup_is_ended_by_the_callback_limit(tmp_path):
    flow = write(tmp_path, [{"type": "PAUSE", "params": {"length": 1}}])
    _, requests, state = run(flow)
    assert state.errors[-1]["code"] == "runaway_flow"
    assert [r["type"] for r in requests].count("continue_call") == 99
    assert requests[-1]["type"] == "call_ended"


def test_stop_then_continue_call(callback_server, tmp_path):
    calls = []

    def flow(request):
        calls.append(request["json"]["type"])
        if request["json"]["type"] == "init_call":
            return {
                "actions": [
                    {"type": "SAY", "params": {"text": "one"}},
                    {"type": "STOP"},
                    {"type": "SAY", "params": {"text": "never"}},
                ]
            }
        return {"actions": [{"type": "SAY", "params": {"text": "two"}}, {"type": "HANGUP"}]}

    url = callback_server.route("/flow", flow)
    transcript, _, _ = run(url)
    assert heard(transcript) == ["one", "two"]
    assert calls == ["init_call", "continue_call", "call_ended"]


def test_empty_response_hangs_up(callback_server):
    url = callback_server.static("/empty", {"actions": []})
    transcript, requests, _state = run(url)
    assert heard(transcript) == [] and [r["type"] for r in requests] == ["init_call", "call_ended"]


def test_redirect_chain_carries_key_presses_and_session_data(callback_server):
    def first(request):
        return {
            "actions": [
                {"type": "SESSIONDATA", "session_data": {"step": 1}},
                {"type": "COLLECT", "name": "pin", "params": {"num_digits": 4}},
                {"type": "REDIRECT", "params": {"url": callback_server.url("/second")}},
            ]
        }

    def second(request):
        body = request["json"]
        if body["type"] == "call_ended":
            return None
        assert body["key_presses"][0]["digits"] == "1234"
        return {
            "actions": [{"type": "SAY", "params": {"text": "pin ${pin} step ${sessionData.step}"}}, {"type": "HANGUP"}]
        }

    url = callback_server.route("/first", first)
    callback_server.route("/second", second)
    transcript, _, _ = run(url, ["1234"])
    assert heard(transcript) == ["pin 1234 step 1"]
    second_requests = [r["json"] for r in callback_server.requests if r["path"] == "/second"]
    assert [r["type"] for r in second_requests] == ["continue_call", "call_ended"]
    assert second_requests[0]["session_data"] == {"step": 1}


def test_key_presses_most_recent_first(callback_server):
    def flow(request):
        if request["json"]["type"] == "init_call":
            return {
                "actions": [
                    {"type": "COLLECT", "name": "a", "params": {"num_digits": 1}},
                    {"type": "COLLECT", "name": "b", "params": {"num_digits": 1}},
                ]
            }
        return {"actions": [{"type": "HANGUP"}]}

    run(callback_server.route("/f", flow), ["1", "2"])
    cont = callback_server.requests[1]["json"]
    assert cont["type"] == "continue_call"
    assert cont["key_presses"] == [{"name": "b", "digits": "2"}, {"name": "a", "digits": "1"}]


def test_failed_callback_falls_back_then_apologises(callback_server):
    url = callback_server.route("/broken", lambda r: (500, "oops"))
    transcript, _, state = run(url)
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]
    assert state.errors[0]["code"] == "http_error" and state.errors[0]["status"] == 500


def test_invalid_flow_from_callback_is_an_error_with_its_path(callback_server):
    url = callback_server.static("/bad", {"actions": [{"type": "SAY", "params": {"text": 5}}]})
    transcript, _, state = run(url)
    assert state.errors[0]["code"] == "invalid_flow"
    assert state.errors[0]["path"] == "/actions/0/params/text"
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]


def test_webhook_saves_json_answer_and_failure_does_not_end_the_call(callback_server):
    callback_server.static("/weather", {"sky": "blue"})
    flow = callback_server.static(
        "/flow",
        {
            "actions": [
                {
                    "type": "WEBHOOK",
                    "params": {
                        "url": callback_server.url("/weather"),
                        "save_as": "weather",
                        "body": {"who": "${callerNo}"},
                    },
                },
                {"type": "WEBHOOK", "params": {"url": "http://127.0.0.1:9/nothing-listens"}},
                {"type": "SAY", "params": {"text": "sky is ${sessionData.weather.sky}"}},
                {"type": "HANGUP"},
            ]
        },
    )
    transcript, _, state = run(flow)
    assert heard(transcript) == ["sky is blue"]
    hook = next(r for r in callback_server.requests if r["path"] == "/weather")["json"]
    assert hook["type"] == "webhook" and hook["who"] == "+19495551212"
    assert state.errors and state.errors[0]["code"] == "action_failed"


def test_reject_sets_status(tmp_path):
    transcript, _, state = run(write(tmp_path, [{"type": "REJECT", "params": {"reason": "busy"}}]))
    assert state.status == "busy"
    assert any("rejected with SIP 486" in line for line in transcript.lines)
    assert not any("call answered" in line for line in transcript.lines)


def deep_json(depth):
    # Written out as text: json.dumps itself cannot nest this deep.
    return (
        '{"actions": ['
        + '{"type": "IF", "condition": "true", "then": [' * depth
        + '{"type": "HANGUP"}'
        + "]}" * depth
        + "]}"
    )


def test_a_flow_nested_thousands_deep_is_an_invalid_flow_not_a_crash(callback_server):
    url = callback_server.route("/deep", lambda r: (200, deep_json(3000), {"Content-Type": "application/json"}))
    transcript, _, state = run(url)
    assert state.errors[0]["code"] == "invalid_flow"
    assert state.errors[0]["path"].startswith("/actions/0/then/0/then/0")
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]


def test_an_answer_too_deep_for_the_json_decoder_is_an_invalid_flow(callback_server):
    url = callback_server.route(
        "/deeper", lambda r: (200, "[" * 200000 + "]" * 200000, {"Content-Type": "application/json"})
    )
    transcript, _, state = run(url)
    assert state.errors[0]["code"] == "invalid_flow" and state.errors[0]["path"] == "/0" * 64
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]


def test_a_template_rendered_past_its_limit_is_a_typed_error_with_the_param_path(callback_server):
    url = callback_server.static(
        "/long",
        {
            "actions": [
                {"type": "SESSIONDATA", "session_data": {"chunk": "x" * 60000}},
                {"type": "SAY", "params": {"text": "${sessionData.chunk}${sessionData.chunk}"}},
                {"type": "SAY", "params": {"text": "never reached"}},
            ]
        },
    )
    transcript, _, state = run(url)
    error = state.errors[0]
    assert error["code"] == "param_render_failed" and error["path"] == "/actions/1/params/text"
    assert "longer than 100000" in error["message"]
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]


@pytest.mark.parametrize(
    "action, path",
    [
        (
            {"type": "SESSIONDATA", "session_data": {"big": {"list": ["${sessionData.chunk}${sessionData.chunk}"]}}},
            "/actions/1/session_data/big/list/0",
        ),
        (
            {
                "type": "WEBHOOK",
                "params": {
                    "url": "http://127.0.0.1:9/hook",
                    "body": {"note": "${sessionData.chunk}${sessionData.chunk}"},
                },
            },
            "/actions/1/params/body/note",
        ),
    ],
)
def test_json_values_rendered_past_the_limit_name_their_own_path(callback_server, action, path):
    url = callback_server.static(
        "/long-json",
        {
            "actions": [
                {"type": "SESSIONDATA", "session_data": {"chunk": "x" * 60000}},
                action,
                {"type": "SAY", "params": {"text": "never reached"}},
            ]
        },
    )
    transcript, _, state = run(url)
    assert [(e["code"], e["path"]) for e in state.errors] == [("param_render_failed", path)]
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]
