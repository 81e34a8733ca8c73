"""REST API: auth, errors, numbers, configurations, information, docs, isolation."""

import pytest

from tests.support.provision import DID, INVENTORY, tenant
from tests.support.rest import Client, enc
from voxology_fs import models, operator
from voxology_fs.api import create_app


@pytest.fixture
def app(db, settings):
    return create_app(settings.replace(api_rate_limit=0), start_switches=False)


@pytest.fixture
def inventory(db):
    operator.import_numbers(INVENTORY)


@pytest.fixture
def acme(app, inventory):
    _account, _application, key = tenant("acme")
    return Client(app.test_client(), key)


@pytest.fixture
def other(app, inventory):
    _account, _application, key = tenant("other")
    return Client(app.test_client(), key)


def err(response, status, code=None, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    if code:
        assert body["error"]["code"] == code
    if field is not None:
        assert body["error"]["field"] == field
    return body["error"]


# -- auth and errors ---------------------------------------------------------------------
def test_missing_and_unknown_key_are_401(app, inventory):
    c = app.test_client()
    err(c.get("/v1/PhoneNumbers"), 401, "unauthorized")
    err(c.get("/v1/PhoneNumbers", headers={"x-api-key": "vox_nope"}), 401, "unauthorized")


def test_header_name_is_case_insensitive(acme):
    for name in ("x-api-key", "X-Api-Key", "X-API-KEY"):
        assert acme.c.get("/v1/PhoneNumbers", headers={name: acme.key}).status_code == 200


def test_revoked_and_rotated_keys(app, inventory):
    _account, application, key = tenant()
    c = app.test_client()
    new = operator.rotate_key(application.id)
    err(c.get("/v1/PhoneNumbers", headers={"x-api-key": key}), 401)
    assert c.get("/v1/PhoneNumbers", headers={"x-api-key": new}).status_code == 200
    operator.revoke_key(application.id)
    err(c.get("/v1/PhoneNumbers", headers={"x-api-key": new}), 401)


def test_only_the_hash_of_a_key_is_stored(db):
    _account, application, key = tenant()
    row = models.Application.get_by_id(application.id)
    assert key not in (row.api_key_hash, row.api_key_prefix) and len(row.api_key_hash) == 64
    assert key.startswith(row.api_key_prefix)


def test_malformed_json_is_400_and_wrong_media_type_415(acme):
    r = acme.c.post(
        "/v1/PhoneNumbers/CallFlows", data="{nope", headers={"x-api-key": acme.key, "content-type": "application/json"}
    )
    err(r, 400, "invalid_json")
    r = acme.c.post(
        "/v1/PhoneNumbers/CallFlows", data="[1]", headers={"x-api-key": acme.key, "content-type": "application/json"}
    )
    err(r, 400, "invalid_json")
    r = acme.c.post(
        "/v1/PhoneNumbers/CallFlows", data="a=b", headers={"x-api-key": acme.key, "content-type": "text/plain"}
    )
    err(r, 415, "unsupported_media_type")
    r = acme.c.post(
        "/v1/PhoneNumbers/CallFlows",
        data=b"\xff\xfe",
        headers={"x-api-key": acme.key, "content-type": "application/json"},
    )
    err(r, 400, "invalid_json")


def test_unknown_path_and_method_are_json(acme):
    err(acme.get("/Nothing"), 404, "not_found")
    err(acme.c.patch("/v1/PhoneNumbers", headers={"x-api-key": acme.key}), 405, "method_not_allowed")


def test_rate_limit_429(db, settings, inventory):
    app = create_app(settings.replace(api_rate_limit=0.001, api_rate_burst=3), start_switches=False)
    _, _, key = tenant()
    c = Client(app.test_client(), key)
    assert [c.get("/PhoneNumbers").status_code for _ in range(3)] == [200, 200, 200]
    r = c.get("/PhoneNumbers")
    err(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1


# -- numbers --------------------------------------------------------------------------------
def test_search_by_area_code_is_the_national_prefix(acme):
    r = acme.get(
        "/PhoneNumbers/Available?capabilities=voice,sms&search_by=prefixes&search_on=714",
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"},
    )
    assert r.status_code == 200
    assert [n["no"] for n in r.get_json()["phone_numbers"]] == ["+17145551212"]
    r = acme.get("/PhoneNumbers/Available?capabilities=voice&search_by=prefixes&search_on=714")
    assert [n["no"] for n in r.get_json()["phone_numbers"]] == ["+17145550100", "+17145551212"]
    # "1714" is not an area code: no string prefix match on the E.164 form
    r = acme.get("/PhoneNumbers/Available?search_by=prefixes&search_on=1714")
    assert r.get_json()["phone_numbers"] == []
    r = acme.get("/PhoneNumbers/Available?search_by=prefixes&search_on=%2B4420")
    assert [n["no"] for n in r.get_json()["phone_numbers"]] == ["+442079460000"]
    r = acme.get("/PhoneNumbers/Available?search_by=prefixes&search_on=20")
    assert [n["no"] for n in r.get_json()["phone_numbers"]] == ["+442079460000"]


def test_search_contains_region_country_and_pages(acme):
    r = acme.get("/PhoneNumbers/Available?search_by=contains&search_on=5550199")
    assert [n["no"] for n in r.get_json()["phone_numbers"]] == ["+12125550199"]
    r = acme.get("/PhoneNumbers/Available?search_by=region&search_on=CA")
    assert {n["no"] for n in r.get_json()["phone_numbers"]} == {"+17145551212", "+17145550100", "+19495550123"}
    assert r.get_json()["phone_numbers"][0]["location"]["region"] == "CA"
    r = acme.get("/PhoneNumbers/Available?search_by=country&search_on=gb")
    assert [n["no"] for n in r.get_json()["phone_numbers"]] == ["+442079460000"]
    r = acme.get("/PhoneNumbers/Available?page=2&page_size=2").get_json()
    assert r["total"] == 5 and r["page"] == 2 and len(r["phone_numbers"]) == 2 and r["has_more"]


@pytest.mark.parametrize(
    "query,field",
    [
        ("capabilities=fax", "capabilities"),
        ("search_by=zip&search_on=1", "search_by"),
        ("search_by=prefixes", "search_on"),
        ("search_by=prefixes&search_on=7x!", "search_on"),
        ("page=0", "page"),
        ("page_size=abc", "page_size"),
        ("page_size=100000", "page_size"),
        ("search_by=country&search_on=USA", "search_on"),
    ],
)
def test_search_errors_name_the_field(acme, query, field):
    err(acme.get("/PhoneNumbers/Available?" + query), 400, "invalid_field", field)


def test_provision_list_get_release(acme):
    r = acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}]})
    assert r.status_code == 201 and r.get_json()["phone_numbers"][0]["service"] == "CallFlows"
    assert [n["no"] for n in acme.get("/PhoneNumbers").get_json()["phone_numbers"]] == [DID]
    assert acme.get("/PhoneNumbers/" + enc(DID)).get_json()["call_flow_configuration"] is None
    assert acme.get("/PhoneNumbers/" + DID).status_code == 200  # an unencoded + works too
    # provisioning again is harmless; it is no longer available to search
    assert acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}]}).status_code == 201
    assert DID not in [n["no"] for n in acme.get("/PhoneNumbers/Available").get_json()["phone_numbers"]]
    assert acme.delete("/PhoneNumbers/" + enc(DID)).status_code == 204
    assert acme.get("/PhoneNumbers").get_json()["phone_numbers"] == []
    assert DID in [n["no"] for n in acme.get("/PhoneNumbers/Available").get_json()["phone_numbers"]]
    err(acme.delete("/PhoneNumbers/" + enc(DID)), 404)


def test_provision_is_all_or_nothing(acme, other):
    assert other.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": "+12125550199"}]}).status_code == 201
    r = acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}, {"no": "+12125550199"}]})
    err(r, 409, "conflict", "phone_numbers.1.no")
    r = acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}, {"no": "+13105550000"}]})
    err(r, 404, "not_found", "phone_numbers.1.no")
    assert acme.get("/PhoneNumbers").get_json()["total"] == 0


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "phone_numbers"),
        ({"phone_numbers": []}, "phone_numbers"),
        ({"phone_numbers": ["+17145551212"]}, "phone_numbers.0"),
        ({"phone_numbers": [{"no": "hello"}]}, "phone_numbers.0.no"),
        ({"phone_numbers": [{"no": 17145551212}]}, "phone_numbers.0.no"),
    ],
)
def test_provision_validation(acme, body, field):
    err(acme.post("/PhoneNumbers/CallFlows", body), 400, "invalid_field", field)


def test_provision_needs_voice(acme):
    operator.import_numbers("+13105550001,sms\n")
    err(
        acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": "+13105550001"}]}),
        400,
        field="phone_numbers.0.no",
    )


# -- configurations -------------------------------------------------------------------------
SEED_CONFIG = {
    "callback": {
        "method": "GET",
        "url": "https://s3-us-west-2.amazonaws.com/com.voxology.actions/docs/hello-world.json",
        "content_type": "application/json",
    }
}


def test_put_and_get_configuration(acme):
    acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}]})
    r = acme.put("/CallFlows/Configurations/PhoneNumbers/" + enc(DID), SEED_CONFIG)
    assert r.status_code == 200
    assert r.get_json()["callback"] == SEED_CONFIG["callback"] and r.get_json()["fallback"] is None
    body = {
        "callback": {"method": "post", "url": "http://127.0.0.1:9/x", "content_type": "application/xml"},
        "fallback": {"url": "https://example.net/fb"},
    }
    r = acme.put("/CallFlows/Configurations/PhoneNumbers/" + enc(DID), body)
    doc = acme.get("/CallFlows/Configurations/PhoneNumbers/" + enc(DID)).get_json()
    assert doc["callback"] == {"method": "POST", "url": "http://127.0.0.1:9/x", "content_type": "application/xml"}
    assert doc["fallback"] == {"url": "https://example.net/fb", "method": "POST"}
    config = models.CallFlowConfig.get_by_id(DID)
    assert (config.method, config.fallback_url) == ("POST", "https://example.net/fb")
    assert acme.delete("/CallFlows/Configurations/PhoneNumbers/" + enc(DID)).status_code == 204
    err(acme.get("/CallFlows/Configurations/PhoneNumbers/" + enc(DID)), 404)


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "callback"),
        ({"callback": "x"}, "callback"),
        ({"callback": {}}, "callback.url"),
        ({"callback": {"url": "ftp://x/y"}}, "callback.url"),
        ({"callback": {"url": "/local"}}, "callback.url"),
        ({"callback": {"url": "http://x/y", "method": "PUT"}}, "callback.method"),
        ({"callback": {"url": "http://x/y", "content_type": "text/html"}}, "callback.content_type"),
        ({"callback": {"url": "http://x/y"}, "fallback": {"url": "file:///etc/passwd"}}, "fallback.url"),
        ({"callback": {"url": 5}}, "callback.url"),
    ],
)
def test_configuration_validation(acme, body, field):
    acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}]})
    err(acme.put("/CallFlows/Configurations/PhoneNumbers/" + enc(DID), body), 400, "invalid_field", field)


def test_configuration_of_a_number_not_yours(acme):
    err(acme.put("/CallFlows/Configurations/PhoneNumbers/" + enc(DID), SEED_CONFIG), 404)
    err(acme.put("/CallFlows/Configurations/PhoneNumbers/not-a-number", SEED_CONFIG), 400, field="no")


def test_phone_number_information(acme):
    r = acme.get("/PhoneNumberInformation/" + enc("+19495551212") + "?include=location").get_json()
    assert r["no"] == "+19495551212" and r["country_code"] == 1 and r["national_number"] == "9495551212"
    assert r["location"]["region"] == "CA" and r["location"]["country"] == "US"
    assert r["location"]["timezone"] == "America/Los_Angeles" and r["valid"] is True
    assert "location" not in acme.get("/PhoneNumberInformation/" + enc("+19495551212")).get_json()
    err(acme.get("/PhoneNumberInformation/12"), 400, field="no")
    err(acme.get("/PhoneNumberInformation/" + enc("+19495551212") + "?include=owner"), 400, field="include")


# -- isolation --------------------------------------------------------------------------------
def test_accounts_never_see_or_change_each_others_numbers(acme, other):
    acme.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}]})
    acme.put("/CallFlows/Configurations/PhoneNumbers/" + enc(DID), SEED_CONFIG)
    assert other.get("/PhoneNumbers").get_json()["phone_numbers"] == []
    err(other.get("/PhoneNumbers/" + enc(DID)), 404)
    err(other.delete("/PhoneNumbers/" + enc(DID)), 404)
    err(other.get("/CallFlows/Configurations/PhoneNumbers/" + enc(DID)), 404)
    err(other.put("/CallFlows/Configurations/PhoneNumbers/" + enc(DID), {"callback": {"url": "http://evil/"}}), 404)
    err(other.delete("/CallFlows/Configurations/PhoneNumbers/" + enc(DID)), 404)
    err(other.post("/PhoneNumbers/CallFlows", {"phone_numbers": [{"no": DID}]}), 409)
    assert models.CallFlowConfig.get_by_id(DID).url == SEED_CONFIG["callback"]["url"]
    assert models.PhoneNumber.get_by_id(DID).account_id == acme_account_id(acme)


def acme_account_id(client):
    from voxology_fs.api.auth import hash_key

    return models.Application.get(models.Application.api_key_hash == hash_key(client.key)).account_id


# -- docs -------------------------------------------------------------------------------------
def test_openapi_document_covers_every_route(app):
    spec = app.test_client().get("/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(p, m.upper()) for p, item in spec["paths"].items() for m in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/") or rule.endpoint.startswith("docs.") or rule.endpoint == "static":
            continue
        path = rule.rule[3:].replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    page = app.test_client().get("/v1/docs")
    assert page.status_code == 200 and b"Dials/Connect" in page.data and page.mimetype == "text/html"


# -- operator ----------------------------------------------------------------------------------
def test_import_numbers_csv(db):
    assert operator.import_numbers("(714) 555-1212,voice\n+442079460000,voice sms\n") == {"created": 2, "updated": 0}
    assert operator.import_numbers("number,capabilities\n+17145551212,voice;sms\n") == {"created": 0, "updated": 1}
    assert models.PhoneNumber.get_by_id("+17145551212").capabilities == "voice,sms"
    assert models.PhoneNumber.get_by_id("+442079460000").country == "GB"
    with pytest.raises(operator.OperatorError, match="line 2"):
        operator.import_numbers("+17145550000,voice\nnot a number,voice\n")
    with pytest.raises(operator.OperatorError, match="fax"):
        operator.import_numbers("+17145550000,fax\n")
    assert models.PhoneNumber.get_or_none(models.PhoneNumber.number == "+17145550000") is None
