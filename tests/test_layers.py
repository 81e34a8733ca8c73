"""The flow interpreter sees a Channel and capabilities, never the ESL code behind them."""

import ast
import pathlib
import subprocess
import sys

import voxology_fs

FLOW = pathlib.Path(voxology_fs.__file__).parent / "flow"


def _imported_modules(path: pathlib.Path) -> set[str]:
    package = "voxology_fs." + ".".join(path.relative_to(FLOW.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            found.add(".".join(base + ([node.module] if node.module else [])))
    return found


def test_no_flow_module_imports_esl():
    offenders = {
        str(p.relative_to(FLOW.parent)): sorted(m for m in _imported_modules(p) if ".esl" in m or m.startswith("esl"))
        for p in FLOW.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_loading_the_interpreter_loads_no_esl_module():
    code = (
        "import sys, voxology_fs.flow.runner, voxology_fs.flow.parser\n"
        "print(sorted(m for m in sys.modules if m.startswith('voxology_fs.esl')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
