"""Text templates with ``${...}`` placeholders, for prompts and messages.

A call flow's text fields may contain placeholders::

    Hello, ${sessionData.firstName}. This call lasted ${callTime} milliseconds.

Each ``${...}`` holds an expression in the language of
:mod:`voxology_fs.flow.expressions` (so ``${sessionData.firstName}``,
``${$sessionData.firstName}``, ``${callTime / 1000}``,
``${age >= 18 ? 'adult' : 'minor'}`` all work). The placeholder ends at the
first ``}`` that is not inside a string literal, so ``${'}'}`` renders ``}``.

How values are rendered
    ``undefined`` and ``null`` render as the empty string (a missing first
    name should not be read out as "undefined"); strings as they are; numbers
    and booleans as JavaScript's ``String()`` would (``42``, ``1.5``,
    ``true``); objects and arrays as compact JSON (like ``JSON.stringify``:
    no spaces, ``NaN``/``Infinity``/``undefined`` inside arrays become
    ``null``, ``undefined`` members of objects are left out). This is where
    templates differ from JavaScript template literals on purpose.

Escaping
    ``$${`` stands for a literal ``${``. The text is scanned left to right, so
    ``$${name}`` renders as ``${name}``; a lone ``$`` or ``}`` is just text.

Errors and limits
    An unterminated ``${``, an empty placeholder or an expression that does
    not parse raises :class:`TemplateError` (a subclass of
    :class:`~voxology_fs.flow.expressions.ExpressionError`) whose
    ``position`` is an offset into the whole template text. Templates longer
    than ``MAX_TEMPLATE_LENGTH`` (100,000) characters are rejected, and so is
    a rendering that would produce more than that many characters. Each
    placeholder's expression has the limits of the expression language.

Use :func:`compile_template` to parse once and render many times;
:func:`render` is the one-shot convenience.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from voxology_fs.flow.expressions import (
    MAX_STRING_LENGTH,
    UNDEFINED,
    Expression,
    ExpressionError,
    Lookup,
    _as_lookup,
    _describe,
    _is_array,
    _kind,
    _parse_embedded,
    to_js_string,
    to_number,
)

__all__ = [
    "MAX_TEMPLATE_LENGTH",
    "Template",
    "TemplateError",
    "compile_template",
    "has_placeholders",
    "render",
]

MAX_TEMPLATE_LENGTH = MAX_STRING_LENGTH
_MAX_JSON_NESTING = 100
_EMPTY_PLACEHOLDER_RE = re.compile(r"[\t\n\v\f\r \u00a0\ufeff]*\}")


class TemplateError(ExpressionError):
    """A template that cannot be parsed or rendered; ``position`` is in the whole text."""


class _Placeholder:
    __slots__ = ("expression", "position", "source")

    def __init__(self, expression: Expression, position: int, source: str = "") -> None:
        self.expression = expression
        self.position = position  # of its '${'
        self.source = source  # the placeholder as written, '${...}'


class Template:
    """A parsed template: immutable and reusable.

    ``source`` is the template text and ``variables`` the frozenset of root
    variable names its placeholders read.
    """

    __slots__ = ("_parts", "lenient", "source", "variables")

    source: str
    variables: frozenset[str]
    _parts: tuple[str | _Placeholder, ...]
    lenient: bool

    def __init__(self, source: str, parts: tuple[str | _Placeholder, ...], lenient: bool = False) -> None:
        variables: set[str] = set()
        for part in parts:
            if isinstance(part, _Placeholder):
                variables |= part.expression.variables
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "variables", frozenset(variables))
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "lenient", lenient)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Template objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Template objects are immutable")

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def render(self, lookup: Lookup) -> str:
        """Expand every placeholder, resolving root variables with ``lookup``."""
        resolve = _as_lookup(lookup)
        cache: dict[str, Any] = {}

        def cached_lookup(name: str) -> Any:
            # One lookup per variable for the whole template, not per placeholder.
            if name not in cache:
                cache[name] = resolve(name)
            return cache[name]

        pieces: list[str] = []
        length = 0
        where = 0  # the last placeholder's position, for errors
        for part in self._parts:
            if isinstance(part, str):
                text = part
            else:
                where = part.position
                if (
                    self.lenient
                    and part.expression.variables
                    and all(cached_lookup(name) is UNDEFINED for name in part.expression.variables)
                ):
                    # Names no variable we know: text such as "${uuid}" in a
                    # customer's prompt is left as written.
                    text = part.source
                    length += len(text)
                    pieces.append(text)
                    continue
                try:
                    value = part.expression.evaluate(cached_lookup)
                    text = _render_value(value, MAX_TEMPLATE_LENGTH - length)
                except TemplateError:
                    raise
                except ExpressionError as error:
                    position = part.position if error.position is None else error.position
                    raise TemplateError(error.message, position) from None
            length += len(text)
            if length > MAX_TEMPLATE_LENGTH:
                raise TemplateError(f"rendered text is longer than {MAX_TEMPLATE_LENGTH} characters", where)
            pieces.append(text)
        return "".join(pieces)


def _render_value(value: Any, budget: int) -> str:
    """Text for one placeholder's value (see the module doc)."""
    if value is UNDEFINED or value is None:
        return ""
    if _kind(value) == "object" and (_is_array(value) or isinstance(value, Mapping)):
        pieces: list[str] = []
        _write_json(value, pieces, [0, budget], set(), 0)
        return "".join(pieces)
    return to_js_string(value)


def _write_json(value: Any, out: list[str], size: list[int], active: set[int], depth: int) -> None:
    """Append ``JSON.stringify(value)`` pieces to ``out``; ``size`` is [used, budget]."""
    kind = _kind(value)
    if kind == "string":
        text = json.dumps(str(value), ensure_ascii=False)
    elif kind == "number":
        number = to_number(value)
        text = to_js_string(number) if math.isfinite(number) else "null"
    elif kind == "boolean":
        text = "true" if value else "false"
    elif kind == "null" or kind == "undefined":
        text = "null"
    else:
        if depth >= _MAX_JSON_NESTING:
            raise ExpressionError("value nested too deeply to render as JSON")
        if id(value) in active:
            raise ExpressionError("cannot render a circular structure as JSON")
        if _is_array(value):
            active.add(id(value))
            _emit("[", out, size)
            for index, element in enumerate(value):
                if index:
                    _emit(",", out, size)
                _write_json(element, out, size, active, depth + 1)
            _emit("]", out, size)
            active.discard(id(value))
        elif isinstance(value, Mapping):
            active.add(id(value))
            _emit("{", out, size)
            first = True
            for key, member in value.items():
                if member is UNDEFINED:
                    continue
                if not first:
                    _emit(",", out, size)
                first = False
                name = key if isinstance(key, str) else to_js_string(key)
                _emit(json.dumps(name, ensure_ascii=False) + ":", out, size)
                _write_json(member, out, size, active, depth + 1)
            _emit("}", out, size)
            active.discard(id(value))
        else:
            text = "{}"  # an opaque host object, as JSON.stringify shows most objects
            _emit(text, out, size)
        return
    _emit(text, out, size)


def _emit(text: str, out: list[str], size: list[int]) -> None:
    size[0] += len(text)
    if size[0] > size[1]:
        raise ExpressionError(f"rendered text is longer than {MAX_TEMPLATE_LENGTH} characters")
    out.append(text)


def _find_opening(text: str, index: int) -> tuple[int, bool]:
    """Find the next '$${' escape (False) or '${' opening (True) from ``index``.

    Returns (-1, False) when there is none.
    """
    while True:
        dollar = text.find("$", index)
        if dollar == -1:
            return -1, False
        if text.startswith("$${", dollar):
            return dollar, False
        if text.startswith("${", dollar):
            return dollar, True
        index = dollar + 1


def _parse_placeholder(text: str, dollar: int) -> tuple[Expression, int]:
    """Parse the placeholder opened at ``dollar``; return it and the index of its '}'."""
    start = dollar + 2
    if _EMPTY_PLACEHOLDER_RE.match(text, start):
        raise TemplateError("empty placeholder '${}'", dollar)
    try:
        expression, after = _parse_embedded(text, start)
    except ExpressionError as error:
        if error.position is not None and error.position >= len(text):
            raise TemplateError("unterminated '${' (missing '}')", dollar) from None
        raise TemplateError(error.message, error.position) from None
    if after.kind == "end":
        raise TemplateError("unterminated '${' (missing '}')", dollar)
    if not (after.kind == "punctuator" and after.value == "}"):
        raise TemplateError(f"unexpected {_describe(after)} in placeholder (expected '}}')", after.position)
    return expression, after.position


def compile_template(text: str, lenient: bool = False) -> Template:
    """Parse ``text`` once; raise :class:`TemplateError` if it is invalid.

    ``lenient`` templates never fail: a ``${`` that does not start a valid
    placeholder is plain text, and a placeholder whose variables are all
    unknown renders as written.  Call flows use them for text that reaches
    the caller, so ``${system ...}`` in a prompt is simply read out.
    """
    if not isinstance(text, str):
        raise TypeError(f"template must be a str, not {type(text).__name__}")
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"template is longer than {MAX_TEMPLATE_LENGTH} characters", MAX_TEMPLATE_LENGTH)
    parts: list[str | _Placeholder] = []
    literal: list[str] = []  # text pieces since the last placeholder
    index = 0
    while True:
        dollar, is_placeholder = _find_opening(text, index)
        if dollar == -1:
            break
        literal.append(text[index:dollar])
        if not is_placeholder:
            literal.append("${")
            index = dollar + 3
            continue
        if any(literal):
            parts.append("".join(literal))
        literal = []
        try:
            expression, close = _parse_placeholder(text, dollar)
        except TemplateError:
            if not lenient:
                raise
            literal.append("${")
            index = dollar + 2
            continue
        parts.append(_Placeholder(expression, dollar, text[dollar : close + 1]))
        index = close + 1
    literal.append(text[index:])
    if any(literal):
        parts.append("".join(literal))
    return Template(text, tuple(parts), lenient)


@functools.lru_cache(maxsize=256)
def _compile_cached(text: str) -> Template:
    return compile_template(text)


_CACHEABLE_LENGTH = 4096  # keep the parse cache small: long texts are parsed each time


def render(text: str, lookup: Lookup) -> str:
    """Expand every ``${...}`` in ``text`` (parsing of short texts is cached)."""
    if isinstance(text, str) and len(text) <= _CACHEABLE_LENGTH:
        return _compile_cached(text).render(lookup)
    return compile_template(text).render(lookup)


def has_placeholders(text: str) -> bool:
    """True if ``text`` has at least one ``${`` that is not escaped as ``$${``.

    Cheap (it does not parse), so callers can skip templating plain text.
    """
    index = 0
    while True:
        dollar, is_placeholder = _find_opening(text, index)
        if dollar == -1:
            return False
        if is_placeholder:
            return True
        index = dollar + 3
