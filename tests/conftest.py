"""Shared fixtures: a clean database, a local callback server, settings.

The database is SQLite unless ``VOXOLOGY_TEST_DATABASE_URL`` names another
(the tox ``postgres`` env sets it to the local PostgreSQL).
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
from urllib.parse import parse_qsl  # noqa: E402

import gevent  # noqa: E402
import peewee  # noqa: E402
import pytest  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from voxology_fs import db as dbmod  # noqa: E402
from voxology_fs import models  # noqa: E402
from voxology_fs.settings import Settings  # noqa: E402

TEST_DATABASE_URL = os.environ.get("VOXOLOGY_TEST_DATABASE_URL", "")


def _reset_schema(database) -> None:
    with database.connection_context():
        is_postgres = isinstance(database, peewee.PostgresqlDatabase)
        database.drop_tables(list(reversed(models.ALL_MODELS)), safe=True, cascade=is_postgres)
        database.execute_sql("DROP TABLE IF EXISTS schema_migration")


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db')}/test.sqlite3"
    database = dbmod.connect(url, pool_size=50)
    _reset_schema(database)
    dbmod.migrate(database)
    yield database
    dbmod.close()


@pytest.fixture
def db(database):
    """A database with empty tables for this test."""
    with database.connection_context():
        for model in reversed(models.ALL_MODELS):
            model.delete().execute()
    yield database


class NoDelayWSGIServer(WSGIServer):
    """pywsgi writes headers and body apart: without TCP_NODELAY, Nagle and
    the client's delayed ACK hold the body back ~40 ms."""

    def handle(self, client_socket, address):
        client_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(client_socket, address)


class CallbackServer:
    """A customer's web server on loopback: records requests, answers by script."""

    def __init__(self):
        self.requests: list[dict] = []
        self.routes: dict[str, object] = {}
        self.server = NoDelayWSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self.server.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler) -> str:
        """``handler(request) -> dict | list | (status, body[, headers]) | bytes``; returns the URL."""
        self.routes[path] = handler
        return self.url(path)

    def static(self, path: str, document) -> str:
        return self.route(path, lambda request: document)

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        ctype = environ.get("CONTENT_TYPE", "")
        request = {
            "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
            "query": parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            "content_type": ctype, "raw": raw, "json": None, "peer": environ.get("REMOTE_PORT"),
            "headers": {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")},
        }
        if ctype.startswith("application/json") and raw:
            request["json"] = json.loads(raw)
        self.requests.append(request)
        handler = self.routes.get(environ["PATH_INFO"])
        if handler is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        result = handler(request)
        status, headers = 200, [("Content-Type", "application/json")]
        if isinstance(result, tuple):
            if len(result) > 2:
                headers = list(result[2].items())
            status, result = result[0], result[1]
        if isinstance(result, (dict, list)):
            body = json.dumps(result).encode()
        elif result is None:
            body = b""
        else:
            body = result if isinstance(result, bytes) else str(result).encode()
        start_response(f"{status} X", headers + [("Content-Length", str(len(body)))])
        return [body]

    def of_type(self, kind: str) -> list[dict]:
        return [r["json"] for r in self.requests if r["json"] and r["json"].get("type") == kind]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        with gevent.Timeout(timeout, False):
            while not predicate():
                gevent.sleep(0.01)
            return True
        return False

    def close(self):
        self.server.stop(timeout=1)


@pytest.fixture
def callback_server():
    server = CallbackServer()
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path):
    return Settings(
        database_url="unused-by-tests", outbound_host="127.0.0.1", outbound_port=0,
        callback_connect_timeout=1.0, callback_timeout=2.0, callback_retries=1, callback_retry_backoff=0.01,
        audio_cache_dir=str(tmp_path / "audio"), recordings_dir=str(tmp_path / "rec"),
        max_callbacks_per_call=20,
    )


def pytest_collection_modifyitems(config, items):
    # Tests that use the database run a second time on PostgreSQL (``-m db``).
    for item in items:
        if {"db", "database"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
