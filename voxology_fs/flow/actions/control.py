"""Control flow: IF, GOTO, LABEL, FOREACH.

These never touch the call; they compile into jumps (see ``program.py``).
"""

from __future__ import annotations

from ..expressions import UNDEFINED, ExpressionError
from ..expressions import parse as parse_expression
from ..program import GotoLabel, Jump, JumpUnless, LoopNext, LoopStart
from .base import Action, Param, register


def _parse_condition(text, path: str, problems):
    if not isinstance(text, str) or not text.strip():
        problems.add(path, "condition is required and must be a non-empty string")
        return None
    try:
        return parse_expression(text)
    except ExpressionError as exc:
        problems.add(path, f"condition does not parse: {exc}")
        return None


@register
class If(Action):
    """Run ``then`` when ``condition`` is true, else ``orElse`` (or ``else``).

    ``{"type": "IF", "condition": "...", "then": [...], "orElse": [...]}``.
    """

    type = "IF"
    top_level_keys = frozenset({"name", "condition", "then", "orElse", "else"})

    def check(self, problems, parser):
        raw = self.raw
        params = raw.get("params")
        if not isinstance(params, dict):
            params = {}
        condition_text = raw.get("condition", params.get("condition"))
        where = f"{self.path}/condition" if "condition" in raw else f"{self.path}/params/condition"
        self.condition = _parse_condition(condition_text, where, problems)
        self.then = parser.parse_list(raw.get("then", []), f"{self.path}/then", nested_block=True)
        else_key = "orElse" if "orElse" in raw else "else"
        self.otherwise = parser.parse_list(raw.get(else_key, []), f"{self.path}/{else_key}", nested_block=True)

    params_spec = (Param("condition", template=False, doc="an expression; also accepted at the action's top level"),)

    def compile(self, program):
        branch = program.emit(JumpUnless(self.condition))
        for action in self.then:
            action.compile(program)
        if self.otherwise:
            skip_else = program.emit(Jump())
            branch.target = program.here()
            for action in self.otherwise:
                action.compile(program)
            skip_else.target = program.here()
        else:
            branch.target = program.here()


@register
class Label(Action):
    """A target for GOTO: ``{"type": "LABEL", "name": "MY_LABEL"}``."""

    type = "LABEL"
    params_spec = (Param("name", template=False, doc="the label; also accepted at the action's top level"),)

    def check(self, problems, parser):
        name = self.raw.get("name") or self.params.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.add(f"{self.path}/name", "a LABEL needs a name")
            self.label = None
            return
        self.label = name
        parser.declare_label(name, self.path)

    def compile(self, program):
        program.mark_label(self.label)


@register
class Goto(Action):
    """Jump to a LABEL of this block or a block around it.

    ``{"type": "GOTO", "params": {"label": "MY_LABEL"}}``.
    """

    type = "GOTO"
    params_spec = (Param("label", required=True, template=False, doc="the LABEL's name"),)

    def check(self, problems, parser):
        if self.params["label"]:
            parser.use_label(self.params["label"], f"{self.path}/params/label")

    def compile(self, program):
        program.emit(GotoLabel(self.params["label"]))


@register
class Foreach(Action):
    """Run nested actions once per item of an array or object.

    ``{"type": "FOREACH", "params": {"items": "$sessionData.contacts",
    "as": "contact", "index": "i"}, "actions": [...]}``: in the nested
    actions ``${contact}`` is the item and ``${i}`` its index (or, for an
    object, its key).
    """

    type = "FOREACH"
    top_level_keys = frozenset({"name", "actions"})
    params_spec = (
        Param("items", required=True, template=False, doc="an expression giving an array or object"),
        Param("as", default="item", template=False, doc="the item's variable name"),
        Param("index", default="index", template=False, doc="the index (or key) variable name"),
    )

    def check(self, problems, parser):
        self.items_expr = None
        if self.params["items"] is not None:
            self.items_expr = _parse_condition(self.params["items"], f"{self.path}/params/items", problems)
        for key in ("as", "index"):
            name = self.params[key]
            if not isinstance(name, str) or not name.isidentifier():
                problems.add(f"{self.path}/params/{key}", f"{key} must be a variable name, got {name!r}")
        self.body = parser.parse_list(self.raw.get("actions", []), f"{self.path}/actions", nested_block=True)

    def items_of(self, ctx) -> list[tuple]:
        assert self.items_expr is not None, "check() refuses a FOREACH without items"
        value = self.items_expr.evaluate(ctx.lookup)
        if isinstance(value, list):
            return list(enumerate(value))
        if isinstance(value, dict):
            return list(value.items())
        if value is None or value is UNDEFINED:
            return []
        ctx.warn(f"{self.path}/params/items", f"FOREACH items is a {type(value).__name__}, not an array or object")
        return []

    def bind(self, ctx, key, item) -> None:
        ctx.state.locals[self.params["as"]] = item
        ctx.state.locals[self.params["index"]] = key

    def unbind(self, ctx) -> None:
        ctx.state.locals.pop(self.params["as"], None)
        ctx.state.locals.pop(self.params["index"], None)

    def compile(self, program):
        program.emit(LoopStart(self))
        head = program.here()
        advance = program.emit(LoopNext(self))
        for action in self.body:
            action.compile(program)
        program.emit(Jump(head))
        advance.exit = program.here()
