"""The match verdict: does the build hold an answer to this query, and about the medicine it names?

``strong``: the passages are close to the query and, when it names a medicine, about it.
``weak``: the closest passages may not answer it, or it names only medicines this build
has no article about (the results are then about other medicines).
``none``: nonsense or off-topic: nothing in the build is close; the closest passages are
still returned, flagged. A query naming a medicine the build covers is never ``none``, nor is a
look-up of a part of a drug label that the build's labels have ("boxed warning", "pregnancy" on an
index of labels: ``label_sections``), however far its few words are from any passage.

The evidence is the query's cosine to the nearest passage of the build and the share of its
words the build knows; the thresholds are settings, calibrated by ``bench/match_eval.py`` on
queries written for it (``bench/match_queries.jsonl``, tuning split).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.settings import default

from .understanding import Analysis

LEVELS = ("strong", "weak", "none")


@dataclass(frozen=True)
class Match:
    level: str
    medicines: tuple[str, ...]            # generic names the query names
    uncovered: tuple[str, ...]            # of those, the ones without an article in this build
    brands: tuple[tuple[str, str], ...]   # (brand as typed, generic) for the "is a brand of" note

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "medicines": list(self.medicines), "uncovered_medicines": list(self.uncovered)}


@dataclass(frozen=True)
class Thresholds:
    # nearest-passage cosine under which a query naming no covered medicine is "none"
    none_below: float = default("match_none_below")
    # nearest-passage cosine from which a match is "strong"
    strong_from: float = default("match_strong_from")
    # share of known words under which a query naming no medicine is "none"
    known_below: float = default("match_known_below")


def judge(analysis: Analysis, best_cosine: float, t: Thresholds) -> Match:
    """The verdict for one query, from what was understood of it and how close the build comes."""
    medicines = tuple(m.generic for m in analysis.medicines)
    uncovered = tuple(m.generic for m in analysis.uncovered)
    brands = tuple((m.typed, m.generic) for m in analysis.medicines if m.brand)
    covered = any(m.covered for m in analysis.medicines)
    if covered:
        level = "strong" if best_cosine >= t.strong_from else "weak"
    elif uncovered:
        level = "weak"  # results can only be about other medicines
    elif analysis.sections.lookup:  # every word names a part of a label this build holds
        level = "strong" if best_cosine >= t.strong_from else "weak"
    elif best_cosine < t.none_below or analysis.known_share < t.known_below:
        level = "none"
    else:
        level = "strong" if best_cosine >= t.strong_from else "weak"
    return Match(level, medicines, uncovered, brands)
