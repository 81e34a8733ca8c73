"""The base of every call flow action, and the registry of action types.

An action class declares its params (:class:`Param`), is parsed and
validated once (``parse``), before anything of its response runs, and later
runs (``run``) against a :class:`~voxology_fs.flow.context.FlowContext`.
Control-flow actions (IF, GOTO, FOREACH...) instead ``compile`` themselves
into jumps of the flat :class:`~voxology_fs.flow.program.Program`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlparse

from .. import templates
from ..errors import FlowValidationError, ParamRenderFailed
from ..expressions import ExpressionError

REGISTRY: dict[str, type[Action]] = {}

# Keys any action may carry that change nothing.
DESCRIPTIVE_KEYS = frozenset({"comment", "comments", "description"})

_MISSING = object()


def register(cls: type[Action]) -> type[Action]:
    REGISTRY[cls.type] = cls
    return cls


class Problems:
    """Validation problems collected with their JSON paths."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise FlowValidationError(self.items)


_KINDS = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    # A string or an array of them (TRANSFER's ``to``); the action checks the items.
    "strings": (str, list),
    # One of a param's choices, where true and false are two of them (CONFERENCE's ``beep``).
    "choice": (str, bool),
}


@dataclass(frozen=True)
class Param:
    """One param of an action: its JSON type, whether required, its bounds."""

    name: str
    kind: str = "string"
    required: bool = False
    default: Any = None
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    # Strings may hold ``${...}`` placeholders, rendered when the action runs.
    template: bool = True
    # An integer param may also be given as a numeric string ("5000").
    lenient_number: bool = True
    doc: str = ""
    # Durations: "ms" (every duration) or "s" (ring timeouts only).
    unit: str = ""

    def read(self, raw: dict, path: str, problems: Problems):
        value = raw.get(self.name, _MISSING)
        where = f"{path}/{self.name}"
        if value is _MISSING or value is None:
            if self.required:
                problems.add(where, f"{self.name} is required")
            return self.default
        if self.kind in ("integer", "number") and self.lenient_number and isinstance(value, str):
            try:
                value = int(value.strip()) if self.kind == "integer" else float(value.strip())
            except ValueError:
                problems.add(where, f"{self.name} must be a {self.kind}, got {value!r}")
                return self.default
        if self.kind == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)
        kinds = _KINDS[self.kind]
        if not isinstance(value, kinds) or (self.kind not in ("boolean", "choice") and isinstance(value, bool)):
            problems.add(where, f"{self.name} must be a {self.kind}, got {type(value).__name__}")
            return self.default
        if self.kind == "choice" and isinstance(value, bool):
            value = "true" if value else "false"
        if self.choices and value not in self.choices:
            choices = ", ".join(repr(c) for c in self.choices)
            problems.add(where, f"{self.name} must be one of {choices}, got {value!r}")
            return self.default
        # Bounds are only given to numbers.
        if self.minimum is not None and isinstance(value, (int, float)) and value < self.minimum:
            problems.add(where, f"{self.name} must be at least {self.minimum:g}, got {value!r}")
            return self.default
        if self.maximum is not None and isinstance(value, (int, float)) and value > self.maximum:
            problems.add(where, f"{self.name} must be at most {self.maximum:g}, got {value!r}")
            return self.default
        if self.kind == "string" and self.template and isinstance(value, str):
            try:
                return templates.compile_template(value, lenient=True)
            except ExpressionError as exc:  # only limits (length) fail a lenient template
                problems.add(where, str(exc))
                return self.default
        return value


class Action:
    """A leaf action: parsed once, run when the flow reaches it."""

    type: ClassVar[str] = ""
    params_spec: ClassVar[tuple[Param, ...]] = ()
    # Keys allowed at the action's top level besides type, params and DESCRIPTIVE_KEYS.
    top_level_keys: ClassVar[frozenset] = frozenset({"name"})
    # Whether the action plays or records media: the interpreter answers the
    # call before running it (and only then: REJECT refuses unanswered calls).
    needs_media: ClassVar[bool] = False

    def __init__(self, raw: dict, path: str, params: dict):
        self.raw = raw
        self.path = path
        self.params = params
        self.name = raw.get("name") if isinstance(raw.get("name"), str) else None

    @classmethod
    def parse(cls, raw: dict, path: str, problems: Problems, parser) -> Action:
        allowed = {"type", "params"} | DESCRIPTIVE_KEYS | cls.top_level_keys
        for key in raw:
            if key not in allowed:
                problems.add(f"{path}/{key}", f"unknown key {key!r} for {cls.type}")
        params_raw = raw.get("params", {})
        if params_raw is None:
            params_raw = {}
        if not isinstance(params_raw, dict):
            problems.add(f"{path}/params", "params must be an object")
            params_raw = {}
        known = {p.name for p in cls.params_spec}
        for key in params_raw:
            if key not in known and key not in DESCRIPTIVE_KEYS:
                problems.add(f"{path}/params/{key}", f"unknown param {key!r} for {cls.type}")
        params = {p.name: p.read(params_raw, f"{path}/params", problems) for p in cls.params_spec}
        action = cls(raw, path, params)
        action.check(problems, parser)
        return action

    def check(self, problems: Problems, parser) -> None:
        """Further validation beyond each param's own (combinations, nesting)."""

    def compile(self, program) -> None:
        program.emit(self)

    def run(self, ctx):
        """Do the action.  Returns None to go on, or a flow signal."""
        raise NotImplementedError

    def render(self, ctx, name: str) -> Any:
        """A param's value with its ``${...}`` placeholders filled in."""
        value = self.params.get(name)
        if value is not None and hasattr(value, "render"):
            try:
                return value.render(ctx.lookup)
            except templates.TemplateError as exc:
                raise ParamRenderFailed(exc.message, f"{self.path}/params/{name}") from None
        return value

    def describe(self) -> str:
        return self.type


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL we may request, or None."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return "url must be an http or https URL"
    return None


def check_url_param(action: Action, problems: Problems, name: str = "url") -> None:
    """Validate a URL param now when it has no placeholders (later, when it runs, otherwise)."""
    template = action.params.get(name)
    if template is not None and not template.variables:
        error = http_url_problem(template.render(lambda n: None))
        if error:
            problems.add(f"{action.path}/params/{name}", error)
