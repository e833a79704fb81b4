"""Every JSON answer is written by orjson: the same document as the json module writes, keys sorted, compact."""
from __future__ import annotations

import json

from flask import Flask

from search_app.web.json_provider import OrjsonProvider


def test_a_search_answer_is_the_json_modules_document_written_by_orjson(app, client):
    assert isinstance(app.json, OrjsonProvider)
    response = client.get("/api/v1/search", query_string={"q": "café au lait with sertraline", "k": 5})
    assert response.status_code == 200
    body = response.get_data()
    data = json.loads(body)
    # orjson writes text outside ASCII as UTF-8; the json module (Flask's default) would escape it.
    assert "café".encode() in body and b"\\u00e9" not in body
    assert body == (json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def test_pretty_printing_goes_to_the_json_module():
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    assert app.json.dumps({"b": 1, "a": [1]}, indent=2) == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'
    assert app.json.dumps({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
