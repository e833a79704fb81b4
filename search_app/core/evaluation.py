"""Section-level retrieval metrics over a queries file: recall@1/5/10, MRR@10, nDCG@10 (from ir-measures)."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ir_measures

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
                if not relevant:
                    raise ValueError("no relevant sections")
                queries.append(EvalQuery(str(record.get("id", number)), record["query"], relevant))
            except (ValueError, KeyError, TypeError) as exc:
                raise MedsearchError(f"{path}:{number}: not a query record ({exc})") from None
    if not queries:
        raise MedsearchError(f"{path}: no queries")
    return queries


def cutoffs(k: int) -> tuple[int, ...]:
    """Ranks recall is reported at for a depth ``k``: 1, 5 and 10 where they are within k, and k itself."""
    return tuple(sorted({n for n in (1, 5, 10) if n <= k} | {k}))


def evaluate(queries: Iterable[EvalQuery], rank: Callable[[str, int], Sequence[SectionKey]], k: int = DEPTH) -> dict:
    """Mean recall@1/5/10, MRR and nDCG (binary gains) of ``rank(query, k)`` over the queries, to rank ``k``.

    The metrics are ir-measures' (trec_eval's definitions). Nothing is measured past rank ``k``:
    with k = 5 the figures are recall@1, recall@5, mrr@5 and ndcg@5. A query whose search
    returns nothing scores 0, and a section counts once, at its best rank.
    """
    if k < 1:
        raise MedsearchError(f"k must be at least 1, not {k}")
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for number, q in enumerate(queries):
        qid = str(number)  # ids in a queries file need not be unique
        qrels[qid] = {_doc(key): 1 for key in q.relevant}
        ranked = list(dict.fromkeys(_doc(key) for key in rank(q.query, k)))[:k]
        # trec_eval orders a run by score (ties by document id): scores falling with rank keep ours.
        run[qid] = {doc: float(k - i) for i, doc in enumerate(ranked)}
    if not qrels:
        raise MedsearchError("no queries to evaluate")
    names = {ir_measures.R @ n: f"recall@{n}" for n in cutoffs(k)}
    names |= {ir_measures.RR @ k: f"mrr@{k}", ir_measures.nDCG @ k: f"ndcg@{k}"}
    means = ir_measures.calc_aggregate(list(names), qrels, run)
    # A query with an empty run is absent from trec_eval's per-query figures; calc_aggregate counts it as 0.
    return {**{name: round(float(means.get(measure, 0.0)), 4) for measure, name in names.items()},
            "queries": len(qrels)}


def _doc(key: SectionKey) -> str:
    article_id, section_id = key
    return f"{article_id}\t{section_id}"
