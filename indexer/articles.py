"""What a query asks of every article, as read-only arrays by article number, made once when a build is opened.

Folding a medicine's labels (``search_app/core/folding.py``) and listing a text's copies
(``copies.py``) compare labels by recency and group them by medicine, for every query and over
every label of a medicine: at 10,000 labels, up to 1,600 of one medicine, reading each one's header
(a JSON decode of its metadata) for that cost about half a second a query. The few facts they need
are read here in one SQL pass, so that those comparisons are array look-ups.

Articles are numbered in the order of their ids; ``SearchIndex.article_numbers`` gives the number of
each row's article.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

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
    medicine: np.ndarray    # int32: the number of the medicine a drug label folds under, NOT_A_LABEL elsewhere
    medicines: tuple[str, ...]  # the medicines' names, by number
    label_counts: np.ndarray    # int32: how many labels each medicine has, by medicine number
    recency: np.ndarray     # int32: rank of (effective date, an original over a copy); the greatest shows first
    effective: np.ndarray   # int32: rank of the effective date alone, 0 for none (ranks keep the dates' order)
    repackaged: np.ndarray  # bool
    listing: np.ndarray     # int32: place in the order copies are listed in: by recency, newest first, then title

    @classmethod
    def make(cls, facts: Iterable[ArticleFacts], label_medicine: Mapping[str, str]) -> ArticleTable:
        """The table of ``facts`` (any order), with ``label_medicine``: the medicine each drug label folds under."""
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
        return cls(tuple(f.article_id for f in facts), _read_only(medicine), tuple(names),
                   _read_only(np.bincount(labels, minlength=len(names)).astype(np.int32)), _read_only(recency),
                   _read_only(effective.astype(np.int32)),
                   _read_only(np.array([f.repackaged for f in facts], dtype=bool)), _read_only(listing))

    def __len__(self) -> int:
        return len(self.ids)

    def label_count(self, article: int) -> int:
        """How many labels the medicine of a drug label has (itself included); 1 for any other article."""
        medicine = int(self.medicine[article])
        return 1 if medicine == NOT_A_LABEL else int(self.label_counts[medicine])
