"""Ranking: dense and lexical retrieval fused with medicine-name and intent evidence.

score = cosine + w_lexical * BM25 / max BM25 + w_name * (article is about a medicine the
query names) + w_intent * (section type is what the query asks about) - w_supporting * (a
supporting part of a drug label: pharmacology, studies, ...) + w_heading * cosine(query, the
drug-label section's own heading) + w_section * (share of the query's words that name the
drug-label section: "boxed warning", "dose", ``label_sections``) + w_subject * (about the first of several medicines
the query names: "raltegravir dose on rifampin" asks of raltegravir). The weights are settings, tuned
on the MedicationQA dev queries by ``bench/tune_ranking.py`` (w_supporting, w_heading and w_section, which
weigh drug labels only, on the label look-ups' and questions' tuning parts by ``bench/label_intent.py tune``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from indexer.embedding import Embedder
from indexer.errors import BadQuery
from indexer.index import Ask, Found, SearchIndex
from indexer.lexical import words_stemming_to_each
from indexer.lexicon import name_key
from indexer.models import Passage
from indexer.section_types import SECTION_TYPES
from indexer.settings import default
from indexer.tables import RowTable

from . import copies, folding
from .label_sections import LabelSections
from .matching import Thresholds
from .understanding import Analysis, Understander

if TYPE_CHECKING:
    from .settings import SearchSettings

MODES = ("hybrid", "dense", "lexical")
POOL = 100  # candidates taken from each retriever before fusion
MAX_ABOUT = 3000  # passages about the named medicines pooled at once; past this a later page ranks every row
FULL_CUE = 1 - 1e-6  # a label section cue this high: every word of the query names the section


@dataclass(frozen=True)
class Weights:
    lexical: float = default("weight_lexical")
    name: float = default("weight_name")
    intent: float = default("weight_intent")
    supporting: float = default("weight_supporting")
    heading: float = default("weight_heading")
    section: float = default("weight_section")
    subject: float = default("weight_subject")


@dataclass(frozen=True)
class Filters:
    drugs: tuple[str, ...] = ()
    section_types: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.drugs or self.section_types)


@dataclass(frozen=True)
class Hit:
    """One ranked result: a passage, its fused score and why it matched."""

    rank: int
    score: float
    passage: Passage
    dense_rank: int | None = None
    lexical_rank: int | None = None
    matched: tuple[str, ...] = ()
    name_match: bool = False
    intent_match: bool = False
    about_asked: bool = False          # about a medicine the query names (its article, or a section naming it)
    medicines: tuple[str, ...] = ()    # generic names of the medicines the passage's article is about
    more_labels: int = 0               # other labels of this label's medicine, folded behind it
    also_in: copies.Elsewhere = copies.Elsewhere()  # the other articles printing the same text, shown once


@dataclass
class Candidates:
    """Rows under consideration for one query, with every piece of evidence about them."""

    rows: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    name: np.ndarray
    intent: np.ndarray
    supporting: np.ndarray  # in a supporting part of a drug label (pharmacology, studies, ...)
    heading: np.ndarray     # cosine of the query to the row's drug-label section heading (0 elsewhere)
    section: np.ndarray     # share of the query's words naming the row's drug-label section (0 elsewhere)
    tier: np.ndarray   # how many of the query's constraining medicines each row is about
    subject: np.ndarray  # about the first of several constraining medicines, the one the query asks of (0 otherwise)
    # A look-up of a part of a label ("Kadcyla contraindications"): the rows of the sections every word of it names
    # (all False for any other query). They come first within their tier, whatever the score.
    named_part: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    dense_rank: dict[int, int] = field(default_factory=dict)
    lexical_rank: dict[int, int] = field(default_factory=dict)
    complete: bool = False  # every row that could rank is in the pool


class Signals(NamedTuple):
    """What each retriever says of one query, asked once per search."""

    query: np.ndarray         # the query vector (also in lexical mode: match and urgency read it)
    found: Found              # the index's answer: nearest rows (dense modes), BM25 scores (lexical modes), the
    #                           best-scoring rows, the rows about each constraining medicine and of the named articles


@dataclass(frozen=True)
class SearchResult:
    analysis: Analysis
    hits: list[Hit]
    total_sections: int  # how many sections were ranked (for "more results")
    complete: bool = True  # every section that could rank was ranked: total_sections is the exact total
    query_vector: np.ndarray | None = None
    best_cosine: float = 0.0  # the query's cosine to the nearest passage of the build, filters aside
    # (article id, section type) of the first page's passages (offset 0, the same k), whatever page this is:
    # the filter chips are made from it, so that they stay the same from page to page.
    first_page: tuple[tuple[str, str], ...] = ()


class Searcher:
    """Answers queries from one loaded index with one loaded model."""

    def __init__(self, index: SearchIndex, embedder: Embedder, weights: Weights | None = None, pool: int = POOL,
                 thresholds: Thresholds | None = None):
        self.pool = pool
        self.thresholds = thresholds or Thresholds()
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        self.understander = Understander(index.names, index.vocabulary, medicine_names=index.medicine_names,
                                         english=embedder.whole_words, articles=index.articles,
                                         label_sections=LabelSections(index))

    # -- filters -------------------------------------------------------------------------
    def allowed_rows(self, filters: Filters) -> np.ndarray | None:
        """Rows passing the filters, or None when there are none; unknown values are a BadQuery."""
        if not filters:
            return None
        unknown = [t for t in filters.section_types if t not in SECTION_TYPES]
        if unknown:
            raise BadQuery("unknown_section_type", f"unknown section type {unknown[0]!r}; "
                                                   f"one of: {', '.join(SECTION_TYPES)}")
        rows = self.index.rows_where(None, filters.section_types or None)
        if filters.drugs:  # any of the medicines: each one's article and the sections of other articles about it
            about = []
            for drug in filters.drugs:
                key = name_key(drug)
                about.append(self.index.rows_about(self.understander.synonyms.get(key, frozenset()) | {key}))
                if not len(about[-1]):
                    raise BadQuery("unknown_drug", f"no medicine called {drug!r} in this index")
            rows = np.intersect1d(rows, np.unique(np.concatenate(about)), assume_unique=True)
        return rows

    # -- evidence ------------------------------------------------------------------------
    def signals(self, analysis: Analysis, mode: str, allowed: np.ndarray | None) -> Signals:
        """The query vector and what the index's retrievers answer for it, asked once."""
        query = self.embedder.encode_query(analysis.corrected)[0]
        constraining = analysis.constraining if mode == "hybrid" else ()
        found = self.index.retrieve(Ask(
            query, dense=0 if mode == "lexical" else self.pool if mode == "hybrid" else self.pool * 4,
            terms=analysis.lexical_terms if mode in ("hybrid", "lexical") else (),
            lexical=self.pool if mode == "hybrid" else self.pool * 4, allowed=allowed,
            medicines=tuple(medicine.names for medicine in constraining), articles=analysis.articles))
        return Signals(query, found)

    def candidates(self, analysis: Analysis, mode: str = "hybrid", allowed: np.ndarray | None = None,
                   every_row: bool = False, signals: Signals | None = None) -> Candidates:
        """Pool the best rows of each retriever (and the named medicines' rows) with their evidence.

        With ``every_row`` the pool is every allowed row: used when the pools hold fewer
        sections than a page needs, so that a page is never short while results exist.
        """
        query, found = signals if signals is not None else self.signals(analysis, mode, allowed)
        lexical_all = found.lexical
        about_each = found.about  # the rows about each medicine that constrains the ranking (hybrid mode)
        dense_rank = self.text_ranks(found.dense)
        lexical_rank = self.text_ranks(found.lexical_rows)
        t = self.index.table
        row_count = len(t.text)
        allowed_count = row_count if allowed is None else len(allowed)
        # The pool is complete when no retriever was cut short: then ranking every row adds nothing.
        complete = every_row or (
            (mode == "lexical" or len(dense_rank) >= allowed_count)
            and (mode == "dense" or int(np.count_nonzero(lexical_all)) <= len(found.lexical_rows)))
        if every_row:
            rows = np.arange(row_count) if allowed is None else np.asarray(allowed, dtype=np.int64)
        else:
            pool = dict.fromkeys(dense_rank) | dict.fromkeys(lexical_rank)
            if mode == "hybrid" and analysis.articles:
                named = found.articles
                if allowed is not None:
                    named = np.intersect1d(named, allowed)
                pool.update(dict.fromkeys(int(r) for r in named[:self.pool * 3]))
            if mode == "hybrid" and about_each:
                # Every passage about a named medicine can rank first: they all join the pool, or the pool
                # is not complete (and a later page ranks every row).
                about = np.unique(np.concatenate(about_each)) if len(about_each) > 1 else about_each[0]
                if allowed is not None:
                    about = np.intersect1d(about, allowed, assume_unique=True)
                pool.update(dict.fromkeys(about[:MAX_ABOUT].tolist()))
                complete = complete and len(about) <= MAX_ABOUT
            rows = np.fromiter(pool, dtype=np.int64, count=len(pool))
        if mode == "lexical":  # a passage that shares no word with the query is no lexical result
            rows = rows[lexical_all[rows] > 0]
        dense = similarity(t, rows, query) if mode != "lexical" else np.zeros(len(rows), dtype=np.float32)
        peak = float(lexical_all.max())
        lexical = lexical_all[rows] / peak if peak > 0 else np.zeros(len(rows))
        is_about = [np.isin(rows, about_one) for about_one in about_each]  # about each constraining medicine
        tier = np.zeros(len(rows), dtype=np.int32)
        for about_one in is_about:
            tier += about_one
        subject = is_about[0].astype(np.float32) if len(is_about) > 1 else np.zeros(len(rows), dtype=np.float32)
        sections = self.understander.label_sections
        cue = (sections.cue(analysis.sections, t.section[rows]) if sections is not None
               else np.zeros(len(rows), np.float32))
        named_part = cue >= FULL_CUE if analysis.sections.lookup else np.zeros(len(rows), dtype=bool)
        asked_types = np.array([name in analysis.intents for name in t.types], dtype=bool)
        return Candidates(rows, dense, np.asarray(lexical, dtype=np.float32),
                          np.isin(rows, found.articles).astype(np.float32),
                          asked_types[t.type[rows]].astype(np.float32),
                          t.supporting[rows].astype(np.float32),
                          # A query of medicine names alone asks nothing of a label's parts: its cosine to a heading
                          # would only be the names' likeness to headings naming other medicines (interactions).
                          heading_similarity(t, rows, query) if analysis.sections.units
                          else np.zeros(len(rows), dtype=np.float32), cue,
                          tier, subject, named_part, dense_rank, lexical_rank, complete)

    def text_ranks(self, rows: np.ndarray) -> dict[int, int]:
        """Each row's rank in a retriever's list, copies of one text (together in the list) sharing theirs."""
        texts = self.index.table.text[rows]
        ranks = np.cumsum(np.concatenate(([True], texts[1:] != texts[:-1]))) if len(rows) else texts
        return dict(zip(rows.tolist(), ranks.tolist()))

    def fuse(self, c: Candidates, mode: str = "hybrid", weights: Weights | None = None) -> np.ndarray:
        """Fused score of every candidate."""
        w = weights or self.weights
        if mode == "dense":
            return c.dense
        if mode == "lexical":
            return c.lexical
        return (c.dense + w.lexical * c.lexical + w.name * c.name + w.intent * c.intent - w.supporting * c.supporting
                + w.heading * c.heading + w.section * c.section + w.subject * c.subject)

    def ranked_sections(self, c: Candidates, scores: np.ndarray) -> list[tuple[int, float, int]]:
        """(row, score, candidate position) of the best passage of each section, best first.

        Passages about more of the medicines the query names come first (``tier``); within a tier, the parts of a
        label that a look-up names (``named_part``); then by score.
        """
        if c.tier.any() or c.named_part.any():
            order = np.lexsort((-scores, -c.named_part.astype(np.int8), -c.tier))
        else:
            order = np.argsort(-scores, kind="stable")
        # The first (best) place of each section in that order, kept in order.
        _, first = np.unique(self.index.table.section[c.rows[order]], return_index=True)
        chosen = order[np.sort(first)]
        return list(zip(c.rows[chosen].tolist(), scores[chosen].tolist(), chosen.tolist()))

    # -- the search call ---------------------------------------------------------------
    def fold_labels(self, ranked: list[tuple[int, float, int]]) -> list[tuple[int, float, int]]:
        """Keep one label of each medicine, the others folded behind it (``folding.fold``)."""
        return folding.fold(self.index.table, self.index.articles, ranked)

    def search(self, q: str, k: int, offset: int = 0, filters: Filters = Filters(), mode: str = "hybrid",
               respell: bool = True, fold: bool = True) -> SearchResult:
        """The k best passages (one per section) from ``offset`` on, with what was understood of the query."""
        if mode not in MODES:
            raise BadQuery("bad_mode", f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        analysis = self.understander.analyse(q, respell=respell)
        allowed = self.allowed_rows(filters)
        signals = self.signals(analysis, mode, allowed)
        c = self.candidates(analysis, mode, allowed, signals=signals)
        ranked = self.ranked_sections(c, self.fuse(c, mode))
        fold = fold and bool(self.index.articles.medicines)
        if fold:
            ranked = self.fold_labels(ranked)
        ranked = copies.show_once(self.index.table, self.index.articles, ranked, c.tier)
        if len(ranked) < offset + k and not c.complete:
            # Past the pool every allowed row is ranked, and the pool's order stays the order of the first
            # pages, so that a later page never repeats or skips a section an earlier page showed.
            wide = self.candidates(analysis, mode, allowed, every_row=True, signals=signals)
            position = {int(row): i for i, row in enumerate(wide.rows)}
            sections = self.index.table.section
            shown = set(sections[np.array([row for row, _, _ in ranked], dtype=np.int64)].tolist())
            rest = self.ranked_sections(wide, self.fuse(wide, mode))
            rest_sections = sections[np.array([r[0] for r in rest], dtype=np.int64)].tolist()
            ranked = [(row, score, position[row]) for row, score, _ in ranked] + [
                r for r, section in zip(rest, rest_sections) if section not in shown]
            if fold:
                ranked = self.fold_labels(ranked)
            ranked = copies.show_once(self.index.table, self.index.articles, ranked, wide.tier)
            c = wide
        page = ranked[offset:offset + k]
        rows = [row for row, _, _ in page]
        read = self.index.page(rows)  # the passages, and the rows saying the same as each
        passages = read.passages
        numbers = self.index.table.article[np.array(rows, dtype=np.int64)]
        articles = self.index.articles
        more_labels = (articles.label_counts_of(numbers) - 1).tolist() if fold else [0] * len(rows)
        numbers = numbers.tolist()
        matched = matched_terms([passages[row].heading + " " + passages[row].text for row in rows],
                                {t for t, _ in analysis.lexical_terms})
        also_in = copies.elsewhere(self.index, rows, read.copies)
        hits = [Hit(rank=offset + n + 1, score=score, passage=passages[row],
                    dense_rank=c.dense_rank.get(row), lexical_rank=c.lexical_rank.get(row), matched=matched[n],
                    name_match=bool(c.name[i]), intent_match=bool(c.intent[i]), about_asked=bool(c.tier[i]),
                    medicines=articles.generics[numbers[n]],
                    more_labels=more_labels[n], also_in=also_in[n])
                for n, (row, score, i) in enumerate(page)]
        if offset == 0:
            first = [h.passage for h in hits]
        else:
            leading = [row for row, _, _ in ranked[:k]]
            fetched = self.index.passages(leading)
            first = [fetched[row] for row in leading]
        return SearchResult(analysis=analysis, hits=hits, total_sections=len(ranked), complete=c.complete,
                            query_vector=signals.query,
                            best_cosine=signals.found.best,
                            first_page=tuple((p.article_id, p.section_type) for p in first))


def similarity(table: RowTable, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosine of each row's passage to a query vector, from the table's vectors of its text."""
    if not len(rows):
        return np.zeros(0, dtype=np.float32)
    return np.asarray(table.vectors[table.text[rows]] @ vector, dtype=np.float32)


def heading_similarity(table: RowTable, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosine of each row's drug-label section heading to a query vector; 0 for rows with none."""
    out = np.zeros(len(rows), dtype=np.float32)
    if not len(table.heading_vectors) or not len(rows):
        return out
    position = table.heading[table.section[rows]]
    has = position >= 0
    if has.any():
        out[has] = table.heading_vectors[position[has]] @ vector
    return out


def matched_terms(texts: list[str], stems: set[str]) -> list[tuple[str, ...]]:
    """For each text, its words whose stem is one of the query's (for explanations and highlighting)."""
    return words_stemming_to_each(texts, stems)


def open_searcher(settings: SearchSettings) -> Searcher:
    """The searcher that settings describe: model loaded once per process, live build opened and checked."""
    from pathlib import Path

    from indexer.embedding import load_embedder

    embedder = load_embedder(settings.model, settings.batch_size, settings.backend, settings.model_cache)
    index = SearchIndex.open(Path(settings.index), model=embedder.describe())
    return Searcher(index, embedder, settings.weights, thresholds=settings.thresholds)
