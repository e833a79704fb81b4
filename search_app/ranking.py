"""Ranking: embed the query, search the vectors, keep the best passage of each section."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.embedding import Embedder
from indexer.index import SearchIndex
from indexer.models import Passage


@dataclass(frozen=True)
class Hit:
    """One ranked result: a passage and its similarity to the query."""

    rank: int
    score: float
    passage: Passage

    def to_json(self) -> dict[str, Any]:
        p = self.passage
        return {"rank": self.rank, "score": round(self.score, 4), "passage_id": p.id, "article_id": p.article_id,
                "section_id": p.section_id, "title": p.title, "heading": p.heading, "text": p.text,
                "url": p.url, "permalink": p.permalink}


class Searcher:
    """Answers queries from one loaded index with one loaded model."""

    def __init__(self, index: SearchIndex, embedder: Embedder):
        self.index = index
        self.embedder = embedder

    def search(self, q: str, k: int) -> list[Hit]:
        """The k best passages for a query, at most one per section, best first."""
        query = self.embedder.encode_query(q)
        total = len(self.index)
        fetch = min(total, max(4 * k, 40))
        while True:
            best: dict[tuple[str, str], tuple[Passage, float]] = {}
            for passage, score in self.index.nearest(query, fetch):
                key = (passage.article_id, passage.section_id)
                if key not in best:  # results arrive best first, so the first one seen is the best
                    best[key] = (passage, score)
            # Several passages of one section can crowd the candidates; widen until k sections or all seen.
            if len(best) >= k or fetch >= total:
                break
            fetch = min(total, fetch * 4)
        ranked = list(best.values())[:k]
        return [Hit(rank=i + 1, score=score, passage=passage) for i, (passage, score) in enumerate(ranked)]
