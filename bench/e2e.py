"""End-to-end figures: build time and throughput, eval metrics, /api/search latency.

    .venv/bin/python bench/e2e.py            # MedicationQA from ../shared/data

Builds a fresh index of the corpus (a new directory, so nothing comes from the cache), evaluates the dev queries with the same
code as ``python -m search_app eval``, then serves the app on 127.0.0.1 and times
``/api/search`` over 200 queries from a client thread. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from _common import ROOT, SHARED, configured_embedder, searcher_for

from indexer.pipeline import build_index
from search_app.core.evaluation import evaluate, load_queries


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "medicationqa" / "corpus.jsonl")
    parser.add_argument("--queries", type=Path, default=SHARED / "medicationqa" / "queries-dev.jsonl")
    parser.add_argument("--index", type=Path, default=ROOT / "bench" / "out" / "medicationqa-index")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    embedder = configured_embedder()
    # A cold build: a fresh index directory has an empty embedding cache, so every passage is embedded.
    if args.index.exists():
        shutil.rmtree(args.index)
    started = time.perf_counter()
    report = build_index([args.corpus], args.index, embedder, log=lambda line: None)
    build_seconds = time.perf_counter() - started

    searcher = searcher_for(args.index)
    queries = load_queries(args.queries)
    metrics = evaluate(queries, lambda q, n: [(h.passage.article_id, h.passage.section_id)
                                              for h in searcher.search(q, n).hits])

    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per timed request

    from search_app import create_app

    app = create_app({"index": str(args.index)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/api/search?"
    texts = [queries[i % len(queries)].query for i in range(args.requests)]
    urllib.request.urlopen(base + urllib.parse.urlencode({"q": "warm up"})).read()
    latencies = []
    for text in texts:
        t0 = time.perf_counter()
        with urllib.request.urlopen(base + urllib.parse.urlencode({"q": text, "k": 10})) as response:
            response.read()
        latencies.append((time.perf_counter() - t0) * 1000)
    server.shutdown()

    print(json.dumps({
        "corpus": str(args.corpus), "articles": report.articles, "sections": report.sections,
        "passages": report.passages, "build_seconds": round(build_seconds, 2),
        "embed_seconds": round(report.embed_seconds, 2),
        "passages_per_second": round(report.passages_per_second, 1),
        "eval": metrics,
        "api_search_ms": {"requests": len(latencies), "median": round(statistics.median(latencies), 2),
                          "p95": round(percentile(latencies, 0.95), 2)},
    }, indent=1))


if __name__ == "__main__":
    main()
