"""A medicine's several drug labels folded behind one: which leads when their text ties, and what the others are.

Labels of one medicine are many: other makers, repackagers' copies of a maker's label, and
versions kept under another set id. `fold` shows the best-matching one and folds the rest behind
it; but when another label's same section says the same words (a repackager's copy, a label kept
unchanged), they match alike and the newest leads, and on the same date the original labeler's
before a repackager's copy. The page then says what the folded ones are (`folded_behind`): older,
repackaged, or other (as new or newer, matching less well).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.tables import NOT_A_LABEL, ArticleTable, RowTable

# How far below the best-matching label a copy of its text may score and still tie with it. The same words
# score apart only by the labeler's name in each passage's title (about 0.04 between three makers' copies of
# one label in tests/test_label_credit.py); this bounds how far down the ranking copies are looked for.
TIE = 0.1


def fold(table: RowTable, articles: ArticleTable, ranked: Sequence[tuple[int, float, int]]
         ) -> list[tuple[int, float, int]]:
    """``ranked`` (row, score, candidate position; best first) with one label of each medicine, the others folded
    behind it: its best-matching, or the one that leads among its copies.

    A label leads the one shown when its same section says the same words (``RowTable.words``), scores
    within `TIE` of the best and is more recent (``ArticleTable.recency``: newer, or as new and the original).
    ``table`` and ``articles`` are the build's (``SearchIndex.table``, ``.articles``).
    Every comparison is an array look-up: a medicine may have thousands of labels.
    """
    if not ranked:
        return []
    rows = np.array([row for row, _, _ in ranked], dtype=np.int64)
    numbers = table.article[rows]
    medicine, recency = articles.medicine[numbers].tolist(), articles.recency[numbers].tolist()
    section, text = table.section_id[table.section[rows]].tolist(), table.words[table.text[rows]].tolist()
    labels = numbers.tolist()
    shown: dict[int, tuple[int, float]] = {}  # medicine -> (place in ranked of the label shown, the best score)
    for n, (_, score, _) in enumerate(ranked):
        m = medicine[n]
        if m == NOT_A_LABEL:
            continue
        if m not in shown:
            shown[m] = (n, score)
            continue
        best, best_score = shown[m]
        if (labels[n] != labels[best] and section[n] == section[best] and best_score - score <= TIE
                and recency[n] > recency[best] and text[n] == text[best]):
            shown[m] = (n, best_score)
    kept = {labels[n] for n, _ in shown.values()}
    return [entry for n, entry in enumerate(ranked) if medicine[n] == NOT_A_LABEL or labels[n] in kept]


@dataclass(frozen=True)
class Folded:
    """The labels of a medicine folded behind the one shown, by what they are."""

    medicine: str
    older: int       # effective before the shown one (not repackaged)
    repackaged: int  # a repackager's or relabeler's copy
    other: int       # as new or newer, from another labeler, matching less well

    @property
    def count(self) -> int:
        return self.older + self.repackaged + self.other

    def describe(self) -> str:
        """ "2 more labels of warfarin: 1 older, 1 repackaged" ('' when none are folded)."""
        if not self.count:
            return ""
        noun = "label" if self.count == 1 else "labels"
        kinds = [f"{n} {what}" for n, what in ((self.older, "older"), (self.repackaged, "repackaged"),
                                               (self.other, "other")) if n]
        return f"{self.count} more {noun} of {self.medicine}: {', '.join(kinds)}"


def folded_behind(articles: ArticleTable, article_id: str) -> Folded | None:
    """What the other labels of the shown label's medicine are, or None when it is no folded label."""
    number = articles.number.get(article_id)
    if number is None or articles.medicine[number] == NOT_A_LABEL:
        return None
    same = articles.medicine == articles.medicine[number]
    same[number] = False
    originals = same & ~articles.repackaged
    date = articles.effective[number]  # 0: no date, then none is older
    older = int(np.count_nonzero(originals & (articles.effective > 0) & (articles.effective < date))) if date else 0
    return Folded(articles.medicines[articles.medicine[number]], older,
                  int(np.count_nonzero(same & articles.repackaged)), int(np.count_nonzero(originals)) - older)
