"""The switch's own clock, as its events write it."""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1)


def switch_time(value: str | None) -> dt.datetime | None:
    """A ``*-Time`` header or ``*_uepoch`` variable (microseconds since the
    epoch, UTC; ``0`` when it has not happened) as a naive UTC time."""
    try:
        microseconds = int(value or 0)
    except ValueError:
        return None
    return _EPOCH + dt.timedelta(microseconds=microseconds) if microseconds > 0 else None
