"""Errors of call flows, as types.  Each names where in the JSON it happened."""

from __future__ import annotations


class FlowError(Exception):
    """Base of every error that ends or degrades a flow (never another call)."""

    code = "flow_error"

    def __init__(self, message: str, path: str = ""):
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path

    def as_record(self) -> dict:
        return {"code": self.code, "message": self.message, "path": self.path}


class FlowValidationError(FlowError):
    """A response is not a valid flow; ``errors`` lists each problem and its JSON path."""

    code = "invalid_flow"

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        path, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(message + more, path)

    def as_record(self) -> dict:
        record = super().as_record()
        record["errors"] = [{"path": p, "message": m} for p, m in self.errors]
        return record


class ActionFailed(FlowError):
    """An action could not do its work (an audio URL that fails, a bad value at run time)."""

    code = "action_failed"


class ParamRenderFailed(FlowError):
    """A param's ``${...}`` could not be rendered (its result is over the length limit).

    Unlike :class:`ActionFailed` this ends the flow: the caller hears the
    apology and the call ends, as when the callbacks fail.
    """

    code = "param_render_failed"


class RunawayFlow(FlowError):
    """The flow kept going without progress (callback or GOTO loop limit)."""

    code = "runaway_flow"


class CallRefused(Exception):
    """A call a flow asked to place that may not be placed (a limit, no flow for it); the message says why."""
