"""Ranking within a drug label: supporting parts (pharmacology, studies, ...) behind the parts that state its advice; a section whose heading says what was asked, ahead."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.settings import BY_NAME
from indexer.sources.labels import SUPPORTING_FIELDS
from search_app.core.ranking import Searcher, Weights, heading_similarity

from .conftest import CORPUS, FIXTURES

LABEL = FIXTURES / "labels" / "ranking" / "celexa.json"  # cut from a real openFDA label (public domain)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder) -> Searcher:
    index = tmp_path_factory.mktemp("celexa-index")
    report = build_index([LABEL], index, embedder, log=lambda line: None)
    assert report.published and report.articles == 1, report.skipped
    return Searcher(SearchIndex.open(index, model=embedder.describe()), embedder)


def test_supporting_rows_are_the_pharmacology_and_study_sections(searcher):
    index = searcher.index
    rows = np.arange(len(index))
    fields = {section.id: field for section, field in _fields(index)}
    marked = {index.section_key(int(r))[1] for r in rows[index.table.supporting[rows]]}
    assert marked == {"pharmacokinetics", "clinical-studies"}
    assert {fields[s] for s in marked} <= SUPPORTING_FIELDS
    assert "mechanism-of-action" not in marked  # "how does it work" is answered there


def _fields(index: SearchIndex):
    article = index.article(index.section_key(0)[0])
    return [(s, article.meta["label_sections"][s.id]["field"]) for s in article.sections]


def test_the_handicap_lowers_only_supporting_sections_by_its_weight(searcher):
    query = "citalopram dose for elderly patients"
    scores = {}
    for weight in (0.0, 0.5):
        searcher.weights = replace(Weights(), supporting=weight)
        scores[weight] = {h.passage.section_id: h.score for h in searcher.search(query, 20, fold=False).hits}
    searcher.weights = Weights()
    assert scores[0.0].keys() == scores[0.5].keys()
    for section, before in scores[0.0].items():
        lowered = 0.5 if section in ("pharmacokinetics", "clinical-studies") else 0.0
        assert scores[0.5][section] == pytest.approx(before - lowered, abs=1e-5), section


def test_the_default_handicap_puts_the_dosage_before_the_pharmacokinetics(searcher):
    """Unhandicapped, the pharmacokinetics (which mention hepatic impairment) come first; the dosage section answers."""
    query = "citalopram dose with liver impairment"
    searcher.weights = replace(Weights(), supporting=0.0)
    assert searcher.search(query, 3, fold=False).hits[0].passage.section_id == "pharmacokinetics"
    searcher.weights = Weights()
    assert BY_NAME["weight_supporting"].default == Weights().supporting > 0
    assert searcher.search(query, 3, fold=False).hits[0].passage.section_id == "2-3-recommended-dosage"


def _first_rows(index: SearchIndex) -> dict[str, int]:
    first: dict[str, int] = {}
    for row in range(len(index)):
        first.setdefault(index.section_key(row)[1], row)
    return first


def test_every_label_section_has_its_own_heading_vector(searcher, embedder):
    """Each section's stored heading vector is its own heading's, embedded anew in another batch (one vector a text)."""
    index = searcher.index
    article = index.article(index.section_key(0)[0])
    first = _first_rows(index)
    fresh = embedder.encode([s.heading for s in article.sections])
    for n, section in enumerate(article.sections):
        row = np.array([first[section.id]])
        closeness = [float(heading_similarity(index.table, row, vector)[0]) for vector in fresh]
        assert int(np.argmax(closeness)) == n and closeness[n] >= 0.9999, section.heading


def test_the_heading_weight_adds_the_query_to_heading_cosine(searcher, embedder):
    """Each section's score rises by weight x cosine(query, its own heading), and nothing else moves."""
    query = "celexa serotonin syndrome"
    vector = embedder.encode_query(query)[0]
    scores = {}
    for weight in (0.0, 0.5):
        searcher.weights = replace(Weights(), heading=weight)
        scores[weight] = {h.passage.section_id: h.score for h in searcher.search(query, 20, fold=False).hits}
    searcher.weights = Weights()
    first = _first_rows(searcher.index)
    assert scores[0.0].keys() == scores[0.5].keys()
    raised = {}
    for section, before in scores[0.0].items():
        raised[section] = 0.5 * float(heading_similarity(searcher.index.table, np.array([first[section]]), vector)[0])
        assert scores[0.5][section] == pytest.approx(before + raised[section], abs=1e-4), section
    assert len({round(r, 3) for r in raised.values()}) > 1  # the headings differ, so do their cosines
    assert BY_NAME["weight_heading"].default == Weights().heading > 0


def test_articles_that_are_not_labels_have_no_heading_vectors(tmp_path, embedder):
    """An article's headings are a template ("What special precautions should I follow?"): no heading evidence."""
    index_dir = tmp_path / "ix"
    build_index([CORPUS], index_dir, embedder, log=lambda line: None)
    index = SearchIndex.open(index_dir, model=embedder.describe())
    rows = np.arange(len(index))
    assert not heading_similarity(index.table, rows, embedder.encode_query("side effects")[0]).any()


def test_a_bare_name_has_no_heading_evidence(searcher):
    """A query of a medicine's names alone asks nothing of a label's parts: no section gains from its heading."""
    for query, asks in (("citalopram", False), ("Celexa", False), ("citalopram dose", True)):
        analysis = searcher.understander.analyse(query)
        heading = searcher.candidates(analysis).heading
        assert heading.any() == asks, query
