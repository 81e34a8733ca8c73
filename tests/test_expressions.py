"""Tests for voxology_fs.flow.expressions.

The bulk of the JavaScript semantics is checked against
tests/data/js_expressions.json, whose results were produced by node (see
scripts/gen_js_expression_table.py); the rest covers errors, limits and the
places where we deliberately differ from JavaScript.
"""

from __future__ import annotations

import builtins
import copy
import json
import math
import pathlib
import pickle
import time

import pytest

from voxology_fs.flow import expressions
from voxology_fs.flow.expressions import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SOURCE_LENGTH,
    MAX_STRING_LENGTH,
    UNDEFINED,
    Expression,
    ExpressionError,
    evaluate,
    loose_equals,
    parse,
    strict_equals,
    to_js_string,
    to_number,
    truthy,
)

TABLE_PATH = pathlib.Path(__file__).parent / "data" / "js_expressions.json"
TABLE = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
SPECIALS = {
    "undefined": UNDEFINED,
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
    "-0": -0.0,
}


def js_typeof(value):
    """JavaScript typeof for our Python values."""
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"  # null, arrays, objects


def decode(result):
    if isinstance(result, dict) and set(result) == {"special"}:
        return SPECIALS[result["special"]]
    return result


def same_js_value(actual, expected) -> bool:
    if js_typeof(actual) != js_typeof(expected):
        return False
    if js_typeof(actual) == "number":
        actual, expected = float(actual), float(expected)
        if math.isnan(expected):
            return math.isnan(actual)
        return actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
    if expected is UNDEFINED:
        return actual is UNDEFINED
    return actual == expected


def lookup_from(variables):
    return lambda name: variables.get(name, UNDEFINED)


# ---------------------------------------------------------------------------
# The node-generated table
# ---------------------------------------------------------------------------


def test_table_is_large_enough():
    assert len(TABLE) >= 150
    assert all(set(case) == {"expr", "vars", "result", "type"} for case in TABLE)


@pytest.mark.parametrize("case", TABLE, ids=[f"{index}:{case['expr']}" for index, case in enumerate(TABLE)])
def test_matches_javascript(case):
    expression = parse(case["expr"])
    actual = expression.evaluate(lookup_from(case["vars"]))
    expected = decode(case["result"])
    assert js_typeof(actual) == case["type"], (actual, case)
    assert same_js_value(actual, expected), (actual, case)


def test_table_cases_reference_only_their_variables():
    for case in TABLE:
        assert set(case["vars"]) <= parse(case["expr"]).variables, case


# ---------------------------------------------------------------------------
# Product examples and public API
# ---------------------------------------------------------------------------

PRODUCT_CONDITION = "$keyPresses == '1' && $sessionData.gender == 'male' || $sessionData.age > 21"


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"keyPresses": "1", "sessionData": {"gender": "male", "age": 18}}, True),
        ({"keyPresses": "1", "sessionData": {"gender": "female", "age": 18}}, False),
        ({"keyPresses": "9", "sessionData": {"gender": "female", "age": 22}}, True),
        ({"keyPresses": "9"}, False),  # no sessionData at all: no error, just false
    ],
)
def test_product_condition(variables, expected):
    assert truthy(evaluate(PRODUCT_CONDITION, variables)) is expected


def test_key_presses_loosely_equal_to_number():
    assert evaluate("$keyPresses == $sessionData.number", {"keyPresses": "42", "sessionData": {"number": 42}}) is True


def test_variables_lists_root_names():
    expression = parse("$a.b[c] + d['e'] || $a ? f : 'g'.length")
    assert expression.variables == frozenset({"a", "c", "d", "f"})
    assert parse("'x' + 1").variables == frozenset()
    assert parse(PRODUCT_CONDITION).variables == {"keyPresses", "sessionData"}


def test_dollar_and_bare_names_are_the_same_variable():
    assert evaluate("$name === name", {"name": "x"}) is True
    assert parse("$name + name").variables == {"name"}
    # '$' always names a variable, even for words that are literals when bare.
    assert evaluate("$true", {"true": "yes"}) == "yes"
    assert evaluate("true", {"true": "yes"}) is True
    assert evaluate("$$x", {"$x": 1}) == 1


def test_expression_is_immutable_and_reusable():
    expression = parse("$n * 2")
    assert isinstance(expression, Expression)
    with pytest.raises(AttributeError):
        expression.source = "other"
    with pytest.raises(AttributeError):
        del expression.variables
    assert expression.evaluate({"n": 2}) == 4
    assert expression.evaluate({"n": 5}) == 10
    assert repr(expression) == "Expression('$n * 2')"


def test_evaluate_accepts_text_or_expression_and_callable_or_mapping():
    expression = parse("a + 1")
    assert evaluate(expression, {"a": 1}) == 2
    assert evaluate("a + 1", lambda name: 41) == 42
    assert evaluate("a", {}) is UNDEFINED


def test_lookup_called_once_per_variable():
    calls = []

    def lookup(name):
        calls.append(name)
        return [1]  # a fresh list on every call

    # Cached per evaluation, so identity comparisons stay consistent.
    assert parse("$a == $a && a === a").evaluate(lookup) is True
    assert calls == ["a"]


def test_short_circuit_skips_lookups():
    calls = []

    def lookup(name):
        calls.append(name)
        return {"first": 1, "second": 2}[name]

    assert evaluate("first || second", lookup) == 1
    assert calls == ["first"]


def test_results_are_ints_when_whole():
    assert type(evaluate("1 + 2", {})) is int
    assert type(evaluate("10 / 4", {})) is float
    assert evaluate("$t / 1000", {"t": 5000}) == 5 and type(evaluate("$t / 1000", {"t": 5000})) is int
    negative_zero = evaluate("-0", {})
    assert negative_zero == 0 and math.copysign(1, negative_zero) == -1
    assert type(evaluate("1e300", {})) is float  # beyond 2**53 whole numbers stay floats


def test_values_are_returned_as_is():
    data = {"tags": ["a"]}
    assert evaluate("d.tags", {"d": data}) is data["tags"]
    assert evaluate("d || 1", {"d": data}) is data


# ---------------------------------------------------------------------------
# Conversions
# ---------------------------------------------------------------------------


def test_undefined_sentinel():
    assert repr(UNDEFINED) == "undefined"
    assert not UNDEFINED
    assert type(UNDEFINED)() is UNDEFINED
    assert copy.deepcopy(UNDEFINED) is UNDEFINED
    assert pickle.loads(pickle.dumps(UNDEFINED)) is UNDEFINED


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", False), ("0", True), (" ", True), ("false", True),
        (0, False), (0.0, False), (-0.0, False), (math.nan, False), (1, True), (-1.5, True),
        ([], True), ({}, True), (None, False), (UNDEFINED, False),
        (True, True), (False, False), (math.inf, True),
    ],
)  # fmt: skip
def test_truthy(value, expected):
    assert truthy(value) is expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (21, "21"), (21.0, "21"), (1.5, "1.5"), (-0.0, "0"), (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"), (0.000001, "0.000001"),
        (1.5e-10, "1.5e-10"), (123e-20, "1.23e-18"), (2**53 + 1, "9007199254740992"),
        (10**400, "Infinity"), (math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"),
        (True, "true"), (False, "false"), (None, "null"), (UNDEFINED, "undefined"),
        ("text", "text"), ([1, "a", None, UNDEFINED, [2, 3]], "1,a,,,2,3"), ([], ""),
        ({"a": 1}, "[object Object]"), ([{"a": 1}], "[object Object]"), ((1, 2), "1,2"),
    ],
)  # fmt: skip
def test_to_js_string(value, expected):
    assert to_js_string(value) == expected


def test_to_js_string_of_cyclic_array_is_like_javascript():
    cyclic = [1, 2]
    cyclic.append(cyclic)
    assert to_js_string(cyclic) == "1,2,"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", 0), (" 42 ", 42), ("0x1A", 26), ("0b11", 3), ("0o17", 15), ("abc", math.nan),
        ("1e3", 1000), ("\u00a0 7 \ufeff", 7), ("nan", math.nan), ("inf", math.nan),
        ("1_000", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf), ("\u0663", math.nan),
        (None, 0), (UNDEFINED, math.nan), (True, 1), (False, 0), ([], 0), ([5], 5),
        (["7"], 7), ([1, 2], math.nan), ({}, math.nan), (2**1100, math.inf),
    ],
)  # fmt: skip
def test_to_number(value, expected):
    result = to_number(value)
    assert type(result) is float
    assert (math.isnan(result) and math.isnan(expected)) or result == expected


def test_booleans_are_not_numbers():
    # Python's bool subclasses int; JavaScript's booleans are their own type.
    assert strict_equals(True, 1) is False
    assert loose_equals(True, 1) is True
    assert evaluate("$t === 1", {"t": True}) is False
    assert evaluate("$one === true", {"one": 1}) is False
    assert evaluate("$t + 1", {"t": True}) == 2
    assert evaluate("$t + ''", {"t": True}) == "true"
    assert evaluate("$t", {"t": False}) is False
    assert evaluate("-$t", {"t": True}) == -1


def test_identity_equality_for_objects():
    a, b = {"x": 1}, {"x": 1}
    assert evaluate("a == b", {"a": a, "b": b}) is False
    assert evaluate("a == b", {"a": a, "b": a}) is True
    assert evaluate("a === b", {"a": [1], "b": [1]}) is False


def test_utf16_ordering_and_length():
    # U+1F600 is the surrogate pair D83D DE00, which sorts below U+FFFF in JS.
    assert evaluate("a < b", {"a": "\U0001f600", "b": "\uffff"}) is True
    assert evaluate("a.length", {"a": "a\U0001f600"}) == 3
    assert evaluate("a[1]", {"a": "a\U0001f600"}) == "\ud83d"
    assert evaluate("a[1]", {"a": "héllo"}) == "é"


def test_member_access_on_null_and_undefined_is_undefined():
    # Deliberate difference: JavaScript throws a TypeError here.
    assert evaluate("$sessionData.address.city", {}) is UNDEFINED
    assert evaluate("$sessionData.address.city", {"sessionData": {"address": None}}) is UNDEFINED
    assert evaluate("null.x", {}) is UNDEFINED
    assert evaluate("undefined[0]", {}) is UNDEFINED
    assert evaluate("$x.y == 'a' || 'fallback'", {}) == "fallback"


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("a[-1]", UNDEFINED), ("a['01']", UNDEFINED), ("a[1]", 2), ("a['1']", 2), ("a[3]", UNDEFINED),
        ("a.push", UNDEFINED), ("o.toString", UNDEFINED), ("o.constructor", UNDEFINED),
        ("o[1]", "one"), ("o[true]", "yes"), ("o[null]", "nothing"), ("o[a]", "list"),
        ("n.length", UNDEFINED), ("b.x", UNDEFINED), ("t.length", ("a", "b")),
    ],
)  # fmt: skip
def test_member_access_rules(expr, expected):
    variables = {
        "a": [1, 2, 3],
        "o": {"1": "one", "true": "yes", "null": "nothing", "1,2,3": "list"},
        "n": 5,
        "b": True,
        "t": {"length": ("a", "b")},
    }
    assert evaluate(expr, variables) == expected


def test_unknown_python_objects_are_opaque_objects():
    marker = object()
    assert evaluate("x + ''", {"x": marker}) == "[object Object]"
    assert evaluate("x.y", {"x": marker}) is UNDEFINED
    assert evaluate("x == x", {"x": marker}) is True
    assert truthy(marker)


# ---------------------------------------------------------------------------
# Syntax errors
# ---------------------------------------------------------------------------


def test_error_message_and_position():
    with pytest.raises(ExpressionError) as caught:
        parse("$callTime > 10)")
    assert caught.value.message == "unexpected ')'"
    assert caught.value.position == 14
    assert str(caught.value) == "unexpected ')' at 14"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "source, position, fragment",
    [
        ("", 0, "empty expression"),
        ("   ", 3, "empty expression"),
        ("a +", 3, "unexpected end of expression"),
        ("(a", 2, "expected ')'"),
        ("a[1", 3, "expected ']'"),
        ("a.", 2, "expected a property name"),
        ("a.1", 1, "unexpected number .1"),
        ("a b", 2, "unexpected 'b'"),
        ("1 ? 2", 5, "expected ':'"),
        ("a = 1", 2, "assignment is not supported"),
        ("a & b", 2, "did you mean '&&'"),
        ("a | b", 2, "did you mean '||'"),
        ("a++", 1, "'++' is not supported"),
        ("a--b", 1, "'--' is not supported"),
        ("2 ** 3", 2, "'**' is not supported"),
        ("a ?? b", 2, "'??' is not supported"),
        ("f(1)", 1, "function calls are not supported"),
        ("typeof a", 0, "'typeof' is not supported"),
        ("new Date", 0, "'new' is not supported"),
        ("this", 0, "'this' is not supported"),
        ("$", 0, "expected a variable name"),
        ("010", 0, "leading zeros"),
        ("3in", 1, "after number"),
        ("'abc", 0, "unterminated string"),
        ("'a\nb'", 0, "unterminated string"),
        ("'\\x4'", 1, "invalid \\x escape"),
        ("'\\u12'", 1, "invalid \\u escape"),
        ("'\\u{110000}'", 1, "invalid \\u{...} escape"),
        ("'\\1'", 1, "octal escapes"),
        ("`a`", 0, "template literals"),
        ("[1, 2]", 0, "unexpected '['"),
        ("{a: 1}", 0, "unexpected '{'"),
        ("a }", 2, "unexpected '}'"),
        ("a # b", 2, "unexpected character '#'"),
        ("a; b", 1, "unexpected ';'"),
        ("a, b", 1, "unexpected ','"),
        ("caf\u00e9", 3, "unexpected character"),
    ],
)
def test_syntax_errors(source, position, fragment):
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert caught.value.position == position, str(caught.value)
    assert fragment in caught.value.message


def test_string_escapes():
    assert evaluate(r"'a\'b' + " + r'"\"" + ' + r"'\\\n\t\r\b\f\v\0'", {}) == "a'b\"\\\n\t\r\b\f\v\0"
    assert evaluate(r"'\x41\u0042\u{43}\u{1F600}\q'", {}) == "ABC\U0001f600q"
    assert evaluate(r"'\uD83D\uDE00'", {}) == "\U0001f600"
    assert evaluate("'line\\\ncontinued'", {}) == "linecontinued"


def test_numbers():
    assert evaluate("0x1A", {}) == 26
    assert evaluate("0B101 + 0O17", {}) == 20
    assert evaluate(".5", {}) == 0.5
    assert evaluate("5.", {}) == 5
    assert evaluate("1e3", {}) == 1000
    assert evaluate("1e999", {}) == math.inf
    assert evaluate("0.5", {}) == 0.5
    assert evaluate("0", {}) == 0


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "__import__('os').system('echo hi')",
        "().__class__.__bases__[0].__subclasses__()",
        "open('/etc/passwd').read()",
        "lambda: 1",
        "[x for x in range(10)]",
        "eval('1')",
        "exec('import os')",
        "1 if True else 2",
        "a.__class__()",
        "print(1)",
        "not a",
        "a and b",
    ],
)
def test_python_code_is_not_an_expression(source):
    with pytest.raises(ExpressionError):
        parse(source)


def test_dunder_names_are_plain_keys():
    # Attribute-looking access only ever reads dict keys.
    assert evaluate("a.__class__", {"a": {}}) is UNDEFINED
    assert evaluate("a.__class__", {"a": {"__class__": 1}}) == 1
    assert evaluate("__import__", {}) is UNDEFINED


def test_never_uses_python_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must not be used")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", forbidden)
    for case in TABLE:
        expected = decode(case["result"])
        assert same_js_value(parse(case["expr"]).evaluate(lookup_from(case["vars"])), expected)
    source = pathlib.Path(expressions.__file__).read_text(encoding="utf-8")
    for name in ("eval(", "exec(", "__import__", "getattr(", "builtins"):
        assert name not in source


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------


def test_source_length_limit():
    assert parse("a" * MAX_SOURCE_LENGTH).variables == {"a" * MAX_SOURCE_LENGTH}
    with pytest.raises(ExpressionError) as caught:
        parse("a" * (MAX_SOURCE_LENGTH + 1))
    assert "longer than 2000" in caught.value.message
    assert caught.value.position == MAX_SOURCE_LENGTH


def test_nesting_limit():
    ok = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert evaluate(ok, {}) == 1
    with pytest.raises(ExpressionError) as caught:
        parse("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert "nested more than 50" in caught.value.message
    assert caught.value.position == MAX_DEPTH + 1
    assert evaluate("!" * MAX_DEPTH + "1", {}) is True
    with pytest.raises(ExpressionError):
        parse("!" * (MAX_DEPTH + 1) + "1")
    with pytest.raises(ExpressionError):
        parse("a[" * 60 + "1" + "]" * 60)
    with pytest.raises(ExpressionError):
        parse("a ? b : " * 60 + "c")


def test_node_limit():
    # 250 operands + 249 operators = 499 nodes
    assert MAX_NODES == 500
    assert evaluate("a+" * 249 + "a", {"a": 1}) == 250
    with pytest.raises(ExpressionError) as caught:
        parse("a+" * 250 + "a")
    assert "more than 500" in caught.value.message


def test_long_flat_conditions_are_fine():
    # Chains of one operator do not count as nesting.
    clauses = " || ".join(f"$k == '{digit % 10}'" for digit in range(120))
    assert len(clauses) < MAX_SOURCE_LENGTH
    assert evaluate(clauses, {"k": "9"}) is True
    assert evaluate(clauses, {"k": "x"}) is False


def test_string_concatenation_limit():
    text = "x" * 60_000
    with pytest.raises(ExpressionError) as caught:
        evaluate("$s + '-' + $s", {"s": text})
    assert "longer than 100000" in caught.value.message
    assert caught.value.position == 9  # the second '+'
    assert len(evaluate("$s + $s", {"s": "x" * (MAX_STRING_LENGTH // 2)})) == MAX_STRING_LENGTH


def test_array_to_string_limit():
    with pytest.raises(ExpressionError) as caught:
        evaluate("a == 'x'", {"a": [None] * 200_000})
    assert caught.value.position == 2
    with pytest.raises(ExpressionError):
        to_js_string(list(range(100_000)))


def test_deeply_nested_values_do_not_recurse_forever():
    deep: list = []
    current = deep
    for _ in range(5000):
        current.append([])
        current = current[0]
    with pytest.raises(ExpressionError) as caught:
        evaluate("a + ''", {"a": deep})
    assert "nested too deeply" in caught.value.message


def test_pathological_inputs_are_fast():
    sources = [
        "(" * 2000,
        "'" + "\\\\" * 999,
        "a." * 999 + "a",
        "-" * 2000,
        "- " * 1000,
        "1" * 2000,
        "a[" * 50 + "]" * 50,
        "'" + "x" * 1998 + "'",
        "!" * 2000,
    ]
    start = time.perf_counter()
    for source in sources:
        try:
            parse(source)
        except ExpressionError:
            pass
    assert time.perf_counter() - start < 1.0


def test_huge_variable_values_are_cheap_to_use():
    digits = "1" * 1_000_000
    start = time.perf_counter()
    assert evaluate("+s", {"s": digits}) == math.inf
    assert evaluate("s == 1", {"s": "0x" + "f" * 100_000}) is False
    assert evaluate("s.length", {"s": digits}) == 1_000_000
    assert evaluate("s < 't'", {"s": digits}) is True
    assert time.perf_counter() - start < 2.0
