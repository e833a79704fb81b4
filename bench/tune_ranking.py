"""Retrieval quality of each ranking mode, and the fusion weights tuned with 5-fold cross-validation.

    .venv/bin/python bench/tune_ranking.py                      # MedicationQA only
    .venv/bin/python bench/tune_ranking.py --index bench/out/mixed-index   # with MedQuAD distractors

The index must exist (bench/e2e.py builds bench/out/medicationqa-index; the mixed index is
built by `python -m indexer build ../shared/data/medicationqa/corpus.jsonl
../shared/data/medquad/articles.jsonl --index bench/out/mixed-index`).

Evidence for every query is computed once; each weight combination then only re-fuses it.
The cross-validated figure picks the weights on four folds and scores the fifth, so it is an
honest estimate of how the tuned weights do on queries they were not tuned on. Also prints
median query latency of dense-only and hybrid search, timed side by side in this run.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import statistics
import time
from pathlib import Path

from _common import ROOT, SHARED, configured_embedder

from indexer import settings as settings_mod
from indexer.index import SearchIndex
from search_app.evaluation import evaluate, load_queries
from search_app.ranking import Searcher, Weights

GRID = {"lexical": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0],
        "name": [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5],
        "intent": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]}
OBJECTIVE = "mrr@10"


def fold_of(query_id: str, folds: int) -> int:
    return int(hashlib.sha256(query_id.encode()).hexdigest(), 16) % folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "bench" / "out" / "medicationqa-index")
    parser.add_argument("--queries", type=Path, default=SHARED / "medicationqa" / "queries-dev.jsonl")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    conf = settings_mod.resolve()
    embedder = configured_embedder()
    searcher = Searcher(SearchIndex.open(args.index, model=embedder.describe()), embedder,
                        Weights(conf["weight_lexical"], conf["weight_name"], conf["weight_intent"]))
    queries = load_queries(args.queries)
    keys = lambda ranked: [(searcher.index.catalog_key(r)) for r, _, _ in ranked]  # noqa: E731

    def ranker(mode: str, weights: Weights | None = None):
        return lambda q, k: keys(searcher.ranked_sections(evidence[q][mode], searcher.fuse(evidence[q][mode], mode, weights))[:k])

    evidence = {}
    timings = {"dense": [], "hybrid": []}
    for q in queries:
        analysis = searcher.understander.analyse(q.query)
        evidence[q.query] = {mode: searcher.candidates(analysis, mode) for mode in ("dense", "lexical", "hybrid")}
        for mode in ("dense", "hybrid"):  # end-to-end search call, side by side
            t0 = time.perf_counter()
            searcher.search(q.query, 10, mode=mode)
            timings[mode].append((time.perf_counter() - t0) * 1000)

    report = {"index": str(args.index), "queries": len(queries)}
    for mode in ("dense", "lexical"):
        report[mode] = evaluate(queries, ranker(mode))
    report["hybrid_configured"] = {"weights": vars(searcher.weights) if hasattr(searcher.weights, "__dict__") else
                                   searcher.weights.__dict__, **evaluate(queries, ranker("hybrid"))}
    combos = [Weights(*c) for c in itertools.product(GRID["lexical"], GRID["name"], GRID["intent"])]
    per_combo = {w: evaluate(queries, ranker("hybrid", w)) for w in combos}
    best = max(combos, key=lambda w: (per_combo[w][OBJECTIVE], per_combo[w]["recall@1"]))
    report["hybrid_tuned_in_sample"] = {"weights": best.__dict__, **per_combo[best]}

    held_out = []
    chosen = []
    for fold in range(args.folds):
        train = [q for q in queries if fold_of(q.id, args.folds) != fold]
        test = [q for q in queries if fold_of(q.id, args.folds) == fold]
        w = max(combos, key=lambda w: (evaluate(train, ranker("hybrid", w))[OBJECTIVE],))
        chosen.append(w.__dict__)
        result = evaluate(test, ranker("hybrid", w))
        held_out.append((len(test), result))
    total = sum(n for n, _ in held_out)
    report["hybrid_cross_validated"] = {
        name: round(sum(n * r[name] for n, r in held_out) / total, 4)
        for name in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")}
    report["hybrid_cross_validated"]["weights_per_fold"] = chosen
    report["latency_ms_median"] = {mode: round(statistics.median(v), 2) for mode, v in timings.items()}
    report["latency_ratio_hybrid_to_dense"] = round(report["latency_ms_median"]["hybrid"] /
                                                    report["latency_ms_median"]["dense"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
