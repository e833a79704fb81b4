"""The serving path's shortcuts give exactly what their definitions give (bench/same_answers.py checks the whole answers).

Each shortcut is checked against the plain computation it replaces: BM25 scores against bm25s's own
``get_scores``, the nearest spelling against rapidfuzz's ``extractOne`` over every name, the rows of some
articles against a pass over every row.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
from rapidfuzz import fuzz, process

from indexer import manifest as manifests
from indexer.index import SearchIndex
from indexer.lexical import LexicalIndex
from indexer.publishing import live_build
from search_app.core.ranking import Searcher


@pytest.fixture(scope="module")
def index(index_dir, embedder) -> SearchIndex:
    return SearchIndex.open(index_dir, model=embedder.describe())


@pytest.fixture(scope="module")
def searcher(index, embedder) -> Searcher:
    return Searcher(index, embedder)


def bm25s_scores(lexical: LexicalIndex, terms: list[str], weights: list[float] | None) -> np.ndarray:
    """The definition: bm25s's score of every row for each distinct known token, times its largest weight."""
    seen: dict[str, float] = {}
    for i, term in enumerate(terms):
        if term in lexical.vocabulary:
            seen[term] = max(seen.get(term, 0.0), 1.0 if weights is None else weights[i])
    total = np.zeros(lexical._bm25.scores["num_docs"], dtype=np.float32)
    for term, weight in seen.items():
        total += weight * lexical._bm25.get_scores([term])
    return total


def test_bm25_scores_are_bm25s_scores_bit_for_bit(index_dir):
    lexical = LexicalIndex.load(live_build(index_dir) / manifests.BM25_DIR)
    vocabulary = sorted(lexical.vocabulary - {""})  # bm25s keeps "" for empty documents; no query token is ""
    rng = random.Random(5)
    for n in range(300):
        terms = rng.sample(vocabulary, rng.randint(1, min(10, len(vocabulary)))) + ["notaword"]
        terms += terms[:2]  # a repeated token counts once, at its largest weight
        weights = [rng.choice([1.0, 0.5, 0.25, 1 / 3]) for _ in terms] if n % 2 else None
        got, want = lexical.scores(terms, weights), bm25s_scores(lexical, terms, weights)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), terms


def test_nearest_name_is_extract_one_over_every_name(searcher):
    understander = searcher.understander
    names = understander._spellable
    assert len(names) > 20
    rng = random.Random(8)
    words = ["metforminn", "sertralin", "lisinipril", "ibuprofin", "zzzz", "asdfjkl", "chlorine", "amitriptylinecramps",
             "co-codamol", "paracetamol", "5mg", "x"]
    for name in names:  # a letter dropped, added, changed; an ending added; the front cut
        i = rng.randrange(len(name))
        words += [name, name[:i] + name[i + 1:], name[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz0-") + name[i:],
                  name[:i] + rng.choice("aeiouy") + name[i + 1:], name + "e", name[2:], name + name[:3]]
    for word in words:
        want = process.extractOne(word, names, scorer=fuzz.ratio, score_cutoff=80)
        assert understander.nearest_name(word) == ((want[0], want[1]) if want else None), word


def test_query_keys_and_tokens_are_those_of_the_respelt_words(searcher):
    """The name keys and BM25 tokens understanding reads per query are ``name_key`` and ``tokens`` of its words as
    respelt, typos, names typed in two halves, stopwords, apostrophes and accents included."""
    from indexer.lexical import query_words, tokens
    from indexer.lexicon import name_key

    understander = searcher.understander
    names = [n for n in understander._spellable if len(n) >= 6][:40]
    rng = random.Random(9)
    queries = ["can't I take it with a meal?", "Amitriptylline and CRAMPS", "level iracetam dose", "café  au lait",
               "side-effects of co-codamol 30/500", "it's", "a", "", "x y z", "1 2 3 mg", "what’s the dose"]
    for name in names:
        i = rng.randrange(1, len(name) - 1)
        queries += [f"{name[:i]} {name[i:]} side effects", f"is {name[:i] + name[i + 1:]} safe in pregnancy",
                    f"{name}e and alcohol", f"{name.upper()}'s dose"]
    respelt = 0
    for query in queries:
        typed, stemmed = query_words(query)
        fixed, corrections = understander._respell(typed, stemmed)
        respelt += bool(corrections)
        assert fixed == name_key(" ".join(fixed)).split(), query  # the words as fixed are their own name keys
        assert understander._tokens(fixed, stemmed) == tokens(" ".join(fixed)), query
    assert respelt >= len(names)  # the respelt path was taken


def test_row_table_vectors_are_the_stores(index):
    rows = np.arange(len(index))
    assert index.table.vectors[index.table.text[rows]].tobytes() == index.vectors(rows).tobytes()
    assert not index.table.vectors.flags.writeable


def test_rows_of_articles_are_every_row_of_them(index):
    articles = sorted({index.article_of(row) for row in range(len(index))})
    every = np.arange(len(index))
    rng = random.Random(2)
    picks = [[a] for a in articles] + [rng.sample(articles, rng.randint(2, len(articles))) for _ in range(30)]
    for chosen in picks + [[], ["no-such-article"], [articles[0], "no-such-article", articles[0]]]:
        want = every[np.isin([index.article_of(r) for r in every], chosen)]
        got = index.rows_of(chosen)
        assert got.tolist() == want.tolist(), chosen
        if len(set(chosen)) == 1 and len(got):
            assert not got.flags.writeable  # one article's rows are shared by every caller: none may change them


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat"])
def test_stored_vectors_are_faiss_reconstructions(factory):
    from indexer.store import VectorStore

    rng = np.random.default_rng(4)
    store = VectorStore.create(16, factory)
    store.add(rng.standard_normal((50, 16)).astype(np.float32))
    rows = np.array([3, 0, 49, 3, 17])
    assert store.vectors(rows).tobytes() == store._index.reconstruct_batch(rows).tobytes()
    store.add(rng.standard_normal((30, 16)).astype(np.float32))  # a view made before must not hide these
    rows = np.array([79, 50, 1])
    assert store.vectors(rows).tobytes() == store._index.reconstruct_batch(rows).tobytes()


def test_passages_are_the_catalogs_joined_rows(index):
    """Headings, section types, titles and links held per build give the passages the three-table join gives."""
    rows = list(range(len(index))) + [-1, len(index) + 5]  # rows that do not exist are left out, as by the join
    assert index.passages(rows) == index._catalog.passages(rows)
    assert index.passages([]) == {}


def test_about_and_of_type_are_membership_of_every_row(index):
    from indexer.section_types import SECTION_TYPES

    every = np.arange(len(index))
    articles = sorted({index.article_of(r) for r in every})
    rng = random.Random(6)
    for chosen in [[], ["no-such-article"], articles[:1], rng.sample(articles, min(3, len(articles))), articles]:
        want = [index.article_of(r) in chosen for r in every]
        assert index.about(every, chosen).tolist() == want
        assert index.about(every[::-3], iter(chosen)).tolist() == want[::-3]
    types = index._row_type
    for chosen in [[], ["no-such-type"], list(SECTION_TYPES[:2]), list(SECTION_TYPES)]:
        want = [SECTION_TYPES[t] in chosen for t in types]
        assert index.of_type(every, chosen).tolist() == want


def test_link_components_are_quoted_as_urllib_quotes_them():
    from urllib.parse import quote

    from indexer.models import _component

    rng = random.Random(9)
    alphabet = "aZ09_.~-/ #?%&+é\n\t'\"<>:" + "\u2019\u00a0\U0001f600"
    texts = ["", "mqa-0001-s1", "0001234-GHR", "a b", "x\n", "~_.-"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for text in texts:
        assert _component(text) == quote(text, safe=""), text
