"""Validate a callback response and compile it into a :class:`Program`.

Everything is checked before anything runs: unknown types, missing or
mistyped params, conditions and placeholders that do not parse, GOTOs to
labels that do not exist.  Each problem carries its JSON path
(``/actions/2/params/num_digits``).
"""

from __future__ import annotations

import json
import re

from .actions import REGISTRY
from .actions.base import Problems
from .errors import FlowValidationError
from .program import Program

# Keys a whole response may carry besides "actions".
RESPONSE_KEYS = frozenset({"actions", "name", "comment", "comments", "description"})
MAX_ACTIONS = 5000
# Arrays and objects may nest this deep in a response (about 30 levels of
# IF or FOREACH, each of which is two: its action object and its list).
# Checked before anything recurses, so a deeper document is a validation
# error with its path, not a RecursionError.
MAX_NESTING = 64


def nesting_problem(doc, limit: int = MAX_NESTING) -> tuple[str, str] | None:
    """The JSON path and message of the first point nested deeper than ``limit``, or None."""
    stack = [(doc, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            children = ((f"{path}/{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            children = ((f"{path}/{index}", item) for index, item in enumerate(value))
        else:
            continue
        if depth > limit:
            return path, f"nested more than {limit} arrays or objects deep"
        stack.extend((item, where, depth + 1) for where, item in children if isinstance(item, (dict, list)))
    return None


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def nesting_problem_in_text(text: str, limit: int = MAX_NESTING) -> tuple[str, str]:
    """:func:`nesting_problem` for JSON text too deep for the decoder itself to read."""
    stack: list[list] = []  # [is_object, key or index, expecting a key]
    for token in _JSON_TOKENS.finditer(text):
        piece = token.group()
        if piece in "[{":
            if len(stack) >= limit:
                path = "".join(f"/{frame[1]}" for frame in stack)
                return path, f"nested more than {limit} arrays or objects deep"
            stack.append([piece == "{", 0, piece == "{"])
        elif piece in "]}":
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif piece == ",":
            frame = stack[-1]
            if frame[0]:
                frame[2] = True
            else:
                frame[1] += 1
        elif piece.startswith('"') and stack[-1][0] and stack[-1][2]:
            stack[-1][1] = json.loads(piece)
            stack[-1][2] = False
    return "", f"nested more than {limit} arrays or objects deep"


class FlowParser:
    """Parses one response; tracks labels and GOTOs for the checks across actions."""

    def __init__(self):
        self.problems = Problems()
        self.labels: dict[str, tuple[str, tuple]] = {}  # name -> (path, block chain)
        self.gotos: list[tuple[str, str, tuple]] = []  # (label, path, block chain)
        self._blocks: list[int] = [0]
        self._next_block = 1
        self.count = 0

    # -- blocks and labels --------------------------------------------------------
    def enter_block(self) -> None:
        self._blocks.append(self._next_block)
        self._next_block += 1

    def leave_block(self) -> None:
        self._blocks.pop()

    def declare_label(self, name: str, path: str) -> None:
        if name in self.labels:
            self.problems.add(path, f"label {name!r} is defined twice (first at {self.labels[name][0]})")
        else:
            self.labels[name] = (path, tuple(self._blocks))

    def use_label(self, name: str, path: str) -> None:
        self.gotos.append((name, path, tuple(self._blocks)))

    # -- parsing ------------------------------------------------------------------
    def parse_list(self, raw, path: str, allowed: frozenset | None = None, nested_block: bool = False) -> list:
        if not isinstance(raw, list):
            self.problems.add(path, "must be an array of actions")
            return []
        if nested_block:
            self.enter_block()
        try:
            return [
                a
                for a in (self.parse_action(item, f"{path}/{i}", allowed) for i, item in enumerate(raw))
                if a is not None
            ]
        finally:
            if nested_block:
                self.leave_block()

    def parse_action(self, raw, path: str, allowed: frozenset | None = None):
        self.count += 1
        if self.count > MAX_ACTIONS:
            if self.count == MAX_ACTIONS + 1:
                self.problems.add(path, f"a response may hold at most {MAX_ACTIONS} actions")
            return None
        if not isinstance(raw, dict):
            self.problems.add(path, "an action must be an object")
            return None
        kind = raw.get("type")
        if not isinstance(kind, str):
            self.problems.add(f"{path}/type", "type is required and must be a string")
            return None
        cls = REGISTRY.get(kind.upper())
        if cls is None:
            known = ", ".join(sorted(REGISTRY))
            self.problems.add(f"{path}/type", f"unknown action type {kind!r} (known: {known})")
            return None
        if allowed is not None and cls.type not in allowed:
            self.problems.add(f"{path}/type", f"{cls.type} is not allowed here (allowed: {', '.join(sorted(allowed))})")
            return None
        return cls.parse(raw, path, self.problems, self)

    def finish(self) -> None:
        for label, path, chain in self.gotos:
            target = self.labels.get(label)
            if target is None:
                self.problems.add(path, f"GOTO to label {label!r}, which this response does not define")
                continue
            label_path, label_chain = target
            # The label's block must be this GOTO's block or one around it.
            if label_chain != chain[: len(label_chain)]:
                self.problems.add(
                    path,
                    f"GOTO into another block: label {label!r} at {label_path} is not "
                    f"in this GOTO's block or a block around it",
                )


def parse_response(doc) -> list:
    """A callback response (``{"actions": [...]}`` or a bare list) as parsed actions."""
    parser = FlowParser()
    if (too_deep := nesting_problem(doc)) is not None:
        raise FlowValidationError([too_deep])
    if isinstance(doc, list):
        actions = parser.parse_list(doc, "")
    elif isinstance(doc, dict):
        for key in doc:
            if key not in RESPONSE_KEYS:
                parser.problems.add(f"/{key}", f"unknown key {key!r} in the response")
        raw = doc.get("actions", [])
        actions = parser.parse_list([] if raw is None else raw, "/actions")
    else:
        raise FlowValidationError([("", 'the response must be a JSON object with an "actions" array')])
    parser.finish()
    parser.problems.raise_if_any()
    return actions


def action_types(actions: list):
    """(type, JSON path) of each action, nested ones too (IF's branches, FOREACH's body)."""
    for action in actions:
        yield action.type, action.path
        for block in ("then", "otherwise", "body"):
            yield from action_types(getattr(action, block, None) or [])


def compile_actions(actions: list) -> Program:
    program = Program()
    for action in actions:
        action.compile(program)
    return program.link()


def parse_flow(doc) -> Program:
    """Validate and compile a response in one go."""
    return compile_actions(parse_response(doc))
