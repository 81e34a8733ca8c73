"""Dial strings and originate commands: only checked values reach the switch."""

import pytest

from voxology_fs.esl import dial
from voxology_fs.originate import originate_command
from voxology_fs.settings import Settings, Switch

CALL_ID = "0b0e3c1a-5d2f-4c1e-9a7b-3f2e1d0c9b8a"
DIAL_SYNTAX = ",|{}[]^$"


def test_a_dial_string_has_its_variables_then_the_endpoint():
    built = dial.dial_string(
        "sofia/gateway/trunk/{number}",
        "+14155550100",
        {"origination_uuid": CALL_ID, "vox_make_call": True, "originate_timeout": 30},
    )
    assert built == (
        f"{{origination_uuid={CALL_ID},vox_make_call=true,originate_timeout=30}}sofia/gateway/trunk/+14155550100"
    )


def test_one_leg_of_several_takes_its_variables_in_square_brackets():
    assert (
        dial.dial_string("loopback/{number}/default", "+14155550100", {"leg_timeout": 20}, per_leg=True)
        == "[leg_timeout=20]loopback/+14155550100/default"
    )
    assert dial.dial_string("loopback/{number}/default", "+14155550100", {}) == "loopback/+14155550100/default"


@pytest.mark.parametrize(
    "value",
    [
        "${system(rm -rf /)}",
        "$${hostname}",
        "a,b",
        "a}b",
        "{x=1}",
        "[x]",
        "a|b",
        "^^:a:b",
        "a b",
        "it's",
        'a"b',
        "back\\slash",
        "line\nbreak",
        "",
        "x" * 257,
        "caf\u00e9",
    ],
)
def test_a_value_that_would_need_escaping_is_refused(value):
    with pytest.raises(ValueError):
        dial.variable("origination_caller_id_name", value)
    with pytest.raises(ValueError):
        dial.dial_string("loopback/{number}/default", "+14155550100", {"origination_caller_id_name": value})


@pytest.mark.parametrize("name", ["", "a=b", "a,b", "a}", "${x}", "1abc", "with space"])
def test_a_bad_variable_name_is_refused(name):
    with pytest.raises(ValueError):
        dial.variable(name, "x")


@pytest.mark.parametrize(
    "number",
    [
        "+1415555010,+1",
        "+14155550100|user/1000",
        "+1415{5550100}",
        "+1415[5550100]",
        "+1415^5550100",
        "${sip_from_user}",
        "+1415$5550100",
        "14155550100",
        "+0123456789",
        "+1 415 555 0100",
        "",
        None,
        4155550100,
    ],
)
def test_a_number_is_e164_and_nothing_else(number):
    with pytest.raises(ValueError):
        dial.endpoint("sofia/gateway/trunk/{number}", number)


@pytest.mark.parametrize("hostile", ["${x}", "$x", "{x}", "a,b", "a|b", "[x]", "^x"])
def test_no_dial_syntax_reaches_the_switch_through_any_part(hostile):
    builds = [
        lambda: dial.dial_string("loopback/{number}/default", hostile, {}),
        lambda: dial.dial_string("loopback/{number}/default", "+14155550100", {"v": hostile}),
        lambda: dial.dial_string("loopback/{number}/default", "+14155550100", {hostile: "x"}),
        lambda: dial.socket_app(hostile),
        lambda: dial.inline_app(hostile, "x"),
    ]
    for build in builds:
        with pytest.raises(ValueError):
            build()
    if "$" in hostile:
        with pytest.raises(ValueError):
            dial.inline_app("speak", "flite|kal|" + hostile)


def test_application_parts():
    assert dial.socket_app("127.0.0.1:8084") == "&socket('127.0.0.1:8084 async full')"
    assert dial.socket_app("[::1]:8084") == "&socket('[::1]:8084 async full')"
    assert dial.inline_app("speak", "flite|kal|Your code is 1 2, 3.") == "'&speak(flite|kal|Your code is 1 2, 3.)'"
    for arg in ("it's", "a\\b", 'a"b', "two\nlines"):
        with pytest.raises(ValueError):
            dial.inline_app("speak", arg)


def test_make_call_originate_is_built_from_checked_parts():
    command = originate_command(
        Settings(),
        Switch(name="fs1", dial_string="sofia/gateway/trunk/{number}"),
        CALL_ID,
        "+14155550100",
        "+17145559876",
        45,
    )
    assert command == (
        f"originate {{origination_uuid={CALL_ID},vox_call_id={CALL_ID},vox_make_call=true,playback_delimiter=!,"
        "playback_terminators=none,sleep_eat_digits=true,app_disable_expand_variables=true,"
        "origination_caller_id_number=+17145559876,originate_timeout=45}sofia/gateway/trunk/+14155550100 "
        "&socket('127.0.0.1:8084 async full')"
    )
    assert "${" not in command
    for bad in ({"call_id": "not-a-uuid"}, {"to_no": "+1415555010,+1"}, {"caller_id_no": "${caller}"}):
        args = {"call_id": CALL_ID, "to_no": "+14155550100", "caller_id_no": "+17145559876", **bad}
        with pytest.raises(ValueError):
            originate_command(Settings(), Switch(name="fs1"), timeout_s=45, **args)


@pytest.mark.parametrize("char", DIAL_SYNTAX)
def test_no_dial_string_character_passes_in_a_number_or_a_value(char):
    with pytest.raises(ValueError):
        dial.check_number("+1415555" + char + "0100")
    with pytest.raises(ValueError):
        dial.variable("origination_caller_id_number", "+1415555" + char + "0100")
