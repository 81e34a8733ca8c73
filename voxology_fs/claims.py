"""Claims: one process of many takes on a side effect, once.

Every switch watcher (one per REST worker, see :mod:`voxology_fs.switches`)
sees every event of its switch.  Before acting on one in a way that sends a
callback or writes a final state, a watcher claims the event's key (its
``Core-UUID:Event-Sequence``, a message id...): the claim is an insert that
only one process can make, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import functools

from . import db
from .models import Claim
from .timeutil import utcnow


@functools.cache
def _insert(param: str) -> str:
    table = Claim._meta.table_name
    # ON CONFLICT ... DO NOTHING: the loser's insert changes no row, and
    # PostgreSQL logs no unique violation for it.
    return f'INSERT INTO "{table}" ("key", "claimed_at") VALUES ({param}, {param}) ON CONFLICT ("key") DO NOTHING'


def claim(key: str) -> bool:
    """True for the one caller, in any process, that claims ``key`` first."""
    with db.database.obj.connection_context():
        return claim_here(key)


def claim_here(key: str) -> bool:
    """:func:`claim` on the connection (and in the transaction) already open:
    a caller that loses waits until the winner's transaction has ended."""
    database = db.database.obj
    cursor = database.execute_sql(_insert(database.param), [key, Claim.claimed_at.db_value(utcnow())])
    return cursor.rowcount == 1


def event_key(event) -> str | None:
    """An event's key: unique per switch run (``Core-UUID``) and event (``Event-Sequence``)."""
    core, sequence = event.get("Core-UUID"), event.get("Event-Sequence")
    return f"{core}:{sequence}" if core and sequence else None


def prune(older_than: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Forget claims old enough that their events can no longer arrive."""
    with db.database.connection_context():
        return Claim.delete().where(Claim.claimed_at < utcnow() - older_than).execute()
