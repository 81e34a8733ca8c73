"""Every response is validated before any of it runs; errors name their JSON path."""

import json
import os

import pytest

from voxology_fs.flow.errors import FlowValidationError
from voxology_fs.flow.expressions import UNDEFINED
from voxology_fs.flow.parser import parse_flow, parse_response

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "voxology_fs", "examples")


def problems(doc):
    with pytest.raises(FlowValidationError) as info:
        parse_flow(doc)
    return dict(info.value.errors)


@pytest.mark.parametrize("name", sorted(os.listdir(EXAMPLES)))
def test_the_product_scripts_are_valid(name):
    with open(os.path.join(EXAMPLES, name)) as fh:
        program = parse_flow(json.load(fh))
    assert len(program) > 0


def test_unknown_type_names_its_path():
    errors = problems({"actions": [{"type": "SAY", "params": {"text": "hi"}}, {"type": "DANCE"}]})
    assert list(errors) == ["/actions/1/type"]
    assert "unknown action type 'DANCE'" in errors["/actions/1/type"]


def test_mistyped_param_names_its_path():
    errors = problems(
        {
            "actions": [
                {"type": "SAY", "params": {"text": "x"}},
                {"type": "SAY", "params": {"text": "x"}},
                {"type": "COLLECT", "params": {"num_digits": "many"}},
            ]
        }
    )
    assert "/actions/2/params/num_digits" in errors


def test_numeric_strings_are_accepted_for_integers():
    program = parse_flow({"actions": [{"type": "COLLECT", "params": {"num_digits": "2", "timeout": "3000"}}]})
    collect = program.code[0].action
    assert collect.params["num_digits"] == 2 and collect.params["timeout"] == 3000


def test_missing_required_param():
    assert "/actions/0/params/text" in problems({"actions": [{"type": "SAY", "params": {}}]})


def test_unknown_param_and_unknown_key_are_errors_but_comments_are_not():
    errors = problems(
        {
            "actions": [
                {
                    "type": "SAY",
                    "comment": "ok",
                    "comments": "ok",
                    "name": "greeting",
                    "params": {"text": "x", "loud": True},
                    "colour": "red",
                }
            ]
        }
    )
    assert set(errors) == {"/actions/0/params/loud", "/actions/0/colour"}


def test_goto_to_a_missing_label():
    errors = problems({"actions": [{"type": "GOTO", "params": {"label": "NOWHERE"}}]})
    assert "NOWHERE" in errors["/actions/0/params/label"]


def test_goto_into_a_block_is_refused_but_out_of_one_is_fine():
    into = {
        "actions": [
            {"type": "GOTO", "params": {"label": "IN"}},
            {"type": "IF", "condition": "true", "then": [{"type": "LABEL", "name": "IN"}]},
        ]
    }
    assert "/actions/0/params/label" in problems(into)
    out = {
        "actions": [
            {"type": "LABEL", "name": "TOP"},
            {
                "type": "IF",
                "condition": "true",
                "then": [
                    {
                        "type": "FOREACH",
                        "params": {"items": "$sessionData.list"},
                        "actions": [{"type": "GOTO", "params": {"label": "TOP"}}],
                    }
                ],
            },
        ]
    }
    parse_flow(out)


def test_duplicate_label():
    errors = problems({"actions": [{"type": "LABEL", "name": "A"}, {"type": "LABEL", "name": "A"}]})
    assert "/actions/1" in errors


def test_condition_that_does_not_parse():
    errors = problems({"actions": [{"type": "IF", "condition": "$keyPresses == ", "then": []}]})
    assert "/actions/0/condition" in errors


def test_text_that_is_not_a_placeholder_stays_text():
    program = parse_flow(
        {"actions": [{"type": "SAY", "params": {"text": "Hi ${sessionData.name ${system x} ${uuid}"}}]}
    )
    text = program.code[0].action.params["text"]
    assert (
        text.render(lambda name: {"sessionData": {}}.get(name, UNDEFINED))
        == "Hi ${sessionData.name ${system x} ${uuid}"
    )


def test_nested_errors_have_nested_paths():
    doc = {
        "actions": [
            {
                "type": "IF",
                "condition": "true",
                "then": [{"type": "COLLECT", "actions": [{"type": "HANGUP"}], "params": {"num_digits": 1}}],
            }
        ]
    }
    errors = problems(doc)
    assert "/actions/0/then/0/actions/0/type" in errors


def test_play_takes_only_http_urls():
    for url in ("/etc/passwd", "file:///etc/passwd", "shout://x/y.mp3", "say:hello", "file_string://a!b"):
        assert "/actions/0/params/url" in problems({"actions": [{"type": "PLAY", "params": {"url": url}}]}), url
    parse_flow({"actions": [{"type": "PLAY", "params": {"url": "https://example.test/a.mp3"}}]})


def test_reject_reason_choices():
    assert "/actions/0/params/reason" in problems({"actions": [{"type": "REJECT", "params": {"reason": "maybe"}}]})


def test_response_shape():
    with pytest.raises(FlowValidationError):
        parse_response("hello")
    assert parse_response({"name": "x", "comments": "y", "actions": []}) == []
    assert "/bogus" in problems({"actions": [], "bogus": 1})


def test_all_problems_are_reported_at_once():
    errors = problems({"actions": [{"type": "SAY"}, {"type": "PAUSE", "params": {"length": -5}}]})
    assert set(errors) == {"/actions/0/params/text", "/actions/1/params/length"}


def test_tts_voice_and_engine_must_be_names():
    # FreeSWITCH's set/multiset expand ${...} whatever app_disable_expand_variables says.
    errors = problems(
        {"actions": [{"type": "SAY", "params": {"text": "x", "voice": "${system id}", "engine": "flite|x"}}]}
    )
    assert set(errors) == {"/actions/0/params/voice", "/actions/0/params/engine"}
    parse_flow({"actions": [{"type": "SAY", "params": {"text": "x", "voice": "slt", "engine": "flite"}}]})


def nested_ifs(depth):
    action = {"type": "HANGUP"}
    for _ in range(depth):
        action = {"type": "IF", "condition": "true", "then": [action]}
    return {"actions": [action]}


def test_nesting_past_the_limit_is_a_validation_error_with_its_path():
    from voxology_fs.flow.parser import MAX_NESTING

    found = problems(nested_ifs(3000))
    [(path, message)] = found.items()
    assert path.startswith("/actions/0/then/0/then/0/") and path.count("/then/0") == (MAX_NESTING - 2) // 2
    assert f"more than {MAX_NESTING}" in message


def test_nesting_within_the_limit_parses():
    parse_flow(nested_ifs(30))


def test_deep_arrays_in_params_are_a_validation_error():
    body = []
    for _ in range(3000):
        body = [body]
    found = problems({"actions": [{"type": "WEBHOOK", "params": {"url": "http://127.0.0.1/x", "body": {"a": body}}}]})
    [path] = found
    assert path.startswith("/actions/0/params/body/a/0/0")


def test_text_and_decoded_nesting_checks_name_the_same_path():
    from voxology_fs.flow.parser import nesting_problem, nesting_problem_in_text

    doc = nested_ifs(100)
    doc["actions"][0]["comment"] = 'a [ { " , in a string'
    assert nesting_problem_in_text(json.dumps(doc)) == nesting_problem(doc)
