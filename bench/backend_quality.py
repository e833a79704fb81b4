"""Retrieval quality and query latency of each embedding backend against torch (fp32).

    .venv/bin/python bench/backend_quality.py [--backends torch onnx onnx-int8] [--latency-queries 200]

For each backend, builds a fresh index of the MedicationQA corpus into
``bench/out/medicationqa-<backend>-index`` (a new directory, so every passage is embedded),
then evaluates the dev queries in dense and hybrid mode with the same code as
``python -m search_app eval`` (section level: R@1/5/10, MRR@10, nDCG@10), and prints each
backend's metrics and their difference to torch. Also: the mean cosine of each backend's
passage and query vectors to torch's, and the median single-query ``encode_query`` time over
--latency-queries dev queries, the backends taking turns every 20 queries. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
from _common import ROOT, SHARED, configured_embedder, search_settings

from indexer.embedding import BACKENDS
from indexer.index import SearchIndex
from indexer.pipeline import build_index
from search_app.core.evaluation import evaluate, load_queries
from search_app.core.ranking import Searcher, Weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "medicationqa" / "corpus.jsonl")
    parser.add_argument("--queries", type=Path, default=SHARED / "medicationqa" / "queries-dev.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--latency-queries", type=int, default=200)
    args = parser.parse_args()
    backends = ["torch", *(b for b in args.backends if b != "torch")]  # torch is the reference

    configured = search_settings().weights
    weights = Weights(lexical=configured.lexical, name=configured.name, intent=configured.intent)
    queries = load_queries(args.queries)
    results: dict[str, dict] = {}
    indexes: dict[str, SearchIndex] = {}
    for backend in backends:
        embedder = configured_embedder(backend)
        index_dir = args.out / f"medicationqa-{backend}-index"
        shutil.rmtree(index_dir, ignore_errors=True)
        report = build_index([args.corpus], index_dir, embedder, log=lambda line: None)
        # What `python -m search_app eval` does through open_searcher, with this backend.
        indexes[backend] = SearchIndex.open(index_dir, model=embedder.describe())
        searcher = Searcher(indexes[backend], embedder, weights)
        results[backend] = {
            "passages": report.passages, "embed_seconds": round(report.embed_seconds, 2),
            "tokens_per_second": round(report.tokens_per_second, 1),
            **{mode: evaluate(queries, lambda q, n, mode=mode, searcher=searcher: [
                (h.passage.article_id, h.passage.section_id) for h in searcher.search(q, n, mode=mode).hits])
               for mode in ("dense", "hybrid")},
        }

    rows = np.arange(len(indexes["torch"]))
    reference = indexes["torch"].vectors(rows)
    texts = [queries[i % len(queries)].query for i in range(args.latency_queries)]
    embedders = {b: configured_embedder(b) for b in backends}
    query_vectors = {b: embedders[b].encode(texts) for b in backends}
    latencies: dict[str, list[float]] = {b: [] for b in backends}
    # Turns of 20 queries, not 1: a runtime's idle threads spin for a while after each call and would
    # slow whichever backend runs next.
    for start in range(0, len(texts), 20):
        for backend in backends:
            for text in texts[start:start + 20]:
                t0 = time.perf_counter()
                embedders[backend].encode_query(text)
                latencies[backend].append((time.perf_counter() - t0) * 1000)
    for backend in backends:
        same_order = indexes[backend].passages(rows) == indexes["torch"].passages(rows)
        passage_cosine = np.sum(reference * indexes[backend].vectors(rows), axis=1) if same_order else None
        results[backend].update({
            "mean_cosine_to_torch": {
                "passages": round(float(passage_cosine.mean()), 5) if passage_cosine is not None else None,
                "queries": round(float(np.sum(query_vectors["torch"] * query_vectors[backend], axis=1).mean()), 5)},
            "encode_query_ms_median": round(statistics.median(latencies[backend]), 2),
            "delta_to_torch": {mode: {k: round(v - results["torch"][mode][k], 4)
                                      for k, v in results[backend][mode].items() if k != "queries"}
                               for mode in ("dense", "hybrid")},
        })
    print(json.dumps({"corpus": str(args.corpus), "queries": len(queries), "backends": results}, indent=1))


if __name__ == "__main__":
    main()
