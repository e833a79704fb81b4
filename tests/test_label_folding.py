"""A medicine's many drug labels (makers, repackagers) fold behind its best-matching one, in the page and the API."""
from __future__ import annotations

import copy
import json

import pytest
from lxml import html

from indexer.pipeline import build_index

from .conftest import FIXTURES

MAKERS = ("Cardinal Health", "Teva Pharmaceuticals", "Zydus Lifesciences")


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder):
    """Three warfarin labels of three makers (one real label, given two more set ids)."""
    from search_app import create_app

    source = tmp_path_factory.mktemp("labels")
    response = json.loads((FIXTURES / "labels" / "good" / "coumadin.json").read_text())
    for n, maker in enumerate(MAKERS):
        label = copy.deepcopy(response)
        result = label["results"][0]
        result["set_id"] = f"00000000-0000-0000-0000-00000000000{n}"
        result["id"] = f"10000000-0000-0000-0000-00000000000{n}"
        result["openfda"]["manufacturer_name"] = [maker]
        (source / f"warfarin-{n}.json").write_text(json.dumps(label))
    index = tmp_path_factory.mktemp("label-index")
    report = build_index([source], index, embedder, log=lambda line: None)
    assert report.published and report.articles == 3, report.skipped
    return create_app({"index": str(index), "TESTING": True}).test_client()


def search(client, **params) -> dict:
    response = client.get("/api/v1/search", query_string={"k": 10, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_only_the_best_matching_label_is_shown_and_the_others_are_counted(client):
    data = search(client, q="warfarin bleeding risk")
    assert len({r["article_id"] for r in data["results"]}) == 1
    assert {r["more_labels"] for r in data["results"]} == {2} and data["fold"] == "on"


def test_fold_off_lists_every_label(client):
    data = search(client, q="warfarin bleeding risk", fold="off", k=30)
    assert len({r["article_id"] for r in data["results"]}) == 3
    assert {r["more_labels"] for r in data["results"]} == {0}


def test_the_page_says_how_many_more_labels_and_links_to_them(client):
    doc = html.fromstring(client.get("/search", query_string={"q": "warfarin bleeding risk"}).get_data(as_text=True))
    links = doc.cssselect("a.more-labels")
    assert links and links[0].text_content() == "2 more labels of warfarin"
    listed = html.fromstring(client.get(links[0].get("href")).get_data(as_text=True))
    titles = {a.get("href") for a in listed.cssselect(".card-title")}
    assert len(titles) == 3
