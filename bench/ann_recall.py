"""Recall@10 and latency of the approximate (HNSW) vector index against exact search.

    .venv/bin/python bench/ann_recall.py --index bench/out/mixed-index [--sizes 30000 1000000]

Takes the real passage vectors of a built index; for sizes beyond it, adds copies of those
vectors with Gaussian noise (re-normalised). Queries are 300 real query embeddings of the
MedicationQA dev questions (or noisy passages when the file is absent). For each size:
recall@10 of HNSW (the indexer's parameters) against exact inner-product search, build
time, and median / p95 single-query latency of both.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from _common import ROOT, SHARED, configured_embedder

from indexer.index import SearchIndex
from indexer.store import HNSW_EF_SEARCH, HNSW_FACTORY, VectorStore

QUERIES = SHARED / "medicationqa" / "queries-dev.jsonl"


def vectors_of_size(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if size <= len(base):
        return base[:size]
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    out[:len(base)] = base
    for start in range(len(base), size, len(base)):
        part = base[:min(len(base), size - start)] + rng.normal(0, 0.05, (min(len(base), size - start), base.shape[1]))
        out[start:start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def timed_search(store: VectorStore, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    rows, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, r = store.search(q[None, :], k)
        times.append((time.perf_counter() - t0) * 1000)
        rows.append(r[0])
    return np.array(rows), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "bench" / "out" / "mixed-index")
    parser.add_argument("--sizes", type=int, nargs="+", default=[30000, 1000000])
    parser.add_argument("--ef-search", type=int, nargs="+", default=[HNSW_EF_SEARCH],
                        help="HNSW efSearch values to measure on each built index")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    index = SearchIndex.open(args.index, checksums=False)
    base = index.vectors(np.arange(len(index)))
    if QUERIES.exists():
        embedder = configured_embedder()
        texts = [json.loads(line)["query"] for line in QUERIES.read_text().splitlines()][:300]
        queries = embedder.encode(texts)
    else:
        queries = vectors_of_size(base[:300], 600, rng)[300:]
    results = []
    for size in args.sizes:
        data = vectors_of_size(base, size, rng)
        exact = VectorStore.create(data.shape[1])
        exact.add(data)
        t0 = time.perf_counter()
        approx = VectorStore.create(data.shape[1], HNSW_FACTORY)
        approx.add(data)
        build_seconds = time.perf_counter() - t0
        truth, exact_ms = timed_search(exact, queries, 10)
        for ef in args.ef_search:
            approx.ef_search = ef
            found, approx_ms = timed_search(approx, queries, 10)
            recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))
            results.append({"vectors": size, "efSearch": ef, "recall@10": round(recall, 4),
                            "hnsw_build_seconds": round(build_seconds, 1),
                            "exact_ms": {"median": round(statistics.median(exact_ms), 2),
                                         "p95": round(sorted(exact_ms)[int(0.95 * len(exact_ms))], 2)},
                            "hnsw_ms": {"median": round(statistics.median(approx_ms), 2),
                                        "p95": round(sorted(approx_ms)[int(0.95 * len(approx_ms))], 2)}})
            print(json.dumps(results[-1]), flush=True)
        del exact, approx, data


if __name__ == "__main__":
    main()
