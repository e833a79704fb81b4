"""A drug label's credit and version, everywhere (issue 28): the label is its labeler's, DailyMed (U.S. National
Library of Medicine) distributes it; every card, article page, citation, CSL-JSON item and API object names its
labeler, set id, version, effective date and application number; titles lead with the product; folding shows the
newest of labels whose text ties and says what it hides.

Built from tests/fixtures/labels: openFDA coumadin.json (a repackager's COUMADIN), statins.json, bulk.json.zip,
SPL no-title.xml (a repackager's haloperidol) and cough.xml (an OTC monograph label), and three more warfarin
labels made from coumadin.json: an original maker's of 2018, one of 2021-11 and a repackager's of 2021-06.
"""
from __future__ import annotations

import copy
import json
import shutil

import jsonschema
import pytest
from lxml import html

from indexer.errors import IndexIncompatible
from indexer.index import SearchIndex
from indexer.manifest import FORMAT_VERSION
from indexer.models import Article
from indexer.pipeline import build_index
from indexer.sources import load_file
from indexer.sources.openfda import label_article
from search_app.web.serialise import article_json

from .conftest import FIXTURES, rewrite_manifest

GOOD = FIXTURES / "labels" / "good"
COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"  # Cardinal Health's (a repackager), 2020-11-13, version 16
OLDEST, NEWEST, REPACKED = (f"00000000-0000-0000-0000-00000000002{n}" for n in range(3))
WARFARINS = (  # set id, labeler, effective date, a repackager's copy
    (OLDEST, "Bristol-Myers Squibb Company", "20180411", False),
    (NEWEST, "Teva Pharmaceuticals USA, Inc.", "20211104", False),
    (REPACKED, "REMEDYREPACK INC.", "20210615", True),
)
DAILYMED = "DailyMed (U.S. National Library of Medicine)"


def _warfarin_copies(folder) -> None:
    response = json.loads((GOOD / "coumadin.json").read_text())
    for n, (set_id, labeler, effective, repackaged) in enumerate(WARFARINS):
        label = copy.deepcopy(response)
        result = label["results"][0]
        result.update(set_id=set_id, id=f"10000000-0000-0000-0000-00000000002{n}", effective_time=effective)
        openfda = result["openfda"]
        openfda["manufacturer_name"] = [labeler]
        if not repackaged:  # the original packager's own label
            del openfda["original_packager_product_ndc"]
            openfda["is_original_packager"] = [True]
        (folder / f"warfarin-{n}.json").write_text(json.dumps(label))


@pytest.fixture(scope="module")
def credit_index(tmp_path_factory, embedder):
    source = tmp_path_factory.mktemp("credit-labels")
    for name in ("coumadin.json", "statins.json", "bulk.json.zip"):
        shutil.copy(GOOD / name, source / name)
    for name in ("no-title.xml", "cough.xml"):
        shutil.copy(GOOD / "spl" / name, source / name)
    _warfarin_copies(source)
    index = tmp_path_factory.mktemp("credit-index")
    report = build_index([source], index, embedder, log=lambda line: None)
    assert report.published and report.articles == 10 and not report.skipped, report.skipped
    return index


@pytest.fixture(scope="module")
def credit_client(credit_index):
    from search_app import create_app

    return create_app({"index": str(credit_index), "TESTING": True}).test_client()


def search(client, q: str, **params) -> dict:
    response = client.get("/api/v1/search", query_string={"q": q, "k": 5, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def words(element) -> str:
    return " ".join(element.text_content().split())


# --------------------------------------------------------------------------- the loaders' meta


def test_an_openfda_label_is_its_labelers_with_application_number_and_ndcs():
    (label,) = load_file(GOOD / "coumadin.json")
    meta = label.meta
    assert label.title == "COUMADIN (warfarin sodium) tablet, Cardinal Health"
    assert meta["labeler"] == meta["publisher"] == "Cardinal Health" and meta["distributor"] == DAILYMED
    assert "FDA" not in json.dumps({k: meta[k] for k in ("publisher", "distributor")})
    assert meta["product"] == "COUMADIN (warfarin sodium) tablet"
    assert meta["application_numbers"] == ["NDA009218"]
    assert meta["product_ndcs"] == ["55154-7701", "55154-7702", "55154-7703"]
    assert meta["package_ndcs"] == ["55154-7701-0", "55154-7702-0", "55154-7703-0"]
    # Cardinal Health repackages Bristol-Myers Squibb's tablets (openFDA's original_packager_product_ndc).
    assert meta["repackaged"] is True and meta["original_ndcs"] == ["0056-0169", "0056-0170", "0056-0176"]
    lipitor = next(a for a in load_file(GOOD / "statins.json") if a.title.startswith("Lipitor"))
    assert lipitor.meta["repackaged"] is False and lipitor.meta["application_numbers"] == ["NDA020702"]
    assert lipitor.meta["labeler"] == "Parke-Davis Div of Pfizer Inc" and "original_ndcs" not in lipitor.meta


def test_an_spl_label_takes_its_application_numbers_and_ndcs_from_its_products():
    (lipitor,) = load_file(GOOD / "spl" / "lipitor-orig.xml")
    meta = lipitor.meta
    assert meta["labeler"] == meta["publisher"] == "Parke-Davis Div of Pfizer Inc" and meta["distributor"] == DAILYMED
    assert meta["application_numbers"] == ["NDA020702"] and meta["product_ndcs"] == ["0071-0155"]
    assert meta["package_ndcs"] == ["0071-0155-23", "0071-0155-34", "0071-0155-40", "0071-0155-10",
                                    "0071-0155-97"]  # packages inside packages too
    assert meta["repackaged"] is False and meta["version"] == 11 and meta["updated"] == "2014-01-13"
    (haloperidol,) = load_file(GOOD / "spl" / "no-title.xml")
    assert haloperidol.meta["application_numbers"] == ["ANDA070278"]
    # A relabeler's SPL names the product it relabels (asEquivalentEntity): Mylan's 0378-0327.
    assert haloperidol.meta["repackaged"] is True and haloperidol.meta["original_ndcs"] == ["0378-0327"]
    (cough,) = load_file(GOOD / "spl" / "cough.xml")
    assert cough.meta["application_numbers"] == ["part341"]  # an OTC monograph's citation


@pytest.mark.parametrize(("openfda", "title"), [
    ({"brand_name": ["Tegretol"], "generic_name": ["CARBAMAZEPINE"]}, "Tegretol (carbamazepine), REMEDYREPACK INC."),
    ({"substance_name": ["WARFARIN SODIUM"]}, "warfarin sodium, REMEDYREPACK INC."),
    ({}, "Drug label 572954c3-4948-4e0a-8acd-ead8d0831649, REMEDYREPACK INC."),
])
def test_a_title_leads_with_the_product_never_with_a_repackager(openfda, title):
    label = {"set_id": "572954c3-4948-4e0a-8acd-ead8d0831649", "version": "3", "effective_time": "20190918",
             "indications_and_usage": ["1 INDICATIONS AND USAGE Tegretol is indicated for epilepsy."],
             "openfda": {**openfda, "manufacturer_name": ["REMEDYREPACK INC."]}}
    article = label_article(label, "label.json")
    assert article.title == title and not article.title.startswith("REMEDYREPACK")
    # With no name at all there is no product to name: the title says which label it is.
    assert article.meta.get("product") == (title.removesuffix(", REMEDYREPACK INC.") if openfda else None)


def test_a_bulk_label_of_a_repackager_leads_with_its_product():
    tegretol = next(a for a in load_file(GOOD / "bulk.json.zip") if "REMEDYREPACK" in a.title)
    assert tegretol.title == "Tegretol (carbamazepine) tablet, REMEDYREPACK INC." and tegretol.meta["repackaged"]


# --------------------------------------------------------------------------- pages


def test_a_label_card_credits_its_labeler_via_dailymed_with_version_set_id_application_and_date(credit_client):
    doc = html.fromstring(credit_client.get("/search", query_string={"q": "lipitor muscle pain"}).get_data(as_text=True))
    card = next(c for c in doc.cssselect("ol.results > li.result")
                if words(c.cssselect(".card-title")[0]).startswith("Lipitor"))
    credit = card.cssselect(".credit")[0]
    assert words(credit) == f"Label by Parke-Davis Div of Pfizer Inc · via {DAILYMED}"
    assert credit.cssselect("a")[0].get("href").startswith("https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=")
    record = words(card.cssselect(".label-record")[0])
    assert record == ("Version 38 Effective 1 December 2022 Application NDA020702 "
                      "Set id c6e131fe-e7df-4876-83f7-9156fc4e8228")
    assert "Updated" not in words(card.cssselect(".card-foot")[0])
    assert "Food and Drug" not in words(card)


def test_a_repackagers_label_says_so_on_its_page(credit_client):
    page = html.fromstring(credit_client.get(f"/articles/{COUMADIN}").get_data(as_text=True))
    head = page.cssselect(".article-head")[0]
    assert words(head.cssselect("h1")[0]) == "COUMADIN (warfarin sodium) tablet, Cardinal Health"
    assert words(head.cssselect(".credit")[0]) == f"Label by Cardinal Health (repackager) · via {DAILYMED}"
    assert words(head.cssselect(".label-record")[0]) == (f"Version 16 Effective 13 November 2020 Application "
                                                          f"NDA009218 Set id {COUMADIN}")
    assert head.cssselect(".label-effective time")[0].get("datetime") == "2020-11-13"
    assert "Updated" not in words(head) and "Food and Drug" not in words(head)
    citation = words(head.cssselect(".cite-text")[0])
    assert citation.startswith("COUMADIN (warfarin sodium) tablet. Cardinal Health (repackager). Drug label, "
                               f"version 16, effective 2020-11-13, NDA009218, set id {COUMADIN}. Via {DAILYMED}: "
                               f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={COUMADIN}")


# --------------------------------------------------------------------------- the API


def _inline(schema, schemas):
    """OpenAPI 3.0's nullable and $refs as plain JSON Schema."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
        out = {k: _inline(v, schemas) for k, v in schema.items() if k != "nullable"}
        return {"anyOf": [out, {"type": "null"}]} if schema.get("nullable") else out
    if isinstance(schema, list):
        return [_inline(s, schemas) for s in schema]
    return schema


def test_an_api_hit_carries_the_labels_record_citation_and_csl(credit_client):
    hit = next(r for r in search(credit_client, "zocor side effects")["results"] if r["title"].startswith("ZOCOR"))
    assert hit["publisher"] == hit["source"] == "Organon LLC" and hit["updated"] == "2023-08-09"
    label = hit["label"]
    assert {k: label[k] for k in ("labeler", "repackaged", "set_id", "version", "effective_date",
                                  "application_numbers", "distributor", "product")} == {
        "labeler": "Organon LLC", "repackaged": False, "set_id": "8f55d5de-5a4f-4a39-8c84-c53976dd6af9",
        "version": 8, "effective_date": "2023-08-09", "application_numbers": ["NDA019766"],
        "distributor": DAILYMED, "product": "ZOCOR (simvastatin) tablet"}
    assert label["product_ndcs"][:1] == ["78206-180"] and label["package_ndcs"][:1] == ["78206-179-01"]
    assert (f"ZOCOR (simvastatin) tablet. Organon LLC. {hit['heading']}. Drug label, version 8, effective "
            "2023-08-09, NDA019766, set id 8f55d5de-5a4f-4a39-8c84-c53976dd6af9. Via " + DAILYMED) in hit["citation"]
    csl = hit["citation_csl"]
    assert csl["author"] == [{"literal": "Organon LLC"}] and csl["title"] == "ZOCOR (simvastatin) tablet"
    assert csl["version"] == "8" and csl["number"] == "NDA019766" and csl["issued"] == {"date-parts": [[2023, 8, 9]]}
    assert csl["archive_location"] == "8f55d5de-5a4f-4a39-8c84-c53976dd6af9" and csl["container-title"] == "DailyMed"
    assert csl["publisher"] == "U.S. National Library of Medicine" and csl["genre"] == "drug label"
    schemas = credit_client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    jsonschema.validate(hit, _inline(schemas["Hit"], schemas))


def test_an_api_article_carries_the_labels_record_and_other_articles_none(credit_client):
    article = credit_client.get(f"/api/v1/articles/{COUMADIN}").get_json()["article"]
    label = article["label"]
    assert (label["labeler"], label["repackaged"], label["set_id"], label["version"], label["effective_date"],
            label["application_numbers"]) == ("Cardinal Health", True, COUMADIN, 16, "2020-11-13", ["NDA009218"])
    assert article["publisher"] == "Cardinal Health"
    assert article["citation_csl"]["version"] == "16" and article["citation_csl"]["number"] == "NDA009218"
    assert article["citation_csl"]["note"].startswith("Repackaged by Cardinal Health.")
    section = article["sections"][0]
    assert section["citation_csl"]["author"] == [{"literal": "Cardinal Health"}]
    assert f"version 16, effective 2020-11-13, NDA009218, set id {COUMADIN}" in section["citation"]
    schemas = credit_client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    jsonschema.validate(article, _inline(schemas["Article"], schemas))
    ours = article_json(Article("a", "A", "", (), source_path="corpus/a.md", meta={"updated": "2026-11-25"}),
                        "https://medsearch.example.org")
    assert ours["label"] is None and ours["publisher"] == "medsearch" and "version" not in ours["citation_csl"]


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize("q", ["warfarin bleeding risk", "coumadin missed dose", "warfarin pregnancy"])
def test_folding_shows_the_newest_of_labels_whose_text_ties(credit_client, q):
    data = search(credit_client, q)
    warfarin = [r for r in data["results"] if r["title"].startswith("COUMADIN")]
    assert warfarin and {r["article_id"] for r in warfarin} == {NEWEST}, [r["title"] for r in warfarin]
    assert warfarin[0]["label"]["effective_date"] == "2021-11-04" and warfarin[0]["more_labels"] == 3
    every = search(credit_client, q, fold="off", k=20)["results"]
    # A text the labels share is shown once, the others under also_in (issue 29): all four are named.
    named = {r["article_id"] for r in every} | {c["article_id"] for r in every for c in r["also_in"]}
    assert named >= {COUMADIN, OLDEST, NEWEST, REPACKED}


def test_the_page_says_how_many_older_and_repackaged_labels_folding_hides(credit_client):
    doc = html.fromstring(credit_client.get("/search", query_string={"q": "warfarin bleeding risk"})
                          .get_data(as_text=True))
    link = doc.cssselect("a.more-labels")[0]
    # Behind 2021-11's label: Bristol-Myers Squibb's of 2018, and Cardinal Health's and REMEDYREPACK's copies.
    assert words(link) == "3 more labels of warfarin: 1 older, 2 repackaged"
    listed = html.fromstring(credit_client.get(link.get("href")).get_data(as_text=True))
    named = {a.get("href") for a in listed.cssselect(".card-title, .also-in li a")}  # copies shown once (issue 29)
    assert named >= {f"/articles/{set_id}" for set_id in (COUMADIN, OLDEST, NEWEST, REPACKED)}


# --------------------------------------------------------------------------- the index format


def test_a_build_made_before_labels_named_their_labeler_is_refused_saying_why(credit_index, tmp_path):
    old = tmp_path / "index"
    shutil.copytree(credit_index, old, symlinks=True)
    path = old / "current" / "manifest.json"
    rewrite_manifest(path, {**json.loads(path.read_text()), "format_version": 5})
    with pytest.raises(IndexIncompatible, match=rf"format version 5, this code reads {FORMAT_VERSION} \(since then: "
                                                r"drug labels credited to their labeler, with application numbers "
                                                r"and NDCs(; [^)]*)?\); rebuild it with `python -m indexer build`"):
        SearchIndex.open(old)
