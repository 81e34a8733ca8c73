#!/usr/bin/env python3
"""Regenerate tests/data/js_expressions.json by asking node what JavaScript says.

The expression language of voxology_fs.flow.expressions promises JavaScript
semantics. This script holds a list of cases (expression + variables), runs
each one through node, and writes the results so that the Python tests can
check our evaluator against real JavaScript without needing node in CI.

How node evaluates a case: the expression is compiled with
``new Function('scope', 'with (scope) { return (EXPR); }')`` where ``scope``
is a Proxy that binds every identifier to the case's variables, with or
without a leading ``$`` (``$name`` and ``name`` read the same variable), and
binds unknown names to ``undefined`` -- the same rules as our language.
``undefined``, ``NaN`` and ``Infinity`` fall through to the JavaScript
globals.

Values JSON cannot hold are written as ``{"special": "undefined" | "NaN" |
"Infinity" | "-Infinity" | "-0"}`` (so no case may return an object of that
shape). ``type`` is JavaScript's ``typeof`` of the result.

Every expression must also parse in our language; the script checks that.

Usage::

    python scripts/gen_js_expression_table.py          # rewrite the table
    python scripts/gen_js_expression_table.py --check  # fail if it is stale
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "js_expressions.json"

SESSION = {
    "gender": "male",
    "age": 30,
    "firstName": "Ann",
    "lastName": "Lee",
    "number": 42,
    "tags": ["vip", "new", "es"],
    "idx": 2,
    "address": {"city": "Paris", "zip": "75001"},
    "nothing": None,
    "first name": "Ann Marie",
}
# Shared variables for the general cases.
V = {
    "sessionData": SESSION,
    "keyPresses": "1",
    "callTime": 5234,
    "arr": [1, 2, 3],
    "arr2": [1, 2, 3],
    "arr1": [5],
    "one": [1],
    "empty": [],
    "emptyObj": {},
    "obj": {"a": 1, "1": "one"},
    "obj2": {"a": 1, "1": "one"},
    "nested": [1, [2, [3]], None],
    "matrix": [[1, 2], [3, 4]],
    "str": "hello",
    "n": 42,
    "s": "42.0",
    "flag": True,
    "name": "Bob",
    "list": [{"name": "first"}],
    "deep": {"a": {"b": {"c": {"d": "deep"}}}},
    "big": 9007199254740993,
    "zero": 0,
    "neg": -7,
    "fl": 2.5,
    "blank": "",
}

PRODUCT_CONDITION = "$keyPresses == '1' && $sessionData.gender == 'male' || $sessionData.age > 21"


def session(**fields):
    return {"sessionData": fields}


# (expression, variables)
CASES: list[tuple[str, dict]] = [
    # --- the product documentation's examples ---------------------------
    ("$keyPresses == '1'", {"keyPresses": "1"}),
    ("$keyPresses == '1'", {"keyPresses": "2"}),
    ("$keyPresses == '1'", {"keyPresses": 1}),
    ("$keyPresses == '1'", {}),
    (PRODUCT_CONDITION, {"keyPresses": "1", **session(gender="male", age=18)}),
    (PRODUCT_CONDITION, {"keyPresses": "1", **session(gender="female", age=18)}),
    (PRODUCT_CONDITION, {"keyPresses": "2", **session(gender="male", age=30)}),
    (PRODUCT_CONDITION, {"keyPresses": "2", **session(gender="female", age=21)}),
    (PRODUCT_CONDITION, {"keyPresses": "2", **session(gender="male", age="22")}),
    (PRODUCT_CONDITION, {"keyPresses": "1", **session(gender="male")}),
    (PRODUCT_CONDITION, {"keyPresses": "3", **session()}),
    (PRODUCT_CONDITION, {"keyPresses": 1, **session(gender="male", age=None)}),
    ("$keyPresses == $sessionData.number", {"keyPresses": "42", **session(number=42)}),
    ("$keyPresses == $sessionData.number", {"keyPresses": "042", **session(number=42)}),
    ("$keyPresses == $sessionData.number", {"keyPresses": " 42.0 ", **session(number=42)}),
    ("$keyPresses == $sessionData.number", {"keyPresses": "4", **session(number=42)}),
    ("$keyPresses === $sessionData.number", {"keyPresses": "42", **session(number=42)}),
    ("$keyPresses == keyPresses", V),
    ("$keyPresses == '1' ? 'sales' : 'support'", V),
    ("'Hello, ' + $sessionData.firstName + '. This call lasted ' + callTime + ' milliseconds.'", V),
    ("$callTime / 1000", V),
    # --- arithmetic ------------------------------------------------------
    ("1 + 2", {}),
    ("0.1 + 0.2", {}),
    ("7 / 2", {}),
    ("1 / 0", {}),
    ("-1 / 0", {}),
    ("0 / 0", {}),
    ("1 / -0", {}),
    ("$zero / $zero", V),
    ("$neg / 0", V),
    ("5 % 3", {}),
    ("-5 % 3", {}),
    ("5 % -3", {}),
    ("5.5 % 2", {}),
    ("5 % 0", {}),
    ("-4 % 2", {}),
    ("0 % 5", {}),
    ("Infinity % 2", {}),
    ("5 % Infinity", {}),
    ("2 * 3 + 4", {}),
    ("2 + 3 * 4", {}),
    ("(2 + 3) * 4", {}),
    ("10 - 2 - 3", {}),
    ("100 / 10 / 2", {}),
    ("2 * 3 % 4", {}),
    ("0.1 * 3", {}),
    ("1e308 * 10", {}),
    ("-1e308 * 10", {}),
    ("Infinity - Infinity", {}),
    ("Infinity * 0", {}),
    ("9007199254740992 + 1", {}),
    ("$big + 1", V),
    ("0x1A + 1", {}),
    ("0b101 + 0o17", {}),
    (".5 + 1.", {}),
    ("1e3 - 1E-3", {}),
    ("'6' * '7'", {}),
    ("'10' - 3", {}),
    ("'10' / '4'", {}),
    ("'abc' * 2", {}),
    ("null * 5", {}),
    ("undefined * 5", {}),
    ("true * 5", {}),
    ("$arr1 * 2", V),
    ("$empty - 1", V),
    ("$fl * 2", V),
    # --- number to string --------------------------------------------------
    ("1e21 + ''", {}),
    ("1e20 + ''", {}),
    ("1e-7 + ''", {}),
    ("0.000001 + ''", {}),
    ("1.5e-7 + ''", {}),
    ("123456789012345680000 + ''", {}),
    ("1 / 3 + ''", {}),
    ("-0 + ''", {}),
    ("0.1 * 3 + ''", {}),
    ("2.5e+25 + ''", {}),
    ("-1.5 + ''", {}),
    ("100 + ''", {}),
    ("'v' + 1e100", {}),
    ("'v' + NaN", {}),
    ("'v' + -Infinity", {}),
    ("'v' + $big", V),
    # --- strings and concatenation ------------------------------------------
    ("'a' + 'b'", {}),
    ("\"double\" + 'single'", {}),
    (r"'it\'s'", {}),
    (r"'tab\tsep'", {}),
    (r"'\x41\u0042\u{43}'", {}),
    (r"'\u{1F600}'.length", {}),
    (r"'\uD83D\uDE00' === '\u{1F600}'", {}),
    (r"'\u{1F600}' > '\uFFFF'", {}),
    (r"'\u{1F600}'[0] === '\uD83D'", {}),
    ("'n' + 1", {}),
    ("1 + 'n'", {}),
    ("1 + 2 + '3'", {}),
    ("'1' + 2 + 3", {}),
    ("2 + 3 + '4' + 5", {}),
    ("'a' + null", {}),
    ("'a' + undefined", {}),
    ("'a' + true", {}),
    ("'a' + false", {}),
    ("null + 1", {}),
    ("undefined + 1", {}),
    ("true + 1", {}),
    ("true + true", {}),
    ("null + null", {}),
    ("'x' + $arr", V),
    ("$arr + 1", V),
    ("$obj + ''", V),
    ("$empty + 1", V),
    ("$empty + $empty", V),
    ("$nested + ''", V),
    ("$matrix + ''", V),
    ("'v' + 1.5", {}),
    ("'v' + -0", {}),
    ("$missing + ''", {}),
    ("$missing + 1", {}),
    ("sessionData.firstName + ' ' + sessionData.lastName", V),
    # --- unary ---------------------------------------------------------------
    ("-'5'", {}),
    ("-''", {}),
    ("-'abc'", {}),
    ("+'  42  '", {}),
    ("+'0x1A'", {}),
    ("+'0X1a'", {}),
    ("+'-0x1A'", {}),
    ("+'0b11'", {}),
    ("+'1e3'", {}),
    ("+'1,000'", {}),
    ("+'1_000'", {}),
    ("+'.5'", {}),
    ("+'5.'", {}),
    ("+'Infinity'", {}),
    ("+'-Infinity'", {}),
    ("+'infinity'", {}),
    (r"+' \n\t '", {}),
    ("+$arr1", V),
    ("+$empty", V),
    ("+$arr", V),
    ("+$obj", V),
    ("+null", {}),
    ("+undefined", {}),
    ("+true", {}),
    ("-true", {}),
    ("-(-5)", {}),
    ("- -5", {}),
    ("-$zero", V),
    ("!0", {}),
    ("!1", {}),
    ("!''", {}),
    ("!'0'", {}),
    ("!' '", {}),
    ("!NaN", {}),
    ("!null", {}),
    ("!undefined", {}),
    ("!$empty", V),
    ("!$emptyObj", V),
    ("!!'false'", {}),
    ("!-0", {}),
    ("!$missing", {}),
    # --- truthiness through || and && -----------------------------------------
    ("'' || 'default'", {}),
    ("'0' || 'default'", {}),
    ("0 || 'default'", {}),
    ("NaN || 'default'", {}),
    ("$empty || 'default'", V),
    ("$emptyObj || 'default'", V),
    ("null || undefined", {}),
    ("undefined || null", {}),
    ("1 && 2", {}),
    ("0 && 2", {}),
    ("'a' && ''", {}),
    ("$missing || 'caller'", {}),
    ("$name || 'caller'", V),
    ("$blank || 'caller'", V),
    ("$sessionData.nothing && 'x'", V),
    ("$arr && $arr.length", V),
    # --- equality -----------------------------------------------------------
    ("null == undefined", {}),
    ("null === undefined", {}),
    ("null == 0", {}),
    ("undefined == 0", {}),
    ("undefined == null", {}),
    ("undefined === undefined", {}),
    ("'' == 0", {}),
    ("'' == '0'", {}),
    ("'0' == false", {}),
    ("'1' == true", {}),
    ("'2' == true", {}),
    ("'true' == true", {}),
    ("0 == false", {}),
    ("false == ''", {}),
    ("null == false", {}),
    ("undefined == false", {}),
    ("NaN == NaN", {}),
    ("NaN != NaN", {}),
    ("NaN === NaN", {}),
    ("0 === -0", {}),
    ("1 === 1.0", {}),
    ("'1' === 1", {}),
    ("'1' !== 1", {}),
    ("'abc' == 'abc'", {}),
    ("' \\t ' == 0", {}),
    ("'0x10' == 16", {}),
    ("'1e1' == 10", {}),
    ("true === 1", {}),
    ("true == 1", {}),
    ("$arr == '1,2,3'", V),
    ("$arr == $arr", V),
    ("$arr === $arr", V),
    ("$arr == $arr2", V),
    ("$arr != $arr2", V),
    ("$empty == ''", V),
    ("$empty == 0", V),
    ("$empty == false", V),
    ("$empty == null", V),
    ("$arr1 == 5", V),
    ("$arr1 == '5'", V),
    ("$arr1 == true", V),
    ("$one == true", V),
    ("$obj == '[object Object]'", V),
    ("$obj == $obj", V),
    ("$obj == $obj2", V),
    ("$obj != null", V),
    ("$obj == true", V),
    ("$n == '42'", V),
    ("$s == 42", V),
    ("$flag == 'true'", V),
    ("$flag == 1", V),
    ("$flag === true", V),
    ("$missing == null", {}),
    ("$missing === undefined", {}),
    ("$missing == 0", {}),
    # --- relational -----------------------------------------------------------
    ("'10' < '9'", {}),
    ("'10' < 9", {}),
    ("10 < '9'", {}),
    ("'a' < 'b'", {}),
    ("'B' < 'a'", {}),
    ("'abc' < 'abd'", {}),
    ("'ab' < 'abc'", {}),
    ("'' < 'a'", {}),
    ("'Z' < 'a'", {}),
    ("'\u00e9' > 'z'", {}),
    ("2 < 10", {}),
    ("'2' < '10'", {}),
    ("'x' < 1", {}),
    ("'x' >= 1", {}),
    ("NaN <= NaN", {}),
    ("undefined < 1", {}),
    ("undefined >= 0", {}),
    ("null < 1", {}),
    ("null >= 0", {}),
    ("null > 0", {}),
    ("null <= 0", {}),
    ("true > false", {}),
    ("$arr1 > 4", V),
    ("$arr > 0", V),
    ("$empty < 1", V),
    ("1 <= 1", {}),
    ("1 >= 2", {}),
    ("Infinity > 1e308", {}),
    ("-Infinity < -1e308", {}),
    ("$sessionData.age >= '30'", V),
    ("$missing < 1", {}),
    # --- precedence and grouping ------------------------------------------------
    ("1 + 2 * 3 == 7 && !false", {}),
    ("true || false && false", {}),
    ("(true || false) && false", {}),
    ("false && true || true", {}),
    ("1 < 2 == true", {}),
    ("3 > 2 > 1", {}),
    ("1 == 1 == 1", {}),
    ("1 - -1", {}),
    ("-2 * -3", {}),
    ("!1 + 1", {}),
    ("-'2' + '3'", {}),
    ("!!'' == false", {}),
    ("1 + 2 < 4 === true", {}),
    ("((1 + 2) * (3 + 4)) % 5", {}),
    ("1 ? 2 : 3 ? 4 : 5", {}),
    ("0 ? 2 : 3 ? 4 : 5", {}),
    ("0 ? 1 : 0 ? 2 : 3", {}),
    ("1 + 1 ? 'y' : 'n'", {}),
    ("true ? 1 : 0 + 10", {}),
    ("false ? 1 : 0 + 10", {}),
    ("1 || 2 ? 'a' : 'b'", {}),
    ("0 && 1 ? 'a' : 'b'", {}),
    # --- member access ------------------------------------------------------------
    ("$sessionData.address.city", V),
    ("$sessionData['address']['city']", V),
    ("sessionData.address['zip']", V),
    ("$sessionData.tags[0]", V),
    ("$sessionData.tags[1 + 1]", V),
    ("$sessionData.tags.length", V),
    ("$sessionData.tags[$sessionData.idx]", V),
    ("$sessionData.tags[5]", V),
    ("$sessionData.tags[-1]", V),
    ("$sessionData.tags['1']", V),
    ("$sessionData.tags[1.0]", V),
    ("$sessionData.tags[1.5]", V),
    ("$sessionData.missing", V),
    ("$sessionData.missing === undefined", V),
    ("$sessionData.nothing == null", V),
    ("$sessionData.nothing === null", V),
    ("$sessionData['first name']", V),
    ("$obj['1']", V),
    ("$obj[1]", V),
    ("$obj.a", V),
    ("$matrix[1][0]", V),
    ("$matrix[1]", V),
    ("$sessionData.tags.length > 2", V),
    ("$str.length", V),
    ("$str[0]", V),
    ("$str[10]", V),
    ("$sessionData.age.length", V),
    ("$sessionData.gender.length", V),
    ("$list[0].name", V),
    ("'abc'.length + 1", {}),
    ("'abc'[1]", {}),
    ("'abc'['length']", {}),
    ("$arr.length === 3", V),
    ("$deep.a.b.c.d", V),
    ("$deep['a'].b['c'].d.length", V),
    ("$empty.length", V),
    ("$emptyObj.length", V),
    ("$sessionData", V),
    ("$arr", V),
    # --- missing variables --------------------------------------------------------
    ("$missing", {}),
    ("missing", {}),
    ("missing == undefined", {}),
    ("$missing || $alsoMissing", {}),
]


NODE_PROGRAM = r"""
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const PASS_THROUGH = new Set(['undefined', 'NaN', 'Infinity']);

function encode(value) {
  if (value === undefined) return {special: 'undefined'};
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return {special: 'NaN'};
    if (value === Infinity) return {special: 'Infinity'};
    if (value === -Infinity) return {special: '-Infinity'};
    if (Object.is(value, -0)) return {special: '-0'};
  }
  return value;
}

const results = cases.map(({expr, vars}, index) => {
  // Every identifier is a variable, with or without '$'; unknown ones are undefined.
  const scope = new Proxy({}, {
    has: (target, key) => typeof key === 'string' && !PASS_THROUGH.has(key),
    get: (target, key) => {
      if (typeof key !== 'string') return undefined;
      const name = key.startsWith('$') ? key.slice(1) : key;
      return Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined;
    },
  });
  let value;
  try {
    value = new Function('scope', 'with (scope) { return (' + expr + '\n); }')(scope);
  } catch (error) {
    return {error: `case ${index} ${JSON.stringify(expr)}: ${error}`};
  }
  return {result: encode(value), type: typeof value};
});
process.stdout.write(JSON.stringify(results));
"""


def run_node(cases: list[tuple[str, dict]]) -> list[dict]:
    payload = json.dumps([{"expr": expr, "vars": variables} for expr, variables in cases])
    completed = subprocess.run(
        ["node", "-e", NODE_PROGRAM],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def check_our_syntax(cases: list[tuple[str, dict]]) -> list[str]:
    """Every case must be valid in our language too."""
    sys.path.insert(0, str(ROOT))
    from voxology_fs.flow.expressions import ExpressionError, parse

    problems = []
    for expr, _ in cases:
        try:
            parse(expr)
        except ExpressionError as error:
            problems.append(f"{expr!r}: {error}")
    return problems


def only_referenced(cases: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Keep just the variables each expression reads, so the table stays readable."""
    from voxology_fs.flow.expressions import parse

    return [
        (expr, {name: value for name, value in variables.items() if name in parse(expr).variables})
        for expr, variables in cases
    ]


def build_table() -> str:
    problems = check_our_syntax(CASES)
    if problems:
        raise SystemExit("invalid cases:\n  " + "\n  ".join(problems))
    cases = only_referenced(CASES)
    results = run_node(cases)
    problems += [entry["error"] for entry in results if "error" in entry]
    if problems:
        raise SystemExit("invalid cases:\n  " + "\n  ".join(problems))
    rows = [
        {"expr": expr, "vars": variables, "result": entry["result"], "type": entry["type"]}
        for (expr, variables), entry in zip(cases, results, strict=True)
    ]
    # One case per line keeps diffs readable; ASCII-only keeps lone surrogates safe.
    return "[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed table is out of date")
    arguments = parser.parse_args()
    table = build_table()
    if arguments.check:
        current = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
        if current != table:
            print(f"{TABLE.relative_to(ROOT)} is out of date; run {__file__}", file=sys.stderr)
            return 1
        print(f"{TABLE.relative_to(ROOT)} is up to date ({len(CASES)} cases)")
        return 0
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(table, encoding="utf-8")
    print(f"wrote {len(CASES)} cases to {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
