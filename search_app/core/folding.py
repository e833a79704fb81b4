"""A medicine's several drug labels folded behind one: which leads when their text ties, and what the others are.

Labels of one medicine are many: other makers, repackagers' copies of a maker's label, and
versions kept under another set id. `ranking.Searcher.fold_labels` shows the best-matching one and
folds the rest behind it; but when another label's same section says the same words (a
repackager's copy, a label kept unchanged), they match alike and the newest leads (`leads`), and on
the same date the original labeler's before a repackager's copy. The page then says what the
folded ones are (`folded_behind`): older, repackaged, or other (as new or newer, matching less well).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from indexer.models import Article, Passage

# How far below the best-matching label a copy of its text may score and still tie with it. The same words
# score apart only by the labeler's name in each passage's title (about 0.04 between three makers' copies of
# one label in tests/test_label_credit.py); this bounds how far down the ranking copies are looked for.
TIE = 0.1


class LabelIndex(Protocol):
    label_medicine: dict[str, str]

    def article_header(self, article_id: str) -> Article | None: ...

    def section_key(self, row: int) -> tuple[str, str]: ...

    def passages(self, rows: Sequence[int]) -> dict[int, Passage]: ...


def recency(article: Article | None) -> tuple[str, bool]:
    """What orders tied labels, greatest first: the effective date (YYYYMMDD), then an original over a copy."""
    meta = (article.meta if article is not None else None) or {}
    effective = meta.get("effective_time")
    return (effective if isinstance(effective, str) else "", meta.get("repackaged") is not True)


def leads(index: LabelIndex, candidate: tuple[int, float], shown: tuple[int, float]) -> bool:
    """Whether a label's (row, score) should be shown instead of the shown one of the same medicine: its same
    section has the same text, scores within `TIE`, and it is newer (or as new and the original)."""
    (row, score), (best_row, best_score) = candidate, shown
    (article, section), (best_article, best_section) = index.section_key(row), index.section_key(best_row)
    if section != best_section or best_score - score > TIE:
        return False
    if recency(index.article_header(article)) <= recency(index.article_header(best_article)):
        return False
    texts = index.passages([row, best_row])
    return row in texts and best_row in texts and texts[row].text.split() == texts[best_row].text.split()


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
    medicine = index.label_medicine.get(article_id)
    if medicine is None:
        return None
    shown = index.article_header(article_id)
    date = recency(shown)[0]
    older = repackaged = other = 0
    for other_id, its_medicine in index.label_medicine.items():
        if its_medicine != medicine or other_id == article_id:
            continue
        its_date, original = recency(index.article_header(other_id))
        if not original:
            repackaged += 1
        elif its_date and date and its_date < date:
            older += 1
        else:
            other += 1
    return Folded(medicine, older, repackaged, other)
