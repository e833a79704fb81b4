"""A medicine's many drug labels (makers, repackagers) fold behind its best-matching one, in the page and the API."""
from __future__ import annotations

import copy
import json

import pytest
from lxml import html

from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.tables import NOT_A_LABEL, ArticleFacts, ArticleTable

from .conftest import FIXTURES

MAKERS = ("Cardinal Health", "Teva Pharmaceuticals", "Zydus Lifesciences")


@pytest.fixture(scope="module")
def label_index(tmp_path_factory, embedder):
    """Three warfarin labels of three makers (one real label, given two more set ids)."""
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
    return index


@pytest.fixture(scope="module")
def client(label_index):
    from search_app import create_app

    return create_app({"index": str(label_index), "TESTING": True}).test_client()


def search(client, **params) -> dict:
    response = client.get("/api/v1/search", query_string={"k": 10, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_only_the_best_matching_label_is_shown_and_the_others_are_counted(client):
    data = search(client, q="warfarin bleeding risk")
    assert len({r["article_id"] for r in data["results"]}) == 1
    assert {r["more_labels"] for r in data["results"]} == {2} and data["fold"] == "on"


def test_fold_off_lists_every_label(client):
    # Word-for-word copies: each text is shown once (issue 29), the two other labels listed with it.
    data = search(client, q="warfarin bleeding risk", fold="off", k=30)
    assert {r["more_labels"] for r in data["results"]} == {0}
    every = {f"00000000-0000-0000-0000-00000000000{n}" for n in range(len(MAKERS))}
    for r in data["results"]:
        assert r["also_in_count"] == 2 and {c["article_id"] for c in r["also_in"]} | {r["article_id"]} == every


def test_the_page_says_how_many_more_labels_and_links_to_them(client):
    doc = html.fromstring(client.get("/search", query_string={"q": "warfarin bleeding risk"}).get_data(as_text=True))
    links = doc.cssselect("a.more-labels")
    # All three are copies of Cardinal Health's repackaged COUMADIN, of one date.
    assert links and links[0].text_content() == "2 more labels of warfarin: 2 repackaged"
    listed = html.fromstring(client.get(links[0].get("href")).get_data(as_text=True))
    titles = {a.get("href") for a in listed.cssselect(".card-title")}
    # Their text is word for word the same: shown once, the others under "Also in 2 other labels" (issue 29).
    copies = {a.get("href") for a in listed.cssselect(".also-in li a") if a.get("href").startswith("/articles/")}
    assert len(titles | copies) == 3


def test_a_labels_boxed_warning_comes_first_on_its_page_and_is_marked_on_cards(client):
    data = search(client, q="warfarin bleeding risk")
    article_id = data["results"][0]["article_id"]
    article = client.get(f"/api/v1/articles/{article_id}").get_json()["article"]
    boxed = [s for s in article["sections"] if s["section_type"] == "boxed_warning" and
             "warning" in s["heading"].lower()]
    assert boxed, [s["heading"] for s in article["sections"]]
    page = html.fromstring(client.get(f"/articles/{article_id}").get_data(as_text=True))
    first = page.cssselect(".article-body section")[0]
    assert "boxed-warning" in first.get("class") and first.get("id") == boxed[0]["section_id"]
    assert [s.get("id") for s in page.cssselect(".article-body section")][0] != article["sections"][0]["section_id"] \
        or article["sections"][0]["section_id"] == boxed[0]["section_id"]
    cards = html.fromstring(client.get("/search", query_string={"q": "warfarin bleeding risk"}).get_data(as_text=True))
    marks = [" ".join(b.text_content().split()) for b in cards.cssselect(".badge-boxed")]
    assert marks and set(marks) <= {"Boxed warning", "This label has a boxed warning"}


def test_a_label_is_cited_as_a_label(client):
    top = search(client, q="warfarin bleeding risk")["results"][0]
    citation = top["citation"]
    assert top["source"] == top["publisher"] == top["label"]["labeler"] and top["publisher"] in MAKERS
    assert "set id 00000000-0000-0000-0000-00000000000" in citation and "version 16" in citation
    assert "effective 2020-11-13" in citation and f"{top['heading']}." in citation and "NDA009218" in citation
    assert "Via DailyMed (U.S. National Library of Medicine): " in citation
    assert "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=" in citation


def test_folding_and_copies_read_no_label_header(label_index, embedder):
    # A medicine may have thousands of labels (issue 29): folding them and listing a text's copies reads the
    # build's per-article arrays and the listed labels' cards, never a label's whole header (its tables and
    # leaflets decoded from JSON), which at 10,000 labels cost half a second a query.
    from search_app.core.ranking import Searcher

    index = SearchIndex.open(label_index)
    searcher = Searcher(index, embedder)
    for fold in (True, False):
        hits = searcher.search("warfarin bleeding risk", 10, fold=fold).hits
        assert hits and (fold or hits[0].also_in.count == 2)
    assert index._headers.cache_info().misses == 0  # the full-header cache: no header was read


def test_the_article_table_orders_labels_by_date_then_original_and_lists_copies_newest_first():
    facts = [ArticleFacts("c", "Gamma", "label", "warfarin", "20200101", True),
             ArticleFacts("a", "Alpha", "label", "warfarin", "20200101", False),
             ArticleFacts("b", "Beta", "label", "warfarin sodium", "20190505", False),
             ArticleFacts("d", "Delta", "label", "ibuprofen", "", False),
             ArticleFacts("e", "Epsilon", "medicine", "", "", False)]
    table = ArticleTable.make(facts, {"a": "warfarin", "b": "warfarin", "c": "warfarin", "d": "ibuprofen"})
    assert table.ids == ("a", "b", "c", "d", "e")
    by_id = dict(zip(table.ids, table.recency.tolist()))
    assert by_id["a"] > by_id["c"] > by_id["b"] > by_id["d"] == by_id["e"]  # same date: the original first
    assert [table.ids[i] for i in table.listing.argsort()] == ["a", "c", "b", "d", "e"]  # newest, then by title
    assert table.effective.tolist()[3] == 0 and table.effective[1] < table.effective[0] == table.effective[2]
    assert [table.label_count(i) for i in range(5)] == [3, 3, 3, 1, 1]
    assert table.medicines[table.medicine[0]] == "warfarin" and table.medicine[4] == NOT_A_LABEL
    with pytest.raises(ValueError):
        table.recency[0] = 9  # read-only: a build never changes
