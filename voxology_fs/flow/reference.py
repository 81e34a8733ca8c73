"""The README's action reference, generated from the actions' declarations.

``python -m voxology_fs.flow.reference`` rewrites the part of README.rst
between the two marker comments; ``--check`` only says whether it is current.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys

from .actions import REGISTRY

BEGIN = ".. BEGIN ACTION REFERENCE (python -m voxology_fs.flow.reference writes this part)"
END = ".. END ACTION REFERENCE"
README = os.path.join(os.path.dirname(__file__), "..", "..", "README.rst")
UNIT_NAMES = {"ms": "milliseconds", "s": "seconds"}
KIND_NAMES = {"strings": "string or array of strings", "choice": "string or boolean"}


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _param_line(param) -> str:
    facts = [KIND_NAMES.get(param.kind, param.kind)]
    if param.unit:
        facts.append(param.unit)
    if param.required:
        facts.append("required")
    elif param.default not in (None, ""):
        default = str(param.default).lower() if isinstance(param.default, bool) else param.default
        facts.append(f"default ``{default}``")
    if param.choices:
        facts.append("one of " + ", ".join(f"``{c}``" for c in param.choices))
    if param.minimum is not None or param.maximum is not None:
        facts.append(
            f"{_number(param.minimum)} to {_number(param.maximum)}"
            if param.minimum is not None and param.maximum is not None
            else f"at least {_number(param.minimum)}"
            if param.minimum is not None
            else f"at most {_number(param.maximum)}"
        )
    line = f"* ``{param.name}`` ({', '.join(facts)})"
    return f"{line}: {param.doc}" if param.doc else line


def reference() -> str:
    """The reStructuredText between the markers."""
    lines = []
    for kind, cls in REGISTRY.items():
        doc = inspect.cleandoc(cls.__doc__ or "")
        lines += [f"``{kind}``", "~" * (len(kind) + 4), ""]
        if doc:
            lines += [doc, ""]
        if cls.params_spec:
            lines += [_param_line(p) for p in cls.params_spec] + [""]
    durations = [(kind, p) for kind, cls in REGISTRY.items() for p in cls.params_spec if p.unit]
    width = max(len(f"{k} {p.name}") for k, p in durations) + 4
    rule = "=" * width + "  " + "=" * 14
    lines += (
        ["Durations of the actions (ring timeouts are in seconds, every other", "duration in milliseconds):", "", rule]
        + [f"{'``' + k + ' ' + p.name + '``':<{width}}  {UNIT_NAMES[p.unit]}" for k, p in durations]
        + [rule]
    )
    return "\n".join(lines)


def replaced(text: str) -> str:
    """``text`` (a README) with its reference regenerated."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n\n" + reference() + "\n\n" + text[end:]


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--check", action="store_true", help="fail if README.rst is not current")
    options.add_argument("--readme", default=README)
    args = options.parse_args(argv)
    with open(args.readme, encoding="utf-8") as fh:
        text = fh.read()
    new = replaced(text)
    if args.check:
        if new != text:
            print(f"{args.readme}: the action reference is out of date; run python -m voxology_fs.flow.reference")
            return 1
        return 0
    if new != text:
        with open(args.readme, "w", encoding="utf-8") as fh:
            fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
