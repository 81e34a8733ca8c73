"""Accounts, applications, numbers and call-flow configurations for tests and benchmarks."""

from voxology_fs import models, operator

from .rest import enc

DID = "+17145551212"
CALLER = "+19495551212"
FAR = "+19495550123"
HELLO = {"actions": [{"type": "SAY", "params": {"text": "Hello, world."}}, {"type": "HANGUP"}]}


def provision(
    url,
    number=DID,
    method="POST",
    content_type="application/json",
    fallback_url=None,
    account="acme",
    application="main",
):
    """An account whose application answers ``number`` with the call flow at ``url``."""
    account = models.Account.create(name=account)
    app = models.Application.create(account=account, name=application)
    phone = models.PhoneNumber.create(number=number, account=account, application=app, service="CallFlows")
    models.CallFlowConfig.create(
        phone_number=phone, url=url, method=method, content_type=content_type, fallback_url=fallback_url
    )
    return account, app


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


def setup_number(client, url, method="POST", number=DID):
    """Provision ``number`` through the REST API and point it at the flow at ``url``."""
    assert client.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": number}]}).status_code == 201
    r = client.put(
        "/CallFlows/Configurations/PhoneNumbers/" + enc(number),
        {"callback": {"method": method, "url": url, "content_type": "application/json"}},
    )
    assert r.status_code == 200, r.get_json()


def call_record(call_id):
    """The call's record as stored now."""
    with models.database.connection_context():
        return models.Call.get_by_id(call_id)
