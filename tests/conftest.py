"""Shared fixtures: a clean database, a local callback server, settings, the API rig.

The helpers they use are in ``tests/support``.  The database is SQLite unless
``VOXOLOGY_TEST_DATABASE_URL`` names another (the tox ``postgres`` env sets
it to the local PostgreSQL).
"""

from gevent import monkey

monkey.patch_all()

import pytest  # noqa: E402

from tests.fakefs import FakeSwitch  # noqa: E402
from tests.support.callbacks import CallbackServer  # noqa: E402
from tests.support.database import TEST_DATABASE_URL, empty_tables, open_database  # noqa: E402
from tests.support.provision import INVENTORY  # noqa: E402
from tests.support.rig import Rig  # noqa: E402
from voxology_fs import db as dbmod  # noqa: E402
from voxology_fs import operator  # noqa: E402
from voxology_fs.callserver import CallServer  # noqa: E402
from voxology_fs.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db')}/test.sqlite3"
    database = open_database(url)
    yield database
    dbmod.close()


@pytest.fixture
def db(database):
    """A database with empty tables for this test."""
    empty_tables(database)
    yield database


@pytest.fixture
def callback_server():
    server = CallbackServer()
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path):
    return Settings(
        database_url="unused-by-tests",
        outbound_host="127.0.0.1",
        outbound_port=0,
        callback_connect_timeout=1.0,
        callback_timeout=2.0,
        callback_retries=1,
        callback_retry_backoff=0.01,
        audio_cache_dir=str(tmp_path / "audio"),
        recordings_dir=str(tmp_path / "rec"),
        max_callbacks_per_call=20,
    )


@pytest.fixture
def call_server(db, settings):
    """Our call server on loopback, alone (no REST, no switch watcher)."""
    server = CallServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def switch(call_server):
    """A fake switch that hands its calls to ``call_server``."""
    fake = FakeSwitch(outbound=("127.0.0.1", call_server.port), time_scale=0.01, media_ms=5)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def rig(db, settings):
    """Call server, fake switch and REST app on loopback, with the test numbers imported."""
    operator.import_numbers(INVENTORY)
    rig = Rig(settings)
    yield rig
    rig.close()


def pytest_collection_modifyitems(config, items):
    # Tests that use the database run a second time on PostgreSQL (``-m db``).
    for item in items:
        if {"db", "database"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3-compatible server (moto's, a process of its own) on loopback."""
    from tests.support.s3 import s3_server

    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint):
    """A fresh bucket on it: (a client, its name)."""
    from tests.support.s3 import new_bucket

    return new_bucket(s3_endpoint)
