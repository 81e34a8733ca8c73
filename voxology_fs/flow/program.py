"""A response's actions, compiled into a flat program with jumps.

Nested blocks (IF's ``then``/``orElse``, FOREACH's ``actions``) become
jumps, so a GOTO can leave any number of blocks at once, and the program
runs in one simple loop.  A GOTO may target a LABEL in its own block or any
block around it, never into a block it is not in (there would be no loop
or branch state to go on with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import RunawayFlow


# -- signals an action can return ------------------------------------------------
class Signal:
    pass


@dataclass
class Stop(Signal):
    """STOP: this response is done; the loop asks the callback for more."""


@dataclass
class Hangup(Signal):
    """The flow ended the call."""


@dataclass
class Leave(Signal):
    """LEAVE, in a QUEUE's wait flow: the caller leaves the queue and the flow goes on."""


@dataclass
class Redirect(Signal):
    """Fetch a new flow from ``url`` and run it instead of what remains."""

    url: str
    method: str = "POST"
    content_type: str | None = None


# -- instructions ------------------------------------------------------------------
class Instruction:
    @property
    def counts_as_media(self) -> bool:
        return False

    def step(self, ctx):
        """Returns None (next), an int (jump target) or a Signal."""
        raise NotImplementedError


@dataclass
class Run(Instruction):
    action: object

    @property
    def counts_as_media(self) -> bool:
        return getattr(self.action, "needs_media", False)

    def step(self, ctx):
        return ctx.run_action(self.action)


@dataclass
class JumpUnless(Instruction):
    condition: object
    target: int = -1

    def step(self, ctx):
        return None if ctx.test(self.condition) else self.target


@dataclass
class Jump(Instruction):
    target: int = -1

    def step(self, ctx):
        return self.target


@dataclass
class GotoLabel(Instruction):
    label: str
    target: int = -1

    def step(self, ctx):
        ctx.trace("goto", {"label": self.label})
        return self.target


class Loop(Protocol):
    """What a FOREACH action gives its loop instructions."""

    def items_of(self, ctx) -> list[tuple]: ...
    def bind(self, ctx, key, item) -> None: ...
    def unbind(self, ctx) -> None: ...


@dataclass
class LoopStart(Instruction):
    """FOREACH: evaluate the items once and start the loop's state."""

    loop: Loop

    def step(self, ctx):
        ctx.loops[id(self.loop)] = [self.loop.items_of(ctx), 0]
        return None


@dataclass
class LoopNext(Instruction):
    """FOREACH: bind the next item, or leave the loop."""

    loop: Loop
    exit: int = -1

    def step(self, ctx):
        state = ctx.loops.get(id(self.loop))
        if state is None or state[1] >= len(state[0]):
            ctx.loops.pop(id(self.loop), None)
            self.loop.unbind(ctx)
            return self.exit
        key, item = state[0][state[1]]
        state[1] += 1
        self.loop.bind(ctx, key, item)
        return None


class Program:
    def __init__(self):
        self.code: list[Instruction] = []
        self.labels: dict[str, int] = {}
        self._gotos: list[GotoLabel] = []

    def here(self) -> int:
        return len(self.code)

    def emit(self, item) -> Instruction:
        instruction = item if isinstance(item, Instruction) else Run(item)
        if isinstance(instruction, GotoLabel):
            self._gotos.append(instruction)
        self.code.append(instruction)
        return instruction

    def mark_label(self, name: str) -> None:
        self.labels[name] = self.here()

    def link(self) -> Program:
        for goto in self._gotos:
            goto.target = self.labels[goto.label]
        return self

    def __len__(self) -> int:
        return len(self.code)


def execute(program: Program, ctx, max_steps: int) -> Signal | None:
    """Run a program to its end or to a signal.

    ``max_steps`` bounds control-flow steps between two media actions, so a
    GOTO loop with nothing audible in it ends with :class:`RunawayFlow`.
    """
    pc = 0
    idle_steps = 0
    code = program.code
    while pc < len(code):
        ctx.between_steps()
        instruction = code[pc]
        outcome = instruction.step(ctx)
        if instruction.counts_as_media:
            idle_steps = 0
        else:
            idle_steps += 1
            if idle_steps > max_steps:
                raise RunawayFlow(f"more than {max_steps} steps without any media action (a GOTO loop?)")
        if outcome is None:
            pc += 1
        elif isinstance(outcome, Signal):
            return outcome
        else:
            pc = outcome
    return None
