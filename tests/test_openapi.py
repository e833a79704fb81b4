"""The OpenAPI document matches the app: schemathesis fuzzes every operation through the real app.

Bounded (a fixed number of examples per operation, derandomised so CI is repeatable):
valid and invalid inputs alike must never get a server error, and every response (status,
content type, headers, body) must be one the document describes.
"""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from indexer import settings as settings_mod
from search_app.web.openapi import document
from search_app.web.settings import AppSettings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 40  # per operation and mode: bounded, and derandomised so that CI is repeatable
# (schemathesis' own pytest plugin does not run on pytest 9, so its strategies are used with plain Hypothesis)
CASES = [(path, mode) for path, item in document(AppSettings.from_conf(settings_mod.resolve(environ={})))["paths"].items()
         for mode in ("positive", "negative") if item["get"].get("parameters") or mode == "positive"]


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize("path, mode", CASES)
def test_every_response_matches_the_document(api_schema, path, mode):
    strategy = api_schema[path]["GET"].as_strategy(generation_mode=GenerationMode(mode))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answered_as_documented(case):
        case.call_and_validate(checks=CHECKS)

    answered_as_documented()


def test_every_v1_route_is_documented_and_every_documented_path_exists(app, client):
    documented = set(client.get("/api/v1/openapi.json").get_json()["paths"])
    routed = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/")}  # <path:article_id> is {article_id}
    assert routed == documented


def test_the_document_states_this_servers_limits(index_dir):
    from search_app import create_app

    small = create_app({"index": str(index_dir), "max_k": 7, "default_k": 5, "max_query_chars": 40})
    spec = small.test_client().get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert params["k"]["maximum"] == 7 and params["q"]["maxLength"] == 40
    assert small.test_client().get("/api/v1/search?q=cramps&k=8").status_code == 400


def test_the_docs_page_documents_every_operation_without_scripts_from_elsewhere(client):
    response = client.get("/api/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in spec["paths"]:
        assert f"GET {path}" in page
    for parameter in spec["paths"]["/api/v1/search"]["get"]["parameters"]:
        assert f"<code>{parameter['name']}</code>" in page
    assert "<script" not in page.replace('<script src="/static/', "")  # only our own scripts, if any
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_search_example_is_the_serialisers_output_and_fits_the_schema(client):
    import jsonschema  # schemathesis brings it

    spec = client.get("/api/v1/openapi.json").get_json()
    example = spec["paths"]["/api/v1/search"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    assert example["match"] == {"level": "strong", "medicines": ["amitriptyline"], "uncovered_medicines": []}
    schemas = spec["components"]["schemas"]

    def inline(schema):  # OpenAPI 3.0 "nullable" and local $refs, made plain JSON Schema for the check
        if isinstance(schema, dict):
            if "$ref" in schema:
                return inline(schemas[schema["$ref"].rsplit("/", 1)[1]])
            out = {k: inline(v) for k, v in schema.items() if k != "nullable"}
            if schema.get("nullable"):
                return {"anyOf": [out, {"type": "null"}]}
            return out
        if isinstance(schema, list):
            return [inline(s) for s in schema]
        return schema

    jsonschema.validate(example, inline(schemas["SearchResponse"]))
