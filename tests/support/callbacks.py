"""A customer's web server on loopback, for tests and benchmarks."""

import json
import socket
from urllib.parse import parse_qsl

from gevent.pywsgi import WSGIServer

from .waiting import wait_until


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
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "query": parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            "content_type": ctype,
            "raw": raw,
            "json": None,
            "peer": environ.get("REMOTE_PORT"),
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
        start_response(f"{status} X", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def of_type(self, kind: str) -> list[dict]:
        return [r["json"] for r in self.requests if r["json"] and r["json"].get("type") == kind]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        return wait_until(predicate, timeout)

    def close(self):
        self.server.stop(timeout=1)
