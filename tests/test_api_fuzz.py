"""A schema-driven fuzz of the REST API: every operation of /v1/openapi.json,
with path, query and body values drawn from its schema and from arbitrary
JSON, never answers a 500 nor anything but JSON errors."""

import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.support.provision import INVENTORY, tenant  # noqa: E402
from voxology_fs import operator  # noqa: E402
from voxology_fs.api import create_app  # noqa: E402
from voxology_fs.api.openapi import build  # noqa: E402

SPEC = build()
OPERATIONS = [(path, method, op) for path, item in SPEC["paths"].items() for method, op in item.items()]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "+17145551212",
            "%2B17145551212",
            "714",
            "${system ls}",
            "../..",
            "%00",
            "0",
            "-1",
            "1e9",
            "voice,sms",
            "GB",
            "prefixes",
            "contains",
            "region",
            "country",
            "location",
            "http://127.0.0.1:9/x",
            "completed",
            "'; DROP",
        ]
    ),
)


def resolve(schema):
    if "$ref" in schema:
        return resolve(SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def from_schema(schema, depth=0):
    schema = resolve(schema)
    if depth > 3:
        return json_values
    if schema.get("type") == "object" and schema.get("properties"):
        props = {k: st.one_of(from_schema(v, depth + 1), json_values) for k, v in schema["properties"].items()}
        return st.fixed_dictionaries({}, optional=props)
    if schema.get("type") == "array" and "items" in schema:
        return st.lists(from_schema(schema["items"], depth + 1), max_size=3)
    if "enum" in schema:
        return st.sampled_from([v for v in schema["enum"] if v is not None])
    if schema.get("type") == "integer":
        return st.integers(-10, 10**6)
    if schema.get("type") == "string":
        return texts
    return json_values


@pytest.fixture(scope="module")
def fuzz_client(database):
    with database.connection_context():
        from voxology_fs import models

        for model in reversed(models.ALL_MODELS):
            model.delete().execute()
    operator.import_numbers(INVENTORY)
    _, _, key = tenant()
    from voxology_fs.settings import Settings

    app = create_app(Settings(database_url="unused", api_rate_limit=0), start_switches=False)
    client = app.test_client()
    client.post(
        "/v1/PhoneNumbers/CallFlows", json={"phone_numbers": [{"no": "+17145551212"}]}, headers={"x-api-key": key}
    )
    return client, key


@pytest.mark.parametrize("path,method,op", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_no_operation_answers_500(fuzz_client, path, method, op):
    client, key = fuzz_client
    params = op.get("parameters", [])
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    strategy = st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries({p["name"]: texts for p in params if p["in"] == "path"}),
            "query": st.fixed_dictionaries(
                {}, optional={p["name"]: from_schema(p["schema"]).map(str) for p in params if p["in"] == "query"}
            ),
            "body": (st.one_of(from_schema(body_schema), json_values) if body_schema else st.none()),
            "raw": st.one_of(st.none(), st.binary(max_size=40)),
        }
    )

    @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(strategy)
    def run(case):
        url = "/v1" + path
        for name, value in case["path"].items():
            url = url.replace("{" + name + "}", value.replace("/", "%2F").replace("?", "%3F").replace("#", "%23"))
        headers = {"x-api-key": key, "content-type": "application/json"}
        data = (
            case["raw"] if case["raw"] is not None else (json.dumps(case["body"]) if case["body"] is not None else None)
        )
        response = client.open(url, method=method.upper(), query_string=case["query"], data=data, headers=headers)
        assert response.status_code < 500, (method, url, case, response.get_data(as_text=True))
        if response.status_code >= 400:
            error = response.get_json()["error"]
            assert set(error) == {"code", "message", "field"}

    run()
