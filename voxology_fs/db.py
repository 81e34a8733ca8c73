"""The database connection: SQLite by default, PostgreSQL for production.

Calls run as gevent greenlets, and peewee keeps one connection per thread,
which under gevent's monkey patching means one per greenlet.  So connections
come from a bounded pool and are held only for one unit of work
(``with db.connection_context():`` or :func:`unit_of_work`), never across a
media wait.  SQLite runs in WAL mode with short transactions; PostgreSQL goes
through psycopg2 made cooperative by psycogreen, so a query never blocks the
other calls.
"""
from __future__ import annotations

import contextlib
import os
from urllib.parse import urlparse

import peewee
from playhouse import db_url
from playhouse.migrations import Runner

database = peewee.DatabaseProxy()

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")
_green_postgres = False


def _make_postgres_cooperative() -> None:
    global _green_postgres
    if not _green_postgres:
        from psycogreen.gevent import patch_psycopg
        patch_psycopg()
        _green_postgres = True


def connect(url: str, pool_size: int = 20) -> peewee.Database:
    """Open (lazily) the database at ``url`` and bind the models to it."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        path = url.split("://", 1)[1][1:] if "://" in url else url
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        db = db_url.connect(
            f"sqlite+pool:///{path}", max_connections=pool_size, timeout=30, stale_timeout=300,
            pragmas={"journal_mode": "wal", "synchronous": "normal", "busy_timeout": 10000,
                     "foreign_keys": 1})
    elif scheme in ("postgres", "postgresql"):
        _make_postgres_cooperative()
        rest = url.split("://", 1)[1]
        db = db_url.connect(f"postgresql+pool://{rest}", max_connections=pool_size,
                            timeout=30, stale_timeout=300)
    else:
        raise ValueError(f"database_url: unsupported scheme {parsed.scheme!r} (use sqlite or postgresql)")
    database.initialize(db)
    return db


def migrate(db: peewee.Database | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    db = db or database.obj
    with db.connection_context():
        return Runner(db, directory=MIGRATIONS_DIR).up()


def close() -> None:
    db = database.obj
    if db is not None:
        if hasattr(db, "close_all"):
            db.close_all()
        elif not db.is_closed():
            db.close()


@contextlib.contextmanager
def unit_of_work():
    """A pooled connection and a transaction for one short piece of work."""
    with database.connection_context():
        with database.atomic():
            yield
