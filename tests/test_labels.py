"""FDA drug labels: the openFDA JSON and DailyMed SPL loaders, their section types, versions, names, search.

Fixtures in tests/fixtures/labels/ are cut from real labels (public domain): openFDA responses
(Coumadin with its boxed warning, a table and nested sections, fields in the scrambled order
openFDA sometimes gives; Lipitor and Zocor in one response; Tegretol and Valium in a bulk
``.json.zip``) and three SPL documents (an OTC Drug Facts label, a prescription label, a
label without a title). ``bad/`` holds an empty response, a cut-off file, an openFDA error,
broken and foreign XML.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from indexer.catalog import Catalog
from indexer.chunking import ChunkSettings, passages_for
from indexer.lexicon import article_names
from indexer.models import Article, Section
from indexer.pipeline import build_index
from indexer.sources import Skipped, load_file
from indexer.sources.labels import DISTRIBUTOR, kind_of_code, section_type_of_code

from .conftest import FIXTURES, SHARED, needs_shared

LABELS = FIXTURES / "labels"
GOOD, BAD = LABELS / "good", LABELS / "bad"
COUMADIN = "3ebcb71e-9a7e-4969-abb9-7c7d3e3aae3c"
LIPITOR = "c6e131fe-e7df-4876-83f7-9156fc4e8228"


def articles(path: Path) -> list[Article]:
    loaded = list(load_file(path))
    assert all(isinstance(a, Article) for a in loaded), loaded
    return loaded


def one(path: Path) -> Article:
    (article,) = articles(path)
    return article


def section(article: Article, heading_start: str) -> Section:
    found = [s for s in article.sections if s.heading.startswith(heading_start)]
    assert found, [s.heading for s in article.sections]
    return found[0]


def skipped(path: Path) -> str:
    (item,) = list(load_file(path))
    assert isinstance(item, Skipped), item
    return item.reason


# --------------------------------------------------------------------------- openFDA JSON


def test_an_openfda_label_is_one_article_keyed_by_set_id_with_dailymed_link_and_metadata():
    label = one(GOOD / "coumadin.json")
    assert label.id == COUMADIN
    assert label.title == "COUMADIN (warfarin sodium) tablet, Cardinal Health"
    assert label.url == f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={COUMADIN}"
    meta = label.meta
    assert meta["kind"] == "label" and meta["publisher"] == meta["labeler"] and meta["distributor"] == DISTRIBUTOR
    assert meta["label_format"] == "openfda" and meta["set_id"] == COUMADIN
    assert meta["version"] == 16 and meta["effective_time"] == "20201113" and meta["updated"] == "2020-11-13"
    assert meta["brand_names"] == ["COUMADIN"] and meta["generic_names"] == ["WARFARIN SODIUM"]
    assert meta["substance_names"] == ["WARFARIN SODIUM"] and meta["drug"] == "warfarin sodium"
    assert meta["labeler"] == "Cardinal Health" and meta["dosage_form"] == "tablet" and meta["routes"] == ["oral"]
    assert meta["boxed_warning"] == label.sections[0].id


def test_openfda_sections_keep_label_order_headings_and_types_from_the_field_name():
    label = one(GOOD / "coumadin.json")
    boxed = label.sections[0]
    assert (boxed.heading, boxed.section_type) == ("WARNING: BLEEDING RISK", "boxed_warning")
    assert boxed.text.startswith("• COUMADIN can cause major or fatal bleeding")
    # The fixture's fields come in openFDA's scrambled order (drug interactions first): numbers put them right.
    numbers = [float(m.group(1)) for s in label.sections if (m := re.match(r"(\d+(?:\.\d+)?) ", s.heading))]
    assert numbers == sorted(numbers) and numbers[0] == 1
    types = {s.heading: s.section_type for s in label.sections}
    assert types["1 INDICATIONS AND USAGE"] == "uses"
    assert types["2.6 Missed Dose"] == "dosage"  # a numbered subsection inside its field takes the field's type
    assert types["6 ADVERSE REACTIONS"] == "side_effects"
    assert types["7.4 Antibiotics and Antifungals"] == "interactions"
    assert types["8.1 Pregnancy"] == "pregnancy"
    assert types["8.2 Lactation Risk Summary"] == "pregnancy"  # its heading names a pregnancy section
    assert types["10.2 Treatment"] == "overdose"
    assert types["16 HOW SUPPLIED/STORAGE AND HANDLING"] == "storage"
    assert types["12.1 Mechanism of Action"] == "mechanism"


def test_openfda_repeats_of_subsections_inside_their_parent_are_cut_out():
    label = one(GOOD / "coumadin.json")
    parent = section(label, "8 USE IN SPECIFIC POPULATIONS")
    pregnancy = section(label, "8.1 Pregnancy")
    assert pregnancy.text[:80] not in parent.text
    everything = "\n".join(s.text for s in label.sections)
    assert everything.count(pregnancy.text[:80]) == 1


def test_openfda_non_prose_fields_are_left_out():
    raw = json.loads((GOOD / "coumadin.json").read_text(encoding="utf-8"))["results"][0]
    label = one(GOOD / "coumadin.json")
    everything = "\n".join(s.heading + "\n" + s.text for s in label.sections)
    for field in ("package_label_principal_display_panel", "spl_product_data_elements"):
        assert raw[field][0][:40] not in everything, field
    assert {c["field"] for c in label.meta["label_sections"].values()}.isdisjoint(
        {"package_label_principal_display_panel", "spl_product_data_elements", "set_id", "id"})


def test_patient_leaflets_are_kept_in_meta_and_out_of_search():
    label = one(GOOD / "coumadin.json")
    assert "spl_medguide" not in {c["field"] for c in label.meta["label_sections"].values()}
    (leaflet,) = label.meta["patient_leaflets"]
    assert leaflet["field"] == "spl_medguide" and leaflet["code"] == "42231-1" and leaflet["text"]
    assert leaflet["text"][:60] not in "\n".join(s.text for s in label.sections)
    spl = one(GOOD / "spl" / "lipitor-orig.xml")
    assert [(x["field"], x["heading"]) for x in spl.meta["patient_leaflets"]] == [
        ("spl_patient_package_insert", "PATIENT INFORMATION")]
    assert not any(s.heading == "PATIENT INFORMATION" for s in spl.sections)


def test_openfda_tables_become_readable_rows_and_structure_for_the_page():
    label = one(GOOD / "coumadin.json")
    cyp = section(label, "7.2 CYP450 Interactions")
    assert "Table 2: Examples of CYP450 Interactions with Warfarin" in cyp.text
    rows = [line for line in cyp.text.splitlines() if " | " in line]
    assert rows and rows[0].startswith("Enzyme | Inhibitors | Inducers")
    (table,) = label.meta["tables"][cyp.id]
    assert table["caption"].startswith("Table 2") and table["header_rows"] == 1
    assert table["rows"][0] == ["Enzyme", "Inhibitors", "Inducers"]
    # The flattened copy openFDA puts into the prose is gone: the header words appear once.
    assert cyp.text.count("Enzyme Inhibitors Inducers") == 0


def test_a_file_of_many_results_gives_one_article_each():
    loaded = articles(GOOD / "statins.json")
    assert [a.meta["brand_names"][0] for a in loaded] == ["Lipitor", "ZOCOR"]
    lipitor = loaded[0]
    assert lipitor.id == LIPITOR and lipitor.meta["version"] == 38
    reactions = next(s for s in lipitor.sections if s.id in lipitor.meta["tables"] and s.section_type == "side_effects")
    assert any(line.startswith("Nasopharyngitis |") for line in reactions.text.splitlines())


def test_a_bulk_zip_streams_every_label_of_its_json_members(tmp_path):
    loaded = articles(GOOD / "bulk.json.zip")
    assert [a.meta["brand_names"][0] for a in loaded] == ["Tegretol", "Valium"]
    assert all(a.source_path == f"{GOOD / 'bulk.json.zip'}!drug-label-0001-of-0001.json" for a in loaded)
    # A broken member is reported; the good one still loads.
    bulk = tmp_path / "mixed.json.zip"
    with zipfile.ZipFile(GOOD / "bulk.json.zip") as source, zipfile.ZipFile(bulk, "w") as out:
        out.writestr("drug-label-0001-of-0002.json", source.read("drug-label-0001-of-0001.json"))
        out.writestr("drug-label-0002-of-0002.json", (BAD / "malformed.json").read_bytes())
    items = list(load_file(bulk))
    assert [type(i).__name__ for i in items] == ["Article", "Article", "Skipped"]
    assert items[2].path.endswith("!drug-label-0002-of-0002.json") and "malformed JSON" in items[2].reason


@pytest.mark.parametrize(("name", "reason"), [
    ("empty.json", "openFDA response with no labels (empty results)"),
    ("malformed.json", "malformed JSON after 0 label(s)"),
    ("error.json", "openFDA error response: NOT_FOUND No matches found!"),
    ("broken.xml", "malformed XML"),
    ("not-spl.xml", "not an SPL document"),
])
def test_bad_label_files_are_skipped_with_their_reason(name, reason):
    assert reason in skipped(BAD / name)


def test_a_label_without_set_id_or_text_is_skipped_and_the_others_load(tmp_path):
    response = json.loads((GOOD / "statins.json").read_text(encoding="utf-8"))
    first, second = response["results"]
    del first["set_id"], first["openfda"]["spl_set_id"]
    second = {k: v for k, v in second.items() if k in ("set_id", "id", "version", "openfda",
                                                       "package_label_principal_display_panel")}
    response["results"] = [first, second, json.loads((GOOD / "coumadin.json").read_text())["results"][0]]
    path = tmp_path / "three.json"
    path.write_text(json.dumps(response), encoding="utf-8")
    items = list(load_file(path))
    assert [type(i).__name__ for i in items] == ["Skipped", "Skipped", "Article"]
    assert items[0].reason == "label 1 has no set_id" and items[0].path == f"{path}#1"
    assert "no label text" in items[1].reason
    not_zip = tmp_path / "labels.json.zip"
    not_zip.write_text("not a zip", encoding="utf-8")
    assert "not a readable zip file" in skipped(not_zip)


# --------------------------------------------------------------------------- SPL XML


def test_spl_prescription_label_nested_sections_types_and_tables():
    label = one(GOOD / "spl" / "lipitor-orig.xml")
    assert label.id == LIPITOR and label.meta["version"] == 11 and label.meta["label_format"] == "spl"
    assert label.title == "Lipitor (atorvastatin calcium) tablet, film coated, Parke-Davis Div of Pfizer Inc"
    assert label.meta["dosage_form"] == "tablet, film coated" and label.meta["updated"] == "2014-01-13"
    types = {s.heading: s.section_type for s in label.sections}
    assert types["2.5 Dosage in Patients With Renal Impairment"] == "dosage"  # unclassified: its parent's type
    assert types["7.2 Grapefruit Juice"] == "interactions"
    assert types["8.3 Nursing Mothers"] == "pregnancy"
    assert types["10 OVERDOSAGE"] == "overdose"
    # "2 DOSAGE AND ADMINISTRATION" has no text of its own (only highlights): no section.
    assert not any(s.heading == "2 DOSAGE AND ADMINISTRATION" for s in label.sections)
    # 8.1's untitled teratogenic-effects subsection is part of 8.1's text.
    assert "Pregnancy Category X" in section(label, "8.1 Pregnancy").text
    muscle = section(label, "5.1 Skeletal Muscle")
    assert muscle.id in label.meta["tables"]
    assert any(" | " in line for line in muscle.text.splitlines())
    everything = "\n".join(s.heading + "\n" + s.text for s in label.sections)
    assert "PRINCIPAL DISPLAY PANEL" not in everything  # package label
    assert "CANDELILLA WAX" not in everything  # product data elements
    assert "HMG-CoA reductase (statin) indicated as an adjunct" not in everything  # highlights excerpt


def test_spl_otc_drug_facts_sections_are_typed_by_their_codes():
    label = one(GOOD / "spl" / "cough.xml")
    assert label.title.startswith("TRIAMINIC (diphenhydramine hcl, phenylephrine hcl) syrup, Novartis")
    types = {s.heading: s.section_type for s in label.sections}
    assert types["Active ingredient"] == "ingredients" and types["Purpose"] == "uses" and types["Uses"] == "uses"
    assert types["Warnings: Do not use"] == "warnings"
    assert types["Warnings: Ask a doctor or pharmacist before use if the child is"] == "interactions"
    assert types["Warnings: Stop use and ask a doctor if"] == "serious_side_effects"
    assert types["Warnings: Keep out of reach of children."] == "overdose"
    assert types["Directions"] == "dosage"
    assert label.meta["tables"][section(label, "Directions").id]


def test_spl_without_a_title_is_named_from_product_and_manufacturer():
    label = one(GOOD / "spl" / "no-title.xml")
    assert "document_title" not in label.meta
    assert label.title == "Haloperidol tablet, Contract Pharmacy Services-PA"
    boxed = label.sections[0]
    assert (boxed.heading, boxed.section_type) == ("Boxed Warning", "boxed_warning")
    assert label.meta["boxed_warning"] == boxed.id
    assert section(label, "OVERDOSAGE: Treatment").section_type == "overdose"
    assert section(label, "DOSAGE AND ADMINISTRATION: Inital Dosage Range: Children").section_type == "dosage"


# --------------------------------------------------------------------------- section types


@pytest.mark.parametrize(("code", "expected"), [
    ("34084-4", "side_effects"), ("34066-1", "boxed_warning"), ("34088-5", "overdose"),
    ("34073-7", "interactions"), ("42228-7", "pregnancy"), ("34080-2", "pregnancy"), ("77290-5", "pregnancy"),
    ("53414-9", "pregnancy"), ("34068-7", "dosage"), ("44425-7", "storage"), ("34069-5", "storage"),
    ("34067-9", "uses"), ("43679-0", "mechanism"), ("50566-9", "serious_side_effects"), ("99999-9", "other"),
])
def test_section_types_come_from_loinc_codes(code, expected):
    assert section_type_of_code(code) == expected


def test_non_prose_label_parts_are_left_out_by_code():
    for code in ("51945-4", "48780-1", "48779-3", "43683-2"):
        assert not kind_of_code(code).indexed, code


def test_every_loinc_section_code_openfda_uses_is_in_the_table():
    codes = needs_shared(SHARED / "drug-labels" / "spl-loinc-sections.csv")
    with open(codes, encoding="utf-8", newline="") as fh:
        missing = [row[0] for row in csv.reader(fh) if kind_of_code(row[0]) is None]
    assert missing == []


def test_an_explicit_section_type_outranks_the_heading_in_passages(embedder):
    article = Article(id="x", title="Drug label x", url="", sections=(
        Section("a", "Other information", "Store at room temperature away from light.", section_type="storage"),
        Section("b", "Side effects", "Headache and nausea were reported."),))
    passages = list(passages_for(article, ChunkSettings(), embedder.count_tokens))
    assert [p.section_type for p in passages] == ["storage", "side_effects"]


# --------------------------------------------------------------------------- versions and names


def _label_versions(tmp_path: Path, *versions: int, sentence: str = "") -> list[Path]:
    """Copies of the Coumadin fixture as the given versions, each in its own file."""
    raw = json.loads((GOOD / "coumadin.json").read_text(encoding="utf-8"))
    paths = []
    for n, version in enumerate(versions):
        label = json.loads(json.dumps(raw))
        label["results"][0]["version"] = str(version)
        label["results"][0]["effective_time"] = f"202{version % 10}0101"
        label["results"][0]["boxed_warning"][0] += f" Version {version} of this label. {sentence}"
        path = tmp_path / "src" / f"{n}-coumadin-v{version}.json"  # read in the order given
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(label), encoding="utf-8")
        paths.append(path)
    return paths


def _article_in(index: Path, article_id: str) -> Article:
    catalog = Catalog(index / "current" / "passages.sqlite")
    try:
        return catalog.article(article_id)
    finally:
        catalog.close()


def test_the_newest_version_of_a_set_id_replaces_older_ones_across_files(tmp_path, embedder):
    _label_versions(tmp_path, 8, 9, 7)  # read in this order: 9 replaces 8, then 7 loses to 9
    report = build_index([tmp_path / "src"], tmp_path / "index", embedder, log=lambda line: None)
    assert report.published and report.exit_code == 0 and report.articles == 1
    assert [(r["version"], r["by_version"]) for r in report.replaced] == [(8, 9), (7, 9)]
    stored = _article_in(tmp_path / "index", COUMADIN)
    assert stored.meta["version"] == 9 and "Version 9 of this label." in stored.sections[0].text


def test_a_copy_without_a_version_never_beats_a_later_copy_with_one(tmp_path, embedder):
    unversioned, versioned = _label_versions(tmp_path, 1, 17)
    raw = json.loads(unversioned.read_text(encoding="utf-8"))
    del raw["results"][0]["version"]
    unversioned.write_text(json.dumps(raw), encoding="utf-8")
    report = build_index([tmp_path / "src"], tmp_path / "index", embedder, log=lambda line: None)
    assert report.published and report.articles == 1
    assert [(r["version"], r["by_version"]) for r in report.replaced] == [(None, 17)]
    assert _article_in(tmp_path / "index", COUMADIN).meta["version"] == 17


def test_a_newer_version_replaces_the_live_one_in_an_incremental_build(tmp_path, embedder):
    old, = _label_versions(tmp_path, 3)
    build_index([old], tmp_path / "index", embedder, log=lambda line: None)
    old.unlink()
    new, = _label_versions(tmp_path, 4)
    report = build_index([new], tmp_path / "index", embedder, log=lambda line: None)
    assert report.published and (report.changed, report.added, report.removed) == (1, 0, 0)
    assert [(r["version"], r["by_version"]) for r in report.replaced] == [(3, 4)]
    assert report.replaced[0]["path"].startswith("live build ")
    assert _article_in(tmp_path / "index", COUMADIN).meta["version"] == 4


def test_brand_generic_and_substance_names_go_into_the_lexicon():
    lipitor = articles(GOOD / "statins.json")[0]
    names = article_names(lipitor)
    assert {"lipitor", "atorvastatin", "atorvastatin calcium"} <= names
    # The substance name is found only in the label's openfda block, not in its title or the brand table.
    assert "atorvastatin calcium trihydrate" in names
    valium = articles(GOOD / "bulk.json.zip")[1]
    assert {"valium", "diazepam"} <= article_names(valium)


# --------------------------------------------------------------------------- a real build, searched


@pytest.fixture(scope="module")
def label_index(tmp_path_factory, embedder):
    path = tmp_path_factory.mktemp("labels")
    report = build_index([GOOD], path, embedder, log=lambda line: None)
    assert report.published and report.exit_code == 0, report.skipped
    # The SPL Lipitor (version 11) and the openFDA one (version 38) share a set id: the newer is kept.
    assert [(r["id"], r["version"], r["by_version"]) for r in report.replaced] == [(LIPITOR, 11, 38)]
    return path


@pytest.fixture(scope="module")
def label_client(label_index):
    from search_app import create_app

    return create_app({"index": str(label_index), "TESTING": True}).test_client()


def top(client, query: str, **params) -> dict:
    response = client.get("/api/v1/search", query_string={"q": query, "k": 3, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"][0]


@pytest.mark.parametrize(("query", "title", "headings"), [
    ("warfarin interactions with antibiotics", "COUMADIN", {"7.4 Antibiotics and Antifungals"}),
    ("coumadin missed dose", "COUMADIN", {"2.6 Missed Dose"}),
    # Both say what to do in kidney disease: the renal dosage and the renal-impairment section.
    ("zocor dose in kidney disease", "ZOCOR", {"2.4 Recommended Dosage in Patients with Renal Impairment",
                                               "8.6 Renal Impairment"}),
    ("how often can I give triaminic", "TRIAMINIC", {"Directions"}),
    ("how should valium be stored", "Valium", {"Storage"}),
    ("tegretol blood tests", "Tegretol", {"Laboratory Tests"}),
])
def test_a_label_question_finds_the_answering_section_first(label_client, query, title, headings):
    hit = top(label_client, query)
    assert hit["title"].startswith(title) and hit["heading"] in headings, hit


def test_brand_misspellings_and_the_drug_filter_work_for_labels(label_client):
    assert top(label_client, "lipitr side effects")["article_id"] == LIPITOR
    data = label_client.get("/api/v1/search", query_string={"q": "bleeding", "drug": "warfarin", "k": 20}).get_json()
    assert data["results"] and {r["article_id"] for r in data["results"]} == {COUMADIN}
    data = label_client.get("/api/v1/search", query_string={"q": "seizures", "drug": "carbamazepine", "k": 5}).get_json()
    assert data["results"] and all(r["title"].startswith("Tegretol") for r in data["results"])


def test_the_catalog_keeps_the_label_type_over_the_heading(label_index):
    catalog = Catalog(label_index / "current" / "passages.sqlite")
    try:
        types = {(a, s): t for _, a, s, t in catalog.row_table()}
    finally:
        catalog.close()
    assert types[(COUMADIN, "2-6-missed-dose")] == "dosage"  # its heading alone would say missed_dose


def test_label_sections_keep_their_citation_fields_in_the_api(label_client):
    hit = top(label_client, "warfarin interactions with antibiotics")
    assert hit["url"].startswith(f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={COUMADIN}")
    assert hit["source"] == hit["publisher"] == "Cardinal Health" and hit["updated"] == "2020-11-13"
    assert hit["label"]["distributor"] == DISTRIBUTOR and hit["label"]["version"] == 16
    article = label_client.get(f"/api/v1/articles/{COUMADIN}").get_json()["article"]
    assert article["sections"][0]["heading"] == "WARNING: BLEEDING RISK"


def test_the_cli_builds_labels_and_reports_bad_files_exit_3(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    shutil.copytree(GOOD, tmp_path / "labels")
    shutil.copy(BAD / "empty.json", tmp_path / "labels" / "empty.json")
    result = subprocess.run([sys.executable, "-m", "indexer", "build", str(tmp_path / "labels"), "--index",
                             str(tmp_path / "index"), "--report", str(tmp_path / "report.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 3, result.stderr
    assert "empty.json" in result.stderr and "empty results" in result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["articles"] == 7 and report["replaced_versions"][0]["by_version"] == 38
