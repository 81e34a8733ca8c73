"""Tests for voxology_fs.flow.templates (``${...}`` text templates)."""

from __future__ import annotations

import math

import pytest

from voxology_fs.flow.expressions import UNDEFINED, ExpressionError
from voxology_fs.flow.templates import (
    MAX_TEMPLATE_LENGTH,
    Template,
    TemplateError,
    compile_template,
    has_placeholders,
    render,
)

CALL = {
    "sessionData": {"firstName": "Ann", "age": 30, "tags": ["vip", "es"], "nothing": None},
    "callTime": 5234,
    "keyPresses": "1",
}


def test_product_example():
    text = "Hello, ${sessionData.firstName}. This call lasted ${callTime} milliseconds."
    assert render(text, CALL) == "Hello, Ann. This call lasted 5234 milliseconds."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("${sessionData.firstName}", "Ann"),
        ("${$sessionData.firstName}", "Ann"),
        ("${callTime / 1000}", "5.234"),
        ("${keyPresses}", "1"),
        ("${ keyPresses }", "1"),
        ("${callTime / 2}", "2617"),
        ("${sessionData.age >= 18 ? 'adult' : 'minor'}", "adult"),
        ("${sessionData.tags[0]}-${sessionData.tags.length}", "vip-2"),
        ("${sessionData.missing}", ""),
        ("${sessionData.nothing}", ""),
        ("${sessionData.missing.deeper}", ""),
        ("${nobody || 'caller'}", "caller"),
        ("${true}/${false}/${1.5}/${-0}/${1 / 0}/${0 / 0}", "true/false/1.5/0/Infinity/NaN"),
        ("${null}${undefined}", ""),
        ("${'a' + null}", "anull"),
        ("${sessionData.tags}", '["vip","es"]'),
        ("${sessionData}", '{"firstName":"Ann","age":30,"tags":["vip","es"],"nothing":null}'),
        ("${sessionData.tags + ''}", "vip,es"),
        ("plain text", "plain text"),
        ("", ""),
        ("${1}${2}", "12"),
        ("a${1}b${2}c", "a1b2c"),
    ],
)
def test_render(text, expected):
    assert render(text, CALL) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("${'}'}", "}"),
        ('${"}"}', "}"),
        ("${'{'}", "{"),
        ("${'a}' + \"}b\"}", "a}}b"),
        ("${'${x}'}", "${x}"),
        ("${'\\''}", "'"),
        ("${'it\\'s }'}", "it's }"),
    ],
)
def test_braces_and_quotes_inside_string_literals(text, expected):
    assert render(text, {"x": 1}) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$${x}", "${x}"),
        ("cost: $${price}", "cost: ${price}"),
        ("$${x} is ${x}", "${x} is 7"),
        ("$$${x}", "$${x}"),  # left to right: '$' then the '$${' escape
        ("$ ${x}", "$ 7"),
        ("${'$'}${x}", "$7"),
        ("price: $5 {ok} }", "price: $5 {ok} }"),
        ("$", "$"),
        ("$$", "$$"),
        ("{x}", "{x}"),
    ],
)
def test_dollar_escapes_and_plain_text(text, expected):
    assert render(text, {"x": 7}) == expected


def test_json_rendering_follows_json_stringify():
    values = {
        "floats": [1.0, 2.5, math.nan, math.inf, None, UNDEFINED],
        "obj": {"a": UNDEFINED, "b": 'q"uote', "c": {"d": [True, False]}, 1: "x"},
        "text": {"é": "ü\n"},
        "empty": [[], {}],
    }
    assert render("${floats}", values) == "[1,2.5,null,null,null,null]"
    assert render("${obj}", values) == '{"b":"q\\"uote","c":{"d":[true,false]},"1":"x"}'
    assert render("${text}", values) == '{"é":"ü\\n"}'
    assert render("${empty}", values) == "[[],{}]"


def test_numbers_render_like_javascript():
    values = {"i": 21, "f": 21.0, "big": 1e21, "small": 1e-7, "x": 0.1}
    assert render("${i} ${f} ${big} ${small} ${x * 3}", values) == ("21 21 1e+21 1e-7 0.30000000000000004")


def test_compile_once_render_many():
    template = compile_template("Hi ${name}, press ${$digit}. ${name}!")
    assert isinstance(template, Template)
    assert template.variables == frozenset({"name", "digit"})
    assert template.render({"name": "Ann", "digit": 1}) == "Hi Ann, press 1. Ann!"
    assert template.render(lambda name: name.upper()) == "Hi NAME, press DIGIT. NAME!"
    assert template.source == "Hi ${name}, press ${$digit}. ${name}!"
    with pytest.raises(AttributeError):
        template.source = "x"
    assert compile_template("no placeholders").variables == frozenset()


def test_each_variable_is_looked_up_once_per_render():
    calls = []

    def lookup(name):
        calls.append(name)
        return {"first": "Ann"}

    assert render("${user.first} ${user.first} ${user}", lookup) == 'Ann Ann {"first":"Ann"}'
    assert calls == ["user"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", False),
        ("plain", False),
        ("$5 and {braces}", False),
        ("$${escaped}", False),
        ("$${a} $${b}", False),
        ("${x}", True),
        ("$${a} ${b}", True),
        ("$$${x}", False),
        ("x ${", True),  # unterminated, but it is a placeholder (compiling will fail)
    ],
)
def test_has_placeholders(text, expected):
    assert has_placeholders(text) is expected


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, position, fragment",
    [
        ("Hello ${name", 6, "unterminated '${'"),
        ("Hello ${name + ", 6, "unterminated '${'"),
        ("${", 0, "unterminated '${'"),
        ("ok ${a} then ${b", 13, "unterminated '${'"),
        ("x ${}", 2, "empty placeholder"),
        ("x ${  }", 2, "empty placeholder"),
        ("Hello ${a b}", 10, "unexpected 'b' in placeholder"),
        ("Hello ${a +}", 11, "unexpected '}'"),
        ("Hello ${a)}", 9, "unexpected ')' in placeholder"),
        ("Hi ${'abc}", 5, "unterminated string"),
        ("Hi ${f(1)}", 6, "function calls are not supported"),
        ("Hi ${__import__('os')}", 15, "function calls are not supported"),
        ("Hi ${a = 1}", 7, "assignment is not supported"),
    ],
)
def test_template_errors_report_position_in_whole_text(text, position, fragment):
    with pytest.raises(TemplateError) as caught:
        compile_template(text)
    assert caught.value.position == position, str(caught.value)
    assert fragment in caught.value.message
    assert str(caught.value).endswith(f" at {position}")
    with pytest.raises(TemplateError):
        render(text, {})


def test_template_error_is_an_expression_error():
    assert issubclass(TemplateError, ExpressionError)
    with pytest.raises(ExpressionError):
        render("${", {})


def test_evaluation_errors_become_template_errors():
    big = "x" * 60_000
    with pytest.raises(TemplateError) as caught:
        render("Say: ${s + s}", {"s": big})
    assert "longer than 100000" in caught.value.message
    assert caught.value.position == 9  # the '+' inside the placeholder


def test_circular_values_cannot_render_as_json():
    cyclic: list = [1]
    cyclic.append(cyclic)
    with pytest.raises(TemplateError) as caught:
        render("value: ${v}", {"v": cyclic})
    assert "circular" in caught.value.message
    assert caught.value.position == 7


def test_template_limits():
    assert render("x" * MAX_TEMPLATE_LENGTH, {}) == "x" * MAX_TEMPLATE_LENGTH
    with pytest.raises(TemplateError) as caught:
        compile_template("x" * (MAX_TEMPLATE_LENGTH + 1))
    assert caught.value.position == MAX_TEMPLATE_LENGTH
    # The rendered text is bounded too, wherever its size comes from.
    with pytest.raises(TemplateError):
        render("${a}${a}", {"a": "y" * 60_000})
    with pytest.raises(TemplateError):
        render("${a}", {"a": list(range(50_000))})
    assert render("${a}", {"a": "y" * 60_000}) == "y" * 60_000


def test_placeholder_expression_length_limit():
    name = "a" * 2000
    assert render("${" + name + "}", {name: "ok"}) == "ok"
    with pytest.raises(TemplateError) as caught:
        compile_template("Hi ${" + name + "a}")
    assert "longer than 2000" in caught.value.message
    assert caught.value.position == 5
    with pytest.raises(TemplateError):
        compile_template("Hi ${'" + "x" * 3000 + "'}")
