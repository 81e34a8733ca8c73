"""The REST API: a Flask app (one blueprint per resource) under ``/v1``.

``create_app(settings)`` builds it; ``serve_api(settings)`` runs it under
gunicorn with gevent workers (``-k gevent``, no ``--preload``), each worker
importing :mod:`voxology_fs.api.wsgi` after the fork and opening its own
inbound ESL connections then.  ``api_workers = 0`` serves in the calling
process instead (development, ``voxology-fs serve`` on a small box).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from .. import db
from ..settings import Settings, Switch
from . import errors
from .auth import RateLimiter, authenticate

log = logging.getLogger(__name__)

# Endpoints anyone may read without a key.
PUBLIC_ENDPOINTS = {"docs.openapi", "docs.reference", "docs.root"}
# Endpoints that check a key, or a signed URL, themselves.
SELF_AUTHENTICATED = {"recordings.get_audio", "messages.delivery_receipt"}
SETTINGS_ENV = "VOXOLOGY_SETTINGS_JSON"


def create_app(settings: Settings, switches=None, start_switches: bool = True) -> Flask:
    """The WSGI app.  ``switches`` defaults to one link per switch of the settings."""
    from . import (
        call_recordings,
        caller_ids,
        calls,
        conferences,
        configs,
        docs,
        messages,
        phone_numbers,
        queues,
        recordings,
    )

    app = Flask(__name__)
    assert isinstance(app.json, DefaultJSONProvider)  # Flask's own, which can keep key order
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    app.config["VOX_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    if settings.api_rate_limit > 0:
        app.config["VOX_LIMITER"] = RateLimiter(settings.api_rate_limit, settings.api_rate_burst)
    if db.database.obj is None:
        db.connect(settings.database_url, settings.database_pool_size)
    if switches is None and start_switches:
        from ..switches import Switches

        switches = Switches(settings).start()
    app.config["VOX_SWITCHES"] = switches

    for module in (
        phone_numbers,
        configs,
        calls,
        call_recordings,
        caller_ids,
        conferences,
        queues,
        recordings,
        messages,
        docs,
    ):
        app.register_blueprint(module.bp, url_prefix="/v1")
    errors.register(app)

    @app.before_request
    def _authenticate():
        # No NUL anywhere in the URL: PostgreSQL refuses it in any string.
        if (
            "\x00" in request.path
            or "\x00" in request.query_string.decode("latin-1")
            or "%00" in request.query_string.decode("latin-1")
        ):
            raise errors.ApiError(400, "bad_request", "the URL contains a NUL character")
        if request.routing_exception is not None or request.endpoint in PUBLIC_ENDPOINTS | SELF_AUTHENTICATED:
            return None
        authenticate()
        return None

    return app


def settings_to_json(settings: Settings) -> str:
    return json.dumps(dataclasses.asdict(settings))


def settings_from_json(text: str) -> Settings:
    values = json.loads(text)
    values["switches"] = tuple(Switch(**s) for s in values.get("switches", ()))
    return Settings(**values)


def serve_api(settings: Settings) -> int:
    """Serve the API until stopped; gunicorn with gevent workers unless ``api_workers`` is 0."""
    if settings.api_workers <= 0:
        from gevent.pywsgi import WSGIServer

        server = WSGIServer((settings.api_host, settings.api_port), create_app(settings), log=None)
        server.serve_forever()
        return 0
    from gevent import subprocess

    env = dict(os.environ)
    env[SETTINGS_ENV] = settings_to_json(settings)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "gevent",
        "--workers",
        str(settings.api_workers),
        "--bind",
        f"{settings.api_host}:{settings.api_port}",
        "--worker-connections",
        "1000",
        "--graceful-timeout",
        "10",
        "voxology_fs.api.wsgi:app",
    ]
    log.info("starting gunicorn: %s", " ".join(argv))
    process = subprocess.Popen(argv, env=env)

    def stop(*_):
        # gunicorn stops its workers gracefully on SIGTERM.
        if process.poll() is None:
            process.terminate()

    import signal

    import gevent

    handlers = [gevent.signal_handler(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)]
    try:
        return process.wait()
    finally:
        stop()
        for handler in handlers:
            handler.cancel()
