"""A clinician's look-up naming a part of a drug label ("Coumadin boxed warning", "zocor dose in renal impairment")
gets that part of the medicine's label first; a bare look-up of a part the labels have is not "no match"; the boxed
warning is a section type of its own, for filters and chips (issue 28)."""
from __future__ import annotations

import pytest
from lxml import html

from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.section_types import LABELS, SECTION_TYPES
from search_app.core import query
from search_app.core.ranking import Searcher, Weights
from search_app.core.search import run

from .conftest import FIXTURES

LABELS_DIR = FIXTURES / "labels"
SOURCES = [LABELS_DIR / "good" / "coumadin.json", LABELS_DIR / "good" / "statins.json",
           LABELS_DIR / "ranking" / "celexa.json"]  # four labels cut from real openFDA labels (public domain)


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder) -> SearchIndex:
    path = tmp_path_factory.mktemp("intent-index")
    report = build_index(SOURCES, path, embedder, log=lambda line: None)
    assert report.published and report.articles == 4, report.skipped
    return SearchIndex.open(path, model=embedder.describe())


@pytest.fixture(scope="module")
def searcher(index, embedder) -> Searcher:
    return Searcher(index, embedder)


@pytest.fixture(scope="module")
def client(index):
    from search_app import create_app

    return create_app({"index": str(index.build_dir.parent.parent), "TESTING": True}).test_client()


def first(searcher: Searcher, q: str):
    return searcher.search(q, 5).hits[0].passage


@pytest.mark.parametrize("q", ["Coumadin boxed warning", "warfarin black box warning"])
def test_a_boxed_warning_look_up_ranks_the_boxed_warning_first(searcher, q):
    top = first(searcher, q)
    assert (top.title.startswith("COUMADIN"), top.section_id, top.section_type) == (True, "boxed-warning",
                                                                                  "boxed_warning")


@pytest.mark.parametrize("q, sections", [
    ("zocor dose in renal impairment", {"2-4-recommended-dosage-in-patients-with-renal-impairment",
                                        "8-6-renal-impairment"}),
    ("simvastatin renal dosing", {"2-4-recommended-dosage-in-patients-with-renal-impairment", "8-6-renal-impairment"}),
    ("warfarin dosage renal impairment", {"2-5-renal-impairment", "8-6-renal-impairment"}),
])
def test_a_renal_dosing_look_up_ranks_a_renal_section_first(searcher, q, sections):
    """The dosage subsection for renal impairment or the label's "8.6 Renal Impairment" (both state the renal dose
    in these labels: "the recommended starting dosage is simvastatin 5 mg"), not the general dosage section."""
    assert first(searcher, q).section_id in sections


@pytest.mark.parametrize("q, field", [
    ("coumadin overdose", "overdosage"), ("lipitor contraindications", "contraindications"),
    ("zocor breastfeeding", "nursing_mothers use_in_specific_populations"), ("warfarin mechanism of action", "mechanism_of_action"),
    ("coumadin pregnancy", "pregnancy"), ("zocor storage", "how_supplied storage_and_handling"),
])
def test_a_look_up_naming_a_part_of_the_label_ranks_that_part_first(searcher, index, q, field):
    top = first(searcher, q)
    article = index.article(top.article_id)
    assert article.meta["label_sections"][top.section_id]["field"] in field.split(), top.heading


@pytest.mark.parametrize("q", ["boxed warning", "pregnancy", "drug interactions", "overdose"])
def test_a_bare_look_up_of_a_part_the_labels_have_is_not_no_match(searcher, q):
    outcome = run(query.SearchRequest(q=q, k=5), searcher)
    assert outcome.match.level != "none"
    assert outcome.analysis.sections.lookup


@pytest.mark.parametrize("q", ["football scores tonight", "zxqv", "boxed football"])
def test_off_topic_queries_on_a_label_index_are_still_no_match(searcher, q):
    outcome = run(query.SearchRequest(q=q, k=5), searcher)
    assert outcome.match.level == "none"


def test_a_word_that_only_points_at_a_kind_is_not_a_look_up_of_it(searcher):
    """"renal" heads the labels' "8.6 Renal Impairment" and so points at that kind of section, which ranking uses;
    but it is not the kind's name, so alone it is no look-up that the match verdict must answer."""
    sections = searcher.understander.analyse("renal").sections
    assert sections.kinds and all(sections.naming) and not sections.lookup
    assert searcher.understander.analyse("overdosage").sections.lookup


def test_words_learn_their_kind_of_section_from_the_labels(searcher):
    """Nothing is listed: "dose" heads dosage subsections, so it points at the dosage kind."""
    sections = searcher.understander.label_sections
    dose = sections.strength("dose")
    assert sections.fields[int(dose.argmax())] == "dosage_and_administration" and dose.max() > 0.3
    assert not sections.strength("the").any()


def test_the_boxed_warning_is_a_section_type_of_its_own(searcher):
    assert "boxed_warning" in SECTION_TYPES and LABELS["boxed_warning"] == "Boxed warning"
    hits = run(query.SearchRequest(q="bleeding", k=10, section_types=("boxed_warning",)), searcher).hits
    assert hits and {(h.passage.section_id, h.passage.section_type) for h in hits} == {("boxed-warning",
                                                                                        "boxed_warning")}
    serious = run(query.SearchRequest(q="bleeding", k=10, section_types=("serious_side_effects",)), searcher).hits
    assert all(h.passage.section_type == "serious_side_effects" for h in serious)


def test_the_api_and_the_page_filter_to_the_boxed_warning(client):
    data = client.get("/api/v1/search", query_string={"q": "warfarin", "section_type": "boxed_warning"}).get_json()
    assert [r["section_type"] for r in data["results"]] == ["boxed_warning"]
    enum = client.get("/api/v1/openapi.json").get_json()
    assert "boxed_warning" in str(enum)
    page = html.fromstring(client.get("/search", query_string={"q": "coumadin boxed warning"}).get_data(as_text=True))
    first_row = page.cssselect('ul.chips[aria-label="Section type"] a.chip')  # asked about or on the first page
    assert "Boxed warning" in [" ".join(a.text_content().split()) for a in first_row]


@pytest.fixture(scope="module")
def shared_text(tmp_path_factory, embedder) -> SearchIndex:
    """Herceptin's, KADCYLA's and LUTATHERA's labels (cut from the real openFDA labels), whose Contraindications
    sections print the same words ("None. None. (4)"): alike texts, one for each medicine, each embedded under its
    own label's title (``indexer/texts.py``)."""
    path = tmp_path_factory.mktemp("shared-text-index")
    report = build_index([LABELS_DIR / "shared-text"], path, embedder, log=lambda line: None)
    assert report.published and report.articles == 3, report.skipped
    index = SearchIndex.open(path, model=embedder.describe())
    said = [set(index.table.alike[index.table.text[index.rows_of([a])]].tolist()) for a in sorted(index.titles())]
    assert set.intersection(*said), "the labels no longer print the same words: the tests below check nothing"
    return index


@pytest.mark.parametrize("q, title, heading", [("kadcyla contraindications", "KADCYLA", "4 CONTRAINDICATIONS"),
                                               ("lutathera contraindications", "Lutathera", "4 CONTRAINDICATIONS"),
                                               ("Lutathera pediatric use", "Lutathera", "8.4 Pediatric Use")])
def test_a_look_up_finds_the_part_of_the_named_label_whose_words_other_labels_print(shared_text, embedder, q, title,
                                                                                   heading):
    """A short part's text ("None.") says little of the label it is in: on the 305 labels of ../shared,
    "KADCYLA contraindications" had KADCYLA's "None." 16th, under sections that name KADCYLA often (its vector
    was then embedded under another label's title). The part a look-up names comes first in its label whatever its
    score; with no help from BM25 or the section cue (weights 0) it still does."""
    for weights in (Weights(), Weights(lexical=0.0, section=0.0)):
        top = first(Searcher(shared_text, embedder, weights), q)
        assert (top.title.split(" ")[0], top.heading) == (title, heading), weights


@pytest.mark.parametrize("q, slip, word, section", [
    ("Coumadin boxed warnig", "warnig", "warning", "boxed-warning"),
    ("zocor contraindicatons", "contraindicatons", "contraindications", "contraindications"),
    ("coumadin breastfeding", "breastfeding", "breastfeeding", "8-2-lactation-risk-summary"),  # a lay phrase's word
    ("zocor dose in renal impairmnet", "impairmnet", "impairment",
     "2-4-recommended-dosage-in-patients-with-renal-impairment"),
])
def test_a_slip_in_a_word_naming_a_part_is_respelt(searcher, q, slip, word, section):
    result = searcher.search(q, 5)
    assert result.analysis.corrections == ((slip, word),)
    assert result.hits[0].passage.section_id == section


@pytest.mark.parametrize("q", ["wean off celexa",          # short: one letter from "weak", and meant
                               "doing celexa",             # an English word
                               "coumadin warnings",        # a word the build knows
                               "coumadin xontrxindications"])  # two slips from "contraindications"
def test_words_that_are_no_slip_of_a_part_word_are_left_alone(searcher, q):
    assert searcher.understander.analyse(q).corrections == ()
