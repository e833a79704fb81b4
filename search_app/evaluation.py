"""Section-level retrieval metrics over a queries file: recall@1/5/10, MRR@10, nDCG@10."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from indexer.errors import MedsearchError

SectionKey = tuple[str, str]
DEPTH = 10  # rank the metrics go to by default (recall@10, MRR@10, nDCG@10)


@dataclass(frozen=True)
class EvalQuery:
    id: str
    query: str
    relevant: frozenset[SectionKey]


def load_queries(path: Path) -> list[EvalQuery]:
    """Read a queries JSONL file (``id``, ``query``, ``relevant: [{article_id, section_id}]``)."""
    queries = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                relevant = frozenset((r["article_id"], r["section_id"]) for r in record["relevant"])
                queries.append(EvalQuery(str(record.get("id", number)), record["query"], relevant))
            except (ValueError, KeyError, TypeError) as exc:
                raise MedsearchError(f"{path}:{number}: not a query record ({exc})") from None
    if not queries:
        raise MedsearchError(f"{path}: no queries")
    return queries


def recall_at(ranked: Sequence[SectionKey], relevant: frozenset[SectionKey], n: int) -> float:
    return len(set(ranked[:n]) & relevant) / len(relevant)


def reciprocal_rank(ranked: Sequence[SectionKey], relevant: frozenset[SectionKey], n: int) -> float:
    return next((1.0 / i for i, key in enumerate(ranked[:n], 1) if key in relevant), 0.0)


def ndcg_at(ranked: Sequence[SectionKey], relevant: frozenset[SectionKey], n: int) -> float:
    """Binary-gain nDCG; a section counts once, at its best rank."""
    seen: set[SectionKey] = set()
    dcg = 0.0
    for i, key in enumerate(ranked[:n], 1):
        if key in relevant and key not in seen:
            dcg += 1.0 / math.log2(i + 1)
            seen.add(key)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), n) + 1))
    return dcg / ideal


def evaluate(queries: Iterable[EvalQuery], rank: Callable[[str, int], Sequence[SectionKey]], k: int = 10) -> dict:
    """Mean metrics of ``rank(query, k)`` (a ranked list of section keys) over the queries."""
    k = max(k, 10)
    totals = {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}
    count = 0
    for q in queries:
        ranked = list(rank(q.query, k))
        totals["recall@1"] += recall_at(ranked, q.relevant, 1)
        totals["recall@5"] += recall_at(ranked, q.relevant, 5)
        totals["recall@10"] += recall_at(ranked, q.relevant, 10)
        totals["mrr@10"] += reciprocal_rank(ranked, q.relevant, 10)
        totals["ndcg@10"] += ndcg_at(ranked, q.relevant, 10)
        count += 1
    return {**{name: round(value / count, 4) for name, value in totals.items()}, "queries": count}
