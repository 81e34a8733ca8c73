"""Safe, JavaScript-compatible expressions for call-flow conditions.

Customers write conditions in their JSON call flows, for example::

    $keyPresses == '1' && $sessionData.gender == 'male' || $sessionData.age > 21

This module parses such text once into an immutable :class:`Expression` and
evaluates it against the call's variables with the semantics of JavaScript,
because that is what customers know and what the product documentation
promises. Nothing here ever calls Python's ``eval``/``exec``: the text is
tokenized and parsed by a small precedence-climbing parser, and the tree is
interpreted by plain Python code.

The language
============

Literals
    Numbers: ``42``, ``1.5``, ``.5``, ``1e3``, ``0x1A``, ``0o17``, ``0b101``.
    Strings in ``'single'`` or ``"double"`` quotes with JavaScript escapes
    (``\\n \\t \\r \\b \\f \\v \\0 \\xHH \\uHHHH \\u{H...}``; any other escaped
    character stands for itself, e.g. ``\\'``). ``true``, ``false``, ``null``,
    ``undefined``, ``NaN`` and ``Infinity``.

Variables
    ``$name`` (as written in the product documentation) or bare ``name``: both
    mean the same root variable, which the caller's ``lookup`` resolves. The
    ``$`` form always names a variable, so ``$true`` is the variable ``true``
    while bare ``true`` is the boolean. Bare JavaScript reserved words
    (``typeof``, ``new``, ``this`` ...) are rejected. Identifiers are ASCII
    (``[A-Za-z_$][A-Za-z0-9_$]*``); use ``$data['prénom']`` for other keys.

Member access
    ``a.b`` and ``a[expr]``. Objects (dicts) are indexed by key, after
    converting the key to a string as JavaScript does (``a[1]`` reads key
    ``'1'``). Arrays (lists) and strings take non-negative integer indexes
    (``a[0]``, ``a['0']``; ``a[-1]`` is undefined, as in JavaScript) and have
    ``.length``; strings are indexed and measured in UTF-16 code units like
    JavaScript strings. Anything else reads as ``undefined``: a missing key, an
    index out of range, a method name such as ``.toString`` (there are no
    function calls).

    **Deliberate difference from JavaScript:** reading a member of ``null`` or
    ``undefined`` gives ``undefined`` instead of throwing a ``TypeError``, so
    ``$sessionData.address.city == 'Paris'`` is simply false when
    ``sessionData`` has no ``address``. A call flow should take its ``false``
    branch rather than fail the call.

Operators, from loosest to tightest binding
    ``a ? b : c`` (right-associative), ``||``, ``&&``,
    ``== != === !==``, ``< > <= >=``, ``+ -``, ``* / %``, unary ``! - +``,
    member access. Parentheses group. ``&&`` and ``||`` short-circuit and
    return one of their operands, as in JavaScript (``$name || 'caller'``).
    Function calls, assignment, ``++``/``--``, ``**``, bitwise operators,
    ``typeof``/``in``/``instanceof``, object/array literals and template
    literals are not part of the language.

Values and conversions
    Values are what ``json.loads`` produces -- ``dict`` (object), ``list``
    (array; tuples are accepted too), ``str``, ``int``/``float`` (number),
    ``bool``, ``None`` (``null``) -- plus :data:`UNDEFINED`. Booleans are
    JavaScript booleans even though Python's ``bool`` subclasses ``int``.
    Numbers are IEEE doubles; results that are whole numbers of magnitude at
    most 2**53 are returned as ``int`` (``-0`` stays ``-0.0``). Other Python
    objects are treated as opaque JavaScript objects.

    The JavaScript abstract operations are implemented faithfully:
    ToBoolean (:func:`truthy`), ToNumber (``'' -> 0``, ``' 42 ' -> 42``,
    ``'0x1A' -> 26``, ``'abc' -> NaN``, ``null -> 0``, ``[] -> 0``,
    ``[5] -> 5``), ToString (:func:`to_js_string`), loose ``==`` (``null ==
    undefined``, ``'42' == 42``, booleans compare as numbers, arrays and
    objects compare through their string form), strict ``===``, and relational
    comparison (two strings compare by UTF-16 code units, so ``'10' < '9'``;
    otherwise numerically, so ``'10' < 9`` is false; anything with ``NaN`` is
    false). ``+`` concatenates when either operand is (or converts to) a
    string. Division by zero yields ``Infinity``/``-Infinity``/``NaN`` and
    ``%`` takes the sign of the dividend. Objects and arrays are equal only to
    themselves (identity).

Where we differ from JavaScript (all on purpose)
    * Member access on ``null``/``undefined`` gives ``undefined`` (see above).
    * Every unknown name is ``undefined`` instead of a ``ReferenceError``.
    * ``undefined``, ``NaN`` and ``Infinity`` are literals, not globals.
    * Rejected although valid JavaScript: legacy octal numbers (``010``) and
      escapes (``'\\1'``), numeric separators (``1_000``), non-ASCII
      identifiers, and the unsupported operators listed above.
    * The string-length limit counts Python characters (code points), not
      UTF-16 units.

Limits
    So that customer input can never make the platform spend unbounded time or
    memory, :func:`parse` rejects text longer than ``MAX_SOURCE_LENGTH``
    (2,000) characters, nesting deeper than ``MAX_DEPTH`` (50: parentheses,
    brackets, unary operators, ternaries and operators of rising precedence)
    and trees of more than ``MAX_NODES`` (500) nodes. Parsing is a single
    left-to-right pass. Evaluation visits each node at most once and raises
    :class:`ExpressionError` if it would build a string longer than
    ``MAX_STRING_LENGTH`` (100,000) characters (by concatenation or by
    converting an array to a string).

Usage::

    condition = parse("$keyPresses == '1' && $sessionData.age > 21")
    condition.variables                     # frozenset({'keyPresses', 'sessionData'})
    truthy(condition.evaluate({'keyPresses': '1', 'sessionData': {'age': 30}}.get))

``lookup`` is any callable ``lookup(name) -> value`` that returns
:data:`UNDEFINED` for unknown names; a mapping is accepted as well. Within one
evaluation each root variable is looked up once.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SOURCE_LENGTH",
    "MAX_STRING_LENGTH",
    "UNDEFINED",
    "Expression",
    "ExpressionError",
    "evaluate",
    "loose_equals",
    "parse",
    "strict_equals",
    "to_js_string",
    "to_number",
    "truthy",
]

MAX_SOURCE_LENGTH = 2000
MAX_DEPTH = 50
MAX_NODES = 500
MAX_STRING_LENGTH = 100_000
# Arrays nested deeper than this cannot be turned into strings; JSON from a
# customer never needs it and it keeps recursion far from Python's limit.
_MAX_VALUE_NESTING = 100


# ---------------------------------------------------------------------------
# undefined and errors
# ---------------------------------------------------------------------------


class _Undefined:
    """Type of :data:`UNDEFINED`; there is exactly one instance."""

    __slots__ = ()
    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        # Pickle/copy by name so the singleton survives round trips.
        return "UNDEFINED"


UNDEFINED = _Undefined()
"""JavaScript ``undefined``: what a lookup returns for an unknown variable."""


class ExpressionError(ValueError):
    """A syntax error, a limit exceeded, or an evaluation that cannot finish.

    ``position`` is the 0-based character offset the problem was found at, or
    ``None`` when the error did not come from a particular place in a text
    (e.g. :func:`to_js_string` called directly on a huge array).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} at {self.position}"


Lookup = Callable[[str], Any] | Mapping


# ---------------------------------------------------------------------------
# JavaScript abstract operations on JSON-like Python values
# ---------------------------------------------------------------------------

# typeof-like kinds; arrays and objects are both "object" (as is null in JS,
# but keeping null apart makes the equality algorithm read like the spec).
_UNDEFINED_KIND = "undefined"
_NULL_KIND = "null"
_BOOLEAN_KIND = "boolean"
_NUMBER_KIND = "number"
_STRING_KIND = "string"
_OBJECT_KIND = "object"


def _kind(value: Any) -> str:
    """Return the JavaScript type of a Python value."""
    if value is UNDEFINED:
        return _UNDEFINED_KIND
    if value is None:
        return _NULL_KIND
    value_type = type(value)
    if value_type is str:
        return _STRING_KIND
    if value_type is bool:
        return _BOOLEAN_KIND
    if value_type is int or value_type is float:
        return _NUMBER_KIND
    if value_type is dict or value_type is list:
        return _OBJECT_KIND
    # Less common types (subclasses, numpy scalars, Decimal ...).
    if isinstance(value, bool):
        return _BOOLEAN_KIND
    if isinstance(value, str):
        return _STRING_KIND
    if isinstance(value, (numbers.Real, Decimal)):
        return _NUMBER_KIND
    return _OBJECT_KIND


def _is_array(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _as_float(value: Any) -> float:
    """Convert a Python number to the IEEE double JavaScript would hold."""
    if type(value) is float:
        return value
    try:
        return float(value)
    except OverflowError:  # int too large for a double
        return math.inf if value > 0 else -math.inf


# WhiteSpace and LineTerminator code points that JavaScript trims in ToNumber.
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX_RE = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_RADIX_BASES = {"x": 16, "o": 8, "b": 2}


def _string_to_number(text: str) -> float:
    """JavaScript StringToNumber (what ``Number(text)`` does)."""
    text = text.strip(_JS_WHITESPACE)
    if not text:
        return 0.0
    if _DECIMAL_RE.fullmatch(text):
        return float(text)
    if text in ("Infinity", "+Infinity"):
        return math.inf
    if text == "-Infinity":
        return -math.inf
    if _RADIX_RE.fullmatch(text):
        return _as_float(int(text[2:], _RADIX_BASES[text[1].lower()]))
    return math.nan


def to_number(value: Any) -> float:
    """JavaScript ToNumber; always returns a Python float."""
    kind = _kind(value)
    if kind == _NUMBER_KIND:
        return _as_float(value)
    if kind == _STRING_KIND:
        return _string_to_number(value)
    if kind == _BOOLEAN_KIND:
        return 1.0 if value else 0.0
    if kind == _NULL_KIND:
        return 0.0
    if kind == _UNDEFINED_KIND:
        return math.nan
    return _string_to_number(_to_primitive(value))


def truthy(value: Any) -> bool:
    """JavaScript ToBoolean: false for '', 0, -0, NaN, null, undefined, false."""
    kind = _kind(value)
    if kind == _BOOLEAN_KIND:
        return bool(value)
    if kind == _STRING_KIND:
        return len(value) > 0
    if kind == _NUMBER_KIND:
        number = _as_float(value)
        return not (number == 0 or number != number)
    return kind not in (_NULL_KIND, _UNDEFINED_KIND)  # every object and array, even empty ones, is true


def _format_number(number: float) -> str:
    """JavaScript Number::toString(10) for a double.

    Python's ``repr`` already yields the shortest digit string that round
    trips, which is what JavaScript uses; only the layout differs.
    """
    if number != number:
        return "NaN"
    if number == math.inf:
        return "Infinity"
    if number == -math.inf:
        return "-Infinity"
    if number == 0:
        return "0"  # also for -0, as in JavaScript
    if number < 0:
        return "-" + _format_number(-number)
    mantissa, _, exponent = repr(number).partition("e")
    integer_part, _, fraction = mantissa.partition(".")
    digits = integer_part + fraction
    # value == 0.<digits> * 10**point
    point = len(integer_part) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return digits + "0" * (point - count)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exponent_value = point - 1
    sign = "+" if exponent_value >= 0 else "-"
    if count == 1:
        return f"{digits}e{sign}{abs(exponent_value)}"
    return f"{digits[0]}.{digits[1:]}e{sign}{abs(exponent_value)}"


def _join_array(array: Any, active: set[int], depth: int, budget: int) -> str:
    """Array.prototype.join(',') with cycle and size protection.

    Like JavaScript engines, an array that contains itself contributes ''.
    """
    if depth > _MAX_VALUE_NESTING:
        raise ExpressionError("array nested too deeply to convert to a string")
    active.add(id(array))
    parts: list[str] = []
    used = 0
    try:
        for index, element in enumerate(array):
            if index:
                used += 1
            if element is None or element is UNDEFINED:
                text = ""
            elif _is_array(element):
                text = "" if id(element) in active else _join_array(element, active, depth + 1, budget - used)
            else:
                text = to_js_string(element)
            used += len(text)
            if used > budget:
                raise ExpressionError(f"string result longer than {MAX_STRING_LENGTH} characters")
            parts.append(text)
    finally:
        active.discard(id(array))
    return ",".join(parts)


def _to_primitive(value: Any) -> Any:
    """JavaScript ToPrimitive: arrays and objects become strings."""
    if _kind(value) != _OBJECT_KIND:
        return value
    if _is_array(value):
        return _join_array(value, set(), 0, MAX_STRING_LENGTH)
    return "[object Object]"


def to_js_string(value: Any) -> str:
    """JavaScript ``String(value)``.

    ``21`` (not ``21.0``), ``1.5``, ``true``, ``null``, ``undefined``,
    ``NaN``, ``Infinity``; arrays are joined with ',' (null/undefined elements
    become ''), objects give ``'[object Object]'``. Raises
    :class:`ExpressionError` if an array would produce more than
    ``MAX_STRING_LENGTH`` characters.
    """
    kind = _kind(value)
    if kind == _STRING_KIND:
        return str(value)
    if kind == _NUMBER_KIND:
        return _format_number(_as_float(value))
    if kind == _BOOLEAN_KIND:
        return "true" if value else "false"
    if kind == _NULL_KIND:
        return "null"
    if kind == _UNDEFINED_KIND:
        return "undefined"
    return _to_primitive(value)


def strict_equals(left: Any, right: Any) -> bool:
    """JavaScript ``===``."""
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == _NUMBER_KIND:
        return _as_float(left) == _as_float(right)  # NaN is unequal to itself
    if kind == _OBJECT_KIND:
        return left is right
    if kind in (_STRING_KIND, _BOOLEAN_KIND):
        return bool(left == right)
    return True  # null === null, undefined === undefined


def loose_equals(left: Any, right: Any) -> bool:
    """JavaScript ``==`` (IsLooselyEqual)."""
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind == right_kind:
        return strict_equals(left, right)
    nullish = (_NULL_KIND, _UNDEFINED_KIND)
    if left_kind in nullish or right_kind in nullish:
        return left_kind in nullish and right_kind in nullish
    if left_kind == _NUMBER_KIND and right_kind == _STRING_KIND:
        return _as_float(left) == _string_to_number(right)
    if left_kind == _STRING_KIND and right_kind == _NUMBER_KIND:
        return _string_to_number(left) == _as_float(right)
    if left_kind == _BOOLEAN_KIND:
        return loose_equals(1.0 if left else 0.0, right)
    if right_kind == _BOOLEAN_KIND:
        return loose_equals(left, 1.0 if right else 0.0)
    if left_kind == _OBJECT_KIND:  # right is a number or a string
        return loose_equals(_to_primitive(left), right)
    return loose_equals(left, _to_primitive(right))


def _utf16_less(left: str, right: str) -> bool:
    """``left < right`` comparing UTF-16 code units, as JavaScript does.

    Code point order only differs when a string has characters outside the
    Basic Multilingual Plane (which JavaScript sees as surrogate pairs).
    """
    if (left and max(left) > "\uffff") or (right and max(right) > "\uffff"):
        return left.encode("utf-16-be", "surrogatepass") < right.encode("utf-16-be", "surrogatepass")
    return left < right


def _less_than(left: Any, right: Any) -> bool | None:
    """Abstract relational comparison; None means 'undefined' (a NaN)."""
    left, right = _to_primitive(left), _to_primitive(right)
    if _kind(left) == _STRING_KIND and _kind(right) == _STRING_KIND:
        return _utf16_less(left, right)
    left_number, right_number = to_number(left), to_number(right)
    if left_number != left_number or right_number != right_number:
        return None
    return left_number < right_number


def _op_less(left: Any, right: Any) -> bool:
    return _less_than(left, right) is True


def _op_greater(left: Any, right: Any) -> bool:
    return _less_than(right, left) is True


def _op_less_equal(left: Any, right: Any) -> bool:
    return _less_than(right, left) is False


def _op_greater_equal(left: Any, right: Any) -> bool:
    return _less_than(left, right) is False


def _op_add(left: Any, right: Any) -> Any:
    left, right = _to_primitive(left), _to_primitive(right)
    if _kind(left) == _STRING_KIND or _kind(right) == _STRING_KIND:
        left_text, right_text = to_js_string(left), to_js_string(right)
        if len(left_text) + len(right_text) > MAX_STRING_LENGTH:
            raise ExpressionError(f"string result longer than {MAX_STRING_LENGTH} characters")
        return left_text + right_text
    return to_number(left) + to_number(right)


def _op_subtract(left: Any, right: Any) -> float:
    return to_number(left) - to_number(right)


def _op_multiply(left: Any, right: Any) -> float:
    return to_number(left) * to_number(right)


def _op_divide(left: Any, right: Any) -> float:
    dividend, divisor = to_number(left), to_number(right)
    if divisor == 0:
        if dividend == 0 or dividend != dividend:
            return math.nan
        # The sign of the zero matters: 1 / -0 is -Infinity.
        return math.copysign(math.inf, dividend) * math.copysign(1.0, divisor)
    return dividend / divisor


def _op_remainder(left: Any, right: Any) -> float:
    dividend, divisor = to_number(left), to_number(right)
    if dividend != dividend or divisor != divisor:
        return math.nan
    if math.isinf(dividend) or divisor == 0:
        return math.nan
    if math.isinf(divisor) or dividend == 0:
        return dividend
    return math.fmod(dividend, divisor)  # exact, sign of the dividend


_BINARY_OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _op_multiply,
    "/": _op_divide,
    "%": _op_remainder,
    "+": _op_add,
    "-": _op_subtract,
    "<": _op_less,
    ">": _op_greater,
    "<=": _op_less_equal,
    ">=": _op_greater_equal,
    "==": loose_equals,
    "!=": lambda left, right: not loose_equals(left, right),
    "===": strict_equals,
    "!==": lambda left, right: not strict_equals(left, right),
}

_ARRAY_INDEX_RE = re.compile(r"0|[1-9][0-9]{0,9}")


def _array_index(key: str) -> int | None:
    """The integer a canonical array-index property key stands for."""
    if _ARRAY_INDEX_RE.fullmatch(key):
        index = int(key)
        if index < 2**32 - 1:
            return index
    return None


def _utf16_units(text: str) -> str | None:
    """The text re-encoded as one str character per UTF-16 unit, if it differs."""
    if text.isascii() or max(text) <= "\uffff":
        return None
    units = text.encode("utf-16-le", "surrogatepass")
    return "".join(chr(int.from_bytes(units[i : i + 2], "little")) for i in range(0, len(units), 2))


def _get_member(target: Any, key: str) -> Any:
    """Read ``target[key]``; anything not found is UNDEFINED (see module doc)."""
    if target is None or target is UNDEFINED:
        return UNDEFINED
    kind = _kind(target)
    if kind == _STRING_KIND:
        units = _utf16_units(target)
        text = target if units is None else units
        if key == "length":
            return len(text)
        index = _array_index(key)
        if index is not None and index < len(text):
            return text[index]
        return UNDEFINED
    if kind != _OBJECT_KIND:
        return UNDEFINED  # numbers and booleans have no data properties
    if _is_array(target):
        if key == "length":
            return len(target)
        index = _array_index(key)
        if index is not None and index < len(target):
            return target[index]
        return UNDEFINED
    if isinstance(target, Mapping):
        try:
            return target[key]
        except KeyError:
            return UNDEFINED
    return UNDEFINED  # opaque host object


def _normalize_result(value: Any) -> Any:
    """Return whole-number floats as ints so callers see 3, not 3.0."""
    if (
        type(value) is float
        and value.is_integer()
        and abs(value) <= 2**53
        and not (value == 0 and math.copysign(1.0, value) < 0)
    ):
        return int(value)
    return value


# ---------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------


class _Context:
    """Per-evaluation state: the caller's lookup and a cache of root values."""

    __slots__ = ("lookup", "values")

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self.lookup = lookup
        self.values: dict[str, Any] = {}

    def variable(self, name: str) -> Any:
        # Caching keeps `$a == $a` true even if lookup builds fresh objects.
        try:
            return self.values[name]
        except KeyError:
            value = self.values[name] = self.lookup(name)
            return value


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any

    def evaluate(self, context: _Context) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str

    def evaluate(self, context: _Context) -> Any:
        return context.variable(self.name)


@dataclass(frozen=True, slots=True)
class _Member:
    """``target.name`` / ``target[key]`` chains; a step is (name, key_node, position)."""

    target: Any
    steps: tuple[tuple[str | None, Any, int], ...]

    def evaluate(self, context: _Context) -> Any:
        value = self.target.evaluate(context)
        for name, key_node, position in self.steps:
            if name is None:
                key = key_node.evaluate(context)
                if type(key) is not str:
                    try:
                        key = to_js_string(key)  # JavaScript ToPropertyKey
                    except ExpressionError as error:
                        raise ExpressionError(error.message, position) from None
                name = key
            value = _get_member(value, name)
        return value


@dataclass(frozen=True, slots=True)
class _Unary:
    operator: str
    operand: Any
    position: int

    def evaluate(self, context: _Context) -> Any:
        value = self.operand.evaluate(context)
        if self.operator == "!":
            return not truthy(value)
        try:
            number = to_number(value)
        except ExpressionError as error:
            raise ExpressionError(error.message, self.position) from None
        return -number if self.operator == "-" else number


@dataclass(frozen=True, slots=True)
class _Logical:
    """A flat run of ``&&`` or of ``||``; returns the deciding operand."""

    operator: str
    operands: tuple[Any, ...]

    def evaluate(self, context: _Context) -> Any:
        stop_when = self.operator == "||"
        value = UNDEFINED
        for operand in self.operands:
            value = operand.evaluate(context)
            if truthy(value) == stop_when:
                return value
        return value


@dataclass(frozen=True, slots=True)
class _Binary:
    """A flat left-associative run of operators of one precedence level.

    Keeping ``a + b + c + ...`` flat (instead of a left-leaning tree) keeps the
    tree depth equal to the real nesting, so long conditions stay cheap.
    """

    first: Any
    rest: tuple[tuple[str, int, Any], ...]

    def evaluate(self, context: _Context) -> Any:
        value = self.first.evaluate(context)
        for operator, position, operand in self.rest:
            right = operand.evaluate(context)
            try:
                value = _BINARY_OPERATIONS[operator](value, right)
            except ExpressionError as error:
                raise ExpressionError(error.message, position) from None
        return value


@dataclass(frozen=True, slots=True)
class _Conditional:
    test: Any
    consequent: Any
    alternate: Any

    def evaluate(self, context: _Context) -> Any:
        if truthy(self.test.evaluate(context)):
            return self.consequent.evaluate(context)
        return self.alternate.evaluate(context)


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "string", "identifier", "punctuator", "end"
    value: Any
    position: int
    text: str


_PUNCTUATORS = {
    "===", "!==",
    "==", "!=", "<=", ">=", "&&", "||",
    "(", ")", "[", "]", ".", "!", "<", ">", "+", "-", "*", "/", "%", "?", ":",
    "{", "}",
}  # fmt: skip
# Valid JavaScript we deliberately do not accept, with a helpful reason.
_UNSUPPORTED_PUNCTUATORS = {
    "++": "'++' is not supported",
    "--": "'--' is not supported (write '- -x' to negate twice)",
    "**": "'**' is not supported",
    "??": "'??' is not supported (use '||')",
    "=>": "functions are not supported",
    "<<": "bitwise operators are not supported",
    ">>": "bitwise operators are not supported",
    "=": "assignment is not supported (use '==' or '===' to compare)",
    "&": "unexpected '&' (did you mean '&&'?)",
    "|": "unexpected '|' (did you mean '||'?)",
    "^": "bitwise operators are not supported",
    "~": "bitwise operators are not supported",
    ",": "unexpected ','",
    ";": "unexpected ';'",
    "`": "template literals are not supported (use '...' or \"...\")",
}
_IDENTIFIER_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
_DIGITS = frozenset("0123456789")
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX_LITERAL_RE = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_STRING_CHUNK_RE = {
    "'": re.compile(r"[^'\\\n\r]+"),
    '"': re.compile(r'[^"\\\n\r]+'),
}
_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v",
}  # fmt: skip
_LINE_TERMINATORS = "\n\r\u2028\u2029"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class _Lexer:
    """Produces tokens on demand, so a template scan stops right at its '}'.

    ``end`` bounds how far the lexer may read. When the text goes on past
    ``end`` (a template placeholder longer than the limit), reaching it is an
    error rather than the end of the expression.
    """

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text = text
        self.position = start
        self.start = start
        self.end = end
        self.truncated = end < len(text)

    def _too_long(self) -> ExpressionError:
        return ExpressionError(f"expression is longer than {MAX_SOURCE_LENGTH} characters", self.start)

    def next_token(self) -> _Token:
        text, end = self.text, self.end
        position = self.position
        while position < end and text[position] in _JS_WHITESPACE:
            position += 1
        self.position = position
        if position >= end:
            if self.truncated:
                raise self._too_long()
            return _Token("end", None, position, "")
        char = text[position]
        if char in _DIGITS or (char == "." and position + 1 < end and text[position + 1] in _DIGITS):
            return self._number(position)
        if char == "'" or char == '"':
            return self._string(position, char)
        match = _IDENTIFIER_RE.match(text, position, end)
        if match:
            return self._finish(_Token("identifier", match.group(), position, match.group()))
        for size in (3, 2, 1):
            candidate = text[position : min(position + size, end)]
            if len(candidate) != size:
                continue
            if candidate in _PUNCTUATORS:
                self.position = position + size
                return _Token("punctuator", candidate, position, candidate)
            if candidate in _UNSUPPORTED_PUNCTUATORS:
                raise ExpressionError(_UNSUPPORTED_PUNCTUATORS[candidate], position)
        raise ExpressionError(f"unexpected character {char!r}", position)

    def _finish(self, token: _Token) -> _Token:
        """Step past a word, number or string; it may not touch a truncation point."""
        self.position = token.position + len(token.text)
        if self.truncated and self.position >= self.end:
            raise self._too_long()
        return token

    def _number(self, position: int) -> _Token:
        text = self.text
        match = _RADIX_LITERAL_RE.match(text, position, self.end)
        if match:
            literal = match.group()
            value = _as_float(int(literal[2:], _RADIX_BASES[literal[1].lower()]))
        else:
            match = _NUMBER_RE.match(text, position, self.end)
            assert match is not None  # the caller saw a digit
            literal = match.group()
            if len(literal) > 1 and literal[0] == "0" and literal[1] in _DIGITS:
                raise ExpressionError("numbers with leading zeros are not supported", position)
            value = float(literal)
        after = position + len(literal)
        if after < self.end and text[after] in _IDENTIFIER_CHARS:
            raise ExpressionError(f"unexpected character {text[after]!r} after number", after)
        return self._finish(_Token("number", value, position, literal))

    def _string(self, position: int, quote: str) -> _Token:
        text, end = self.text, self.end
        chunk_re = _STRING_CHUNK_RE[quote]
        pieces: list[str] = []
        index = position + 1
        while True:
            match = chunk_re.match(text, index, end)
            if match:
                pieces.append(match.group())
                index = match.end()
            if index >= end:
                if self.truncated:
                    raise self._too_long()
                raise ExpressionError("unterminated string", position)
            char = text[index]
            if char == quote:
                index += 1
                break
            if char != "\\":  # a raw line break
                raise ExpressionError("unterminated string", position)
            index = self._escape(index, pieces)
        value = "".join(pieces)
        if any("\ud800" <= c <= "\udfff" for c in value):
            # Join surrogate pairs written as \uD83D\uDE00 into one character.
            value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        literal = text[position:index]
        return self._finish(_Token("string", value, position, literal))

    def _escape(self, backslash: int, pieces: list[str]) -> int:
        """Decode the escape at ``backslash``; return the index after it."""
        text, end = self.text, self.end
        index = backslash + 1
        if index >= end:
            if self.truncated:
                raise self._too_long()
            raise ExpressionError("unterminated string", backslash)
        char = text[index]
        if char in _SIMPLE_ESCAPES:
            pieces.append(_SIMPLE_ESCAPES[char])
            return index + 1
        if char == "0" and not (index + 1 < end and text[index + 1] in _DIGITS):
            pieces.append("\0")
            return index + 1
        if char in _DIGITS:
            raise ExpressionError("octal escapes are not supported", backslash)
        if char == "x":
            digits = text[index + 1 : min(index + 3, end)]
            if len(digits) != 2 or not set(digits) <= _HEX_DIGITS:
                raise ExpressionError("invalid \\x escape", backslash)
            pieces.append(chr(int(digits, 16)))
            return index + 3
        if char == "u":
            if index + 1 < end and text[index + 1] == "{":
                close = text.find("}", index + 2, min(end, index + 10))
                digits = text[index + 2 : close] if close != -1 else ""
                if not digits or not set(digits) <= _HEX_DIGITS or int(digits, 16) > 0x10FFFF:
                    raise ExpressionError("invalid \\u{...} escape", backslash)
                pieces.append(chr(int(digits, 16)))
                return close + 1
            digits = text[index + 1 : min(index + 5, end)]
            if len(digits) != 4 or not set(digits) <= _HEX_DIGITS:
                raise ExpressionError("invalid \\u escape", backslash)
            pieces.append(chr(int(digits, 16)))
            return index + 5
        if char == "\r" and index + 1 < end and text[index + 1] == "\n":
            return index + 2  # line continuation
        if char in _LINE_TERMINATORS:
            return index + 1  # line continuation
        pieces.append(char)  # \' \" \\ and any other character: itself
        return index + 1


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------

# Binary operators by precedence level; a higher level binds tighter.
_BINARY_LEVELS = {
    "||": 1,
    "&&": 2,
    "==": 3, "!=": 3, "===": 3, "!==": 3,
    "<": 4, ">": 4, "<=": 4, ">=": 4,
    "+": 5, "-": 5,
    "*": 6, "/": 6, "%": 6,
}  # fmt: skip
_LITERAL_WORDS = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": UNDEFINED,
    "NaN": math.nan,
    "Infinity": math.inf,
}
_RESERVED_WORDS = frozenset(
    """await break case catch class const continue debugger default delete do
    else enum export extends finally for function if import in instanceof new
    return super switch this throw try typeof var void while with yield""".split()
)


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "end of expression"
    if token.kind == "string":
        return "string"
    if token.kind == "number":
        return f"number {token.text}"
    return repr(token.text)


class _Parser:
    """Precedence climbing over a lazily tokenized text."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.lexer = _Lexer(text, start, end)
        self.depth = -1  # the outermost expression is depth 0
        self.nodes = 0
        self.variables: set[str] = set()
        self.token = self.lexer.next_token()

    # -- helpers ----------------------------------------------------------

    def advance(self) -> _Token:
        token = self.token
        self.token = self.lexer.next_token()
        return token

    def at(self, punctuator: str) -> bool:
        return self.token.kind == "punctuator" and self.token.value == punctuator

    def expect(self, punctuator: str) -> _Token:
        if not self.at(punctuator):
            raise ExpressionError(
                f"expected '{punctuator}' but found {_describe(self.token)}",
                self.token.position,
            )
        return self.advance()

    def unexpected(self) -> ExpressionError:
        return ExpressionError(f"unexpected {_describe(self.token)}", self.token.position)

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested more than {MAX_DEPTH} levels deep", position)

    def leave(self) -> None:
        self.depth -= 1

    def count(self, position: int, nodes: int = 1) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise ExpressionError(
                f"expression has more than {MAX_NODES} operators and operands",
                position,
            )

    # -- grammar ----------------------------------------------------------

    def parse_expression(self) -> Any:
        """expression := binary ('?' expression ':' expression)?"""
        self.enter(self.token.position)
        test = self.parse_binary(1)
        if self.at("?"):
            question = self.advance()
            self.count(question.position)
            consequent = self.parse_expression()
            self.expect(":")
            alternate = self.parse_expression()
            test = _Conditional(test, consequent, alternate)
        self.leave()
        return test

    def parse_binary(self, min_level: int) -> Any:
        """Parse operators of level >= min_level; equal levels stay one flat node."""
        left = self.parse_unary()
        run_level = 0
        operands: list[Any] = [left]
        operators: list[tuple[str, int]] = []
        while self.token.kind == "punctuator":
            level = _BINARY_LEVELS.get(self.token.value)
            if level is None or level < min_level:
                break
            if operators and level != run_level:  # levels only fall in this loop
                operands = [self.build_run(run_level, operands, operators)]
                operators = []
            run_level = level
            operator = self.advance()
            self.count(operator.position)
            operators.append((operator.value, operator.position))
            self.enter(self.token.position)
            operands.append(self.parse_binary(level + 1))
            self.leave()
        if operators:
            return self.build_run(run_level, operands, operators)
        return left

    @staticmethod
    def build_run(level: int, operands: list[Any], operators: list[tuple[str, int]]) -> Any:
        if level <= 2:
            return _Logical(operators[0][0], tuple(operands))
        rest = tuple(
            (operator, position, operand) for (operator, position), operand in zip(operators, operands[1:], strict=True)
        )
        return _Binary(operands[0], rest)

    def parse_unary(self) -> Any:
        if self.token.kind == "punctuator" and self.token.value in ("!", "-", "+"):
            operator = self.advance()
            self.count(operator.position)
            self.enter(operator.position)
            operand = self.parse_unary()
            self.leave()
            return _Unary(operator.value, operand, operator.position)
        return self.parse_member()

    def parse_member(self) -> Any:
        target = self.parse_primary()
        steps: list[tuple[str | None, Any, int]] = []
        while self.token.kind == "punctuator":
            if self.token.value == ".":
                dot = self.advance()
                if self.token.kind != "identifier":
                    raise ExpressionError(
                        f"expected a property name after '.' but found {_describe(self.token)}",
                        self.token.position,
                    )
                self.count(dot.position)
                steps.append((self.advance().value, None, dot.position))
            elif self.token.value == "(":
                raise ExpressionError("function calls are not supported", self.token.position)
            elif self.token.value == "[":
                bracket = self.advance()
                self.count(bracket.position)
                key = self.parse_expression()
                self.expect("]")
                steps.append((None, key, bracket.position))
            else:
                break
        return _Member(target, tuple(steps)) if steps else target

    def parse_primary(self) -> Any:
        token = self.token
        self.count(token.position)
        if token.kind == "number" or token.kind == "string":
            self.advance()
            return _Literal(token.value)
        if token.kind == "identifier":
            self.advance()
            word = token.value
            if word.startswith("$"):
                name = word[1:]
                if not name:
                    raise ExpressionError("expected a variable name after '$'", token.position)
            elif word in _LITERAL_WORDS:
                return _Literal(_LITERAL_WORDS[word])
            elif word in _RESERVED_WORDS:
                raise ExpressionError(f"'{word}' is not supported", token.position)
            else:
                name = word
            self.variables.add(name)
            return _Variable(name)
        if self.at("("):
            self.advance()
            inner = self.parse_expression()
            self.expect(")")
            return inner
        raise self.unexpected()


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _as_lookup(lookup: Lookup) -> Callable[[str], Any]:
    if isinstance(lookup, Mapping):
        mapping = lookup
        return lambda name: mapping.get(name, UNDEFINED)
    return lookup


class Expression:
    """A parsed expression: immutable, reusable, safe to share across calls.

    ``source`` is the text it was parsed from; ``variables`` is the frozenset
    of root variable names it reads (without ``$``), e.g. to validate a call
    flow against the variables the platform provides.
    """

    __slots__ = ("_root", "source", "variables")

    source: str
    variables: frozenset[str]
    _root: Any

    def __init__(self, source: str, root: Any, variables: frozenset[str]) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "_root", root)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Expression objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Expression objects are immutable")

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def evaluate(self, lookup: Lookup) -> Any:
        """Evaluate with ``lookup(name)`` giving root variables (UNDEFINED if unknown).

        Returns a JSON-like Python value or UNDEFINED; whole-number results
        come back as ``int``. Raises :class:`ExpressionError` when a limit is
        exceeded.
        """
        context = _Context(_as_lookup(lookup))
        return _normalize_result(self._root.evaluate(context))


def _parse_span(text: str, start: int, end: int) -> tuple[Any, set[str], _Token]:
    """Parse one expression from ``text[start:end]``; return the tree, its
    variables and the first token after it (left for the caller to check)."""
    parser = _Parser(text, start, end)
    if parser.token.kind == "end":
        raise ExpressionError("empty expression", parser.token.position)
    root = parser.parse_expression()
    return root, parser.variables, parser.token


def parse(source: str) -> Expression:
    """Parse ``source`` once; raise :class:`ExpressionError` if it is invalid."""
    if not isinstance(source, str):
        raise TypeError(f"expression must be a str, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_SOURCE_LENGTH} characters", MAX_SOURCE_LENGTH)
    root, variables, after = _parse_span(source, 0, len(source))
    if after.kind != "end":
        raise ExpressionError(f"unexpected {_describe(after)}", after.position)
    return Expression(source, root, frozenset(variables))


def _parse_embedded(text: str, start: int) -> tuple[Expression, _Token]:
    """Parse the expression of a template placeholder starting at ``start``.

    Positions in errors are offsets into the whole ``text``. Returns the
    expression and the token that ended it (normally a '}'), which the
    caller checks.
    """
    end = min(len(text), start + MAX_SOURCE_LENGTH + 1)  # + 1 for the closing '}'
    root, variables, after = _parse_span(text, start, end)
    source = text[start : after.position]
    return Expression(source, root, frozenset(variables)), after


@functools.lru_cache(maxsize=512)
def _parse_cached(source: str) -> Expression:
    return parse(source)


def evaluate(source_or_expression: str | Expression, lookup: Lookup) -> Any:
    """Parse (with a small cache) if given text, then evaluate."""
    if isinstance(source_or_expression, Expression):
        expression = source_or_expression
    else:
        expression = _parse_cached(source_or_expression)
    return expression.evaluate(lookup)
