"""The medicine-name lexicon: product titles with a misspelt medicine name still name that medicine."""
import json

import pytest

from indexer.lexicon import article_names, respellings, respelt
from indexer.models import Article
from indexer.pipeline import build_index


def titled(title: str, **meta) -> Article:
    return Article(id="a", title=title, url="", sections=(), meta=meta)


@pytest.mark.parametrize("word, medicine", [
    ("metroprolol", "metoprolol"),    # a letter too many
    ("amoxiciliin", "amoxicillin"),   # two letters swapped
    ("enoxparin", "enoxaparin"),      # a letter missing
    ("lisinipril", "lisinopril"),     # a letter wrong
])
def test_a_long_word_one_edit_from_one_medicine_is_respelt(word, medicine):
    assert respelt(word) == medicine


@pytest.mark.parametrize("word", [
    "metoprolol",    # already right
    "enalaprilat",   # a different medicine, two edits from enalapril
    "desonide",      # a different medicine, two edits from budesonide
    "malox",         # too short to tell from another word
    "succinate",     # a salt, no medicine
])
def test_words_that_are_no_misspelling_are_left_alone(word):
    assert respelt(word) is None


def test_only_a_title_that_names_one_medicine_is_respelt():
    assert respellings(titled("Metroprolol succinate")) == {"metroprolol": "metoprolol"}
    assert respellings(titled("Enoxparin Sodium 40 mg injection")) == {"enoxparin": "enoxaparin"}
    assert respellings(titled("Amoxil", drug="Amoxiciliin")) == {"amoxiciliin": "amoxicillin"}
    # ordinary words one letter from a brand name (retinol, lactase) in a topic's title
    assert respellings(titled("Retinal Detachment")) == {}
    assert respellings(titled("Lactose Intolerance")) == {}
    assert respellings(titled("Pancreatic Cancer")) == {}


def test_a_respelt_title_names_the_medicine_and_its_brands():
    names = article_names(titled("Metroprolol succinate"))
    assert {"metroprolol succinate", "metoprolol", "lopressor"} <= names


def test_a_misspelt_product_title_is_found_by_its_medicine_and_reported(tmp_path, embedder):
    from search_app import create_app

    record = {"id": "mp-1", "title": "Metroprolol succinate", "url": "https://example.org/mp",
              "sections": [{"id": "looks", "heading": "Dosage forms and strengths",
                            "text": "25 mg tablets are white, oval and scored on one side."}]}
    other = {"id": "ib-1", "title": "Ibuprofen", "url": "https://example.org/ib",
             "sections": [{"id": "effects", "heading": "Side effects",
                                                   "text": "The tablets can upset the stomach."}]}
    source = tmp_path / "products.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in (record, other)) + "\n", encoding="utf-8")
    logged: list[str] = []
    report = build_index([source], tmp_path / "index", embedder, log=logged.append)
    assert report.respelt == {"mp-1": {"metroprolol": "metoprolol"}}
    assert any("mp-1" in line and "metoprolol" in line for line in logged)

    client = create_app({"index": str(tmp_path / "index"), "TESTING": True}).test_client()
    for params in ({"q": "tablets", "drug": "metoprolol"}, {"q": "tablets", "drug": "Lopressor"}):
        body = client.get("/api/v1/search", query_string=params).get_json()
        assert [r["article_id"] for r in body["results"]] == ["mp-1"], params
    top = client.get("/api/v1/search", query_string={"q": "what do metoprolol tablets look like"}).get_json()
    assert top["results"][0]["article_id"] == "mp-1" and top["results"][0]["explanation"]["names_medicine"]
    assert "metoprolol" in top["understood"]["medicines"]


@pytest.mark.parametrize("q, generic", [
    ("hctz side effects", "hydrochlorothiazide"),
    ("smx-tmp dose in renal impairment", "sulfamethoxazole and trimethoprim"),
    ("TMP/SMX rash", "sulfamethoxazole and trimethoprim"),
    ("ISMN headache", "isosorbide mononitrate"),
    ("5-FU cream", "fluorouracil"),
    ("APAP max dose", "acetaminophen"),
])
def test_clinicians_abbreviations_name_their_medicine(index_dir, embedder, q, generic):
    """The abbreviations clinicians type for a medicine (brands.tsv) name it, whether or not the build covers it."""
    from indexer.index import SearchIndex
    from search_app.core.ranking import Searcher

    understander = Searcher(SearchIndex.open(index_dir), embedder).understander
    assert [m.generic for m in understander.analyse(q).medicines] == [generic]
