"""Embedding throughput of the build pipeline, per backend, against a plain SentenceTransformer.encode loop.

    .venv/bin/python bench/build_throughput.py [--sample 1000] [--backends torch onnx onnx-int8] \
        [--batch-sizes 16] [--rounds 2] [--corpus ../shared/data/medquad/articles.jsonl]

Every side embeds the same passages (the first --sample passages of the corpus, chunked as
the indexer chunks them), in the same run, taking turns (plain, then each pipeline, and
again, --rounds times) so that load on the shared machine hits all alike. "plain" is the
baseline the issue defines, what a script would write with defaults: ``model.encode(batch)``
with sentence-transformers (torch, fp32) over consecutive batches of 32 passages in corpus
order. Each "pipeline" is the indexer's path: windows of --window passages handed to
``Embedder.encode`` with one backend and batch size (each window sorted by length into
batches). Prints, per pipeline, the median tokens/s, its ratio to plain, and the mean (and
least) cosine between its vectors and plain's (1.0: the same numbers). ONNX exports are made
first if the model cache lacks them, outside the timed runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from _common import SHARED, configured_embedder

from indexer.chunking import ChunkSettings, passages_for
from indexer.embedding import BACKENDS
from indexer.settings import default
from indexer.sources import Skipped, iter_articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "medquad" / "articles.jsonl")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--window", type=int, default=default("embed_window"))
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[default("batch_size")], help="Pipeline batch sizes to try.")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    reference = configured_embedder("torch")  # chunking, token counts and the plain loop's model
    chunking = ChunkSettings(max_seq_length=reference.max_seq_length)
    texts: list[str] = []
    for article in iter_articles([args.corpus]):
        if isinstance(article, Skipped):
            continue
        texts.extend(p.embed_text for p in passages_for(article, chunking, reference.count_tokens))
        if len(texts) >= args.sample:
            break
    texts = texts[:args.sample]
    tokens = sum(min(n + 2, reference.max_seq_length) for n in reference.count_tokens(texts))
    model = reference._model.model  # the SentenceTransformer itself

    def plain() -> np.ndarray:
        return np.concatenate([model.encode(texts[i:i + 32]) for i in range(0, len(texts), 32)])

    pipelines = {f"{backend} batch {size}": configured_embedder(backend, size)
                 for backend in args.backends for size in args.batch_sizes}

    def run(name: str) -> np.ndarray:
        if name == "plain":
            return plain()
        embedder = pipelines[name]
        return np.concatenate([embedder.encode(texts[i:i + args.window]) for i in range(0, len(texts), args.window)])

    times: dict[str, list[float]] = {name: [] for name in ["plain", *pipelines]}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name in times:
            t0 = time.perf_counter()
            vectors[name] = run(name)
            times[name].append(time.perf_counter() - t0)
    rate = {name: tokens / statistics.median(t) for name, t in times.items()}
    base = vectors["plain"] / np.linalg.norm(vectors["plain"], axis=1, keepdims=True)
    cosines = {name: np.sum(base * vectors[name], axis=1) for name in pipelines}
    print(json.dumps({
        "passages": len(texts), "tokens": tokens, "rounds": args.rounds,
        "plain_tokens_per_second": round(rate["plain"], 1),
        "pipelines": {name: {"tokens_per_second": round(rate[name], 1),
                             "ratio_to_plain": round(rate[name] / rate["plain"], 2),
                             "mean_cosine_to_plain": round(float(cosines[name].mean()), 5),
                             "min_cosine_to_plain": round(float(cosines[name].min()), 5)} for name in pipelines},
        "runs_seconds": {name: [round(x, 1) for x in t] for name, t in times.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
