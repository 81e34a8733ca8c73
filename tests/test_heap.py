"""Start-up objects are frozen out of the garbage collector's sight."""

import subprocess
import sys


def test_number_geography_is_frozen_after_start_up():
    """The geography's tables (~300,000 entries) are no longer walked by each
    full collection once start-up is done."""
    code = (
        "import gc\n"
        "from phonenumbers import geodata\n"
        "from voxology_fs.heap import freeze_startup_objects\n"
        "def walked(): return any(o is geodata.GEOCODE_DATA for o in gc.get_objects())\n"
        "before = walked()\n"
        "freeze_startup_objects()\n"
        "print(before, walked(), gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "True"]
