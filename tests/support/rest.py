"""The REST API as one account sees it: a Flask test client with its key."""


class Client:
    """The Flask test client with one account's key on every request."""

    def __init__(self, flask_client, key):
        self.c = flask_client
        self.key = key

    def _h(self, headers):
        h = {"x-api-key": self.key} if self.key else {}
        h.update(headers or {})
        return h

    def get(self, path, **kw):
        return self.c.get("/v1" + path, headers=self._h(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.c.delete("/v1" + path, headers=self._h(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.c.post("/v1" + path, json=json, headers=self._h(kw.pop("headers", None)), **kw)

    def put(self, path, json=None, **kw):
        return self.c.put("/v1" + path, json=json, headers=self._h(kw.pop("headers", None)), **kw)


def enc(no):
    return no.replace("+", "%2B")
