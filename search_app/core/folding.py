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
from typing import Protocol

import numpy as np

from indexer.articles import NOT_A_LABEL, ArticleTable

# How far below the best-matching label a copy of its text may score and still tie with it. The same words
# score apart only by the labeler's name in each passage's title (about 0.04 between three makers' copies of
# one label in tests/test_label_credit.py); this bounds how far down the ranking copies are looked for.
TIE = 0.1


class LabelIndex(Protocol):
    @property
    def articles(self) -> ArticleTable: ...

    def article_number(self, article_id: str) -> int | None: ...

    def article_numbers(self, rows: np.ndarray) -> np.ndarray: ...

    def section_ids(self, rows: np.ndarray) -> np.ndarray: ...

    def texts_of(self, rows: np.ndarray) -> np.ndarray: ...


def fold(index: LabelIndex, ranked: Sequence[tuple[int, float, int]]) -> list[tuple[int, float, int]]:
    """``ranked`` (row, score, candidate position; best first) with one label of each medicine, the others folded
    behind it: its best-matching, or the one that leads among its copies.

    A label leads the one shown when its same section carries the same text (``indexer/texts.py``), scores
    within `TIE` of the best and is more recent (``ArticleTable.recency``: newer, or as new and the original).
    Every comparison is an array look-up: a medicine may have thousands of labels.
    """
    if not ranked:
        return []
    rows = np.array([row for row, _, _ in ranked], dtype=np.int64)
    numbers = index.article_numbers(rows)
    table = index.articles
    medicine, recency = table.medicine[numbers].tolist(), table.recency[numbers].tolist()
    section, text, articles = index.section_ids(rows).tolist(), index.texts_of(rows).tolist(), numbers.tolist()
    shown: dict[int, tuple[int, float]] = {}  # medicine -> (place in ranked of the label shown, the best score)
    for n, (_, score, _) in enumerate(ranked):
        m = medicine[n]
        if m == NOT_A_LABEL:
            continue
        if m not in shown:
            shown[m] = (n, score)
            continue
        best, best_score = shown[m]
        if (articles[n] != articles[best] and section[n] == section[best] and best_score - score <= TIE
                and recency[n] > recency[best] and text[n] == text[best]):
            shown[m] = (n, best_score)
    kept = {articles[n] for n, _ in shown.values()}
    return [entry for n, entry in enumerate(ranked) if medicine[n] == NOT_A_LABEL or articles[n] in kept]


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


def folded_behind(index: LabelIndex, article_id: str) -> Folded | None:
    """What the other labels of the shown label's medicine are, or None when it is no folded label."""
    number = index.article_number(article_id)
    table = index.articles
    if number is None or table.medicine[number] == NOT_A_LABEL:
        return None
    same = table.medicine == table.medicine[number]
    same[number] = False
    originals = same & ~table.repackaged
    date = table.effective[number]  # 0: no date, then none is older
    older = int(np.count_nonzero(originals & (table.effective > 0) & (table.effective < date))) if date else 0
    return Folded(table.medicines[table.medicine[number]], older, int(np.count_nonzero(same & table.repackaged)),
                  int(np.count_nonzero(originals)) - older)
