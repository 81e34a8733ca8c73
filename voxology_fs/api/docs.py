"""``/v1/openapi.json`` and an HTML reference page rendered from it."""

from __future__ import annotations

import json

import jinja2
from flask import Blueprint, Response, request

from .openapi import build

bp = Blueprint("docs", __name__)

_ENV = jinja2.Environment(autoescape=True)
_PAGE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ spec.info.title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em} .op{margin:1.2em 0;padding:.6em 1em;border-left:4px solid #58a}
.m{font-weight:bold;text-transform:uppercase;margin-right:.5em} code,pre{background:#f4f4f4;padding:0 .2em}
pre{padding:.6em;overflow:auto} table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:.2em .5em}
</style></head><body>
<h1>{{ spec.info.title }}</h1><p>{{ spec.info.description }}</p>
<p>Base URL: <code>{{ spec.servers[0].url }}</code>. Machine-readable: <a href="openapi.json">openapi.json</a>.</p>
{% for tag, ops in groups %}<h2>{{ tag }}</h2>
{% for path, method, op in ops %}<div class="op" id="{{ op.operationId }}">
<div><span class="m">{{ method }}</span><code>{{ path }}</code> &mdash; {{ op.summary }}</div>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code>{% if p.required %} (required){% endif %}</td>
<td>{{ p["in"] }}</td><td><code>{{ p.schema | tojson }}</code>{% if p.description %} {{ p.description }}{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
{% if op.requestBody %}<p>Body:</p><pre>{{ body_schema(op) }}</pre>{% endif %}
<p>Responses: {% for code, r in op.responses.items() %}<code>{{ code }}</code> {{ r.description }}{% if not loop.last %}; {% endif %}{% endfor %}</p>
</div>{% endfor %}{% endfor %}
<h2>Schemas</h2>{% for name, schema in spec.components.schemas.items() %}
<h3 id="schema-{{ name }}">{{ name }}</h3><pre>{{ schema | tojson(indent=2) }}</pre>{% endfor %}
</body></html>""")


def _server_url() -> str:
    return request.host_url.rstrip("/") + "/v1"


@bp.get("/openapi.json")
def openapi():
    return Response(json.dumps(build(_server_url()), indent=1), mimetype="application/json")


@bp.get("/docs")
def reference():
    spec = build(_server_url())
    groups: dict[str, list] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            groups.setdefault(op["tags"][0], []).append((path, method, op))

    def body_schema(op):
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return json.dumps(schema, indent=2)

    html = _PAGE.render(spec=spec, groups=list(groups.items()), body_schema=body_schema)
    return Response(html, mimetype="text/html")


@bp.get("/")
def root():
    return {"name": "voxology-fs", "openapi": _server_url() + "/openapi.json", "reference": _server_url() + "/docs"}
