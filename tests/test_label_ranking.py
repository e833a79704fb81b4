"""The parts of a drug label that support its advice (pharmacology, studies, ...) rank behind the parts that state it."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from indexer.index import SearchIndex
from indexer.pipeline import build_index
from indexer.settings import BY_NAME
from indexer.sources.labels import SUPPORTING_FIELDS
from search_app.ranking import Searcher, Weights

from .conftest import FIXTURES

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
    marked = {index.section_key(int(r))[1] for r in rows[index.supporting(rows)]}
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
    query = "citalopram liver impairment dose"
    searcher.weights = replace(Weights(), supporting=0.0)
    assert searcher.search(query, 3, fold=False).hits[0].passage.section_id == "pharmacokinetics"
    searcher.weights = Weights()
    assert BY_NAME["weight_supporting"].default == Weights().supporting > 0
    assert searcher.search(query, 3, fold=False).hits[0].passage.section_id == "2-3-recommended-dosage"
