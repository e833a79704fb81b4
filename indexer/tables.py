"""What a query asks of every passage row and every article, as read-only arrays made once when a build is opened.

The index answers retrieval (the nearest texts, BM25 scores, the rows about a medicine) and hands
ranking these two tables; fusion, folding and de-duplication are functions over them, so that a
query does not go back and forth between ranking and the index for each piece of evidence.

``RowTable``: by passage row, its article, section, text and section type, and by section, its id and
its heading vector. ``ArticleTable``: by article, the medicine a drug label folds under and how
recent it is. Folding a medicine's labels (``search_app/core/folding.py``) and listing a text's
copies (``copies.py``) compare labels by recency and group them by medicine over every label of a
medicine: at 10,000 labels, up to 1,600 of one medicine, reading each one's header (a JSON decode of
its metadata) for that cost about half a second a query; the few facts they need are read here in
one SQL pass. Articles are numbered in the order of their ids.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .section_types import SECTION_TYPES

NOT_A_LABEL = -1


def _read_only(values: np.ndarray) -> np.ndarray:
    values.setflags(write=False)
    return values


def _dense_rank(keys: list) -> np.ndarray:
    """Each key's place among the distinct keys, in ascending order (equal keys share one)."""
    places = {k: i for i, k in enumerate(sorted(set(keys)))}
    return np.array([places[k] for k in keys], dtype=np.int32)


@dataclass(frozen=True)
class ArticleFacts:
    """One article as the catalog describes it to this table (``Catalog.article_facts``)."""

    article_id: str
    title: str
    kind: str            # "label", "medicine", "topic", ... ('' when it says none), lower case
    drug: str            # the medicine it is about, as its metadata names it ('' when none), lower case
    effective_time: str  # a label's effective date, YYYYMMDD ('' when none)
    repackaged: bool     # a repackager's or relabeler's copy of a label


@dataclass(frozen=True)
class ArticleTable:
    """Per-article arrays, by article number (articles sorted by id). Read-only: a build never changes."""

    ids: tuple[str, ...]
    number: Mapping[str, int]  # each id's number
    medicine: np.ndarray    # int32: the number of the medicine a drug label folds under, NOT_A_LABEL elsewhere
    medicines: tuple[str, ...]  # the medicines' names, by number
    label_counts: np.ndarray    # int32: how many labels each medicine has, by medicine number
    recency: np.ndarray     # int32: rank of (effective date, an original over a copy); the greatest shows first
    effective: np.ndarray   # int32: rank of the effective date alone, 0 for none (ranks keep the dates' order)
    repackaged: np.ndarray  # bool
    listing: np.ndarray     # int32: place in the order copies are listed in: by recency, newest first, then title
    generics: tuple[tuple[str, ...], ...]  # the generic names of the medicines each article is about

    @classmethod
    def make(cls, facts: Iterable[ArticleFacts], label_medicine: Mapping[str, str],
             generics: Mapping[str, tuple[str, ...]] | None = None) -> ArticleTable:
        """The table of ``facts`` (any order), with ``label_medicine``: the medicine each drug label folds under,
        and ``generics``: the generic names of the medicines an article is about (none when left out)."""
        facts = sorted(facts, key=lambda f: f.article_id)
        names = sorted(set(label_medicine.values()))
        number = {name: i for i, name in enumerate(names)}
        medicine = np.array([number[label_medicine[f.article_id]] if f.article_id in label_medicine else NOT_A_LABEL
                             for f in facts], dtype=np.int32)
        recency = _dense_rank([(f.effective_time, not f.repackaged) for f in facts])
        dates = [f.effective_time for f in facts]
        effective = _dense_rank(dates) + (0 if "" in dates else 1)  # "" sorts first: it ranks 0
        listing = np.empty(len(facts), dtype=np.int32)
        listing[sorted(range(len(facts)), key=lambda i: (-int(recency[i]), facts[i].title))] = np.arange(len(facts))
        labels = medicine[medicine != NOT_A_LABEL]
        ids = tuple(f.article_id for f in facts)
        return cls(ids, MappingProxyType({a: i for i, a in enumerate(ids)}), _read_only(medicine), tuple(names),
                   _read_only(np.bincount(labels, minlength=len(names)).astype(np.int32)), _read_only(recency),
                   _read_only(effective.astype(np.int32)),
                   _read_only(np.array([f.repackaged for f in facts], dtype=bool)), _read_only(listing),
                   tuple((generics or {}).get(a, ()) for a in ids))

    def __len__(self) -> int:
        return len(self.ids)

    def mask(self, article_ids: Iterable[str]) -> np.ndarray:
        """A mask over article numbers: True for the given ids (unknown ones ignored); index it by
        ``RowTable.article`` for the rows of those articles (a lookup table: no sort per call, as ``isin``)."""
        wanted = np.zeros(len(self.ids), dtype=bool)
        wanted[[self.number[a] for a in article_ids if a in self.number]] = True
        return wanted

    def label_count(self, article: int) -> int:
        """How many labels the medicine of a drug label has (itself included); 1 for any other article."""
        return int(self.label_counts_of(np.array([article]))[0])

    def label_counts_of(self, articles: np.ndarray) -> np.ndarray:
        """``label_count`` of each of some articles (by number), in one call (a page's hits)."""
        medicine = self.medicine[articles]
        return np.where(medicine == NOT_A_LABEL, 1, self.label_counts[np.maximum(medicine, 0)]) if len(articles) \
            else np.zeros(0, dtype=np.int32)


@dataclass(frozen=True)
class RowTable:
    """Per-row and per-section arrays of one build. Read-only: a build never changes."""

    types: tuple[str, ...]     # the section types, numbered as ``type`` numbers them (``SECTION_TYPES``)
    article: np.ndarray        # int32, by row: its article's number in the ``ArticleTable``
    section: np.ndarray        # int32, by row: its section's number
    text: np.ndarray           # int64, by row: its text's id (copies of one text share it; ``indexer/texts.py``)
    words: np.ndarray          # int32, by text id: a number for its words, heading aside (texts that differ only
    #                            in their heading, as a section renumbered in a later label version, share it)
    alike: np.ndarray          # int32, by text id: a number for its heading and words, shared by the texts of other
    #                            medicines that say the same (class labeling: one text per medicine, shown once)
    type: np.ndarray           # int8, by row: its section's type, numbered as ``types``
    supporting: np.ndarray     # bool, by row: in a part of a drug label that supports its advice (pharmacology, ...)
    section_id: np.ndarray     # int32, by section: a number for its id, shared by the sections of that id in
    #                            every article ("boxed_warning" of two labels)
    heading: np.ndarray        # int32, by section: its row in ``heading_vectors`` (-1: no label section heading)
    heading_vectors: np.ndarray  # float32 unit vectors of drug-label section headings
    vectors: np.ndarray        # float32, by text id: its unit vector (a read-only view of the vector store's)

    @classmethod
    def make(cls, article: np.ndarray, section: np.ndarray, text: np.ndarray, words: np.ndarray, alike: np.ndarray,
             type_: np.ndarray, supporting: np.ndarray, section_id: np.ndarray, heading: np.ndarray,
             heading_vectors: np.ndarray, vectors: np.ndarray) -> RowTable:
        return cls(SECTION_TYPES, *(_read_only(a) for a in (article, section, text, words, alike, type_, supporting,
                                                            section_id, heading, heading_vectors, vectors)))

    def __len__(self) -> int:
        return len(self.article)

    def type_numbers(self, section_types: Iterable[str]) -> np.ndarray:
        """A mask over type numbers: True for the named types (unknown names ignored)."""
        wanted = np.zeros(len(self.types), dtype=bool)
        wanted[[self.types.index(t) for t in section_types if t in self.types]] = True
        return wanted
