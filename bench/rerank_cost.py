"""What a cross-encoder reranker of the top 10 would cost per query, against the search it would follow.

    .venv/bin/python bench/rerank_cost.py [--index bench/out/medicationqa-index] [--queries 60]

No cross-encoder can be installed here, so the cost is measured on the nearest stand-in: the
shipped all-MiniLM-L6-v2 (onnx-int8) encoding the ten "query [SEP] title: heading text" pairs
of each query's results. A MiniLM-L6 cross-encoder (ms-marco-MiniLM-L-6-v2) has the same six
layers and width, so it does the same work per pair, plus a one-number head. Timed with one
ONNX Runtime thread (as each gunicorn worker thread runs) and with two.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from _common import ROOT, SHARED, searcher_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "bench" / "out" / "medicationqa-index")
    parser.add_argument("--queries-file", type=Path, default=SHARED / "medicationqa" / "queries-dev.jsonl")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()

    from indexer.embedding import Embedder
    from search_app.core.evaluation import load_queries

    searcher = searcher_for(args.index)
    queries = [q.query for q in load_queries(args.queries_file)][:args.queries]
    report = {}
    for threads in (1, 2):
        os.environ["OMP_NUM_THREADS"] = str(threads)  # ONNX Runtime reads it when the session is made
        model = Embedder(backend="onnx-int8")
        search_ms, pairs_ms = [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = searcher.search(q, 10).hits
            t1 = time.perf_counter()
            model.encode([f"{q} [SEP] {h.passage.title}: {h.passage.heading} {h.passage.text}" for h in hits])
            t2 = time.perf_counter()
            search_ms.append((t1 - t0) * 1000)
            pairs_ms.append((t2 - t1) * 1000)
        search, pairs = statistics.median(search_ms), statistics.median(pairs_ms)
        report[f"{threads}_thread"] = {"hybrid_search_p50_ms": round(search, 1), "ten_pairs_p50_ms": round(pairs, 1),
                                       "rerank_over_search": round(pairs / search, 1)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
