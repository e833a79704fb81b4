"""bench/match_queries.jsonl, the queries that "answer or say so" is calibrated and measured on, is sound.

Checked against the corpus and the name vocabulary (lexicon and brand table), never against what the
engine returns: kinds and counts, the seeded split, every answer article exists and is about the
question, every medicine listed is named in the query (and none is left out), and a medicine is
"uncovered" exactly when no article of corpus/ is about it.
"""
from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest
from rapidfuzz.distance import OSA

from indexer import settings
from indexer.lexicon import article_names, name_key, synonym_table
from indexer.sources import Skipped, discover, load_file
from search_app.core.query import normalise

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "match_queries.jsonl"
CORPUS = ROOT / "corpus"
KEYS = {"id", "query", "kind", "medicines", "uncovered", "answer_articles", "split"}
MINIMUM = {"nonsense": 40, "off_topic": 40, "uncovered": 40, "covered": 80, "comparison": 20, "general": 20}
NO_MEDICINE = {"nonsense", "off_topic", "general"}
NO_ANSWER = {"nonsense", "off_topic", "uncovered"}


def _load_split_script():
    spec = importlib.util.spec_from_file_location("make_match_split", ROOT / "bench" / "make_match_split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def corpus() -> dict[str, dict]:
    """Article id -> {"kind", "names" (what a medicine article is about), "drugs" (what a topic lists)}."""
    articles = {}
    for path in discover([CORPUS]):
        for article in load_file(path):
            assert not isinstance(article, Skipped), f"{article.path}: {article.reason}"
            meta = article.meta or {}
            articles[article.id] = {
                "kind": meta.get("kind"),
                "names": article_names(article) if meta.get("kind") == "medicine" else set(),
                "drugs": {name_key(str(d)) for d in meta.get("drugs", []) or []},
            }
    return articles


@lru_cache(maxsize=1)
def covered_names() -> frozenset[str]:
    """Every name (generic, brand, other spelling) of a medicine that has its own article."""
    return frozenset().union(*(a["names"] for a in corpus().values()))


def synonyms(medicine: str) -> frozenset[str]:
    key = name_key(medicine)
    return synonym_table().get(key, frozenset()) | {key}


def vocabulary() -> frozenset[str]:
    return frozenset(synonym_table()) | covered_names()


def grams(text: str, longest: int = 5) -> set[str]:
    words = name_key(text).split()
    return {" ".join(words[i:i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}


def named(medicine: str, query: str) -> bool:
    """The query names the medicine: one of its names as words, or a word two edits from a one-word name."""
    names = synonyms(medicine) | {n for a in corpus().values() if name_key(medicine) in a["names"] for n in a["names"]}
    if names & grams(query):
        return True
    words = [w for w in name_key(query).split() if len(w) >= 5]
    return any(OSA.distance(w, n, score_cutoff=2) <= 2 for w in words for n in names if " " not in n and len(n) >= 5)


def problems(row: dict) -> list[str]:
    """What is wrong with one query row (empty when it is sound)."""
    found = []
    kind, medicines, uncovered, answers = row["kind"], row["medicines"], row["uncovered"], row["answer_articles"]
    q = normalise(row["query"])
    if not q or len(row["query"]) > settings.default("max_query_chars"):
        found.append("query empty or longer than max_query_chars")
    if medicines != [m.lower() for m in medicines] or len(set(medicines)) != len(medicines):
        found.append("medicines must be distinct and lower case")
    if not set(uncovered) <= set(medicines):
        found.append("uncovered names a medicine that is not in medicines")
    if kind in NO_MEDICINE and medicines:
        found.append(f"a {kind} query names no medicine")
    if kind == "uncovered" and (not medicines or sorted(uncovered) != sorted(medicines)):
        found.append("an uncovered query names only medicines without an article")
    if kind == "covered" and (not medicines or uncovered):
        found.append("a covered query names only medicines that have an article")
    if kind == "comparison" and not medicines:
        found.append("a comparison names at least one medicine")
    for medicine in medicines:
        if name_key(medicine) not in vocabulary():
            found.append(f"{medicine!r} is not a name in the brand table or the corpus")
        has_article = bool(synonyms(medicine) & covered_names())
        if has_article == (medicine in uncovered):
            found.append(f"{medicine!r} {'has' if has_article else 'has no'} article in corpus/")
        if not named(medicine, row["query"]):
            found.append(f"{medicine!r} is not named in the query")
    listed = set().union(*(synonyms(m) for m in medicines)) if medicines else set()
    listed |= {n for a in corpus().values() if any(name_key(m) in a["names"] for m in medicines) for n in a["names"]}
    for name in sorted(grams(row["query"]) & vocabulary() - listed):
        found.append(f"the query names {name!r}, which medicines does not list")
    for article in answers:
        if article not in corpus():
            found.append(f"answer article {article!r} is not in corpus/")
    if kind in NO_ANSWER and answers:
        found.append(f"a {kind} query has no answer article")
    if (kind in ("covered", "general") or (kind == "comparison" and not uncovered)) and not answers:
        found.append(f"a {kind} query needs at least one answer article")
    if kind in ("covered", "comparison") and answers and not uncovered:
        about = [a for a in answers if a in corpus() and any(
            name_key(m) in corpus()[a]["names"] | corpus()[a]["drugs"] for m in medicines)]
        if not about:
            found.append("no answer article is about (or lists) a medicine the query names")
    if kind == "general" and any(corpus().get(a, {}).get("kind") != "topic" for a in answers):
        found.append("a general query is answered by topic articles")
    return found


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with open(QUERIES, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_every_line_is_one_query_with_the_documented_fields(rows):
    bad = [(r.get("id"), sorted(set(r) ^ KEYS)) for r in rows if set(r) != KEYS]
    assert not bad
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"mq-\d{3}", i) for i in ids)
    assert {r["kind"] for r in rows} == set(MINIMUM)
    assert {r["split"] for r in rows} == {"tune", "check"}
    assert len({normalise(r["query"]).lower() for r in rows}) == len(rows), "a query is repeated"


def test_each_kind_has_at_least_its_minimum(rows):
    counts = {kind: sum(r["kind"] == kind for r in rows) for kind in MINIMUM}
    assert all(counts[kind] >= n for kind, n in MINIMUM.items()), counts
    assert sum(counts[k] for k in NO_ANSWER) >= 100  # the negatives the "none" verdict is calibrated on


def test_every_query_is_consistent_with_the_corpus_and_the_names(rows):
    bad = {r["id"]: p for r in rows if (p := problems(r))}
    assert not bad


def test_the_split_is_the_seeded_one_third_of_each_kind(rows):
    chosen = _load_split_script().splits(rows)
    assert {r["id"]: r["split"] for r in rows} == chosen
    for kind in MINIMUM:
        of_kind = [r for r in rows if r["kind"] == kind]
        assert sum(r["split"] == "check" for r in of_kind) == round(len(of_kind) / 3)


def test_the_split_does_not_depend_on_the_order_or_on_the_split_already_written(rows):
    script = _load_split_script()
    shuffled = [dict(r, split="tune") for r in reversed(rows)]
    assert script.splits(shuffled) == script.splits(rows)
    assert script.splits(rows, seed=14) != script.splits(rows)


@pytest.mark.parametrize("change, expected", [
    # a medicine without an article passed off as covered (the lamotrigine rash)
    ({"query": "lamotrigine rash", "kind": "covered", "medicines": ["lamotrigine"], "uncovered": [],
      "answer_articles": ["amoxicillin"]}, "'lamotrigine' has no article in corpus/"),
    # a medicine with an article (Zoloft is sertraline) called uncovered
    ({"query": "zoloft rash", "kind": "uncovered", "medicines": ["sertraline"], "uncovered": ["sertraline"],
      "answer_articles": []}, "'sertraline' has article in corpus/"),
    ({"query": "can i take ibuprofen with lisinopril", "kind": "comparison", "medicines": ["ibuprofen"],
      "uncovered": [], "answer_articles": ["lisinopril"]}, "the query names 'lisinopril', which medicines does not list"),
    ({"query": "ozempic nausea", "kind": "covered", "medicines": ["semaglutide"], "uncovered": [],
      "answer_articles": ["ozempic"]}, "answer article 'ozempic' is not in corpus/"),
    ({"query": "metformin diarrhoea", "kind": "covered", "medicines": ["sertraline"], "uncovered": [],
      "answer_articles": ["sertraline"]}, "'sertraline' is not named in the query"),
    ({"query": "how do i renew my passport", "kind": "off_topic", "medicines": [], "uncovered": [],
      "answer_articles": ["missed-doses"]}, "a off_topic query has no answer article"),
])
def test_a_broken_row_is_reported(change, expected):
    row = {"id": "mq-999", "split": "tune", **change}
    assert expected in problems(row)


def test_misspelt_names_count_as_named_but_other_words_do_not():
    assert named("amitriptyline", "amitryptiline leg cramps at night")
    assert named("paracetamol", "tylenol after a night of drinking")
    assert not named("paracetamol", "how do i renew my passport")
