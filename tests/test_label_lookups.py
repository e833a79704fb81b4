"""Label look-ups (issue 28): an NDC, a set id or an application number as the query finds its label first,
on the real build of label fixtures, through the search service and the API."""
from __future__ import annotations

import shutil

import pytest

from indexer.pipeline import build_index
from search_app.core.lookups import labels_named, query_keys

from .conftest import FIXTURES

GOOD = FIXTURES / "labels" / "good"
COUMADIN, LIPITOR, ZOCOR = ("3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c", "c6e131fe-e7df-4876-83f7-9156fc4e8228",
                            "8f55d5de-5a4f-4a39-8c84-c53976dd6af9")


@pytest.fixture(scope="module")
def label_client(tmp_path_factory, embedder):
    source = tmp_path_factory.mktemp("lookup-labels")
    for name in ("coumadin.json", "statins.json"):
        shutil.copy(GOOD / name, source / name)
    index = tmp_path_factory.mktemp("lookup-index")
    report = build_index([source], index, embedder, log=lambda line: None)
    assert report.published, report.skipped
    from search_app import create_app

    return create_app({"index": str(index), "TESTING": True}).test_client()


def first(client, q: str) -> dict:
    response = client.get("/api/v1/search", query_string={"q": q, "k": 5})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("query, article", [
    ("55154-7701", COUMADIN),            # a product NDC, as printed
    ("551547701", COUMADIN),             # without its dashes
    ("55154-7702-0", COUMADIN),          # a package NDC
    ("0071-0155-23", LIPITOR),
    ("78206-179", ZOCOR),
    (COUMADIN, COUMADIN),                # the set id
    (COUMADIN.upper(), COUMADIN),
    ("NDA009218", COUMADIN),             # the application number, as written and as typed
    ("nda 9218", COUMADIN),
    ("NDA-020702", LIPITOR),
])
def test_an_identifier_finds_its_label_first(label_client, query, article):
    body = first(label_client, query)
    assert body["results"][0]["article_id"] == article, [r["article_id"] for r in body["results"]]
    assert body["match"]["level"] == "strong"
    assert [r["rank"] for r in body["results"]] == list(range(1, len(body["results"]) + 1))
    assert len({(r["article_id"], r["section_id"]) for r in body["results"]}) == len(body["results"])


def test_an_unknown_identifier_or_a_question_is_left_to_the_ranking(label_client):
    assert query_keys("warfarin dose") == [] and query_keys("what is 0071-0155") == []
    from search_app.web.live import pinned_searcher

    with label_client.application.test_request_context("/"):
        assert labels_named("0000-0000", pinned_searcher().index) == ()  # names no label: ordinary ranking
    assert first(label_client, "warfarin boxed warning")["results"]


def test_the_identifier_table_is_built_once_per_build(label_client):
    from search_app.web.live import pinned_searcher

    with label_client.application.test_request_context("/"):
        index = pinned_searcher().index
        assert labels_named("55154-7701", index) == (COUMADIN,)
        assert labels_named("55154-7701 0071-0155", index) == (COUMADIN, LIPITOR)
        assert labels_named("NDA020702", index) == (LIPITOR,)


def test_every_label_section_and_hit_says_its_loinc_code_and_field(label_client):
    hit = first(label_client, "coumadin boxed warning")["results"]
    boxed = [h for h in hit if h["article_id"] == COUMADIN and h["section_id"] == "boxed-warning"]
    assert boxed and (boxed[0]["loinc"], boxed[0]["field"]) == ("34066-1", "boxed_warning")
    article = label_client.get(f"/api/v1/articles/{COUMADIN}").get_json()["article"]
    codes = {s["section_id"]: (s["loinc"], s["field"]) for s in article["sections"]}
    assert all(loinc for loinc, _ in codes.values()), codes
    assert ("34066-1", "boxed_warning") in codes.values()
    passage = label_client.get(f"/api/v1/passages/{boxed[0]['passage_id']}").get_json()["passage"]
    assert passage["loinc"] == "34066-1"
    # An article that is not a label has none.
    plain = label_client.get("/api/v1/search", query_string={"q": "warfarin"}).get_json()["results"]
    assert all("loinc" in h for h in plain)
