"""Versions and what changed (issue 28): a build keeps the earlier versions of a drug label it sees as history,
in one build and across builds, bounded; the API lists them, gives an earlier one and the section-level changes;
the label's page says what changed in its version and shows its own "Recent Major Changes"; history is never
searched. Built from two versions of the Coumadin fixture (a real openFDA label)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import html

from indexer.errors import IndexIncompatible
from indexer.index import SearchIndex
from indexer.manifest import FORMAT_VERSION
from indexer.pipeline import build_index
from search_app.core.ranking import Searcher

from .conftest import FIXTURES, rewrite_manifest

COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"
QUIET = {"log": lambda line: None}
OLD_SENTENCE = "Perform regular monitoring of INR in all treated patients [see Dosage and Administration (2.1) ] ."
NEW_SENTENCE = ("Perform regular monitoring of INR in all treated patients, weekly for the first month "
                "[see Dosage and Administration (2.1) ] .")
RECENT = "Boxed Warning 6/2023 Warnings and Precautions, Hemorrhage (5.1) 6/2023"


def label(version: int, effective: str = "", changed: bool = False) -> dict:
    """The Coumadin fixture (version 16) as another version; ``changed``: its boxed warning says one sentence
    otherwise, section 12.1 Mechanism of Action is gone, and it lists its recent major changes."""
    raw = json.loads((FIXTURES / "labels" / "good" / "coumadin.json").read_text(encoding="utf-8"))
    found = raw["results"][0]
    found["version"], found["effective_time"] = str(version), effective or found["effective_time"]
    if changed:
        assert OLD_SENTENCE in found["boxed_warning"][0]
        found["boxed_warning"][0] = found["boxed_warning"][0].replace(OLD_SENTENCE, NEW_SENTENCE)
        del found["mechanism_of_action"]
        found["recent_major_changes"] = [RECENT]
    return raw


def write(folder: Path, name: str, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def client_of(index_dir: Path):
    from search_app import create_app

    return create_app({"index": str(index_dir), "TESTING": True}).test_client()


@pytest.fixture(scope="module")
def one_build(tmp_path_factory, embedder) -> Path:
    """Versions 16 and 17 in the sources of one build (the newer read first)."""
    root = tmp_path_factory.mktemp("history")
    write(root / "src", "a-coumadin-v17.json", label(17, "20230601", changed=True))
    write(root / "src", "b-coumadin-v16.json", label(16))
    report = build_index([root / "src"], root / "index", embedder, **QUIET)
    assert report.published and report.articles == 1 and report.history == 1, report.skipped
    return root / "index"


@pytest.fixture(scope="module")
def client(one_build):
    return client_of(one_build)


def test_the_versions_are_listed_newest_first_with_the_indexed_one_marked(client):
    response = client.get(f"/api/v1/labels/{COUMADIN}/versions")
    assert response.status_code == 200
    body = response.get_json()
    assert body["versions"] == [
        {"version": 17, "effective_date": "2023-06-01", "source_file": "a-coumadin-v17.json", "current": True},
        {"version": 16, "effective_date": "2020-11-13", "source_file": "b-coumadin-v16.json", "current": False}]
    assert body["set_id"] == COUMADIN and body["title"].startswith("COUMADIN")


def test_the_changes_mark_the_changed_sentence_and_list_the_removed_section(client):
    body = client.get(f"/api/v1/labels/{COUMADIN}/changes").get_json()
    assert (body["from"]["version"], body["to"]["version"]) == (16, 17)
    assert [c["section_id"] for c in body["changed"]] == ["boxed-warning"]
    boxed = body["changed"][0]
    assert boxed["loinc"] == "34066-1" and boxed["permalink"] == f"/articles/{COUMADIN}#boxed-warning"
    ops = [(run["op"], run["text"]) for run in boxed["diff"]]
    assert ("delete", "• " + OLD_SENTENCE) in ops and ("insert", "• " + NEW_SENTENCE) in ops
    assert [op for op, _ in ops] == ["equal", "delete", "insert", "equal"]
    assert [(r["heading"], r["loinc"], r["permalink"]) for r in body["removed"]] == [
        ("12.1 Mechanism of Action", "43679-0", None)]
    assert body["added"] == [] and body["unchanged"] == 35
    # Asked the other way round, the same sentences change places.
    back = client.get(f"/api/v1/labels/{COUMADIN}/changes?from=17&to=16").get_json()
    assert [a["heading"] for a in back["added"]] == ["12.1 Mechanism of Action"] and back["removed"] == []
    assert ("insert", "• " + OLD_SENTENCE) in [(r["op"], r["text"]) for r in back["changed"][0]["diff"]]


def test_an_earlier_version_is_given_with_version_and_the_indexed_one_without(client):
    old = client.get(f"/api/v1/labels/{COUMADIN}?version=16").get_json()["label"]
    assert (old["version"], old["current"], old["effective_date"]) == (16, False, "2020-11-13")
    sections = {s["section_id"]: s for s in old["sections"]}
    assert OLD_SENTENCE in sections["boxed-warning"]["text"] and "mechanism-of-action" in sections
    assert sections["boxed-warning"]["permalink"] is None and old["recent_major_changes"] is None
    now = client.get(f"/api/v1/labels/{COUMADIN}").get_json()["label"]
    assert (now["version"], now["current"]) == (17, True)
    assert NEW_SENTENCE in next(s["text"] for s in now["sections"] if s["section_id"] == "boxed-warning")
    assert "mechanism-of-action" not in {s["section_id"] for s in now["sections"]}
    assert now["recent_major_changes"]["text"] == RECENT and now["recent_major_changes"]["loinc"] == "43683-2"
    assert client.get(f"/api/v1/labels/{COUMADIN}?version=17").get_json()["label"] == now


@pytest.mark.parametrize("path, code", [
    ("/api/v1/labels/no-such-label/versions", "not_found"),
    ("/api/v1/labels/no-such-label", "not_found"),
    ("/api/v1/labels/no-such-label/changes", "not_found"),
    (f"/api/v1/labels/{COUMADIN}?version=15", "version_not_found"),
    (f"/api/v1/labels/{COUMADIN}/changes?from=15", "version_not_found"),
    (f"/api/v1/labels/{COUMADIN}/changes?to=99", "version_not_found"),
    (f"/api/v1/labels/{COUMADIN}/changes?to=16", "no_earlier_version"),
])
def test_an_unknown_label_or_version_is_a_404_in_the_one_error_shape(client, path, code):
    response = client.get(path)
    assert response.status_code == 404
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"} and body["error"]["code"] == code
    assert ("no-such-label" if "no-such-label" in path else COUMADIN) in body["error"]["message"]


@pytest.mark.parametrize("path", [f"/api/v1/labels/{COUMADIN}?version=x", f"/api/v1/labels/{COUMADIN}/changes?frm=1",
                                  f"/api/v1/labels/{COUMADIN}/versions?version=16"])
def test_a_bad_or_unknown_parameter_is_a_400(client, path):
    response = client.get(path)
    assert response.status_code == 400 and set(response.get_json()["error"]) == {"code", "message"}


def test_the_answers_fit_the_openapi_document(client):
    import jsonschema

    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    def inline(schema):
        if isinstance(schema, dict):
            if "$ref" in schema:
                return inline(schemas[schema["$ref"].rsplit("/", 1)[1]])
            out = {k: inline(v) for k, v in schema.items() if k != "nullable"}
            return {"anyOf": [out, {"type": "null"}]} if schema.get("nullable") else out
        return [inline(s) for s in schema] if isinstance(schema, list) else schema

    for path, name in ((f"/api/v1/labels/{COUMADIN}/versions", "LabelVersionsResponse"),
                       (f"/api/v1/labels/{COUMADIN}?version=16", "LabelResponse"),
                       (f"/api/v1/labels/{COUMADIN}", "LabelResponse"),
                       (f"/api/v1/labels/{COUMADIN}/changes", "LabelChangesResponse")):
        jsonschema.validate(client.get(path).get_json(), inline(schemas[name]))


def test_the_label_page_says_what_changed_and_shows_its_recent_major_changes(client):
    page = html.fromstring(client.get(f"/articles/{COUMADIN}").get_data(as_text=True))
    box = page.get_element_by_id("label-changes")
    assert box.findtext(".//h2") == "What changed in version 17"
    items = [" ".join(li.text_content().split()) for li in box.iterfind(".//li")]
    assert items == ["Changed: WARNING: BLEEDING RISK", "Removed: 12.1 Mechanism of Action"]
    assert [a.get("href") for a in box.iterfind(".//li/a")] == ["#boxed-warning"]
    assert page.get_element_by_id("boxed-warning") is not None
    recent = page.get_element_by_id("recent-major-changes")
    assert recent.findtext(".//h2") == "Recent Major Changes" and RECENT in recent.text_content()


def test_a_label_without_history_has_no_what_changed_box(tmp_path, embedder):
    write(tmp_path / "src", "coumadin.json", label(16))
    build_index([tmp_path / "src"], tmp_path / "index", embedder, **QUIET)
    client = client_of(tmp_path / "index")
    page = client.get(f"/articles/{COUMADIN}").get_data(as_text=True)
    assert 'id="label-changes"' not in page and 'id="recent-major-changes"' not in page
    versions = client.get(f"/api/v1/labels/{COUMADIN}/versions").get_json()["versions"]
    assert [(v["version"], v["current"]) for v in versions] == [(16, True)]
    assert client.get(f"/api/v1/labels/{COUMADIN}/changes").get_json()["error"]["code"] == "no_earlier_version"


def test_history_and_recent_major_changes_are_not_searched(one_build, embedder):
    index = SearchIndex.open(one_build)
    assert [v.version for v in index.label_versions(COUMADIN)] == [17, 16]  # the build holds version 16 ...
    searcher = Searcher(index, embedder)  # ... and never finds it
    for mode in ("lexical", "hybrid"):
        hits = searcher.search("warfarin mechanism of action vitamin K epoxide reductase", 10, mode=mode).hits
        assert hits and all(h.passage.section_id != "mechanism-of-action" for h in hits), mode
        hits = searcher.search("INR monitoring in all treated patients boxed warning", 10, mode=mode).hits
        assert all(OLD_SENTENCE not in h.passage.text for h in hits), mode
        hits = searcher.search("recent major changes 6/2023", 10, mode=mode).hits
        assert all("6/2023" not in h.passage.text for h in hits), mode


def test_history_survives_incremental_builds_and_is_bounded(tmp_path, embedder):
    index = tmp_path / "index"
    first = write(tmp_path / "v16", "coumadin-v16.json", label(16))
    assert build_index([first], index, embedder, **QUIET).history == 0
    # The next build has only version 17: the live build's version 16 becomes history.
    second = build_index([write(tmp_path / "v17", "coumadin-v17.json", label(17, "20230601", changed=True))], index,
                         embedder, **QUIET)
    assert second.published and second.history == 1 and second.carried == 0
    client = client_of(index)
    assert [(v["version"], v["source_file"], v["current"]) for v in
            client.get(f"/api/v1/labels/{COUMADIN}/versions").get_json()["versions"]] == [
        (17, "coumadin-v17.json", True), (16, "coumadin-v16.json", False)]
    changes = client.get(f"/api/v1/labels/{COUMADIN}/changes").get_json()
    assert [c["section_id"] for c in changes["changed"]] == ["boxed-warning"]
    assert [r["section_id"] for r in changes["removed"]] == ["mechanism-of-action"]
    # The same sources again: nothing to do, history included.
    assert build_index([tmp_path / "v17"], index, embedder, **QUIET).up_to_date
    # Version 18: 17 joins the history and 16 is carried from the live build's history ...
    v18 = write(tmp_path / "v18", "coumadin-v18.json", label(18, "20240101", changed=True))
    third = build_index([v18], index, embedder, **QUIET)
    assert third.history == 2
    old = client_of(index).get(f"/api/v1/labels/{COUMADIN}?version=16").get_json()["label"]
    assert OLD_SENTENCE in old["sections"][0]["text"] and old["source_file"] == "coumadin-v16.json"
    # ... and at most keep_label_versions are kept, the newest.
    assert build_index([v18], index, embedder, keep_label_versions=1, **QUIET).history == 1
    versions = client_of(index).get(f"/api/v1/labels/{COUMADIN}/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [18, 17]


def test_a_build_made_before_history_is_refused_saying_why(one_build, tmp_path):
    old = tmp_path / "index"
    shutil.copytree(one_build, old, symlinks=True)
    path = old / "current" / "manifest.json"
    rewrite_manifest(path, {**json.loads(path.read_text()), "format_version": 6})
    with pytest.raises(IndexIncompatible, match=rf"format version 6, this code reads {FORMAT_VERSION} \(since then: "
                                                r"earlier versions of drug labels kept as history(; [^)]*)?\); "
                                                r"rebuild it with `python -m indexer build`"):
        SearchIndex.open(old)
