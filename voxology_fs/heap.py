"""Keeping the garbage collector off what is loaded once at start-up.

The number geography data (libphonenumber's, through ``phonenumbers``) is
tables of some 300,000 entries. Each full collection walked them all: 70 ms
during which no call of the process moved. Objects that exist once start-up is
done live as long as the process, so they are moved out of the collector's
sight; what calls allocate afterwards is collected as usual.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Load what start-up loads, collect once, then freeze the survivors (``gc.freeze``)."""
    from . import numbers  # noqa: F401  (importing it loads the geography data)

    gc.collect()
    gc.freeze()
