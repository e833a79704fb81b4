"""Passages of the same text shown once: which copy a page shows, and the other labels that print it.

A build stores each distinct text once per medicine (``indexer/texts.py``: the same heading and
text once normalised), and every passage carrying it is retrieved with it. A page shows the same
words once (`show_once`, by ``RowTable.alike``: class labeling that other medicines print too),
whatever the folding of labels: the copy shown is, among its copies ranked as high
as the best-ranked one (as many of the query's medicines, a score within `folding.TIE`), the one
from the label to show first, as ``ArticleTable.recency`` orders labels (the newest effective date,
then an original over a repackager's copy). The others are listed with the hit (`elsewhere`), newest
first, read from the table's arrays and each listed label's card, never from every copy's header.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from indexer.models import Article, article_permalink
from indexer.tables import ArticleTable, RowTable
from indexer.urls import safe_http_url

from . import folding
from .credit import label_record

LISTED = 20  # copies listed with a hit (the count says how many there are): class labeling is in dozens of labels


class CopyIndex(Protocol):
    @property
    def articles(self) -> ArticleTable: ...

    @property
    def table(self) -> RowTable: ...

    def article_card(self, article_id: str) -> Article | None: ...


@dataclass(frozen=True)
class Copy:
    """Another article (a drug label) whose passage says the same as a hit's."""

    article_id: str
    title: str
    url: str             # the article's own page elsewhere (a label's DailyMed page), or '' when it has no http(s) one
    permalink: str       # its page on this site
    labeler: str | None = None
    set_id: str | None = None
    version: int | None = None
    effective: str | None = None  # YYYY-MM-DD


@dataclass(frozen=True)
class Elsewhere:
    """The other articles printing a hit's text: the newest ``LISTED`` of them, and how many there are."""

    copies: tuple[Copy, ...] = ()
    count: int = 0


def show_once(table: RowTable, articles: ArticleTable, ranked: Sequence[tuple[int, float, int]], tiers: np.ndarray
              ) -> list[tuple[int, float, int]]:
    """``ranked`` (row, score, candidate position) with each text once, at the place of its best-ranked copy,
    showing the copy from the label to show first among those ranked as high (``tiers``: by candidate position)."""
    if not ranked:
        return []
    rows = np.array([row for row, _, _ in ranked], dtype=np.int64)
    texts = table.alike[table.text[rows]].tolist()  # the same words under other medicines too
    recency = articles.recency[table.article[rows]].tolist()
    places: dict[int, list[int]] = {}
    for n, text in enumerate(texts):
        places.setdefault(text, []).append(n)
    shown = []
    for n, (_, score, i) in enumerate(ranked):
        group = places[texts[n]]
        if group[0] != n:
            continue
        tied = [m for m in group if tiers[ranked[m][2]] == tiers[i] and score - ranked[m][1] <= folding.TIE]
        # Greatest recency first; of equals, the best-ranked (the first in ``tied``).
        best = max(tied, key=lambda m: (recency[m], -m))
        shown.append((ranked[best][0], score, ranked[best][2]))
    return shown


def copy_of(article_id: str, header: Article | None) -> Copy:
    """What a list of copies says of one article."""
    if header is None:
        return Copy(article_id, article_id, "", article_permalink(article_id))
    label = label_record(header)
    return Copy(article_id, header.title, header.url if safe_http_url(header.url) else "",
                article_permalink(article_id), label.labeler or None if label else None,
                label.set_id if label else None, label.version if label else None, label.effective if label else None)


def elsewhere(index: CopyIndex, rows: Sequence[int], copies_of: Sequence[np.ndarray]) -> list[Elsewhere]:
    """For each of ``rows``, the other articles carrying its text (``copies_of``: each row's copies, itself included,
    as ``SearchIndex.copies`` gives them), newest first, then by title (``ArticleTable.listing``)."""
    articles, found = index.articles, []
    for row, copies in zip(rows, copies_of):
        if len(copies) < 2:
            found.append(Elsewhere())
            continue
        others = np.unique(index.table.article[copies])
        others = others[others != index.table.article[row]]
        listed = others[np.argsort(articles.listing[others], kind="stable")[:LISTED]]
        ids = [articles.ids[n] for n in listed.tolist()]
        found.append(Elsewhere(tuple(copy_of(a, index.article_card(a)) for a in ids), len(others)))
    return found
