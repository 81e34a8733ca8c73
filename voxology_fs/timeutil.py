"""UTC times as the database keeps them and as callbacks and the REST API write them.

The database holds naive datetimes that are UTC (SQLite and PostgreSQL
alike); everything that reads or writes a time goes through here.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, in UTC, naive (the database's convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(moment: dt.datetime | None) -> str | None:
    """UTC time as the callbacks write it: ``2030-09-20T21:32:28.471Z``."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time (``Z`` or an offset allowed) as a naive UTC datetime; ValueError otherwise."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment
