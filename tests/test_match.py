"""Answer or say so: medicine-aware ranking, the drug filter, coverage, the match verdict, in the page and the APIs."""
from __future__ import annotations

import pytest
from lxml import html

from indexer.pipeline import build_index

from .conftest import CORPUS, FIXTURES


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder):
    """The fixture medicines plus a topic article with a section about amitriptyline."""
    from search_app import create_app

    path = tmp_path_factory.mktemp("match-index")
    report = build_index([CORPUS, FIXTURES / "match"], path, embedder, log=lambda line: None)
    assert report.published and not report.skipped, report.skipped
    return create_app({"index": str(path), "TESTING": True}).test_client()


def api(client, **params) -> dict:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def page(client, **params):
    response = client.get("/search", query_string=params)
    assert response.status_code == 200
    return html.fromstring(response.get_data(as_text=True))


def text_of(doc, selector: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in doc.cssselect(selector)]


def test_a_brand_query_gets_the_generic_first_and_says_whose_brand_it_is(client):
    data = api(client, q="elavil side effects", k=5)
    assert data["match"] == {"level": "strong", "medicines": ["amitriptyline"], "uncovered_medicines": []}
    about = [r["explanation"]["about_medicine_asked"] for r in data["results"]]
    # Every passage about amitriptyline (its article, the topic article's section) before any other.
    assert about[0] and about == sorted(about, reverse=True)
    assert data["results"][0]["article_id"] == "amitriptyline"
    assert text_of(page(client, q="elavil side effects"), ".brand-note") == ["Elavil is a brand name of amitriptyline."]


def test_other_medicines_never_come_before_the_one_named(client):
    data = api(client, q="does hydrochlorothiazide cause cramps", k=10)
    about = [r["explanation"]["about_medicine_asked"] for r in data["results"]]
    assert about == sorted(about, reverse=True) and sum(about) >= 3
    assert {r["article_id"] for r in data["results"] if r["explanation"]["about_medicine_asked"]} == {
        "hydrochlorothiazide"}  # the topic section whose heading names no medicine is not about it
    labels = text_of(page(client, q="does hydrochlorothiazide cause cramps"), ".badge-elsewhere")
    assert labels and all(label.startswith(("About ", "Not about hydrochlorothiazide")) for label in labels)


def test_the_drug_filter_keeps_a_topic_articles_section_about_the_medicine(client):
    data = api(client, q="can amitriptyline cause cramps", drug="amitriptyline", k=10)
    found = {(r["article_id"], r["heading"]) for r in data["results"]}
    assert ("muscle-cramps", "Amitriptyline and muscle cramps") in found
    assert {r["article_id"] for r in data["results"]} == {"amitriptyline", "muscle-cramps"}
    assert ("muscle-cramps", "Water tablets and cramps") not in found  # the rest of the topic article is not


def test_a_medicine_without_an_article_is_named_and_the_results_are_not_presented_as_about_it(client):
    data = api(client, q="lamictal rash", k=5)
    assert data["match"]["uncovered_medicines"] == ["lamotrigine"] and data["match"]["level"] == "weak"
    assert data["results"] and not any(r["explanation"]["about_medicine_asked"] for r in data["results"])
    doc = page(client, q="lamictal rash")
    notice = text_of(doc, ".coverage")[0]
    assert "no article about lamotrigine" in notice and "Lamictal is a brand name of lamotrigine" in notice
    assert "about other medicines" in notice
    assert len(text_of(doc, ".badge-elsewhere")) == len(doc.cssselect("ol.results > li.result"))


@pytest.mark.parametrize("q", ["zxqv", "asdf jkl qwerty", "how do i renew my passport"])
def test_nonsense_and_off_topic_queries_say_no_good_match(client, q):
    data = api(client, q=q)
    assert data["match"]["level"] == "none" and data["results"]  # the API still returns the closest, flagged
    doc = page(client, q=q)
    assert text_of(doc, "h1")[0].startswith("No good match for")
    assert not doc.cssselect("ol.results")
    anyway = [a.get("href") for a in doc.cssselect(".no-match a") if "closest" in a.text_content()]
    assert anyway and page(client, q=q, show="closest").cssselect("ol.results > li.result")


def test_a_question_about_a_covered_medicine_is_never_no_match(client):
    for q in ("ibuprofen", "lisinopril dry cough", "amitriptylin sleepy"):
        assert api(client, q=q)["match"]["level"] != "none", q


def test_a_comparison_is_not_constrained_to_one_medicine(client):
    data = api(client, q="ibuprofen or lisinopril which is safer", k=6)
    assert sorted(data["match"]["medicines"]) == ["ibuprofen", "lisinopril"]
    assert not any(r["explanation"]["about_medicine_asked"] for r in data["results"])
    assert {"ibuprofen", "lisinopril"} <= {r["article_id"] for r in data["results"]}


def test_two_medicines_favour_passages_about_them(client):
    data = api(client, q="can i take ibuprofen with lisinopril", k=4)
    assert {r["article_id"] for r in data["results"]} <= {"ibuprofen", "lisinopril"}
    assert all(r["explanation"]["about_medicine_asked"] for r in data["results"])


def test_the_legacy_api_and_openapi_carry_the_match(client):
    assert set(client.get("/api/search?q=elavil").get_json()["match"]) == {"level", "medicines", "uncovered_medicines"}
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    match = schema["SearchResponse"]["properties"]["match"]
    assert set(match["required"]) == {"level", "medicines", "uncovered_medicines"}
    assert match["properties"]["level"]["enum"] == ["strong", "weak", "none"]
    assert "about_medicine_asked" in schema["Hit"]["properties"]["explanation"]["properties"]
