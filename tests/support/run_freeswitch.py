"""``scripts/run-freeswitch`` as a module, for the real-switch tests and the benchmarks.

The script has no ``.py`` suffix (it is a command), so it is loaded by path.
"""

import importlib.machinery
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent.parent / "scripts" / "run-freeswitch"


def _load():
    loader = importlib.machinery.SourceFileLoader("voxology_run_freeswitch", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


runfs = _load()
