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
import logging
import os
import sqlite3
import time
from urllib.parse import urlparse

import gevent
import peewee
from playhouse import db_url
from playhouse.migrations import Runner

database = peewee.DatabaseProxy()

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")
_green_postgres = False
_checkpointer: WalCheckpointer | None = None

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints a SQLite file's write-ahead log from a thread of its own.

    By default SQLite checkpoints (copies the log into the database file and
    syncs it) inside whichever commit takes the log past 1,000 pages: a
    stall of several milliseconds of the whole process, which landed in
    some call's set-up. The call server turns that off and checkpoints here,
    in gevent's thread pool, where the sqlite3 module lets calls go on.
    PASSIVE never waits for readers or writers.
    """

    def __init__(self, path: str, interval: float = 1.0):
        self.path = path
        self.interval = interval
        self.last_result: tuple[int, int, int] | None = None  # busy, log frames, checkpointed frames
        self._greenlet = None

    def start(self) -> WalCheckpointer:
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        while True:
            gevent.sleep(self.interval)
            try:
                self.last_result = gevent.get_hub().threadpool.apply(self.checkpoint)
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)

    def checkpoint(self) -> tuple[int, int, int]:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            return tuple(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
        finally:
            connection.close()


def _make_postgres_cooperative() -> None:
    global _green_postgres
    if not _green_postgres:
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
        _green_postgres = True


def connect(url: str, pool_size: int = 20, background_checkpoints: bool = False) -> peewee.Database:
    """Open (lazily) the database at ``url`` and bind the models to it.

    ``background_checkpoints`` (the call server): a SQLite file's log is
    checkpointed by a :class:`WalCheckpointer`, never inside a commit.
    """
    global _checkpointer
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    _stop_checkpointer()
    if scheme == "sqlite":
        path = url.split("://", 1)[1][1:] if "://" in url else url
        on_disk = bool(path) and path != ":memory:"
        if on_disk:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        pragmas = {"journal_mode": "wal", "synchronous": "normal", "busy_timeout": 10000, "foreign_keys": 1}
        if background_checkpoints and on_disk:
            pragmas["wal_autocheckpoint"] = 0
            _checkpointer = WalCheckpointer(path).start()
        db = db_url.connect(
            f"sqlite+pool:///{path}", max_connections=pool_size, timeout=30, stale_timeout=300, pragmas=pragmas
        )
    elif scheme in ("postgres", "postgresql"):
        _make_postgres_cooperative()
        rest = url.split("://", 1)[1]
        db = db_url.connect(f"postgresql+pool://{rest}", max_connections=pool_size, timeout=30, stale_timeout=300)
    else:
        raise ValueError(f"database_url: unsupported scheme {parsed.scheme!r} (use sqlite or postgresql)")
    database.initialize(db)
    return db


def migrate(db: peewee.Database | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    db = db or database.obj
    with db.connection_context():
        return Runner(db, directory=MIGRATIONS_DIR).up()


def _stop_checkpointer() -> None:
    global _checkpointer
    if _checkpointer is not None:
        _checkpointer.stop()
        _checkpointer = None


def close(wait: float = 5.0) -> None:
    _stop_checkpointer()
    db = database.obj
    if db is None:
        return
    if not hasattr(db, "close_all"):
        if not db.is_closed():
            db.close()
        return
    # A greenlet may still be using a connection (a watcher finishing a call):
    # psycopg2 closing it under that greenlet blocks for good. Let them give
    # their connections back first; past the wait, leave busy ones alone.
    deadline = time.monotonic() + wait
    while getattr(db, "_in_use", None) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    if getattr(db, "_in_use", None):
        db.close_idle()
    else:
        db.close_all()


@contextlib.contextmanager
def unit_of_work():
    """A pooled connection and a transaction for one short piece of work.

    On SQLite the transaction takes the write lock when it begins
    (``BEGIN IMMEDIATE``): one that reads, then writes, would otherwise fail
    at once ("database is locked", no busy wait) whenever another
    connection wrote in between, as calls ending together do.
    """
    lock = {"lock_type": "IMMEDIATE"} if isinstance(database.obj, peewee.SqliteDatabase) else {}
    with database.connection_context(), database.atomic(**lock):
        yield
