"""Helpers shared by the REST API tests."""
from voxology_fs import operator


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


def tenant(name="acme"):
    account = operator.create_account(name)
    app, key = operator.create_application(account.id, "main")
    return account, app, key


INVENTORY = """number,capabilities,country
+17145551212,voice;sms,US
+17145550100,voice,US
+19495550123,voice;sms,US
+12125550199,voice;sms,US
+442079460000,voice,GB
"""


def enc(no):
    return no.replace("+", "%2B")
