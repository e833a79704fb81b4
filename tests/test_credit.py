"""Credit and citations: who wrote an article, what it cites, and how the page and the API cite it."""
from __future__ import annotations

import pytest
from lxml import html

from indexer.models import Article
from search_app.core.credit import OWN, UNKNOWN, credit_of, references_of, site_name


def _cards(client, q):
    doc = html.fromstring(client.get("/search", query_string={"q": q}).get_data(as_text=True))
    return doc.cssselect("ol.results > li.result")


def _hit(client, q, article_id):
    results = client.get("/api/v1/search", query_string={"q": q, "k": 10}).get_json()["results"]
    return next(r for r in results if r["article_id"] == article_id)


@pytest.mark.parametrize(("url", "name"), [
    ("https://www.nhs.uk/medicines/ibuprofen/", "NHS"), ("https://medlineplus.gov/druginfo/x.html", "MedlinePlus"),
    ("https://dailymed.nlm.nih.gov/dailymed/search.cfm?q=a", "DailyMed"),  # before nlm.nih.gov and nih.gov
    ("https://www.ncbi.nlm.nih.gov/books/1", "NCBI"), ("https://www.gov.uk/x", "GOV.UK"),
    ("https://example.org/page", "example.org"), ("javascript:alert(1)", ""), ("", ""),
])
def test_a_site_is_named_as_readers_know_its_publisher(url, name):
    assert site_name(url) == name


def test_who_is_credited_for_each_kind_of_article():
    ours = Article("a", "A", "", (), source_path="corpus/a.md", meta={"updated": "2026-11-25"})
    assert (credit_of(ours).publisher, credit_of(ours).own, credit_of(ours).updated) == (OWN, True, "2026-11-25")
    theirs = Article("b", "B", "https://medlineplus.gov/b.html", (), source_path="b.jsonl")
    assert (credit_of(theirs).publisher, credit_of(theirs).own) == ("MedlinePlus", False)
    named = Article("c", "C", "https://example.org/c", (), source_path="c.jsonl", meta={"source": "Example Health"})
    assert credit_of(named).publisher == "Example Health"
    label = Article("d", "D", "https://dailymed.nlm.nih.gov/x", (), source_path="d.json",
                    meta={"publisher": "U.S. Food and Drug Administration (DailyMed)"})
    assert credit_of(label).publisher == "U.S. Food and Drug Administration (DailyMed)"
    # A saved page that says neither its site nor its publisher is not credited to us.
    saved = Article("e", "E", "", (), source_path="saved/e.txt")
    assert (credit_of(saved).publisher, credit_of(saved).own) == (UNKNOWN, False)


def test_references_are_named_by_site_else_by_their_title():
    refs = references_of({"references": [
        {"title": "NHS: Ibuprofen", "url": "https://www.nhs.uk/medicines/ibuprofen/"},
        {"title": "Pain relief leaflet", "url": "https://www.nhs.uk/pain/"},
        {"title": "Example Clinic: Ibuprofen", "url": "https://clinic.example/ibuprofen"},
        {"title": "A book without a link", "url": "javascript:alert(1)"}, "Smith J. Pain. 2020.", 42]})
    assert [(r.title, r.url, r.publisher) for r in refs] == [
        ("NHS: Ibuprofen", "https://www.nhs.uk/medicines/ibuprofen/", "NHS"),
        ("Pain relief leaflet", "https://www.nhs.uk/pain/", "NHS"),
        ("Example Clinic: Ibuprofen", "https://clinic.example/ibuprofen", "Example Clinic"),
        ("A book without a link", "", ""), ("Smith J. Pain. 2020.", "", "")]


def test_a_card_for_our_article_says_medsearch_and_its_references(client):
    card = _cards(client, "can amitriptyline cause cramps")[0]
    credit = " ".join(card.cssselect(".credit")[0].text_content().split())
    assert credit == "medsearch article · References: NHS, MedlinePlus, DailyMed"
    assert "Source:" not in card.text_content()


def test_a_card_for_a_third_party_article_names_its_publisher_and_links_its_page(client):
    card = _cards(client, "storing insulin in the fridge")[0]
    credit = card.cssselect(".credit")[0]
    assert " ".join(credit.text_content().split()) == "Published by example.org"
    assert credit.cssselect("a")[0].get("href") == "https://example.org/insulin-storage#ext-001-s1"


def test_a_card_and_the_api_give_the_same_citation(client):
    card = _cards(client, "can amitriptyline cause cramps")[0]
    on_page = card.cssselect(".cite .cite-text")[0].text_content()
    hit = _hit(client, "can amitriptyline cause cramps", "amitriptyline")
    assert on_page == hit["citation"]
    # Without JavaScript the text is on the page, in a disclosure, to read and select.
    assert card.cssselect(".cite details summary")[0].text_content().startswith("Citation")


def test_the_api_credits_our_article_and_cites_title_section_publisher_date_permalink_and_references(client):
    hit = _hit(client, "can amitriptyline cause cramps", "amitriptyline")
    assert hit["publisher"] == hit["source"] == "medsearch" and hit["updated"] == "2026-11-01"
    assert [(r["publisher"], r["url"].split("/")[2]) for r in hit["references"]] == [
        ("NHS", "www.nhs.uk"), ("MedlinePlus", "medlineplus.gov"), ("DailyMed", "dailymed.nlm.nih.gov")]
    text = hit["citation"]
    assert hit["permalink_url"].endswith("/articles/amitriptyline#can-amitriptyline-cause-muscle-cramps")
    assert text.startswith("Amitriptyline: Can amitriptyline cause muscle cramps? medsearch, updated 2026-11-01. "
                           f"{hit['permalink_url']} References: ")
    nhs = "NHS: Amitriptyline for pain and migraine <https://www.nhs.uk/medicines/amitriptyline-for-pain-and-migraine/>"
    assert nhs in text
    csl = hit["citation_csl"]
    assert csl == {
        "id": hit["passage_id"], "type": "webpage", "title": "Amitriptyline",
        "section": "Can amitriptyline cause muscle cramps?", "publisher": "medsearch",
        "URL": hit["permalink_url"],
        "issued": {"date-parts": [[2026, 11, 1]]}, "note": text[text.index("References: "):]}


def test_the_api_cites_a_third_party_article_with_its_publishers_link_and_our_permalink(client):
    hit = _hit(client, "storing insulin in the fridge", "ext-001")
    assert hit["publisher"] == "example.org" and hit["references"] == []
    csl = hit["citation_csl"]
    assert csl["URL"] == "https://example.org/insulin-storage#ext-001-s1" and csl["publisher"] == "example.org"
    assert csl["note"] == f"Permalink: {hit['permalink_url']}" and "issued" not in csl
    assert hit["permalink_url"].endswith("/articles/ext-001#ext-001-s1")


def test_the_article_api_and_page_carry_publisher_references_and_a_whole_article_citation(client):
    article = client.get("/api/v1/articles/amitriptyline").get_json()["article"]
    assert article["publisher"] == "medsearch"
    assert [r["publisher"] for r in article["references"]] == ["NHS", "MedlinePlus", "DailyMed"]
    assert article["citation"].startswith(f"Amitriptyline. medsearch, updated 2026-11-01. {article['permalink_url']} "
                                          "References: ")
    assert article["citation_csl"]["id"] == "amitriptyline" and "section" not in article["citation_csl"]
    assert all(s["citation_csl"]["section"] == s["heading"] for s in article["sections"])
    doc = html.fromstring(client.get("/articles/amitriptyline").get_data(as_text=True))
    head = doc.cssselect("header.article-head")[0]
    assert " ".join(head.cssselect(".credit")[0].text_content().split()) == \
        "medsearch article · References: NHS, MedlinePlus, DailyMed"
    assert head.cssselect(".cite-text")[0].text_content() == article["citation"]


def test_the_openapi_document_describes_publisher_references_and_csl(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("Hit", "Passage", "Article"):
        assert {"publisher", "references", "citation_csl"} <= set(schemas[name]["properties"]), name
    assert schemas["Section"]["properties"]["citation_csl"] == {"$ref": "#/components/schemas/CslItem"}
    assert {"publisher", "URL", "issued", "note"} <= set(schemas["CslItem"]["properties"])
    assert set(schemas["Hit"]["properties"]["references"]["items"]["properties"]) == {"title", "url", "publisher"}
